import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.ingestion.models import Conversation, Tag
from apps.ingestion.store import RawMessage, ingest
from apps.nlu.models import Example, Intent
from demo.conversations import Conversation as Sample
from demo.conversations import transfer_conversation


def store(sample):
    ingest([RawMessage(json.dumps(body)) for body in sample.events])


@pytest.fixture
def fixture_conversations(assistant, make_assistant):
    """Five conversations (one with two sessions) with different traits, recent."""
    now = timezone.now().timestamp()
    store(transfer_conversation("alice", start=now - 7200, user_id="u-alice"))  # 2 sessions
    bob = Sample("bob", start=now - 600, channel="slack")
    bob.session_start().user("book a flight to [Berlin](city)", "book_flight", flow="book_flight")
    bob.slot("language", "de").bot("utter_flight", "Gebucht.").flow("cancelled", "book_flight")
    store(bob)
    carol = Sample("carol", start=now - 3 * 86400)
    carol.session_start().user("hi", "greet").bot("utter_greet", "Hello carol")
    store(carol)
    old = Sample("old-dave", start=now - 20 * 86400)
    old.session_start().user("hi", "greet")
    store(old)
    other = Sample("eve", assistant_id="beta", start=now - 60)
    make_assistant("beta")
    other.session_start().user("hi", "greet")
    store(other)
    return assistant


def listed(client, assistant, query=""):
    response = client.get(reverse("ingestion:list", args=[assistant.name]) + query)
    assert response.status_code == 200
    return sorted(f"{c.sender_id}#{c.session_number}" for c in response.context["rows"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["alice#1", "alice#2", "bob#1", "carol#1"]),
        ("?period=24h", ["alice#1", "alice#2", "bob#1"]),
        ("?period=all", ["alice#1", "alice#2", "bob#1", "carol#1", "old-dave#1"]),
        ("?sender=ali", ["alice#1", "alice#2"]),
        ("?user=u-alice", ["alice#1", "alice#2"]),
        ("?intent=greet", ["alice#2", "carol#1"]),
        ("?flow=check_balance", ["alice#2"]),
        ("?action=utter_flight", ["bob#1"]),
        ("?channel=slack", ["bob#1"]),
        ("?language=de", ["bob#1"]),
        # No language slot and no metadata: the assistant's default language.
        ("?language=en", ["alice#1", "alice#2", "carol#1"]),
        ("?slot=city&slot_value=Berlin", ["bob#1"]),
        ("?slot_value=Joe", ["alice#1"]),
        ("?min_messages=2", ["alice#1", "alice#2"]),
        ("?max_messages=1", ["bob#1", "carol#1"]),
        ("?text=hello+carol", ["carol#1"]),
        ("?reviewed=yes", []),
        ("?reviewed=no&intent=book_flight", ["bob#1"]),
    ],
)
def test_the_list_filters(admin_client, fixture_conversations, query, expected):
    assert listed(admin_client, fixture_conversations, query) == expected


def test_filters_by_tag_and_review_state(admin_client, fixture_conversations):
    a = fixture_conversations
    tag = Tag.objects.create(assistant=a, name="escalate", colour="#c8322a")
    bob = Conversation.objects.get(sender_id="bob")
    response = admin_client.post(
        reverse("ingestion:review", args=[a.name]),
        {"ids": [bob.pk], "action": "tag", "tag": tag.pk, "next": "/evil.example/"},
    )
    assert response.status_code == 302 and response["Location"].startswith("/a/alpha/")
    admin_client.post(
        reverse("ingestion:review", args=[a.name]), {"ids": [bob.pk], "action": "reviewed"}
    )
    assert listed(admin_client, a, "?tag=escalate") == ["bob#1"]
    assert listed(admin_client, a, "?reviewed=yes") == ["bob#1"]
    bob.refresh_from_db()
    assert bob.reviewed_by.username == "admin"
    admin_client.post(
        reverse("ingestion:review", args=[a.name]),
        {"ids": [bob.pk], "action": "untag", "tag": tag.pk},
    )
    assert listed(admin_client, a, "?tag=escalate") == []


def test_active_filters_show_as_removable_chips(admin_client, fixture_conversations):
    response = admin_client.get(
        reverse("ingestion:list", args=["alpha"]) + "?intent=greet&channel=rest&page=1"
    )
    chips = {c["label"]: c for c in response.context["chips"]}
    assert set(chips) == {"Intent", "Channel"}
    assert chips["Intent"]["remove"] == "?channel=rest"


@pytest.mark.parametrize(
    "query",
    [
        "?period=forever",
        "?start=yesterday",
        "?min_messages=-1",
        "?min_messages=abc",
        "?page=0",
        "?page=99999999999",
        "?tag=nope",
        "?start=2024-02-01&end=2024-01-01",
        "?sender=" + "x" * 300,
        "?text=%00",
        "?reviewed=maybe",
    ],
)
def test_bad_filters_are_reported_at_the_field_never_a_500(
    admin_client, fixture_conversations, query
):
    response = admin_client.get(reverse("ingestion:list", args=["alpha"]) + query)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_htmx_gets_only_the_results(admin_client, fixture_conversations):
    response = admin_client.get(reverse("ingestion:list", args=["alpha"]), HTTP_HX_REQUEST="true")
    assert b'id="results"' in response.content and b"<html" not in response.content


def test_the_conversation_view_shows_messages_and_banners(admin_client, fixture_conversations):
    second = Conversation.objects.get(sender_id="alice", session_number=2)
    response = admin_client.get(reverse("ingestion:detail", args=["alpha", second.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "what&#x27;s my balance" in html and "You have 100." in html
    for banner in ("started", "interrupted", "resumed", "completed"):
        assert f"flow <strong>check_balance</strong> {banner}" in html
    assert "check_balance" in html and "Intent ranking" in html
    first = Conversation.objects.get(sender_id="alice", session_number=1)
    html = admin_client.get(reverse("ingestion:detail", args=["alpha", first.pk])).content.decode()
    assert "slot <strong>amount</strong> = 50" in html
    assert "recipient: Joe" in html


def test_long_conversations_are_paged(admin_client, assistant):
    long = Sample("chatty")
    long.session_start()
    for _ in range(120):
        long.user("hi", "greet").bot("utter_greet", "Hi!")
    store(long)
    conversation = Conversation.objects.get()
    url = reverse("ingestion:detail", args=["alpha", conversation.pk])
    page = admin_client.get(url).context["page"]
    assert page.paginator.num_pages > 1
    assert admin_client.get(url + "?page=2").context["page"].number == 2
    assert admin_client.get(url + "?page=abc").status_code == 200


def test_delete_needs_the_capability_and_removes_events(client, make_user, fixture_conversations):
    viewer = make_user("viewer", Role.CONVERSATION_VIEWER)
    analyst = make_user("analyst", Role.CONVERSATION_ANALYST)
    bob = Conversation.objects.get(sender_id="bob")
    url = reverse("ingestion:delete", args=["alpha"])
    client.force_login(viewer)
    assert client.post(url, {"ids": [bob.pk]}).status_code == 403
    client.force_login(analyst)
    assert client.post(url, {"ids": [bob.pk]}).status_code == 302
    assert not Conversation.objects.filter(sender_id="bob").exists()
    eve = Conversation.objects.get(sender_id="eve")  # another assistant's: rejected at the field
    client.post(url, {"ids": [eve.pk]})
    assert Conversation.objects.filter(pk=eve.pk).exists()


def test_tags_are_managed_per_assistant(admin_client, assistant):
    url = reverse("ingestion:tags", args=["alpha"])
    assert admin_client.post(url, {"name": " needs  work ", "colour": "#123456"}).status_code == 302
    tag = Tag.objects.get()
    assert tag.name == "needs work"
    response = admin_client.post(url, {"name": "NEEDS WORK", "colour": "#123456"})
    assert response.status_code == 200 and response.context["form"].errors["name"]
    assert admin_client.post(url, {"name": "x", "colour": "red"}).context["form"].errors["colour"]
    edit = reverse("ingestion:tag_edit", args=["alpha", tag.pk])
    admin_client.post(edit, {"name": "urgent", "colour": "#654321"})
    tag.refresh_from_db()
    assert (tag.name, tag.colour) == ("urgent", "#654321")
    admin_client.post(edit, {"delete": "1"})
    assert not Tag.objects.exists()


def test_a_user_message_becomes_an_nlu_example(admin_client, fixture_conversations):
    intent = Intent.objects.create(assistant=fixture_conversations, name="book_flight")
    event = Conversation.objects.get(sender_id="bob").events.get(type="user")
    url = reverse("ingestion:add_example", args=["alpha", event.conversation_id, event.pk])
    response = admin_client.get(url)
    assert response.context["form"]["example"].value() == "book a flight to [Berlin](city)"
    assert response.context["form"]["intent"].value() == "book_flight"
    bad = admin_client.post(url, {"intent": "book_flight", "example": 'to [Berlin]{"entity": 5}'})
    assert bad.status_code == 200 and bad.context["form"].errors
    assert (
        admin_client.post(url, {"intent": "nope", "example": "x"}).context["form"].errors["intent"]
    )
    response = admin_client.post(
        url,
        {
            "intent": "book_flight",
            "example": 'book a flight to [Berlin]{"entity": "city", "role": "to"}',
        },
    )
    assert response.status_code == 302
    example = Example.objects.get()
    assert example.intent == intent
    assert example.text == "book a flight to Berlin"
    assert example.entities == [
        {"start": 17, "end": 23, "value": "Berlin", "entity": "city", "role": "to"}
    ]


def test_superusers_see_unrouted_events_and_ingestion_status(admin_client, assistant):
    sample = Sample("zed", assistant_id="unknown-bot")
    sample.session_start()
    store(sample)
    ingest([RawMessage(b"junk", "file:x:0")])
    response = admin_client.get(reverse("ingestion:unrouted"))
    assert response.status_code == 200 and b"unknown-bot" in response.content
    assert admin_client.post(reverse("ingestion:unrouted")).status_code == 302
    response = admin_client.get(reverse("ingestion:status"))
    assert response.status_code == 200 and b"not JSON" in response.content


def test_the_conversations_page_is_in_the_navigation_and_where_analysts_land(
    client, make_user, assistant
):
    analyst = make_user("analyst", Role.CONVERSATION_ANALYST)
    client.force_login(analyst)
    response = client.get(reverse("projects:open", args=["alpha"]))
    assert response["Location"] == reverse("ingestion:list", args=["alpha"])


def test_default_timeframe_is_the_last_seven_days(admin_client, assistant):
    now = timezone.now()
    for days, sender in ((1, "new"), (8, "old")):
        sample = Sample(sender, start=(now - timedelta(days=days)).timestamp())
        sample.session_start()
        store(sample)
    assert listed(admin_client, assistant) == ["new#1"]


def test_the_outcome_filters_list_what_the_rollups_counted(admin_client, fixture_conversations):
    from apps.analytics import rollups

    rollups.rollup_new_events()
    a = fixture_conversations
    assert listed(admin_client, a, "?flow=book_flight&flow_outcome=cancelled") == ["bob#1"]
    assert listed(admin_client, a, "?flow=book_flight&flow_outcome=completed") == []
    assert listed(admin_client, a, "?flow=transfer_money&flow_outcome=started") == ["alice#1"]
    assert listed(admin_client, a, "?outcome=contained") == [
        "alice#1",
        "alice#2",
        "bob#1",
        "carol#1",
    ]
    assert listed(admin_client, a, "?outcome=handoff") == []
    page = admin_client.get(reverse("ingestion:list", args=[a.name]) + "?outcome=handoff")
    assert "Handed off to a human" in page.content.decode()  # the chip names the outcome


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?flow_outcome=cancelled", "Name the flow (the Flow filter) as well."),
        ("?outcome=nope", "Select a valid choice."),
        ("?flow=x&flow_outcome=nope", "Select a valid choice."),
    ],
)
def test_a_bad_outcome_filter_is_reported_and_ignored(
    admin_client, fixture_conversations, query, message
):
    response = admin_client.get(
        reverse("ingestion:list", args=[fixture_conversations.name]) + query
    )
    assert response.status_code == 200
    assert message in response.content.decode()
