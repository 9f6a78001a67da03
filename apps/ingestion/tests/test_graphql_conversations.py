"""Rasa Studio's Conversation API on /api/graphql/, against conversations stored by the real
ingestion path and read with personal API tokens."""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Cap, Role, caps_of
from apps.ingestion.models import Conversation, Event, Tag
from apps.ingestion.tests.factories import ingest_bodies
from demo.conversations import transfer_conversation

pytestmark = pytest.mark.django_db

RAW = """query Raw($input: RawConversationsInput!) {
  rawConversations(input: $input) { count conversations { id conversationEvents } }
}"""
TAGS = "query T($input: ConversationTagsInput!) { conversationTags(input: $input) { id name } }"
ADD = """mutation A($input: ConversationTagInput!) {
  addConversationTagToConversation(input: $input) { conversationId tagIds }
}"""
REMOVE = """mutation R($input: ConversationTagInput!) {
  removeConversationTagFromConversation(input: $input) { conversationId tagIds }
}"""
DELETE = """mutation D($input: DeleteConversationsInput!) {
  deleteConversations(input: $input) { count }
}"""

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def gql(client, token, query, **variables):
    response = client.post(
        "/api/graphql/",
        {"query": query, "variables": {"input": variables}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    return response.json()


def error_of(answer) -> str:
    assert answer.get("data") is None or not any(answer["data"].values()), answer
    return answer["errors"][0]["message"]


@pytest.fixture
def stored(assistant):
    """Three senders, two sessions each (an hour apart), a day apart: six conversations."""
    for day, sender in enumerate(("ann", "bob", "cy")):
        ingest_bodies(
            transfer_conversation(
                sender, assistant_id=assistant.name, start=T0 + day * 86400
            ).events
        )
    assert Conversation.objects.filter(assistant=assistant).count() == 6
    return assistant


@pytest.fixture
def token(make_user):
    return ApiToken.issue(make_user("analyst", Role.CONVERSATION_ANALYST), "ci")[1]


def test_raw_conversations_answer_the_stored_events_in_order_newest_first(client, stored, token):
    answer = gql(client, token, RAW, assistantId="alpha", limit=100)
    data = answer["data"]["rawConversations"]
    assert data["count"] == 6
    ids = [int(c["id"]) for c in data["conversations"]]
    assert ids == list(
        Conversation.objects.filter(assistant=stored)
        .order_by("-started_at")
        .values_list("pk", flat=True)
    )
    first = Conversation.objects.get(pk=ids[0])
    expected = [
        e.data for e in Event.objects.filter(conversation=first).order_by("timestamp", "position")
    ]
    assert data["conversations"][0]["conversationEvents"] == expected
    assert any(e["event"] == "user" and e["text"] == "hello" for e in expected)


def test_default_limit_is_ten_and_paging_keeps_the_count(client, assistant, token):
    for day in range(6):  # twelve conversations
        ingest_bodies(
            transfer_conversation(f"s{day}", assistant_id="alpha", start=T0 + day * 86400).events
        )
    first = gql(client, token, RAW, assistantId="alpha")["data"]["rawConversations"]
    assert first["count"] == 12 and len(first["conversations"]) == 10
    rest = gql(client, token, RAW, assistantId="alpha", offset=10, limit=5)["data"][
        "rawConversations"
    ]
    assert rest["count"] == 12 and len(rest["conversations"]) == 2
    seen = {c["id"] for c in first["conversations"]} | {c["id"] for c in rest["conversations"]}
    assert len(seen) == 12


def test_time_range_filters_on_the_start_of_the_conversation(client, stored, token):
    # The second day: bob's two sessions (T0 + 1 day, and an hour later).
    data = gql(
        client,
        token,
        RAW,
        assistantId="alpha",
        fromTime="2023-11-15T22:00:00.000Z",
        toTime="2023-11-16T22:00:00Z",
    )["data"]["rawConversations"]
    assert data["count"] == 2
    senders = {Conversation.objects.get(pk=c["id"]).sender_id for c in data["conversations"]}
    assert senders == {"bob"}


def test_tags_list_add_remove_and_filter(client, stored, token):
    urgent = Tag.objects.create(assistant=stored, name="urgent")
    Tag.objects.create(assistant=stored, name="billing")
    tags = gql(client, token, TAGS, assistantId="alpha")["data"]["conversationTags"]
    assert [t["name"] for t in tags] == ["billing", "urgent"]
    target = Conversation.objects.filter(assistant=stored, sender_id="bob").first()
    args = {"assistantId": "alpha", "conversationId": str(target.pk), "tagId": str(urgent.pk)}
    for _ in range(2):  # adding twice is adding once
        added = gql(client, token, ADD, **args)["data"]["addConversationTagToConversation"]
        assert added == {"conversationId": str(target.pk), "tagIds": [str(urgent.pk)]}
    assert list(target.tags.all()) == [urgent]
    only = gql(client, token, RAW, assistantId="alpha", tags=[str(urgent.pk)])
    assert [c["id"] for c in only["data"]["rawConversations"]["conversations"]] == [str(target.pk)]
    assert only["data"]["rawConversations"]["count"] == 1
    for _ in range(2):  # removing twice is removing once
        removed = gql(client, token, REMOVE, **args)["data"][
            "removeConversationTagFromConversation"
        ]
        assert removed["tagIds"] == []
    assert not target.tags.exists()


def test_delete_conversations_removes_them_and_their_events(client, stored, token):
    doomed = list(Conversation.objects.filter(assistant=stored, sender_id="ann"))
    ids = [str(c.pk) for c in doomed]
    answer = gql(client, token, DELETE, assistantId="alpha", conversationIds=ids)
    assert answer["data"]["deleteConversations"] == {"count": 2}
    assert not Conversation.objects.filter(sender_id="ann").exists()
    assert not Event.objects.filter(conversation_id__in=[c.pk for c in doomed]).exists()
    assert Conversation.objects.filter(assistant=stored).count() == 4


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"fromTime": "yesterday"}, "fromTime"),
        ({"toTime": "2023-13-45T00:00:00Z"}, "toTime"),
        ({"limit": -1}, "limit"),
        ({"offset": -5}, "offset"),
        ({"tags": ["999999"]}, "tags"),
        ({"tags": ["not-an-id"]}, "tags"),
    ],
)
def test_malformed_reads_name_the_field(client, stored, token, variables, field):
    message = error_of(gql(client, token, RAW, assistantId="alpha", **variables))
    assert message.startswith(f"{field}:")


def test_unknown_ids_change_nothing(client, stored, token):
    tag = Tag.objects.create(assistant=stored, name="urgent")
    conversation = Conversation.objects.filter(assistant=stored).first()
    bad_tag = {"assistantId": "alpha", "conversationId": str(conversation.pk), "tagId": "424242"}
    assert error_of(gql(client, token, ADD, **bad_tag)).startswith("tagId:")
    bad_conv = {"assistantId": "alpha", "conversationId": "424242", "tagId": str(tag.pk)}
    assert error_of(gql(client, token, ADD, **bad_conv)).startswith("conversationId:")
    assert not Conversation.tags.through.objects.exists()
    mixed = [str(conversation.pk), "424242"]
    message = error_of(gql(client, token, DELETE, assistantId="alpha", conversationIds=mixed))
    assert message.startswith("conversationIds:") and "424242" in message
    empty = error_of(gql(client, token, DELETE, assistantId="alpha", conversationIds=[]))
    assert empty.startswith("conversationIds:")
    assert Conversation.objects.filter(assistant=stored).count() == 6


def test_a_foreign_assistant_is_not_found_and_its_ids_are_not_reachable(
    client, stored, make_assistant, make_user
):
    beta = make_assistant("beta")
    ingest_bodies(transfer_conversation("zed", assistant_id="beta", start=T0).events)
    only_alpha = make_user("viewer", grants={stored: [Role.CONVERSATION_ANALYST]})
    token = ApiToken.issue(only_alpha, "ci")[1]
    answer = gql(client, token, RAW, assistantId="beta")
    assert error_of(answer) == "No assistant named 'beta'."
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # beta's conversation id, sent under alpha's name, is no conversation of alpha.
    theirs = Conversation.objects.filter(assistant=beta).first()
    message = error_of(
        gql(client, token, DELETE, assistantId="alpha", conversationIds=[str(theirs.pk)])
    )
    assert message.startswith("conversationIds:")
    assert Conversation.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("role", list(Role))
def test_every_role_is_allowed_exactly_as_its_capabilities_say(client, stored, make_user, role):
    caps = caps_of([role])
    token = ApiToken.issue(make_user(f"u-{role.value}", role), "ci")[1]
    tag = Tag.objects.create(assistant=stored, name="t")
    conversation = Conversation.objects.filter(assistant=stored).first()
    read = gql(client, token, RAW, assistantId="alpha", limit=1)
    assert ("errors" not in read) == (Cap.VIEW_CONVERSATIONS in caps)
    tagged = gql(
        client,
        token,
        ADD,
        assistantId="alpha",
        conversationId=str(conversation.pk),
        tagId=str(tag.pk),
    )
    assert ("errors" not in tagged) == (Cap.TAG_CONVERSATIONS in caps)
    deleted = gql(
        client, token, DELETE, assistantId="alpha", conversationIds=[str(conversation.pk)]
    )
    assert ("errors" not in deleted) == (Cap.DELETE_CONVERSATIONS in caps)
    if "errors" in deleted:
        assert deleted["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert Conversation.objects.filter(pk=conversation.pk).exists()
