"""manage.py run_tests NAME [--version N] [--junit FILE] [--inline]: run the assistant's e2e
test cases against a version, print the results and exit 0 (all passed) or 1."""

from __future__ import annotations

import os
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.projects.models import Assistant
from apps.testing import services
from apps.testing.models import TestRun
from engine import formats


class Command(BaseCommand):
    help = (
        "Run an assistant's e2e test cases against one of its versions (queued for a training "
        "consumer, or --inline here) and print the results; exit 1 when a case failed."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version is the version to test, in place of Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="the assistant")
        parser.add_argument(
            "--version", default="latest", help="version number or name (default: latest)"
        )
        parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML to FILE")
        parser.add_argument(
            "--inline",
            action="store_true",
            help="run the tests in this command instead of on a training consumer",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=600,
            help="seconds to wait for a training consumer to take and finish the run (default 600)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        assistant = Assistant.objects.filter(name=options["name"]).first()
        if assistant is None:
            raise CommandError(f"No assistant called {options['name']!r}.")
        version = services.resolve_version(assistant, options["version"])
        if version is None:
            raise CommandError(f"{assistant.name} has no version {options['version']!r}.")
        try:
            run = services.request_run(assistant, version, None)
        except services.RunRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Test run {run.pk}: {run.case_count} test cases of {assistant.name} against "
            f"{version.label}."
        )
        if options["inline"]:
            self._run_inline(run)
        else:
            self._wait(run, options["timeout"])
        run.refresh_from_db()
        self._report(run, options["junit"])

    def _run_inline(self, run: TestRun) -> None:
        from workers import testing
        from workers.training import TrainingConsumer

        consumer = TrainingConsumer(worker_id=f"run-tests-{os.getpid()}", stdout=self.stdout)
        if not testing.claim(run, consumer.worker_id):
            raise CommandError(f"Test run {run.pk} was taken by a training consumer meanwhile.")
        testing.execute(consumer, run)

    def _wait(self, run: TestRun, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        shown = -1
        while True:
            run.refresh_from_db()
            if run.is_finished:
                return
            if run.status == TestRun.Status.RUNNING and run.done_count != shown:
                shown = run.done_count
                self.stdout.write(f"  {shown}/{run.case_count} cases done")
            if time.monotonic() > deadline:
                waiting = run.status == TestRun.Status.QUEUED
                run.request_cancel()
                reason = (
                    "no training consumer took it: start one with `manage.py "
                    "training_consumer`, or run the tests here with --inline"
                    if waiting
                    else "it was still running; it has been cancelled"
                )
                raise CommandError(f"Test run {run.pk} did not finish in {timeout:g} s: {reason}.")
            time.sleep(0.5)

    def _report(self, run: TestRun, junit: str | None) -> None:
        for case in run.results:
            label = f"{services.case_path(case.get('file'))}::{case.get('name')}"
            status = case.get("status")
            if status == "passed":
                self.stdout.write(f"PASS {label}")
            elif status == "skipped":
                self.stdout.write(f"SKIP {label}: {'; '.join(case.get('skipped') or [])}")
            else:
                failure = case.get("failure") or {}
                where = []
                if isinstance(failure.get("step"), int):
                    where.append(f"step {failure['step'] + 1}")
                if failure.get("line") is not None:
                    where.append(f"line {failure['line']}")
                at = f" ({', '.join(where)})" if where else ""
                self.stdout.write(f"FAIL {label}{at}: {failure.get('message')}")
        if junit:
            cases = [{**c, "file": services.case_path(c.get("file"))} for c in run.results]
            try:
                Path(junit).write_bytes(formats.junit_report([("e2e", cases)]))
            except OSError as exc:
                raise CommandError(f"Cannot write {junit}: {exc}") from None
        if run.error:
            self.stderr.write(run.error)
        self.stdout.write(
            f"{run.get_status_display()}: {run.passed_count} passed, {run.failed_count} failed"
            + (f", {run.skipped_count} skipped" if run.skipped_count else "")
        )
        if run.status != TestRun.Status.PASSED:
            raise SystemExit(1)
