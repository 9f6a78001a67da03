"""Rasa Studio's Conversation API on the one GraphQL endpoint: stored conversations read,
tagged and deleted by scripts, with a bearer credential. The shapes are Rasa Studio's, so a
script written against it works here. The SDL served:

    scalar JSON

    input RawConversationsInput {
      assistantId: ID!        # the assistant's name (what assistantByName returns as id)
      fromTime: String        # ISO 8601, conversations started at or after it
      toTime: String          # ISO 8601, conversations started before it
      limit: Int              # default 10, 0..1000
      offset: Int             # default 0
      tags: [ID!]             # only conversations holding every one of these tag ids
    }
    type RawConversation { id: ID! conversationEvents: [JSON!]! }
    type RawConversationsOutput { conversations: [RawConversation!]! count: Int! }

    input ConversationTagsInput { assistantId: ID! }
    type ConversationTag { id: ID! name: String! color: String! }

    input ConversationTagInput { assistantId: ID! conversationId: ID! tagId: ID! }
    type ConversationTagOutput { conversationId: ID! tagIds: [ID!]! }

    input DeleteConversationsInput { assistantId: ID! conversationIds: [ID!]! }
    type DeleteConversationsOutput { count: Int! }

    type Query {
      rawConversations(input: RawConversationsInput!): RawConversationsOutput!
      conversationTags(input: ConversationTagsInput!): [ConversationTag!]!
    }
    type Mutation {
      addConversationTagToConversation(input: ConversationTagInput!): ConversationTagOutput!
      removeConversationTagFromConversation(input: ConversationTagInput!): ConversationTagOutput!
      deleteConversations(input: DeleteConversationsInput!): DeleteConversationsOutput!
    }

Conversation and tag ids are Studio's own row ids, as strings. Adding a tag a conversation
already holds, or removing one it lacks, changes nothing and answers the same. Bad input (a
time that is not ISO 8601, a negative limit, an id Studio does not know) is an error naming
the field, and nothing is changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from django.utils import timezone
from strawberry.scalars import JSON
from strawberry.types import Info

from apps.accounts.roles import Cap
from apps.ingestion import selectors, services
from apps.ingestion.models import Conversation, Tag
from apps.projects.graphql.context import Problem, assistant_for

MAX_LIMIT = 1000


@strawberry.input
class RawConversationsInput:
    assistant_id: strawberry.ID
    from_time: str | None = None
    to_time: str | None = None
    limit: int | None = None
    offset: int | None = None
    tags: list[strawberry.ID] | None = None


@strawberry.type
class RawConversation:
    id: strawberry.ID
    conversation_events: list[JSON]


@strawberry.type
class RawConversationsOutput:
    conversations: list[RawConversation]
    count: int


@strawberry.input
class ConversationTagsInput:
    assistant_id: strawberry.ID


@strawberry.type
class ConversationTag:
    id: strawberry.ID
    name: str
    color: str


@strawberry.input
class ConversationTagInput:
    assistant_id: strawberry.ID
    conversation_id: strawberry.ID
    tag_id: strawberry.ID


@strawberry.type
class ConversationTagOutput:
    conversation_id: strawberry.ID
    tag_ids: list[strawberry.ID]


@strawberry.input
class DeleteConversationsInput:
    assistant_id: strawberry.ID
    conversation_ids: list[strawberry.ID]


@strawberry.type
class DeleteConversationsOutput:
    count: int


def _time(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time (a trailing Z allowed; no zone means UTC), or a Problem naming the
    field."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Problem(
            f"{field}: {value!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00.000Z).",
            code="BAD_USER_INPUT",
        ) from None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _count(value: int | None, field: str, default: int, maximum: int | None = None) -> int:
    if value is None:
        return default
    if value < 0 or (maximum is not None and value > maximum):
        limit = f"0 to {maximum}" if maximum is not None else "0 or more"
        raise Problem(f"{field}: {value} is out of range ({limit}).", code="BAD_USER_INPUT")
    return value


def _pk(value: str, field: str) -> int:
    try:
        pk = int(str(value))
    except ValueError:
        pk = 0
    if pk <= 0:
        raise Problem(f"{field}: {value!r} is not a Studio id.", code="BAD_USER_INPUT")
    return pk


def _tag(assistant, value: str, field: str) -> Tag:
    pk = _pk(value, field)
    tag = Tag.objects.filter(assistant=assistant, pk=pk).first()
    if tag is None:
        raise Problem(f"{field}: no tag {value} on {assistant.name}.", code="NOT_FOUND")
    return tag


def _conversations(assistant, values: list[str], field: str):
    """The assistant's conversations with these ids, all of them or a Problem (so a mistyped
    id changes nothing)."""
    pks = {_pk(value, field) for value in values}
    qs = Conversation.objects.for_assistant(assistant).filter(pk__in=pks)
    missing = pks - set(qs.values_list("pk", flat=True))
    if missing:
        listed = ", ".join(str(pk) for pk in sorted(missing))
        raise Problem(f"{field}: no conversation {listed} on {assistant.name}.", "NOT_FOUND")
    return qs


def _tag_output(conversation: Conversation) -> ConversationTagOutput:
    ids = conversation.tags.order_by("pk").values_list("pk", flat=True)
    return ConversationTagOutput(
        conversation_id=strawberry.ID(str(conversation.pk)),
        tag_ids=[strawberry.ID(str(pk)) for pk in ids],
    )


@strawberry.type
class Query:
    @strawberry.field(name="rawConversations")
    def raw_conversations(self, info: Info, input: RawConversationsInput) -> RawConversationsOutput:
        """A page of the assistant's conversations, newest first, each with its tracker events
        as Rasa sent them, in order; `count` is every match, whatever the page."""
        assistant = assistant_for(info, str(input.assistant_id), Cap.VIEW_CONVERSATIONS)
        start = _time(input.from_time, "fromTime")
        end = _time(input.to_time, "toTime")
        limit = _count(input.limit, "limit", 10, MAX_LIMIT)
        offset = _count(input.offset, "offset", 0)
        tags = [_tag(assistant, value, "tags") for value in input.tags or ()]
        qs = selectors.filtered_conversations(assistant, {}, start=start, end=end)
        for tag in tags:
            qs = selectors.filtered_conversations(assistant, {"tag": tag}).filter(pk__in=qs)
        page = list(qs[offset : offset + limit])
        return RawConversationsOutput(
            conversations=[
                RawConversation(
                    id=strawberry.ID(str(conversation.pk)),
                    conversation_events=[
                        event.data for event in selectors.conversation_events(conversation)
                    ],
                )
                for conversation in page
            ],
            count=qs.count(),
        )

    @strawberry.field(name="conversationTags")
    def conversation_tags(self, info: Info, input: ConversationTagsInput) -> list[ConversationTag]:
        assistant = assistant_for(info, str(input.assistant_id), Cap.VIEW_CONVERSATIONS)
        return [
            ConversationTag(id=strawberry.ID(str(tag.pk)), name=tag.name, color=tag.colour)
            for tag in Tag.objects.filter(assistant=assistant).order_by("name")
        ]


@strawberry.type
class Mutation:
    @strawberry.mutation(name="addConversationTagToConversation")
    def add_conversation_tag(
        self, info: Info, input: ConversationTagInput
    ) -> ConversationTagOutput:
        assistant = assistant_for(info, str(input.assistant_id), Cap.TAG_CONVERSATIONS)
        tag = _tag(assistant, str(input.tag_id), "tagId")
        qs = _conversations(assistant, [str(input.conversation_id)], "conversationId")
        services.add_tag(qs, tag)
        return _tag_output(qs.get())

    @strawberry.mutation(name="removeConversationTagFromConversation")
    def remove_conversation_tag(
        self, info: Info, input: ConversationTagInput
    ) -> ConversationTagOutput:
        assistant = assistant_for(info, str(input.assistant_id), Cap.TAG_CONVERSATIONS)
        tag = _tag(assistant, str(input.tag_id), "tagId")
        qs = _conversations(assistant, [str(input.conversation_id)], "conversationId")
        services.remove_tag(qs, tag)
        return _tag_output(qs.get())

    @strawberry.mutation(name="deleteConversations")
    def delete_conversations(
        self, info: Info, input: DeleteConversationsInput
    ) -> DeleteConversationsOutput:
        assistant = assistant_for(info, str(input.assistant_id), Cap.DELETE_CONVERSATIONS)
        if not input.conversation_ids:
            raise Problem("conversationIds: list at least one conversation.", "BAD_USER_INPUT")
        qs = _conversations(assistant, [str(v) for v in input.conversation_ids], "conversationIds")
        deleted, _ = services.delete_conversations(qs)
        return DeleteConversationsOutput(count=deleted)
