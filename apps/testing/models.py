"""Test runs: an assistant's e2e test cases run against one of its versions, queued for the
training consumers and claimed, heartbeated and requeued exactly like trainings (the claim and
lease code is apps.training.models' ClaimQuerySet and LeasedWork)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.training.models import ClaimQuerySet, LeasedWork, ModelVersion

PROGRESS_LINE = re.compile(r"^progress: (\d+)/(\d+) ")


def done_of(lines: list[str] | None) -> int | None:
    """How many cases have run, from the last ``progress: N/TOTAL`` line among `lines`."""
    for line in reversed(lines or []):
        match = PROGRESS_LINE.match(line)
        if match:
            return int(match.group(1))
    return None


class TestRunQuerySet(ClaimQuerySet):
    claimed_status = "running"
    owner_field = "worker_id"

    def active(self):
        return self.filter(status__in=[TestRun.Status.QUEUED, TestRun.Status.RUNNING])


class TestRun(LeasedWork, models.Model):
    """One run of the suite: the test files as they were when it was queued (`files`), and
    once it ran, a result per case (`results`: `python -m engine test --json`'s cases)."""

    __test__ = False  # not a pytest test class, whatever its name

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PASSED = "passed"  # every case passed (or was skipped)
        FAILED = "failed"  # a case failed, or the run could not finish (see `error`)
        CANCELLED = "cancelled"

    FINISHED = (Status.PASSED, Status.FAILED, Status.CANCELLED)

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="test_runs"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="test_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    files = models.JSONField(default=dict)  # {relative path: text}: the tests/ files run
    case_count = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    passed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True)
    worker_id = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    progress = models.CharField(max_length=300, blank=True, default="")
    log = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TestRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"test run {self.pk} of {self.version} ({self.status})"

    @property
    def percent(self) -> int:
        if not self.case_count:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.done_count / self.case_count))

    def heartbeat(
        self, progress: str | None = None, log_lines: list[str] | None = None, **fields: Any
    ) -> bool:
        """Renew the lease, as a training does; the engine's ``progress: N/TOTAL`` lines among
        `log_lines` also set how many cases have run."""
        done = done_of(log_lines)
        if done is not None:
            fields["done_count"] = done
        return super().heartbeat(progress, log_lines, **fields)

    def record_results(self, document: dict) -> bool:
        """Store the engine's JSON report and finish: passed when no case failed. False when
        this worker no longer owns the run (it was taken over or cancelled)."""
        cases = list(document.get("cases") or [])
        counts = {
            status: sum(case.get("status") == status for case in cases)
            for status in ("passed", "failed", "skipped")
        }
        updated = self._owned().update(
            results=cases,
            case_count=len(cases),
            done_count=len(cases),
            passed_count=counts["passed"],
            failed_count=counts["failed"],
            skipped_count=counts["skipped"],
        )
        if not updated:
            return False
        self.results = cases
        self.passed_count, self.failed_count = counts["passed"], counts["failed"]
        outcome = self.Status.FAILED if counts["failed"] else self.Status.PASSED
        return self.finish(outcome)
