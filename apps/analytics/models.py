"""The analytics database: daily rollups of ingested conversations, in plain tables that a BI
tool can read directly (README, "Analytics", documents every column).

One row of `DailyRollup` per assistant, day (UTC), channel and model version; a session is
counted on the day it started, and everything about it (its user messages, latencies, flows)
is counted on that day and under its channel and model id (the conversation's, as ingestion
records them; "" when its events carried none). `LatencyBucket` holds each row's histogram of
response latencies, `FlowDailyRollup` the per-flow figures. They are computed by
`apps.analytics.rollups` and only ever replaced a whole day at a time.
"""

from __future__ import annotations

from django.db import models


class DailyRollup(models.Model):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    channel = models.CharField(max_length=64, blank=True, default="")
    model_id = models.CharField(max_length=128, blank=True, default="")
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
    #: User messages answered by a bot message, and the sum of those latencies.
    latency_count = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.BigIntegerField(default=0)
    #: From this row's histogram (see apps.analytics.latency); null without latencies.
    latency_p50_ms = models.FloatField(null=True, blank=True)
    latency_p95_ms = models.FloatField(null=True, blank=True)
    latency_p99_ms = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "channel", "model_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "day", "channel", "model_id"], name="analytics_daily_unique"
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
    flow_id = models.CharField(max_length=255)
    #: Sessions in which the flow started, and how many of them were contained.
    sessions = models.PositiveIntegerField(default=0)
    contained_sessions = models.PositiveIntegerField(default=0)
    #: `flow_started`, `flow_completed`, `flow_cancelled` events of the flow.
    started = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    #: Runs of the flow that were active (started, not ended) when a handoff happened.
    handed_off = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["day", "flow_id", "channel", "model_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "day", "channel", "model_id", "flow_id"],
                name="analytics_flow_daily_unique",
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
