"""Training jobs, assistant versions and running bots.

State changes are methods that refuse illegal transitions. Rows shared between processes are
changed with conditional UPDATEs (compare-and-swap on status and owner) so that a worker that
lost its lease (killed, or too slow to heartbeat) can never overwrite the work of the worker
that took over.
"""

from __future__ import annotations

import base64
import contextlib
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.db.models.functions import Concat
from django.utils import timezone


class IllegalTransition(Exception):
    pass


LOG_LIMIT = 2_000_000  # characters of log kept on a row


class ModelVersion(models.Model):
    """An assistant version: the exported input files, and once trained, the model archive."""

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    input_files = models.JSONField(default=dict)  # {relative path: text} as exported
    # The exported files that are not text (a PDF document): {relative path: base64}.
    input_binary_files = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    model_file = models.CharField(max_length=500, blank=True, default="")  # storage name
    model_id = models.CharField(max_length=64, blank=True, default="")
    trained_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Which definition each flow was trained from (issue 19): {flow id: {"source": "draft",
    # "stable" or "published", "at": when that definition was saved stable or published,
    # "comment": the stable version's comment}}. Empty for versions trained before.
    flow_sources = models.JSONField(default=dict, blank=True)
    # A personal version ("test in isolation"): its bot never becomes the assistant's live
    # one, and only the person who trained it (`created_by`) can try it.
    isolated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["assistant", "number"], name="unique_version_number")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name or f"Version {self.number}"

    @property
    def is_trained(self) -> bool:
        return bool(self.model_file)

    #: How the Versions page names where a flow's trained definition came from.
    SOURCE_LABELS = {"draft": "draft", "stable": "stable version", "published": "published"}

    @property
    def flow_source_rows(self) -> list[dict]:
        """`flow_sources` as rows (flow, source, label, at, comment), drafts first, then
        stable versions, then published definitions, each by flow id."""
        order = list(self.SOURCE_LABELS)
        rows = []
        for flow, record in self.flow_sources.items():
            source = record.get("source", "draft")
            at = record.get("at") or ""
            if at:
                with contextlib.suppress(ValueError):
                    at = f"{timezone.localtime(datetime.fromisoformat(at)):%Y-%m-%d %H:%M}"
            rows.append(
                {
                    "flow": flow,
                    "source": source,
                    "label": self.SOURCE_LABELS.get(source, source),
                    "at": at,
                    "comment": record.get("comment") or "",
                }
            )
        rank = {source: index for index, source in enumerate(order)}
        return sorted(rows, key=lambda row: (rank.get(row["source"], len(order)), row["flow"]))

    @property
    def input_contents(self) -> dict[str, str | bytes]:
        """Every input file, text as text and binary files decoded: the project trained."""
        binary = {path: base64.b64decode(data) for path, data in self.input_binary_files.items()}
        return {**self.input_files, **binary}


class ClaimQuerySet(models.QuerySet):
    """Work queued for the consumers, taken by one at a time: the rows have `status`
    ("queued" while waiting), an owner column, `attempts`, `started_at` and `heartbeat_at`."""

    #: The status of a claimed row, and the column naming its owner (set by each subclass).
    claimed_status: str
    owner_field: str

    def stale(self, lease: timedelta):
        """The claimed rows whose owner has not heartbeated for `lease`."""
        return self.filter(status=self.claimed_status, heartbeat_at__lt=timezone.now() - lease)

    def claim_next(self, owner: str):
        """Take the oldest queued row for `owner`, in a transaction that holds the row lock
        only for the claim itself. Returns None when the queue is empty."""
        with transaction.atomic():
            row = (
                self.select_for_update(skip_locked=True)
                .filter(status="queued")
                .order_by("created_at", "id")
                .first()
            )
            if row is None:
                return None
            now = timezone.now()
            row.status = self.claimed_status
            setattr(row, self.owner_field, owner)
            row.attempts += 1
            row.started_at = row.heartbeat_at = now
            row.save(
                update_fields=["status", self.owner_field, "attempts", "started_at", "heartbeat_at"]
            )
        return row


class LeasedWork:
    """What a consumer does with the queued row it claimed (a training, a test run), shared
    by every such model: it has `status` (queued, running and the FINISHED states),
    `worker_id`, `progress`, `log`, `error`, `cancel_requested`, `heartbeat_at` and
    `finished_at`, and its manager's queryset is a ClaimQuerySet with `stale(lease)`."""

    Status: Any
    FINISHED: tuple[str, ...]
    objects: Any
    pk: Any
    status: str
    worker_id: str
    error: str
    log: str
    finished_at: Any
    cancel_requested: bool

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    # -- claims and leases (called by consumers and the orchestrator) ----------------------

    # (claims: `Model.objects.claim_next(worker_id)`, see ClaimQuerySet)

    def _owned(self):
        return type(self).objects.filter(
            pk=self.pk, status=self.Status.RUNNING, worker_id=self.worker_id
        )

    def heartbeat(
        self, progress: str | None = None, log_lines: list[str] | None = None, **fields: Any
    ) -> bool:
        """Renew the lease (and append log lines, and set `fields`). False when the lease was
        lost or the job was cancelled: the worker must stop working on it."""
        changes: dict[str, Any] = {"heartbeat_at": timezone.now(), **fields}
        if progress is not None:
            changes["progress"] = progress[:300]
        if log_lines:
            changes["log"] = Concat(
                F("log"), models.Value("".join(line + "\n" for line in log_lines))
            )
        updated = self._owned().filter(cancel_requested=False).update(**changes)
        return updated == 1

    def finish(self, status: str, *, error: str = "", **fields: Any) -> bool:
        """Record the outcome (and set `fields`) if this worker still owns the job
        (compare-and-swap)."""
        if status not in self.FINISHED:
            raise IllegalTransition(f"{status} is not a final state")
        now = timezone.now()
        updated = self._owned().update(
            status=status, error=error[:10000], finished_at=now, heartbeat_at=now, **fields
        )
        if updated:
            self.status, self.error, self.finished_at = status, error, now
            for name, value in fields.items():
                setattr(self, name, value)
        return updated == 1

    @classmethod
    def requeue_stale(cls, lease: timedelta) -> int:
        """Put back rows whose worker stopped heartbeating (killed, or stuck)."""
        return cls.objects.stale(lease).update(
            status=cls.Status.QUEUED,
            worker_id="",
            progress="Requeued: its worker stopped responding.",
        )

    # -- requests from people ---------------------------------------------------------------

    def request_cancel(self) -> None:
        """Queued jobs are cancelled at once; running ones are stopped by their worker."""
        if self.is_finished:
            raise IllegalTransition(f"The job has already {self.status}.")
        now = timezone.now()
        if (
            type(self)
            .objects.filter(pk=self.pk, status=self.Status.QUEUED)
            .update(status=self.Status.CANCELLED, finished_at=now, cancel_requested=True)
        ):
            self.status = self.Status.CANCELLED
            return
        type(self).objects.filter(pk=self.pk, status=self.Status.RUNNING).update(
            cancel_requested=True
        )
        self.cancel_requested = True

    def tail(self, characters: int = 20000) -> str:
        return self.log[-characters:]


class TrainingJobQuerySet(ClaimQuerySet):
    claimed_status = "running"
    owner_field = "worker_id"

    def active(self):
        return self.filter(status__in=[TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING])


class TrainingJob(LeasedWork, models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="training_jobs"
    )
    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="job")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    worker_id = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    progress = models.CharField(max_length=300, blank=True, default="")  # the last progress line
    log = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TrainingJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"training of {self.version} ({self.status})"


#: How long a queued bot that can be swapped into a live one waits for that bot's consumer.
SWAP_CLAIM_GRACE = timedelta(seconds=10)


def swappable(live: Deployment, queued: Deployment) -> bool:
    """Whether `queued`'s model can be loaded into `live`'s running bot: it would run with the
    same endpoints (event broker, action server, LLMs), which the bot was started with. The
    engine and the runner are the consumers' own settings, the same for both."""
    endpoints = "endpoints.yml"
    return live.version.input_files.get(endpoints, "") == queued.version.input_files.get(
        endpoints, ""
    ) and bool(queued.version.model_file)


def _take(row: Deployment, owner: str) -> None:
    """Claim a queued deployment locked by the caller's transaction (as `claim_next` does)."""
    row.status = Deployment.Status.STARTING
    row.consumer_id = owner
    row.attempts += 1
    row.started_at = row.heartbeat_at = timezone.now()
    row.save(update_fields=["status", "consumer_id", "attempts", "started_at", "heartbeat_at"])


class DeploymentQuerySet(ClaimQuerySet):
    claimed_status = "starting"
    owner_field = "consumer_id"

    def live(self):
        return self.filter(status=Deployment.Status.LIVE)

    def shared(self):
        """The bots of the assistant's versions, not the personal (isolated) ones."""
        return self.filter(isolated=False)

    def swap_candidates(self, live: Deployment) -> DeploymentQuerySet:
        """The queued bots whose model could be loaded into `live`'s bot instead of starting
        a new one (issue 20): the same assistant, the same scope (a person's isolated bot only
        takes that person's versions). `swappable` then compares their configuration."""
        rows = self.filter(
            status=Deployment.Status.QUEUED,
            assistant_id=live.assistant_id,
            isolated=live.isolated,
            created_at__gte=live.created_at,
        )
        if live.isolated:
            rows = rows.filter(version__created_by_id=live.version.created_by_id)
        return rows

    def claim_swap(
        self, owner: str, live: Deployment, *, exclude: set[int] | frozenset[int] = frozenset()
    ) -> Deployment | None:
        """Take the oldest queued bot that can be swapped into `live`'s bot (held by `owner`),
        in a transaction that holds the row lock only for the claim. None when there is none."""
        with transaction.atomic():
            rows = (
                self.swap_candidates(live)
                .exclude(pk__in=exclude)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("version")
                .order_by("created_at", "id")
            )
            candidates = cast("list[Deployment]", list(rows[:10]))
            row = next((row for row in candidates if swappable(live, row)), None)
            if row is None:
                return None
            _take(row, owner)
        return row

    def claim_new_bot(self, owner: str, *, leave_swaps: bool) -> Deployment | None:
        """`claim_next` for a consumer without a bot. With `leave_swaps`, a queued bot that the
        consumer of a live bot can take by swapping its model in is left to it for
        `SWAP_CLAIM_GRACE` (then anyone starts it, should that consumer be stuck)."""
        if not leave_swaps:
            return cast("Deployment | None", self.claim_next(owner))
        with transaction.atomic():
            rows = (
                self.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Deployment.Status.QUEUED)
                .select_related("version")
                .order_by("created_at", "id")
            )
            now = timezone.now()
            for row in cast("list[Deployment]", list(rows[:20])):
                if row.created_at > now - SWAP_CLAIM_GRACE and row.swap_target() is not None:
                    continue
                _take(row, owner)
                return row
        return None

    def holding_a_bot(self) -> DeploymentQuerySet:
        return self.filter(
            status__in=[
                Deployment.Status.STARTING,
                Deployment.Status.LIVE,
                Deployment.Status.STOPPING,
            ]
        )


class Deployment(models.Model):
    """A bot serving one version, held by one running consumer."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        STARTING = "starting"
        LIVE = "live"
        STOPPING = "stopping"
        STOPPED = "stopped"
        FAILED = "failed"

    ENDED = (Status.STOPPED, Status.FAILED)

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="deployments"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="deployments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    consumer_id = models.CharField(max_length=200, blank=True, default="")
    bot_url = models.CharField(max_length=300, blank=True, default="")
    # The bot's API token (random per start): only the relay and the bot know it; never shown.
    bot_token = models.CharField(max_length=100, blank=True, default="", editable=False)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    live_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(default=timezone.now)
    # The bot of a personal version (ModelVersion.isolated): going live it neither retires nor
    # replaces the assistant's live bot, and it is never "the live version" for anyone.
    isolated = models.BooleanField(default=False)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"

    # (claims: `Deployment.objects.claim_next(consumer_id)`, see ClaimQuerySet)

    def swap_target(self) -> Deployment | None:
        """The live bot (its consumer heartbeating) that this queued one can be swapped into."""
        fresh = timezone.now() - timedelta(seconds=settings.STUDIO_LEASE_SECONDS)
        rows = Deployment.objects.live().filter(
            assistant_id=self.assistant_id, isolated=self.isolated, heartbeat_at__gte=fresh
        )
        if self.isolated:
            rows = rows.filter(version__created_by_id=self.version.created_by_id)
        rows = rows.select_related("version")
        return next((live for live in rows if swappable(live, self)), None)

    def _owned(self, *statuses):
        return Deployment.objects.filter(
            pk=self.pk, consumer_id=self.consumer_id, status__in=statuses
        )

    def mark_live(self, bot_url: str, bot_token: str = "") -> bool:
        now = timezone.now()
        updated = self._owned(self.Status.STARTING).update(
            status=self.Status.LIVE,
            bot_url=bot_url,
            bot_token=bot_token,
            live_at=now,
            heartbeat_at=now,
            last_used_at=now,
        )
        if updated:
            self.status, self.bot_url, self.bot_token = self.Status.LIVE, bot_url, bot_token
        return updated == 1

    def heartbeat(self) -> str | None:
        """Renew the lease; returns the row's current status, or None if the lease was lost."""
        updated = self._owned(self.Status.STARTING, self.Status.LIVE, self.Status.STOPPING).update(
            heartbeat_at=timezone.now()
        )
        if not updated:
            return None
        return Deployment.objects.filter(pk=self.pk).values_list("status", flat=True).first()

    def retire_others(self) -> int:
        """This bot is live: the assistant's other live bots are asked to stop. An isolated
        bot retires only the same person's earlier isolated bots of the assistant; the live
        bot and other people's isolated bots are left alone (and a new live bot leaves the
        isolated ones alone: the idle reaper stops them)."""
        others = Deployment.objects.filter(
            assistant_id=self.assistant_id, status=self.Status.LIVE, isolated=self.isolated
        ).exclude(pk=self.pk)
        if self.isolated:
            owner = (
                ModelVersion.objects.filter(pk=self.version_id)
                .values_list("created_by_id", flat=True)
                .first()
            )
            others = others.filter(version__created_by_id=owner)
        return others.update(status=self.Status.STOPPING)

    def hand_back(self) -> int:
        """Its consumer is shutting down: the bot goes back to the queue, for another consumer
        to bring up again (unless it has ended meanwhile)."""
        return (
            Deployment.objects.filter(pk=self.pk, consumer_id=self.consumer_id)
            .exclude(status__in=self.ENDED)
            .update(status=self.Status.QUEUED, consumer_id="", bot_url="")
        )

    def end(self, status: str, error: str = "") -> bool:
        if status not in self.ENDED:
            raise IllegalTransition(f"{status} is not a final state")
        now = timezone.now()
        return (
            self._owned(self.Status.STARTING, self.Status.LIVE, self.Status.STOPPING).update(
                status=status, error=error[:10000], stopped_at=now, bot_url="", bot_token=""
            )
            == 1
        )

    def request_stop(self) -> None:
        now = timezone.now()
        if Deployment.objects.filter(pk=self.pk, status=self.Status.QUEUED).update(
            status=self.Status.STOPPED, stopped_at=now
        ):
            self.status = self.Status.STOPPED
            return
        Deployment.objects.filter(
            pk=self.pk, status__in=[self.Status.STARTING, self.Status.LIVE]
        ).update(status=self.Status.STOPPING)

    @classmethod
    def requeue_stale(cls, lease: timedelta) -> int:
        """Bots whose consumer stopped heartbeating come back on another consumer; ones that
        were being stopped are simply marked stopped."""
        cutoff = timezone.now() - lease
        stale = cls.objects.filter(heartbeat_at__lt=cutoff)
        stopped = stale.filter(status=cls.Status.STOPPING).update(
            status=cls.Status.STOPPED, stopped_at=timezone.now(), bot_url=""
        )
        requeued = stale.filter(status__in=[cls.Status.STARTING, cls.Status.LIVE]).update(
            status=cls.Status.QUEUED, consumer_id="", bot_url=""
        )
        return stopped + requeued

    @classmethod
    def stop_idle(cls, idle: timedelta) -> int:
        return cls.objects.filter(
            status=cls.Status.LIVE, last_used_at__lt=timezone.now() - idle
        ).update(status=cls.Status.STOPPING)

    def touch(self) -> None:
        Deployment.objects.filter(pk=self.pk).update(last_used_at=timezone.now())
