"""Periodic tasks of training and running, run by the orchestrator's django-q2 cluster.

`ensure_schedules()` registers them idempotently (`manage.py orchestrate` calls it at start).
"""

from datetime import timedelta

from django.conf import settings

from apps.projects.periodic import ensure_schedule
from apps.training.models import Deployment, TrainingJob

REAP_SCHEDULE = "studio: requeue stale work, stop idle bots"


def reap() -> dict[str, int]:
    """Requeue training jobs and bots whose worker stopped heartbeating, and stop idle bots."""
    lease = timedelta(seconds=settings.STUDIO_LEASE_SECONDS)
    return {
        "jobs_requeued": TrainingJob.requeue_stale(lease),
        "deployments_requeued": Deployment.requeue_stale(lease),
        "bots_idle_stopped": Deployment.stop_idle(
            timedelta(seconds=settings.STUDIO_BOT_IDLE_SECONDS)
        ),
    }


def ensure_schedules() -> None:
    # Before `tasks.py` became `schedules.py`, the row named the task by its old path.
    ensure_schedule(
        REAP_SCHEDULE,
        "apps.training.schedules.reap",
        minutes=1,
        replaces=["apps.training.tasks.reap"],
    )
