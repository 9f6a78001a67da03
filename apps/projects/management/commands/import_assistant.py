from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.projects import content, services
from apps.projects.content.archives import UploadError, read_project_dir
from apps.projects.models import Assistant
from engine.formats import FormatError


class Command(BaseCommand):
    help = "Import a Rasa project folder into an assistant (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the assistant's name (its assistant_id)")
        parser.add_argument("directory", type=Path, help="the Rasa project folder")
        parser.add_argument("--create", action="store_true", help="create the assistant if missing")
        parser.add_argument(
            "--partial",
            action="store_true",
            help="update only the items and files given; keep everything else",
        )

    def handle(self, name, directory, create=False, partial=False, **options):
        assistant = Assistant.objects.filter(name=name).first()
        if assistant is None and not create:
            raise CommandError(f"No assistant called {name!r} (use --create to create it).")
        try:
            files = read_project_dir(directory)
        except UploadError as exc:
            raise CommandError(str(exc)) from None
        if assistant is None:
            assistant = services.create_assistant(name=name, created_by=None)
        try:
            report = content.import_files(assistant, files, partial=partial)
        except FormatError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{len(exc.problems)} problem(s); nothing was imported into {name}."
            ) from None
        for warning in report.warnings:
            self.stderr.write(str(warning))
        summary = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        self.stdout.write(f"Imported into {name}: {summary}.")
