"""The analytics database: daily rollups of ingested conversations, in plain tables that a BI
tool can read directly (README, "Analytics", documents every column).

One row of `DailyRollup` per assistant, day (in settings.TIME_ZONE), channel, model version
and language; a session is counted on the day it started, and everything about it (its user
messages, latencies, flows) is counted on that day and under its channel and model id (the
conversation's, as ingestion records them; "" when its events carried none) and its language
(`apps.ingestion.selectors.with_language`). `LatencyBucket` holds each row's histogram of
response latencies, `FlowDailyRollup` the per-flow figures. `SessionFacts` (and its
`SessionFlowFacts`) is what each session counted for, so that a drill-down lists exactly the
sessions a figure counts. They are computed by `apps.analytics.rollups` and only ever replaced
a whole day at a time.

`SuccessCriterion` is an assistant's definition of a successful session, versioned: each
change is a new row (see `apps.analytics.success`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DailyRollup(models.Model):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    channel = models.CharField(max_length=64, blank=True, default="")
    model_id = models.CharField(max_length=128, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    #: Sessions (conversations) that started this day.
    sessions = models.PositiveIntegerField(default=0)
    #: Their user messages (not counting Rasa's "/session_start").
    user_messages = models.PositiveIntegerField(default=0)
    #: Sessions with no `pattern_human_handoff` flow started and no `action_human_handoff`.
    contained_sessions = models.PositiveIntegerField(default=0)
    handoff_sessions = models.PositiveIntegerField(default=0)
    #: Sessions with `pattern_cannot_handle`, an `nlu_fallback` intent or
    #: `action_default_fallback`.
    fallback_sessions = models.PositiveIntegerField(default=0)
    #: Answers (1-5) given in `pattern_customer_satisfaction`; satisfied ones are 3-5.
    csat_answers = models.PositiveIntegerField(default=0)
    csat_satisfied = models.PositiveIntegerField(default=0)
    csat_score_sum = models.PositiveIntegerField(default=0)
    #: Sessions with at least one answer, and with at least one satisfied answer.
    csat_sessions = models.PositiveIntegerField(default=0)
    csat_satisfied_sessions = models.PositiveIntegerField(default=0)
    #: User messages answered by a bot message, and the sum of those latencies.
    latency_count = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.BigIntegerField(default=0)
    #: From this row's histogram (see apps.analytics.latency); null without latencies.
    latency_p50_ms = models.FloatField(null=True, blank=True)
    latency_p95_ms = models.FloatField(null=True, blank=True)
    latency_p99_ms = models.FloatField(null=True, blank=True)
    #: Sessions successful by the success criterion in force on the day (0 without one).
    successful_sessions = models.PositiveIntegerField(default=0)
    #: The `SuccessCriterion` version they were judged by (null without one).
    success_version = models.PositiveIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "channel", "model_id", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "day", "channel", "model_id", "language"],
                name="analytics_daily_unique_language",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel or '-'} {self.model_id or '-'}"


class LatencyBucket(models.Model):
    """How many of a rollup row's user messages were answered within (previous bucket's
    upper_ms, upper_ms]; only non-empty buckets are stored. The last bucket has no upper bound
    (upper_ms is null)."""

    rollup = models.ForeignKey(DailyRollup, on_delete=models.CASCADE, related_name="buckets")
    bucket = models.PositiveSmallIntegerField()
    upper_ms = models.PositiveIntegerField(null=True, blank=True)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["rollup", "bucket"]
        constraints = [
            models.UniqueConstraint(fields=["rollup", "bucket"], name="analytics_bucket_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rollup_id}#{self.bucket}: {self.count}"


class FlowDailyRollup(models.Model):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    channel = models.CharField(max_length=64, blank=True, default="")
    model_id = models.CharField(max_length=128, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    flow_id = models.CharField(max_length=255)
    #: Sessions in which the flow started, and how many of them were contained.
    sessions = models.PositiveIntegerField(default=0)
    contained_sessions = models.PositiveIntegerField(default=0)
    #: Sessions in which the flow completed, was cancelled, was handed off (at least once).
    completed_sessions = models.PositiveIntegerField(default=0)
    cancelled_sessions = models.PositiveIntegerField(default=0)
    handed_off_sessions = models.PositiveIntegerField(default=0)
    #: `flow_started`, `flow_completed`, `flow_cancelled` events of the flow.
    started = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    #: Runs of the flow that were active (started, not ended) when a handoff happened.
    handed_off = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "flow_id", "channel", "model_id", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "day", "channel", "model_id", "language", "flow_id"],
                name="analytics_flow_daily_unique_language",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.flow_id}"


class RollupCursor(models.Model):
    """How far the periodic rollup has read the event table (by event id)."""

    name = models.CharField(max_length=64, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.last_event_id}"


class SessionFacts(models.Model):
    """What one session counted for in the rollups of its day (the drill-downs read it)."""

    conversation = models.OneToOneField(
        "ingestion.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    channel = models.CharField(max_length=64, blank=True, default="")
    model_id = models.CharField(max_length=128, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    handoff = models.BooleanField(default=False)
    fallback = models.BooleanField(default=False)
    csat_answers = models.PositiveSmallIntegerField(default=0)
    csat_satisfied = models.PositiveSmallIntegerField(default=0)
    #: By the success criterion in force on the day; null without one.
    successful = models.BooleanField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["assistant", "day"], name="analytics_facts_day")]

    def __str__(self) -> str:
        return f"{self.day} #{self.conversation_id}"


class SessionFlowFacts(models.Model):
    """One flow's runs in one session: how often it started, completed, was cancelled, and
    was active when a handoff happened."""

    facts = models.ForeignKey(SessionFacts, on_delete=models.CASCADE, related_name="flows")
    flow_id = models.CharField(max_length=255)
    started = models.PositiveSmallIntegerField(default=0)
    completed = models.PositiveSmallIntegerField(default=0)
    cancelled = models.PositiveSmallIntegerField(default=0)
    handed_off = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["facts", "flow_id"], name="analytics_flow_facts")
        ]
        indexes = [models.Index(fields=["flow_id", "facts"], name="analytics_flow_facts_flow")]

    def __str__(self) -> str:
        return f"{self.facts_id} {self.flow_id}"


class SuccessCriterion(models.Model):
    """One version of an assistant's definition of a successful session: every condition set
    must hold. A change is a new row; the version in force on a day is the latest one that
    took effect on or before it (the first version also judges the days before it)."""

    class FlowOutcome(models.TextChoices):
        STARTED = "started", "started"
        COMPLETED = "completed", "completed"

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="success_criteria"
    )
    version = models.PositiveIntegerField()
    #: The day (settings.TIME_ZONE) from which it is in force: the day it was saved.
    effective_day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flow_id = models.CharField(max_length=255, blank=True, default="")
    flow_outcome = models.CharField(
        max_length=16, choices=FlowOutcome.choices, default=FlowOutcome.COMPLETED, blank=True
    )
    no_handoff = models.BooleanField(default=False)
    no_fallback = models.BooleanField(default=False)
    min_csat = models.PositiveSmallIntegerField(null=True, blank=True)
    slot_name = models.CharField(max_length=255, blank=True, default="")
    slot_value = models.CharField(max_length=1000, blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")
    #: Set once the rollups of the days it judges have been recomputed by it.
    recomputed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assistant", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "version"], name="analytics_success_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.assistant_id} v{self.version}"
