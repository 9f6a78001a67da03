"""Test runs on the training consumers: the e2e suite a TestRun holds, run by the built-in
engine (`python -m engine test MODEL.tar.gz --e2e DIR --json FILE`, forked from the consumer
like a training) against the stored model of the run's version.

A run is claimed, heartbeated, cancelled and requeued exactly like a training (the same
ClaimQuerySet and LeasedWork code): the log and the progress (``progress: N/TOTAL`` lines) reach
the row on every heartbeat, the JSON report is stored once the child exits, and a consumer that
loses the run (cancelled, or taken over after its lease ran out) stops the child and stores
nothing. With STUDIO_RUNNER=kubernetes the runs still run here, in the consumer's pod: they need
the model and the suite only, and take seconds.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from apps.projects.secrets import bot_env, scrubber
from apps.testing.models import TestRun
from workers.runners import ForkedChild

if TYPE_CHECKING:
    from workers.training import TrainingConsumer


def run_next_test_run(consumer: TrainingConsumer) -> bool:
    """Claim the oldest queued test run and execute it. False when none is waiting."""
    run = TestRun.objects.claim_next(consumer.worker_id)
    if run is None:
        return False
    consumer.say(f"testing {run.assistant.name} version {run.version.number} (test run {run.pk})")
    execute(consumer, run)
    return True


def claim(run: TestRun, worker_id: str) -> bool:
    """Claim this queued run (for ``manage.py run_tests --inline``)."""
    now = timezone.now()
    claimed = TestRun.objects.filter(pk=run.pk, status=TestRun.Status.QUEUED).update(
        status=TestRun.Status.RUNNING,
        worker_id=worker_id,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
    )
    if claimed:
        run.refresh_from_db()
    return claimed == 1


def write_suite(files: dict[str, str], root: Path) -> None:
    for relative, text in files.items():
        target = (root / relative).resolve()
        if root.resolve() not in target.parents:
            continue  # never outside the folder (paths are checked on save, too)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _fetch_model(name: str, target: Path) -> None:
    with default_storage.open(name, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)


def execute(consumer: TrainingConsumer, run: TestRun) -> None:
    """Run the suite of `run` (claimed by `consumer`) and record its results."""
    version = run.version
    if not version.model_file:
        run.finish(TestRun.Status.FAILED, error=f"{version.label} has no trained model.")
        return
    with tempfile.TemporaryDirectory(prefix="studio-test-") as tmp:
        root = Path(tmp)
        model, suite, report = root / "model.tar.gz", root / "suite", root / "report.json"
        try:
            _fetch_model(version.model_file, model)
        except OSError as exc:
            run.finish(TestRun.Status.FAILED, error=f"Cannot read the model of {version}: {exc}")
            return
        write_suite(run.files, suite)
        argv = ["test", str(model), "--e2e", str(suite / "tests"), "--json", str(report)]
        endpoints = version.input_files.get("endpoints.yml")
        if endpoints:
            (root / "endpoints.yml").write_text(endpoints, encoding="utf-8")
            argv += ["--endpoints", str(root / "endpoints.yml")]
        child = ForkedChild(argv, cwd=root, env=bot_env(run.assistant_id))
        if consumer._follow(run, child, scrubber(run.assistant_id)) != "done":
            return
        code = child.poll()
        document = _read_report(report)
        if document is None:
            tail = "\n".join(_log_tail(run))
            run.finish(
                TestRun.Status.FAILED, error=f"The tests could not run (exit {code}).\n{tail}"
            )
            consumer.say(f"test run {run.pk} could not run (exit {code})")
            return
    if run.record_results(document):
        consumer.say(
            f"test run {run.pk} {run.status}: {run.passed_count} passed, {run.failed_count} failed"
        )
    else:
        consumer.say(f"test run {run.pk} finished here but was taken over; dropped its results")


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _log_tail(run: TestRun, lines: int = 30) -> list[str]:
    log = TestRun.objects.filter(pk=run.pk).values_list("log", flat=True).first() or ""
    return log.splitlines()[-lines:]
