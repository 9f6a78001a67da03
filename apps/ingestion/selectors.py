"""Named reads of conversations for the review pages and the API."""

from __future__ import annotations

from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, NullIf

from apps.ingestion.models import Conversation, Event, Tag

#: Rasa Pro's default slot for the language of the conversation.
LANGUAGE_SLOT = "language"


def _last_slot_language() -> Subquery:
    latest = Event.objects.filter(
        conversation=OuterRef("pk"), type="slot", slot_name=LANGUAGE_SLOT
    ).exclude(slot_value="")
    return Subquery(latest.order_by("-timestamp", "-position", "-id").values("slot_value")[:1])


def _last_metadata_language() -> Subquery:
    latest = (
        Event.objects.filter(conversation=OuterRef("pk"), type="user")
        .annotate(
            metadata_language=NullIf(
                KT("data__metadata__language"), Value(""), output_field=TextField()
            )
        )
        .filter(metadata_language__isnull=False)  # neither missing nor empty
    )
    return Subquery(
        latest.order_by("-timestamp", "-position", "-id").values("metadata_language")[:1]
    )


def session_language(default: str | F | Value | None = None):
    """The language of a session (conversation), as an expression on `Conversation` rows.

    It is, in this order:

    1. the last value the session set the `language` slot to (Rasa Pro's default slot; a reset
       to null does not count, the language it was set to still applies);
    2. else the last language a user message's metadata carried (the channel's
       `metadata.language`);
    3. else the assistant's default language (its config.yml `language`, `Assistant.language`).

    This is the one definition of a session's language: the review's language filter and the
    analytics rollups (its language dimension) both use it, so a chart's figure and the
    conversations its drill-down lists agree. Use `with_language` to annotate a queryset.
    """
    if default is None:
        default = F("assistant__language")
    elif isinstance(default, str):
        default = Value(default)
    return Coalesce(
        _last_slot_language(),
        _last_metadata_language(),
        NullIf(default, Value("")),
        Value(""),
        output_field=TextField(),
    )


def with_language(qs: QuerySet, default: str | None = None) -> QuerySet:
    """`qs` (conversations) with each one's `session_language` (see `session_language`);
    `default` overrides the assistant's default language (when it is known already)."""
    return qs.annotate(session_language=session_language(default))


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
        qs = with_language(qs, assistant.language).filter(session_language=filters["language"])
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
