"""Rasa Studio's conversation API, in GraphQL.

    type Query {
      rawConversations(input: RawConversationsInput!): RawConversationsOutput!
      conversationTags(input: ConversationTagsInput!): [ConversationTag!]!
    }
    type Mutation {
      addConversationTagToConversation(input: AddConversationTagToConversationInput!): Boolean!
      removeConversationTagFromConversation(
        input: RemoveConversationTagFromConversationInput!): Boolean!
      deleteConversations(input: DeleteConversationsInput!): Int!
    }
    input RawConversationsInput { assistantId: ID, assistantName: String, fromTime: String,
                                  toTime: String, limit: Int, offset: Int, tags: [String!] }
    type RawConversation { id: ID! conversationEvents: [JSON!]! tags: [ConversationTag!]! }
    type RawConversationsOutput { conversations: [RawConversation!]! count: Int! }
    input ConversationTagsInput { assistantId: ID, assistantName: String }
    type ConversationTag { id: ID! name: String! assistantId: ID! }
    input AddConversationTagToConversationInput { conversationId: ID! tagId: ID! }
    input RemoveConversationTagFromConversationInput { conversationId: ID! tagId: ID! }
    input DeleteConversationsInput { conversationIds: [ID!]! }

As Rasa Studio documents it: `fromTime`/`toTime` are ISO 8601 (UTC when no offset is given)
and bound when a conversation started; `limit` defaults to 10 (at most 1000), `offset` to 0;
`count` is every match, whatever the page; `tags` keeps conversations holding any of those
tag names. A conversation's events are the Rasa tracker events as the bot sent them, in
order. Adding a tag a conversation has already answers true; removing one it has not, or
from a conversation that is not there, answers true too; `deleteConversations` counts what
it deleted (ids that name nothing are not counted). Reading needs VIEW_CONVERSATIONS, tagging
TAG_CONVERSATIONS, deleting DELETE_CONVERSATIONS on the conversation's assistant; a
conversation of an assistant the caller has no role on is "not found".
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from django.db.models import Prefetch
from django.utils.dateparse import parse_datetime
from strawberry.scalars import JSON
from strawberry.types import Info

from apps.accounts.roles import Cap
from apps.ingestion import services
from apps.ingestion.models import Conversation, Event, Tag
from apps.projects.graphql.context import (
    Problem,
    assistant_for,
    assistant_name_of,
    assistant_or_none,
)

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


@strawberry.type(name="ConversationTag")
class ConversationTagOutput:
    id: strawberry.ID
    name: str
    assistant_id: strawberry.ID


def _tag(tag: Tag, assistant_name: str) -> ConversationTagOutput:
    return ConversationTagOutput(
        id=strawberry.ID(str(tag.pk)), name=tag.name, assistant_id=strawberry.ID(assistant_name)
    )


@strawberry.type
class RawConversation:
    id: strawberry.ID
    conversation_events: list[JSON]
    tags: list[ConversationTagOutput]


@strawberry.type
class RawConversationsOutput:
    conversations: list[RawConversation]
    count: int


@strawberry.input
class RawConversationsInput:
    assistant_id: strawberry.ID | None = None
    assistant_name: str | None = None
    from_time: str | None = None
    to_time: str | None = None
    limit: int | None = None
    offset: int | None = None
    tags: list[str] | None = None


@strawberry.input
class ConversationTagsInput:
    assistant_id: strawberry.ID | None = None
    assistant_name: str | None = None


@strawberry.input
class AddConversationTagToConversationInput:
    conversation_id: strawberry.ID
    tag_id: strawberry.ID


@strawberry.input
class RemoveConversationTagFromConversationInput:
    conversation_id: strawberry.ID
    tag_id: strawberry.ID


@strawberry.input
class DeleteConversationsInput:
    conversation_ids: list[strawberry.ID]


def _time(field: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise Problem(
            f"{field}: {value!r} is not an ISO 8601 time (e.g. 2024-01-31T23:59:59.000Z).",
            code="BAD_USER_INPUT",
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _paging(limit: int | None, offset: int | None) -> tuple[int, int]:
    limit = DEFAULT_LIMIT if limit is None else limit
    offset = 0 if offset is None else offset
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(f"limit: give 1 to {MAX_LIMIT} (got {limit}).", code="BAD_USER_INPUT")
    if offset < 0:
        raise Problem(f"offset: give 0 or more (got {offset}).", code="BAD_USER_INPUT")
    return limit, offset


def _matching(assistant, given: RawConversationsInput):
    start, end = _time("fromTime", given.from_time), _time("toTime", given.to_time)
    if start and end and start > end:
        raise Problem("fromTime is after toTime.", code="BAD_USER_INPUT")
    qs = Conversation.objects.for_assistant(assistant)
    if start is not None:
        qs = qs.filter(started_at__gte=start)
    if end is not None:
        qs = qs.filter(started_at__lte=end)
    if given.tags:
        tags = list(Tag.objects.filter(assistant=assistant, name__in=given.tags))
        unknown = sorted(set(given.tags) - {tag.name for tag in tags})
        if unknown:
            raise Problem(
                f"tags: {assistant.name} has no tag named {', '.join(map(repr, unknown))}.",
                code="BAD_USER_INPUT",
            )
        qs = qs.with_tag(*tags)
    return qs


def _events_of(conversation_ids: list[int]) -> dict[int, list]:
    events: dict[int, list] = {pk: [] for pk in conversation_ids}
    rows = (
        Event.objects.filter(conversation_id__in=conversation_ids)
        .order_by("conversation_id", "timestamp", "position", "id")
        .values_list("conversation_id", "data")
    )
    for conversation_id, data in rows.iterator(chunk_size=2000):
        events[conversation_id].append(data)
    return events


def _row_id(value: str) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) < 18 else None


def _conversation(info: Info, conversation_id: str, capability: Cap) -> Conversation | None:
    """The conversation, if it exists and the caller has a role on its assistant (None
    otherwise); Problem when the role lacks `capability`."""
    pk = _row_id(conversation_id)
    row = (
        Conversation.objects.select_related("assistant").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if row is None or assistant_or_none(info, row.assistant.name, capability) is None:
        return None
    return row


def _tag_of(row: Conversation, tag_id: str) -> Tag | None:
    pk = _row_id(tag_id)
    return Tag.objects.filter(pk=pk, assistant_id=row.assistant_id).first() if pk else None


@strawberry.type
class Query:
    @strawberry.field(name="rawConversations")
    def raw_conversations(self, info: Info, input: RawConversationsInput) -> RawConversationsOutput:
        name = assistant_name_of(input.assistant_id, input.assistant_name)
        assistant = assistant_for(info, name, Cap.VIEW_CONVERSATIONS)
        limit, offset = _paging(input.limit, input.offset)
        qs = _matching(assistant, input).order_by("started_at", "id")
        rows = list(
            qs.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))[
                offset : offset + limit
            ]
        )
        events = _events_of([row.pk for row in rows])
        return RawConversationsOutput(
            conversations=[
                RawConversation(
                    id=strawberry.ID(str(row.pk)),
                    conversation_events=events[row.pk],
                    tags=[_tag(tag, assistant.name) for tag in row.tags.all()],
                )
                for row in rows
            ],
            count=qs.count(),
        )

    @strawberry.field(name="conversationTags")
    def conversation_tags(
        self, info: Info, input: ConversationTagsInput
    ) -> list[ConversationTagOutput]:
        name = assistant_name_of(input.assistant_id, input.assistant_name)
        assistant = assistant_for(info, name, Cap.VIEW_CONVERSATIONS)
        return [_tag(tag, assistant.name) for tag in Tag.objects.filter(assistant=assistant)]


@strawberry.type
class Mutation:
    @strawberry.mutation(name="addConversationTagToConversation")
    def add_conversation_tag(
        self, info: Info, input: AddConversationTagToConversationInput
    ) -> bool:
        row = _conversation(info, input.conversation_id, Cap.TAG_CONVERSATIONS)
        if row is None:
            raise Problem(f"No conversation with id {input.conversation_id!r}.", "NOT_FOUND")
        tag = _tag_of(row, input.tag_id)
        if tag is None:
            raise Problem(
                f"tagId: {input.tag_id!r} is not a tag of {row.assistant.name} "
                "(conversationTags lists them).",
                code="NOT_FOUND",
            )
        services.add_tag(Conversation.objects.filter(pk=row.pk), tag)
        return True

    @strawberry.mutation(name="removeConversationTagFromConversation")
    def remove_conversation_tag(
        self, info: Info, input: RemoveConversationTagFromConversationInput
    ) -> bool:
        row = _conversation(info, input.conversation_id, Cap.TAG_CONVERSATIONS)
        tag = _tag_of(row, input.tag_id) if row is not None else None
        if row is not None and tag is not None:
            services.remove_tag(Conversation.objects.filter(pk=row.pk), tag)
        return True

    @strawberry.mutation(name="deleteConversations")
    def delete_conversations(self, info: Info, input: DeleteConversationsInput) -> int:
        """All or nothing: a conversation the caller may see but not delete refuses the lot."""
        rows = [_conversation(info, pk, Cap.DELETE_CONVERSATIONS) for pk in input.conversation_ids]
        found = {row.pk for row in rows if row is not None}
        deleted, _ = services.delete_conversations(Conversation.objects.filter(pk__in=found))
        return deleted
