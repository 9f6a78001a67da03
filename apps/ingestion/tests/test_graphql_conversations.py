"""Rasa Studio's conversation API over /api/graphql/: stored conversations read, filtered,
paged, tagged and deleted, with each role allowed exactly what the role table says."""

from __future__ import annotations

import json

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import ROLE_CAPS, Cap, Role
from apps.ingestion.models import Conversation, Event, Tag
from apps.ingestion.store import RawMessage, ingest
from demo.conversations import transfer_conversation

pytestmark = pytest.mark.django_db

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z; the second session starts an hour later

RAW = (
    "query rawConversations($input: RawConversationsInput!) { rawConversations(input: $input)"
    " { conversations { id, conversationEvents, tags { id, name } }, count } }"
)
TAGS = (
    "query conversationTags($input: ConversationTagsInput!) { conversationTags(input: $input)"
    " { id, name, assistantId } }"
)
ADD = (
    "mutation addConversationTagToConversation($input: AddConversationTagToConversationInput!)"
    " { addConversationTagToConversation(input: $input) }"
)
REMOVE = (
    "mutation removeConversationTagFromConversation("
    "$input: RemoveConversationTagFromConversationInput!)"
    " { removeConversationTagFromConversation(input: $input) }"
)
DELETE = (
    "mutation deleteConversations($input: DeleteConversationsInput!)"
    " { deleteConversations(input: $input) }"
)


def store(sender_id, start=START, assistant_id="alpha"):
    sample = transfer_conversation(sender_id, start=start, assistant_id=assistant_id)
    ingest([RawMessage(json.dumps(body)) for body in sample.events])


def call(client, user, query, variables):
    _, secret = ApiToken.issue(user, "ci")
    response = client.post(
        "/api/graphql/",
        {"query": query, "variables": {"input": variables}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200
    return response.json()


def data(body):
    assert "errors" not in body, body
    return body["data"]


def error(body) -> str:
    assert body.get("data") is None or not any(body["data"].values()), body
    return body["errors"][0]["message"]


@pytest.fixture
def viewer(make_user):
    return make_user("viewer", Role.CONVERSATION_VIEWER)


@pytest.fixture
def analyst(make_user):
    return make_user("analyst", Role.CONVERSATION_ANALYST)


def test_raw_conversations_are_the_stored_tracker_events_in_order(client, assistant, viewer):
    store("amy")
    got = data(call(client, viewer, RAW, {"assistantId": "alpha"}))["rawConversations"]
    assert got["count"] == 2
    first, second = got["conversations"]
    events = list(
        Event.objects.filter(conversation_id=int(first["id"]))
        .order_by("timestamp", "position")
        .values_list("data", flat=True)
    )
    assert first["conversationEvents"] == events
    assert first["conversationEvents"][0]["event"] == "action"
    assert first["conversationEvents"][0]["name"] == "action_session_start"
    user = [e for e in first["conversationEvents"] if e["event"] == "user"]
    assert user[0]["text"] == "send 50 to Joe"
    assert len(second["conversationEvents"]) == 17
    assert first["tags"] == []


def test_paging_leaves_the_count_alone_and_time_bounds_filter(client, assistant, viewer):
    for index in range(3):
        store(f"s{index}", start=START + index * 86400)  # two sessions a day, three days
    page = data(call(client, viewer, RAW, {"assistantName": "alpha", "limit": 2, "offset": 1}))
    assert page["rawConversations"]["count"] == 6
    assert len(page["rawConversations"]["conversations"]) == 2
    everything = data(call(client, viewer, RAW, {"assistantId": "alpha", "limit": 100}))
    ids = [c["id"] for c in everything["rawConversations"]["conversations"]]
    assert [c["id"] for c in page["rawConversations"]["conversations"]] == ids[1:3]
    window = {
        "assistantId": "alpha",
        "fromTime": "2023-11-15T22:00:00.000Z",
        "toTime": "2023-11-15T23:00:00Z",
    }
    only = data(call(client, viewer, RAW, window))["rawConversations"]
    assert only["count"] == 1
    assert only["conversations"][0]["conversationEvents"][0]["sender_id"] == "s1"
    default = data(call(client, viewer, RAW, {"assistantId": "alpha"}))["rawConversations"]
    assert default["count"] == 6 and len(default["conversations"]) == 6  # 10 by default


def test_tags_are_listed_added_filtered_and_removed(client, assistant, analyst):
    store("amy")
    store("bob", start=START + 86400)
    urgent = Tag.objects.create(assistant=assistant, name="urgent")
    Tag.objects.create(assistant=assistant, name="later")
    tags = data(call(client, analyst, TAGS, {"assistantName": "alpha"}))["conversationTags"]
    assert {(t["name"], t["assistantId"]) for t in tags} == {
        ("urgent", "alpha"),
        ("later", "alpha"),
    }
    amy = Conversation.objects.filter(sender_id="amy").order_by("started_at").first()
    given = {"conversationId": str(amy.pk), "tagId": str(urgent.pk)}
    assert data(call(client, analyst, ADD, given)) == {"addConversationTagToConversation": True}
    assert data(call(client, analyst, ADD, given)) == {"addConversationTagToConversation": True}
    assert list(amy.tags.values_list("name", flat=True)) == ["urgent"]
    tagged = data(call(client, analyst, RAW, {"assistantId": "alpha", "tags": ["urgent"]}))
    assert tagged["rawConversations"]["count"] == 1
    assert tagged["rawConversations"]["conversations"][0]["id"] == str(amy.pk)
    assert tagged["rawConversations"]["conversations"][0]["tags"] == [
        {"id": str(urgent.pk), "name": "urgent"}
    ]
    assert data(call(client, analyst, REMOVE, given)) == {
        "removeConversationTagFromConversation": True
    }
    assert not amy.tags.exists()
    # Removing again, or from nothing, answers true as Rasa Studio documents.
    assert data(call(client, analyst, REMOVE, given))["removeConversationTagFromConversation"]
    nothing = {"conversationId": "999999", "tagId": "1"}
    assert data(call(client, analyst, REMOVE, nothing))["removeConversationTagFromConversation"]


def test_delete_counts_what_it_deleted(client, assistant, analyst):
    store("amy")
    ids = [str(pk) for pk in Conversation.objects.values_list("pk", flat=True)]
    body = call(client, analyst, DELETE, {"conversationIds": [*ids, "424242", "nope"]})
    assert data(body) == {"deleteConversations": 2}
    assert not Conversation.objects.exists() and not Event.objects.exists()
    assert data(call(client, analyst, DELETE, {"conversationIds": ids})) == {
        "deleteConversations": 0
    }


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"assistantId": "alpha", "fromTime": "yesterday"}, "fromTime: 'yesterday' is not"),
        ({"assistantId": "alpha", "toTime": "2024-13-45T00:00:00Z"}, "toTime:"),
        (
            {"assistantId": "alpha", "fromTime": "2024-02-01T00:00:00Z", "toTime": "2024-01-01"},
            "fromTime is after toTime",
        ),
        ({"assistantId": "alpha", "limit": -1}, "limit: give 1 to 1000"),
        ({"assistantId": "alpha", "limit": 5000}, "limit: give 1 to 1000"),
        ({"assistantId": "alpha", "offset": -3}, "offset: give 0 or more"),
        ({"assistantId": "alpha", "tags": ["nope"]}, "tags: alpha has no tag named 'nope'"),
        ({}, "Give the assistant"),
        ({"assistantId": "alpha", "assistantName": "beta"}, "differ"),
    ],
)
def test_malformed_reads_are_named(client, assistant, viewer, variables, words):
    store("amy")
    assert words in error(call(client, viewer, RAW, variables))


def test_malformed_tag_requests_change_nothing(client, assistant, make_assistant, analyst):
    store("amy")
    other = make_assistant("beta")
    foreign_tag = Tag.objects.create(assistant=other, name="theirs")
    amy = Conversation.objects.filter(sender_id="amy").first()
    for tag_id in ("nope", str(foreign_tag.pk), "999999"):
        message = error(
            call(client, analyst, ADD, {"conversationId": str(amy.pk), "tagId": tag_id})
        )
        assert f"tagId: {tag_id!r} is not a tag of alpha" in message
    assert "No conversation with id 'x'" in error(
        call(client, analyst, ADD, {"conversationId": "x", "tagId": str(foreign_tag.pk)})
    )
    assert not Conversation.tags.through.objects.exists()


def test_other_assistants_conversations_stay_hidden(client, assistant, make_assistant, make_user):
    make_assistant("beta")
    store("amy", assistant_id="beta")
    theirs = Conversation.objects.filter(assistant__name="beta")
    tag = Tag.objects.create(assistant=theirs.first().assistant, name="t")
    # A viewer of alpha only: beta is "not found", its conversations are not there.
    outsider = make_user("outsider", grants={assistant: [Role.CONVERSATION_ANALYST]})
    assert "No assistant named 'beta'" in error(
        call(client, outsider, RAW, {"assistantId": "beta"})
    )
    pk = str(theirs.first().pk)
    assert f"No conversation with id '{pk}'" in error(
        call(client, outsider, ADD, {"conversationId": pk, "tagId": str(tag.pk)})
    )
    assert data(call(client, outsider, DELETE, {"conversationIds": [pk]})) == {
        "deleteConversations": 0
    }
    assert data(call(client, outsider, REMOVE, {"conversationId": pk, "tagId": str(tag.pk)}))
    assert theirs.count() == 2


def _operations(conversation: Conversation, tag: Tag):
    pk = str(conversation.pk)
    return [
        ("rawConversations", RAW, {"assistantId": "alpha"}, Cap.VIEW_CONVERSATIONS),
        ("conversationTags", TAGS, {"assistantId": "alpha"}, Cap.VIEW_CONVERSATIONS),
        (
            "addConversationTagToConversation",
            ADD,
            {"conversationId": pk, "tagId": str(tag.pk)},
            Cap.TAG_CONVERSATIONS,
        ),
        (
            "removeConversationTagFromConversation",
            REMOVE,
            {"conversationId": pk, "tagId": str(tag.pk)},
            Cap.TAG_CONVERSATIONS,
        ),
        ("deleteConversations", DELETE, {"conversationIds": [pk]}, Cap.DELETE_CONVERSATIONS),
    ]


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_do_exactly_what_the_role_table_says(client, assistant, make_user, role):
    store("amy")
    user = make_user(f"u-{role.value}", role)
    conversation = Conversation.objects.order_by("started_at").first()
    tag = Tag.objects.create(assistant=assistant, name="t")
    for name, query, variables, cap in _operations(conversation, tag):
        body = call(client, user, query, variables)
        if cap in ROLE_CAPS[role]:
            assert "errors" not in body, (role, name, body)
        else:
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, name, body)
    allowed = Cap.DELETE_CONVERSATIONS in ROLE_CAPS[role]
    assert Conversation.objects.filter(pk=conversation.pk).exists() is not allowed
