from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.projects import content, services
from apps.projects.content.archives import UploadError, read_project_dir
from apps.projects.dialogue import dialogue_of
from apps.projects.models import Assistant
from engine import formats


class Command(BaseCommand):
    help = (
        "Import a Rasa project folder into an assistant (all or nothing). Like rasa train, "
        "--config, --domain, --data and --endpoints say where its files are when they are not "
        "at config.yml, domain.yml or domain/, data/ and endpoints.yml."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the assistant's name (its assistant_id)")
        parser.add_argument("directory", type=Path, help="the Rasa project folder")
        parser.add_argument("--create", action="store_true", help="create the assistant if missing")
        parser.add_argument(
            "--partial",
            action="store_true",
            help="update only the items and files given; keep everything else",
        )
        formats.add_location_arguments(parser, "DIRECTORY")

    def handle(self, name, directory, create=False, partial=False, **options):
        assistant = Assistant.objects.filter(name=name).first()
        if assistant is None and not create:
            raise CommandError(f"No assistant called {name!r} (use --create to create it).")
        files, notes = self._read(directory, options)
        if assistant is None:
            assistant = services.create_assistant(
                name=name, mode=self._mode(files), created_by=None
            )
        try:
            report = content.import_files(assistant, files, partial=partial)
        except formats.FormatError as exc:
            self._fail(exc, f"nothing was imported into {name}")
        for warning in [*notes, *report.warnings]:
            self.stderr.write(str(warning))
        summary = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        self.stdout.write(f"Imported into {name}: {summary}.")

    @staticmethod
    def _mode(files: dict) -> str:
        """A new assistant's mode: classic for a project that converses through stories and
        rules only (no flows, no router); modern otherwise, and when the files do not load
        (the import then says why)."""
        try:
            project = formats.load_project_files(files)
        except formats.FormatError:
            return Assistant.Mode.MODERN
        classic = dialogue_of(project).kind == "classic"
        return Assistant.Mode.CLASSIC if classic else Assistant.Mode.MODERN

    def _read(self, directory: Path, options) -> tuple[dict, list]:
        """The project's files, and warnings about the files the locations leave out."""
        locations = {key: options.get(key) for key in ("config", "domain", "data", "endpoints")}
        if not any(locations.values()):
            try:
                return read_project_dir(directory), []
            except UploadError as exc:
                raise CommandError(str(exc)) from None
        try:
            located = formats.collect_project(directory, **locations)
        except formats.FormatError as exc:
            self._fail(exc, "nothing was imported")
        warning = located.left_out_warning()
        return located.files, [warning] if warning else []

    def _fail(self, exc: formats.FormatError, outcome: str):
        for problem in exc.problems:
            self.stderr.write(str(problem))
        raise CommandError(f"{len(exc.problems)} problem(s); {outcome}.") from None
