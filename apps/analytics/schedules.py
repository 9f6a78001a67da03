"""The analytics rollup's periodic task, run by the orchestrator's django-q2 cluster
(`manage.py orchestrate` registers it through `ensure_schedules()`)."""

from __future__ import annotations

from apps.analytics import rollups
from apps.projects.periodic import ensure_schedule

ROLLUP_SCHEDULE = "analytics: roll up new events"
ROLLUP_EVERY_MINUTES = 1


def rollup_new_events() -> dict:
    """Recompute the days touched by the events ingested since the last run."""
    report = rollups.rollup_new_events()
    return {
        "days": report.days,
        "last_event_id": report.last_event_id,
        "finished": report.finished,
    }


def ensure_schedules() -> None:
    ensure_schedule(
        ROLLUP_SCHEDULE,
        "apps.analytics.schedules.rollup_new_events",
        minutes=ROLLUP_EVERY_MINUTES,
    )
