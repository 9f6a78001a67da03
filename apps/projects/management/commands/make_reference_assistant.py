from django.core.management.base import BaseCommand, CommandError

from apps.projects import content, services
from apps.projects.models import Assistant
from demo.reference_assistant import generate_reference_project
from engine.formats import FormatError


class Command(BaseCommand):
    help = "Create (or replace) a large synthetic assistant for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="reference")
        parser.add_argument("--flows", type=int, default=40)
        parser.add_argument("--intents", type=int, default=60)
        parser.add_argument("--examples", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, name, flows, intents, examples, seed, **options):
        if min(flows, intents, examples) < 1:
            raise CommandError("--flows, --intents and --examples must be at least 1.")
        files = generate_reference_project(
            flows=flows, intents=intents, examples=examples, seed=seed
        )
        assistant = Assistant.objects.filter(name=name).first() or services.create_assistant(
            name=name, created_by=None, description="Synthetic assistant for benchmarks"
        )
        try:
            report = content.import_files(assistant, files)
        except FormatError as exc:
            raise CommandError("\n".join(str(p) for p in exc.problems)) from None
        summary = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        self.stdout.write(f"{name}: {summary}.")
