"""Conversations for tests, stored through the real ingestion path."""

from __future__ import annotations

from apps.ingestion import store
from apps.ingestion.models import Conversation, Event, Tag
from apps.ingestion.store import RawMessage
from demo.conversations import transfer_conversation


def ingest_bodies(bodies) -> store.IngestReport:
    import json

    return store.ingest([RawMessage(json.dumps(body)) for body in bodies])


def stored_conversation(assistant, sender_id: str = "matrix-sender", **kwargs) -> Conversation:
    """The first session of a two-session sample conversation of `assistant` (stored once)."""
    found = Conversation.objects.filter(assistant=assistant, sender_id=sender_id).order_by(
        "started_at"
    )
    if not found.exists():
        sample = transfer_conversation(sender_id, assistant_id=assistant.name, **kwargs)
        ingest_bodies(sample.events)
    return found.first()


def stored_user_event(assistant) -> Event:
    return stored_conversation(assistant).events.filter(type="user").first()


def stored_tag(assistant, name: str = "matrix") -> Tag:
    return Tag.objects.get_or_create(assistant=assistant, name=name)[0]
