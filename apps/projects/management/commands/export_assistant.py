from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.projects import content
from apps.projects.models import Assistant


class Command(BaseCommand):
    help = "Write an assistant as Rasa project files into a folder."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("directory", type=Path)

    def handle(self, name, directory, **options):
        assistant = Assistant.objects.filter(name=name).first()
        if assistant is None:
            raise CommandError(f"No assistant called {name!r}.")
        files = content.export_archive_files(assistant)
        for path, data in files.items():
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.stdout.write(f"Wrote {len(files)} files of {name} to {directory}.")
