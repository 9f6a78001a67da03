"""The orchestrator: registers the periodic tasks, then runs the django-q2 cluster."""

import importlib
from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

# Each module has ensure_schedules(): idempotent registration of its periodic tasks.
SCHEDULE_MODULES = [
    "apps.training.schedules",
    "apps.ingestion.schedules",
    "apps.analytics.schedules",
    "apps.testing.schedules",
    "apps.projects.imports",
    "workers.kubernetes",
]


def ensure_all_schedules() -> list[str]:
    registered = []
    for name in SCHEDULE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        module.ensure_schedules()
        registered.append(name)
    return registered


class Command(BaseCommand):
    help = "Register periodic tasks and run the orchestrator (a django-q2 cluster)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--schedules-only", action="store_true", help="register the schedules and exit"
        )

    def handle(self, *args: Any, schedules_only: bool = False, **options: Any) -> None:
        for name in ensure_all_schedules():
            self.stdout.write(f"schedules of {name} registered")
        if not schedules_only:
            call_command("qcluster")
