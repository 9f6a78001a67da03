"""Periodic task of the test runs, run by the orchestrator: requeue runs whose consumer stopped
heartbeating (as trainings are). `ensure_schedules()` registers it idempotently."""

from datetime import timedelta

from django.conf import settings

from apps.projects.periodic import ensure_schedule
from apps.testing.models import TestRun

REAP_SCHEDULE = "studio: requeue stale test runs"


def reap() -> dict[str, int]:
    lease = timedelta(seconds=settings.STUDIO_LEASE_SECONDS)
    return {"test_runs_requeued": TestRun.requeue_stale(lease)}


def ensure_schedules() -> None:
    ensure_schedule(REAP_SCHEDULE, "apps.testing.schedules.reap", minutes=1)
