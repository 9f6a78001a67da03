"""Orchestrator tasks, run by the django-q2 cluster on a schedule (see ensure_schedules)."""

from datetime import timedelta

from django.conf import settings

from apps.training.models import Deployment, TrainingJob


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
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="studio: requeue stale work, stop idle bots",
        defaults={
            "func": "apps.training.tasks.reap",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
