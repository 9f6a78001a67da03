"""Comparisons of two versions and replays of a conversation against a version.

Both are queued work for the training consumers: they are claimed with the training app's
`ClaimQuerySet` (the oldest queued row, in a tiny transaction), renewed with `heartbeat()` and
recorded with `finish()`, both compare-and-swap on status and owner so that a consumer that
lost its lease never overwrites the work of the one that took over.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.training.models import ClaimQuerySet, LeasedWork


class WorkQuerySet(ClaimQuerySet):
    claimed_status = "running"
    owner_field = "worker_id"

    def active(self):
        return self.filter(status__in=["queued", "running"])


class QueuedWork(LeasedWork, models.Model):
    """Status, owner, lease, progress and log of a unit of queued work (the lease code is
    apps.training.models.LeasedWork, as for trainings and test runs)."""

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
    cancel_requested = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def finish(
        self, status: str, *, error: str = "", result: dict | None = None, **fields: Any
    ) -> bool:
        """Record the outcome if this worker still owns the row (LeasedWork.finish)."""
        return super().finish(status, error=error, result=result or {}, **fields)


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
