"""Named reads of conversations for the review pages and the API."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.ingestion.models import Conversation, Event, Tag


def filtered_conversations(assistant, filters: dict, *, start=None, end=None) -> QuerySet:
    """The assistant's conversations matching `filters` (ConversationFilterForm.filters()),
    newest first. Event-level filters are EXISTS subqueries on the indexed event columns."""
    qs = Conversation.objects.for_assistant(assistant)
    if start is not None:
        qs = qs.filter(started_at__gte=start)
    if end is not None:
        qs = qs.filter(started_at__lt=end)
    if "sender" in filters:
        qs = qs.filter(sender_id__startswith=filters["sender"])
    if "user" in filters:
        qs = qs.filter(user_id=filters["user"])
    if "channel" in filters:
        qs = qs.filter(channel=filters["channel"])
    if "language" in filters:
        qs = qs.filter(language=filters["language"])
    if "model" in filters:
        qs = qs.filter(model_id=filters["model"])
    if "reviewed" in filters:
        qs = qs.filter(reviewed_at__isnull=filters["reviewed"] == "no")
    if "min_messages" in filters:
        qs = qs.filter(user_message_count__gte=filters["min_messages"])
    if "max_messages" in filters:
        qs = qs.filter(user_message_count__lte=filters["max_messages"])
    if "tag" in filters:
        qs = qs.with_tag(filters["tag"])
    if "intent" in filters:
        qs = qs.with_event(intent=filters["intent"])
    if "flow" in filters:
        qs = qs.with_event(flow_id=filters["flow"])
    if "action" in filters:
        qs = qs.with_event(action_name=filters["action"])
    if "slot" in filters or "slot_value" in filters:
        lookups = {}
        if "slot" in filters:
            lookups["slot_name"] = filters["slot"]
        else:
            lookups["type"] = "slot"
        if "slot_value" in filters:
            lookups["slot_value"] = filters["slot_value"]
        qs = qs.with_event(**lookups)
    if "text" in filters:
        qs = qs.with_event(type__in=("user", "bot"), text__icontains=filters["text"])
    return qs.newest_first()


def page_of(qs: QuerySet, page: int, size: int) -> tuple[list, bool]:
    """One page without a COUNT over the whole set: (rows, has_next)."""
    offset = (page - 1) * size
    rows = list(
        qs.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))[
            offset : offset + size + 1
        ]
    )
    return rows[:size], len(rows) > size


def conversation_events(conversation: Conversation) -> QuerySet:
    return Event.objects.filter(conversation=conversation).order_by("timestamp", "position", "id")


def conversation_turns(conversation: Conversation) -> list[tuple[int, int]]:
    """The conversation's turns as ``(first, last + 1)`` indexes into its ordered events. A turn
    starts at a user message; events before the first one belong to the first turn."""
    types = conversation_events(conversation).values_list("type", flat=True)
    turns: list[tuple[int, int]] = []
    start = 0
    count = 0
    for index, kind in enumerate(types.iterator()):
        if kind == "user" and index > start:
            turns.append((start, index))
            start = index
        count = index + 1
    if count > start:
        turns.append((start, count))
    return turns
