"""Asking for comparisons and replays. Requests only check and queue: the training consumers
do the work (workers/comparison.py)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max

from apps.comparison.models import Comparison, Replay
from apps.comparison.replay import turns_of_events
from apps.ingestion.models import Conversation, Event
from apps.training import services as training
from apps.training.models import ModelVersion


class Refused(Exception):
    """The request cannot be queued; the message says why."""


def _check_trained(version: ModelVersion, role: str) -> None:
    if not version.is_trained:
        raise Refused(f"{version.label} ({role}) has not been trained.")


def request_comparison(
    candidate: ModelVersion, user, base: ModelVersion | None = None
) -> tuple[Comparison, bool]:
    """Queue the comparison of `candidate` with `base` (by default the live version).
    Returns ``(comparison, created)``: an identical comparison still queued or running is
    returned instead of a second one."""
    base = base or training.live_version(candidate.assistant)
    if base is None:
        raise Refused("No version is live: there is nothing to compare with.")
    if base.pk == candidate.pk:
        raise Refused(f"{candidate.label} is the live version: compare another version with it.")
    _check_trained(candidate, "the candidate")
    _check_trained(base, "the live version")
    if candidate.isolated and candidate.created_by_id != getattr(user, "pk", None):
        raise Refused(f"{candidate.label} is a personal version: only the person who trained it.")
    running = (
        Comparison.objects.active().filter(candidate=candidate, base=base).order_by("-id").first()
    )
    if running is not None:
        return running, False
    comparison = Comparison.objects.create(
        assistant=candidate.assistant,
        candidate=candidate,
        base=base,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        progress="Queued: a training consumer will run it.",
    )
    return comparison, True


def latest_comparison(candidate: ModelVersion, base: ModelVersion | None) -> Comparison | None:
    """The newest comparison of the candidate with `base` (any state)."""
    if base is None:
        return None
    return Comparison.objects.filter(candidate=candidate, base=base).order_by("-id").first()


def sample_user_messages(assistant, size: int | None = None) -> list[str]:
    """The distinct texts of the assistant's most recent ingested user messages, at most
    `size` (STUDIO_COMPARISON_SAMPLE_SIZE), newest first; payloads (``/intent``) left out."""
    limit = settings.STUDIO_COMPARISON_SAMPLE_SIZE if size is None else size
    rows = (
        Event.objects.filter(conversation__assistant=assistant, type="user")
        .exclude(text="")
        .exclude(text__startswith="/")
        .values("text")
        .annotate(last=Max("timestamp"))
        .order_by("-last", "text")[:limit]
    )
    return [row["text"] for row in rows]


def conversation_turns(conversation: Conversation) -> list[dict]:
    """The conversation's turns as it happened (user message, bot utterances, flows)."""
    events = conversation.events.order_by("timestamp", "position", "id").values_list(
        "data", flat=True
    )
    return turns_of_events(events)


def request_replay(
    version: ModelVersion, user, *, turns: list[dict], label: str, conversation=None
) -> Replay:
    """Queue the replay of `turns` (see `turns_of_events`) against `version`."""
    _check_trained(version, "the version to replay against")
    if version.isolated and version.created_by_id != getattr(user, "pk", None):
        raise Refused(f"{version.label} is a personal version: only the person who trained it.")
    if not turns:
        raise Refused("The conversation has no user message to replay.")
    return Replay.objects.create(
        assistant=version.assistant,
        version=version,
        conversation=conversation,
        source=turns,
        source_label=label[:300],
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        progress="Queued: a training consumer will run it.",
    )
