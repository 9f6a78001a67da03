"""User-defined success criteria: what makes a session "successful" for an assistant.

A criterion (`SuccessCriterion`) is a set of conditions that must all hold, built from what the
rollups know of a session (`apps.analytics.rollups.Session`):

- a chosen flow was started, or completed (a `flow_completed` event of it);
- no handoff (`pattern_human_handoff` / `action_human_handoff`);
- no fallback (`pattern_cannot_handle`, `nlu_fallback`, `action_default_fallback`);
- a CSAT answer of at least N (the session's last answer; a session without one fails);
- a slot's last value in the session equals a given value (as the conversation page shows
  it: text as sent, other values as JSON, e.g. `true` or `5`).

Criteria are versioned: saving one adds a row with the next version, effective from the day it
was saved (in settings.TIME_ZONE). A day is judged by the version in force on it: the latest
one effective on or before it; the days before the first version are judged by the first one
(there was no other definition then). The rollups store each day's count of successful
sessions (`DailyRollup.successful_sessions`, with `success_version`) and each session's verdict
(`SessionFacts.successful`); the dashboard reads only those.

Saving a version leaves it with `recomputed_at` empty; the periodic rollup task then
recomputes the days it judges (every day with data for the first version, from its effective
day to today for a later one) and sets `recomputed_at`. Until then the dashboard says the
success figures are being recomputed.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.analytics.models import SuccessCriterion

log = logging.getLogger(__name__)


def conditions(criterion: SuccessCriterion) -> list[str]:
    """The criterion's conditions, in words."""
    words = []
    if criterion.flow_id:
        words.append(f"flow {criterion.flow_id} {criterion.flow_outcome or 'completed'}")
    if criterion.no_handoff:
        words.append("no handoff to a human")
    if criterion.no_fallback:
        words.append("no fallback or cannot-handle")
    if criterion.min_csat is not None:
        words.append(f"CSAT answer of at least {criterion.min_csat}")
    if criterion.slot_name:
        words.append(f"slot {criterion.slot_name} = {criterion.slot_value}")
    return words


def judge(criterion: SuccessCriterion, session) -> bool:
    """Whether `session` (a rollups.Session) is successful by `criterion`."""
    if criterion.flow_id:
        figures = session.flows.get(criterion.flow_id)
        if figures is None:
            return False
        done = figures.completed if criterion.flow_outcome != "started" else figures.started
        if not done:
            return False
    if criterion.no_handoff and session.handoff:
        return False
    if criterion.no_fallback and session.fallback:
        return False
    if criterion.min_csat is not None and (
        not session.csat or session.csat[-1] < criterion.min_csat
    ):
        return False
    return not criterion.slot_name or session.slots.get(criterion.slot_name) == (
        criterion.slot_value
    )


class Versions:
    """An assistant's criteria, to find the one in force on a day."""

    def __init__(self, criteria: Sequence[SuccessCriterion]):
        self.criteria = sorted(criteria, key=lambda c: (c.effective_day, c.version))
        self.days = [c.effective_day for c in self.criteria]

    @classmethod
    def of(cls, assistant_id: int) -> Versions:
        return cls(list(SuccessCriterion.objects.filter(assistant_id=assistant_id)))

    def in_force(self, day: date) -> SuccessCriterion | None:
        if not self.criteria:
            return None
        index = bisect.bisect_right(self.days, day) - 1
        if index < 0:  # before the first version: the first day's last version
            index = bisect.bisect_right(self.days, self.days[0]) - 1
        return self.criteria[index]

    def changes(self, start: date, end: date) -> list[SuccessCriterion]:
        """The versions that took effect from `start` to `end` (the marker on the charts),
        the last of each day."""
        by_day = {c.effective_day: c for c in self.criteria if start <= c.effective_day <= end}
        return [by_day[day] for day in sorted(by_day)]


@transaction.atomic
def save_criterion(assistant, user, **fields) -> SuccessCriterion:
    """A new version of the assistant's criterion (the fields of `SuccessCriterion`), in
    force from today; its days are recomputed by the next rollup run."""
    # One version is numbered at a time per assistant.
    type(assistant).objects.select_for_update().filter(pk=assistant.pk).first()
    top = SuccessCriterion.objects.filter(assistant=assistant).aggregate(top=Max("version"))
    criterion = SuccessCriterion.objects.create(
        assistant=assistant,
        version=(top["top"] or 0) + 1,
        effective_day=timezone.localdate(),
        created_by=user,
        **fields,
    )
    log.info(
        "success criterion v%s of %s saved: %s",
        criterion.version,
        assistant.name,
        "; ".join(conditions(criterion)),
    )
    return criterion


def pending(assistant_id: int | None = None):
    """Criteria whose days have not been recomputed yet, oldest first."""
    qs = SuccessCriterion.objects.filter(recomputed_at__isnull=True)
    if assistant_id is not None:
        qs = qs.filter(assistant_id=assistant_id)
    return qs.order_by("created_at", "pk")
