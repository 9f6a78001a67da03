"""Registering a periodic task with django-q2's scheduler, for the apps' `ensure_schedules()`
(which `manage.py orchestrate` calls at start)."""

from __future__ import annotations

from collections.abc import Iterable


def ensure_schedule(name: str, func: str, *, minutes: int, replaces: Iterable[str] = ()) -> None:
    """Make sure the schedule `name` runs `func` (a dotted path) every `minutes`, for ever.
    Idempotent: the row is found by its name and brought up to date. `replaces` lists the
    dotted paths this task had before it moved: rows still pointing at one of them (in a
    database older than the move) run `func` from now on, rather than a missing function."""
    from django_q.models import Schedule

    old = list(replaces)
    if old:
        Schedule.objects.filter(func__in=old).exclude(name=name).update(func=func)
    Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": func,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        },
    )
