"""Classic sessions (stories, rules, forms, retrieval intents) as Rasa 3 publishes them: every
event type is ingested without a dead letter, the review filters by intent and action find
them, and the conversation page shows FORM / ACTIVE_LOOP banners, the policy and confidence of
each action, rejections, reverts, reminders, nlu_fallback, retrieval and routing."""

import re

import pytest
from django.urls import reverse

from apps.ingestion.models import Conversation, DeadLetter, Event
from apps.ingestion.tests.classic_events import ClassicStream, booking_session

pytestmark = pytest.mark.django_db

CLASSIC_TYPES = {
    "active_loop",
    "loop_interrupted",
    "action_execution_rejected",
    "followup",
    "reminder",
    "cancel_reminder",
    "rewind",
    "undo",
    "user_featurization",
}


def page_of(client, conversation, **params):
    url = reverse("ingestion:detail", args=["alpha", conversation.pk])
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"{url}?{query}" if query else url).content.decode()


def stream_items(html):
    """The conversation's stream, one line per item, tags stripped, spaces collapsed."""
    stream = html.split('<ol class="stream">')[1].split("</ol>")[0]
    items = re.findall(r"<li\b[^>]*>(.*?)</li>", stream, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def test_every_classic_event_type_is_stored_without_a_dead_letter(assistant):
    session = booking_session()
    report = session.ingest()
    assert DeadLetter.objects.count() == 0 and report.dead == 0 and report.unrouted == 0
    assert report.stored == len(session.events)
    conversation = Conversation.objects.get()
    stored = list(conversation.events.order_by("timestamp", "position"))
    assert len(stored) == len(session.events)
    assert CLASSIC_TYPES <= {event.type for event in stored}
    # The action columns the review filters on: the form a loop activates, the action a
    # policy predicted and that was rejected, the followup.
    columns = {(e.type, e.action_name) for e in stored}
    assert ("active_loop", "table_form") in columns
    assert ("action_execution_rejected", "table_form") in columns
    assert ("followup", "utter_anything_else") in columns
    assert ("bot", "utter_chitchat/ask_name") in columns
    user = [e for e in stored if e.type == "user"]
    assert [(e.intent, e.confidence) for e in user][2] == ("nlu_fallback", 0.3)
    assert conversation.user_message_count == 6
    # Stored as published: a redelivery of the whole stream adds nothing.
    session.ingest()
    assert conversation.events.count() == len(session.events)


def test_review_filters_by_intent_and_action_find_classic_sessions(admin_client, assistant):
    booking_session("guest-1").ingest()
    other = ClassicStream("guest-2").session_start()
    other.user("hi", "greet", 0.99).action("utter_greet", "RulePolicy", 1.0)
    other.bot("utter_greet", "Welcome!").action("action_listen", "RulePolicy", 1.0)
    other.ingest()

    def senders(**params):
        response = admin_client.get(reverse("ingestion:list", args=["alpha"]), params)
        assert response.status_code == 200
        return sorted(row.sender_id for row in response.context["rows"])

    assert senders(intent="greet") == ["guest-1", "guest-2"]
    assert senders(intent="nlu_fallback") == ["guest-1"]
    assert senders(intent="chitchat") == ["guest-1"]
    assert senders(action="table_form") == ["guest-1"]
    assert senders(action="action_default_fallback") == ["guest-1"]
    assert senders(action="utter_greet") == ["guest-1", "guest-2"]
    assert senders(action="utter_faq/parking") == ["guest-1"]
    assert senders(action="no_such_action") == []


def test_the_conversation_shows_forms_policies_rejections_and_reverts(admin_client, assistant):
    booking_session().ingest()
    html = page_of(admin_client, Conversation.objects.get())
    items = stream_items(html)
    assert "FORM table_form started · ACTIVE_LOOP table_form" in items
    assert "FORM table_form ended · ACTIVE_LOOP null" in items
    assert items.index("FORM table_form started · ACTIVE_LOOP table_form") < items.index(
        "FORM table_form ended · ACTIVE_LOOP null"
    )
    assert "▸ utter_greet · RulePolicy 1.00" in items
    assert "▸ utter_anything_else · TEDPolicy 0.64" in items
    assert "✕ table_form rejected the message: it did not run · predicted by RulePolicy 1.00" in (
        items
    )
    assert "⤳ form interrupted: the message goes to the rules and stories, not the form" in items
    assert "↶ rewind: the user message before is taken back" in items
    assert "↶ undo: the action before is taken back" in items
    assert "↪ followup: utter_anything_else runs next" in items
    assert (
        "⏰ reminder check_in set: intent EXTERNAL_check_in at 2025-06-15T18:00:00+00:00" in items
    )
    assert "⏰ reminder cancelled: all" in items
    # The rewind took back the fallback's message and what answered it; the undo, the action.
    assert "▸ action_default_fallback · RulePolicy 1.00 reverted" in items
    assert "▸ action_bad_guess · TEDPolicy 0.41 reverted" in items
    assert "▸ utter_greet · RulePolicy 1.00 reverted" not in items
    (blorp,) = [i for i in items if i.startswith("blorp")]
    assert "reverted" in blorp
    (hello,) = [i for i in items if i.startswith("hello")]
    assert "reverted" not in hello
    # Bookkeeping stays out of the way until asked for.
    assert "user_featurization" not in html and "form continues" not in html
    assert "user_featurization" in page_of(admin_client, Conversation.objects.get(), all=1)


def test_a_message_shows_its_fallback_retrieval_and_routing(admin_client, assistant):
    booking_session().ingest()
    items = stream_items(page_of(admin_client, Conversation.objects.get()))
    (blorp,) = [i for i in items if i.startswith("blorp")]
    assert "intent nlu_fallback (0.30)" in blorp
    (name,) = [i for i in items if i.startswith("tell me your name")]
    assert "intent chitchat (0.94) · response chitchat/ask_name (0.91)" in name
    # Every selector answers every message: a message of another intent shows none.
    (hello,) = [i for i in items if i.startswith("hello")]
    assert "response" not in hello
    (four,) = [i for i in items if i.startswith("four of us")]
    assert "routed to NLU by IntentBasedRouter" in four
    html = page_of(admin_client, Conversation.objects.get())
    assert 'title="inform is listed in nlu_entry"' in html
    assert '<strong class="fallback"' in html


def test_a_form_that_ends_on_a_later_page_still_shows_as_ending(admin_client, assistant):
    """Rasa's deactivating event has no name: without the start on the page, it says so."""
    stream = ClassicStream("late").session_start()
    stream.active_loop(None)
    stream.ingest()
    items = stream_items(page_of(admin_client, Conversation.objects.get()))
    assert "FORM the active form ended · ACTIVE_LOOP null" in items


def test_odd_classic_events_are_shown_not_failed(admin_client, assistant):
    stream = ClassicStream("odd").session_start()
    stream._add("action_execution_rejected", name="x", policy=3, confidence="high")
    stream._add("reminder", intent=None, date_time=7, name=None)
    stream._add("loop_interrupted", is_interrupted="yes")
    stream._add("form", name="legacy_form")
    stream.ingest()
    assert Event.objects.count() == len(stream.events)
    items = stream_items(page_of(admin_client, Conversation.objects.get()))
    assert "✕ x rejected the message: it did not run" in items
    assert "⏰ reminder set: intent null at 7" in items
    assert "FORM legacy_form started · ACTIVE_LOOP legacy_form" in items
