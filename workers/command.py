"""The options every worker command shares (see workers.base.Worker)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any, ClassVar

from django.core.management.base import BaseCommand

from workers.base import Worker, liveness_path


class WorkerCommand(BaseCommand):
    worker_class: ClassVar[type[Worker]]  # a workers.base.Worker subclass

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="drain the queue, then exit")
        parser.add_argument("--worker-id", help="a unique id written onto claimed rows")
        parser.add_argument(
            "--interval", type=float, default=0.5, help="seconds to sleep when idle (default 0.5)"
        )
        parser.add_argument(
            "--max-tasks", type=int, help="exit after this many units of work (to be replaced)"
        )
        parser.add_argument(
            "--liveness-file",
            help="a file touched after every step (default: var/run/<kind>.<worker id>.alive)",
        )

    def worker_kwargs(self, options: dict[str, Any]) -> dict[str, Any]:
        """Extra keyword arguments for the worker class."""
        return {}

    def handle(self, *args: Any, **options: Any) -> str:
        worker = self.worker_class(
            worker_id=options["worker_id"],
            once=options["once"],
            interval=options["interval"],
            max_tasks=options["max_tasks"],
            stdout=self.stdout,
            **self.worker_kwargs(options),
        )
        worker.liveness_file = Path(
            options["liveness_file"] or liveness_path(worker.kind, worker.worker_id)
        )
        return str(worker.run() or "")
