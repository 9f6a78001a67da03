"""Comparisons of two versions and replays of a conversation against a version.

Both are queued work for the training consumers: they are claimed with the training app's
`ClaimQuerySet` (the oldest queued row, in a tiny transaction), renewed with `heartbeat()` and
recorded with `finish()`, both compare-and-swap on status and owner so that a consumer that
lost its lease never overwrites the work of the one that took over.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Concat
from django.utils import timezone

from apps.training.models import ClaimQuerySet, IllegalTransition


class WorkQuerySet(ClaimQuerySet):
    claimed_status = "running"
    owner_field = "worker_id"

    def active(self):
        return self.filter(status__in=["queued", "running"])


class QueuedWork(models.Model):
    """Status, owner, lease, progress and log of a unit of queued work."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    assistant = models.ForeignKey("projects.Assistant", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    worker_id = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    progress = models.CharField(max_length=300, blank=True, default="")
    log = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def _owned(self):
        return type(self).objects.filter(
            pk=self.pk, status=self.Status.RUNNING, worker_id=self.worker_id
        )

    def heartbeat(self, progress: str | None = None, log_lines: list[str] | None = None) -> bool:
        """Renew the lease, with a progress line and log lines. False when the lease was lost:
        the worker must stop."""
        changes: dict = {"heartbeat_at": timezone.now()}
        if progress is not None:
            changes["progress"] = progress[:300]
        if log_lines:
            changes["log"] = Concat(
                F("log"), models.Value("".join(line + "\n" for line in log_lines))
            )
        return self._owned().update(**changes) == 1

    def finish(self, status: str, *, result: dict | None = None, error: str = "") -> bool:
        """Record the outcome if this worker still owns the row."""
        if status not in self.FINISHED:
            raise IllegalTransition(f"{status} is not a final state")
        now = timezone.now()
        updated = self._owned().update(
            status=status,
            result=result or {},
            error=error[:10000],
            finished_at=now,
            heartbeat_at=now,
        )
        if updated:
            self.status, self.result, self.error, self.finished_at = (
                status,
                result or {},
                error,
                now,
            )
        return updated == 1

    @classmethod
    def requeue_stale(cls, lease: timedelta) -> int:
        """Put back the rows whose worker stopped heartbeating."""
        return cls.objects.filter(
            status=cls.Status.RUNNING, heartbeat_at__lt=timezone.now() - lease
        ).update(
            status=cls.Status.QUEUED,
            worker_id="",
            progress="Requeued: its worker stopped responding.",
        )


class Comparison(QueuedWork):
    """A candidate version compared with a base version (the live one when it was asked)."""

    candidate = models.ForeignKey(
        "training.ModelVersion", on_delete=models.CASCADE, related_name="comparisons"
    )
    base = models.ForeignKey(
        "training.ModelVersion", on_delete=models.CASCADE, related_name="comparisons_as_base"
    )

    class Meta(QueuedWork.Meta):
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.candidate} compared with {self.base} ({self.status})"


class Replay(QueuedWork):
    """A recorded conversation (a reviewed production conversation or a Try session) fed turn
    by turn to a version's model. `source` holds the original turns: ``[{"user", "bot":
    [texts], "flows": [flow ids started]}]``; `result` the replayed ones and the first turn
    where they diverge."""

    version = models.ForeignKey(
        "training.ModelVersion", on_delete=models.CASCADE, related_name="replays"
    )
    conversation = models.ForeignKey(
        "ingestion.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replays",
    )
    source_label = models.CharField(max_length=300, blank=True, default="")
    source = models.JSONField(default=list, blank=True)

    class Meta(QueuedWork.Meta):
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"replay of {self.source_label} against {self.version} ({self.status})"
