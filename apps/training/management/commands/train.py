import time

from django.core.management.base import BaseCommand, CommandError

from apps.projects.models import Assistant
from apps.training import services
from apps.training.models import TrainingJob


class Command(BaseCommand):
    help = "Queue a training of an assistant; with --wait, follow it until it ends."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--wait", action="store_true", help="print the log until it ends")
        parser.add_argument("--version-name", default="")
        parser.add_argument(
            "--only-published",
            action="store_true",
            help="train only the published flows, each as it was last published (drafts are "
            "left out); without it every flow is trained as it is now",
        )
        parser.add_argument(
            "--flow",
            action="append",
            default=[],
            metavar="FLOW=SOURCE",
            help="what to train of one flow: draft (as it is now), stable (its last stable "
            "version) or published (its last published definition); repeat for more flows",
        )

    def _sources(self, pairs: list[str]) -> dict[str, str]:
        sources = {}
        for pair in pairs:
            flow, equals, source = pair.partition("=")
            if not equals or not flow or not source:
                raise CommandError(
                    f"--flow {pair!r}: write FLOW=SOURCE, e.g. --flow transfer_money=stable."
                )
            sources[flow] = source
        return sources

    def handle(self, name, wait=False, version_name="", only_published=False, **options):
        assistant = Assistant.objects.filter(name=name).first()
        if assistant is None:
            raise CommandError(f"No assistant called {name!r}.")
        try:
            job = services.request_training(
                assistant,
                None,
                name=version_name,
                include_drafts=not only_published,
                flows=self._sources(options.get("flow") or []) or None,
            )
        except services.TrainingRefused as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{name} has {len(exc.problems)} problem(s); nothing was queued."
            ) from None
        which = " of only the published flows" if only_published else ""
        self.stdout.write(f"Queued training job {job.pk} (version {job.version.number}){which}.")
        for old in job.superseded:
            self.stdout.write(
                f"It supersedes the queued training job {old.pk} (version {old.version.number}):"
                " an assistant keeps only its newest queued training."
            )
        if not wait:
            return
        shown = 0
        while True:
            job.refresh_from_db()
            if len(job.log) > shown:
                self.stdout.write(job.log[shown:].rstrip("\n"))
                shown = len(job.log)
            if job.is_finished:
                break
            time.sleep(1)
        if job.status != TrainingJob.Status.SUCCEEDED:
            raise CommandError(f"Training {job.status}: {job.error.strip()}")
        self.stdout.write(f"Version {job.version.number} trained.")
