"""Periodic tasks of ingestion, run by the orchestrator's django-q2 cluster.

`ensure_schedules()` registers them idempotently (`manage.py orchestrate` calls it at start).
"""

from __future__ import annotations

from django.conf import settings

from apps.ingestion import services
from apps.projects.periodic import ensure_schedule

RETENTION_SCHEDULE = "ingestion: delete old conversations"
RETENTION_EVERY_MINUTES = 10


def delete_old_conversations() -> dict:
    """Enforce STUDIO_DELETE_CONVERSATIONS_OLDER_THAN_HOURS, a bounded number of batches per
    run; a run that does not finish leaves the rest to the next one (every 10 minutes)."""
    report = services.delete_old_conversations(
        settings.STUDIO_DELETE_CONVERSATIONS_OLDER_THAN_HOURS
    )
    return {
        "conversations": report.conversations,
        "events": report.events,
        "unrouted": report.unrouted,
        "dead_letters": report.dead_letters,
        "finished": report.finished,
    }


def ensure_schedules() -> None:
    ensure_schedule(
        RETENTION_SCHEDULE,
        "apps.ingestion.schedules.delete_old_conversations",
        minutes=RETENTION_EVERY_MINUTES,
    )
