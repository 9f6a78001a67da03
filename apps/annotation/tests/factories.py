"""User messages to annotate, stored as ingestion stores them (a conversation and its events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from apps.ingestion.models import Conversation, Event

DAY = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def conversation(assistant, sender="s1", channel="web", started=DAY) -> Conversation:
    return Conversation.objects.create(
        assistant=assistant,
        sender_id=sender,
        channel=channel,
        started_at=started,
        last_event_at=started,
    )


def user_message(
    conv: Conversation,
    text: str,
    *,
    intent: str = "",
    confidence: float | None = None,
    at: datetime | None = None,
    entities: list | None = None,
) -> Event:
    at = at or conv.last_event_at + timedelta(seconds=1)
    conv.last_event_at = at
    conv.save(update_fields=["last_event_at"])
    parse = {"intent": {"name": intent, "confidence": confidence}, "entities": entities or []}
    return Event.objects.create(
        conversation=conv,
        type="user",
        timestamp=at,
        position=conv.events.count(),
        fingerprint=uuid.uuid4(),
        data={"event": "user", "text": text, "parse_data": parse},
        text=text,
        intent=intent,
        confidence=confidence,
    )


def bot_message(conv: Conversation, text: str) -> Event:
    at = conv.last_event_at + timedelta(seconds=1)
    conv.last_event_at = at
    conv.save(update_fields=["last_event_at"])
    return Event.objects.create(
        conversation=conv,
        type="bot",
        timestamp=at,
        position=conv.events.count(),
        fingerprint=uuid.uuid4(),
        data={"event": "bot", "text": text},
        text=text,
    )
