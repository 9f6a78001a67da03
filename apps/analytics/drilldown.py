"""The outcome filters of the Conversations page: the sessions an analytics figure counts, read
from the session facts the rollups keep (so a drill-down lists exactly the sessions the bar or
point counted, whatever the events say since).

`outcome` picks sessions by what they counted for; `flow` with `flow_outcome` by what one flow
did in them. The day, channel, model version and language are the page's own filters.
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.analytics.models import SessionFacts, SessionFlowFacts

OUTCOMES: dict[str, tuple[str, dict[str, object]]] = {
    "contained": ("Contained (no handoff)", {"handoff": False}),
    "handoff": ("Handed off to a human", {"handoff": True}),
    "fallback": ("Fallback or cannot-handle", {"fallback": True}),
    "csat_answered": ("Answered CSAT", {"csat_answers__gt": 0}),
    "csat_satisfied": ("Satisfied CSAT answer (3-5)", {"csat_satisfied__gt": 0}),
    "successful": ("Successful", {"successful": True}),
    "unsuccessful": ("Not successful", {"successful": False}),
}

FLOW_OUTCOMES: dict[str, tuple[str, str]] = {
    "started": ("started", "started__gt"),
    "completed": ("completed", "completed__gt"),
    "cancelled": ("cancelled", "cancelled__gt"),
    "handed_off": ("handed off", "handed_off__gt"),
}


def outcome_choices() -> list[tuple[str, str]]:
    return [("", "Any")] + [(key, label) for key, (label, _) in OUTCOMES.items()]


def flow_outcome_choices() -> list[tuple[str, str]]:
    return [("", "Any")] + [(key, label) for key, (label, _) in FLOW_OUTCOMES.items()]


def conversation_ids(
    assistant, *, outcome: str = "", flow: str = "", flow_outcome: str = ""
) -> QuerySet:
    """The ids of the assistant's conversations whose facts match (a subquery)."""
    facts = SessionFacts.objects.filter(assistant=assistant)
    if outcome:
        facts = facts.filter(**OUTCOMES[outcome][1])
    if flow_outcome:
        lookup = FLOW_OUTCOMES[flow_outcome][1]
        runs = SessionFlowFacts.objects.filter(flow_id=flow, **{lookup: 0})
        facts = facts.filter(pk__in=runs.values("facts_id"))
    return facts.values("conversation_id")
