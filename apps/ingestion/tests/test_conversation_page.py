"""The conversation page: whole turns per page, version names, quick replies by their title."""

import json
import re

import pytest
from django.urls import reverse

from apps.ingestion.models import Conversation
from apps.ingestion.store import RawMessage, ingest
from apps.training.models import ModelVersion
from demo.conversations import Conversation as Sample

pytestmark = pytest.mark.django_db


def store(sample):
    ingest([RawMessage(json.dumps(body)) for body in sample.events])


def busy_turn(sample, number):
    """A turn with the bookkeeping a CALM bot writes: ~20 events."""
    sample.user(f"message {number}", "inform", flow="order_pizza")
    for slot in range(10):
        sample.slot(f"slot_{slot}", number)
    sample.bot("utter_reply", f"reply {number}").flow("completed", "order_pizza").listen()


def user_bubbles(html):
    return re.findall(r'<li class="from-user"><div class="bubble"[^>]*>([^<]*?)\s*(?:<|$)', html)


def test_a_twelve_turn_conversation_fits_on_one_page(admin_client, assistant):
    sample = Sample("twelve")
    sample.session_start()
    for number in range(1, 13):
        busy_turn(sample, number)
    store(sample)
    conversation = Conversation.objects.get()
    assert conversation.events.count() > 200
    response = admin_client.get(reverse("ingestion:detail", args=["alpha", conversation.pk]))
    html = response.content.decode()
    assert response.context["page"].paginator.num_pages == 1
    assert user_bubbles(html) == [f"message {n}" for n in range(1, 13)]
    assert "reply 12" in html and "Later →" not in html


def test_pages_hold_whole_turns(admin_client, assistant):
    sample = Sample("chatty")
    sample.session_start()
    for number in range(1, 121):
        busy_turn(sample, number)
    store(sample)
    conversation = Conversation.objects.get()
    url = reverse("ingestion:detail", args=["alpha", conversation.pk])
    seen = []
    page_number = 1
    while True:
        response = admin_client.get(f"{url}?page={page_number}")
        html = response.content.decode()
        bubbles = user_bubbles(html)
        # Each page ends with the reply to its last message: no turn is cut in two.
        assert f"reply {bubbles[-1].split()[-1]}" in html
        seen += bubbles
        if not response.context["page"].has_next():
            break
        page_number += 1
    assert page_number > 1
    assert seen == [f"message {n}" for n in range(1, 121)]


def test_the_facts_name_the_version_not_the_model_id(admin_client, assistant):
    ModelVersion.objects.create(assistant=assistant, number=3, name="pizza v1", model_id="5b7e1c0f")
    sample = Sample("versioned", model_id="5b7e1c0f")
    sample.session_start().user("hi", "greet").bot("utter_greet", "Hi!")
    store(sample)
    conversation = Conversation.objects.get()
    html = admin_client.get(reverse("ingestion:detail", args=["alpha", conversation.pk])).content
    html = html.decode()
    facts = html.split('<dl class="facts">')[1].split("</dl>")[0]
    assert "pizza v1" in facts and "(version 3)" in facts
    assert ">5b7e1c0f<" not in facts and 'title="Model 5b7e1c0f"' in facts


def test_a_model_trained_elsewhere_says_so(admin_client, assistant):
    sample = Sample("elsewhere", model_id="0123456789abcdef0123456789abcdef")
    sample.session_start().user("hi", "greet")
    store(sample)
    conversation = Conversation.objects.get()
    html = admin_client.get(reverse("ingestion:detail", args=["alpha", conversation.pk])).content
    facts = html.decode().split('<dl class="facts">')[1].split("</dl>")[0]
    assert "not trained in Studio" in facts
    assert "0123456789abcdef0123456789abcdef</code>" not in facts


def test_a_quick_reply_shows_the_buttons_title(admin_client, assistant):
    sample = Sample("clicker")
    sample.session_start().user("a pizza please", "order_pizza").bot(
        "utter_ask_pizza_size", "Which size?"
    )
    sample.events[-1]["data"]["buttons"] = [
        {"title": "Small", "payload": "/SetSlots(pizza_size=small)"},
        {"title": "Large", "payload": "/SetSlots(pizza_size=large)"},
    ]
    sample.user("/SetSlots(pizza_size=large)", "set_slots").bot("utter_done", "A large one.")
    # The relay of Try your assistant puts the title in the message's metadata.
    sample.user("/SetSlots(pizza_size=small)", "set_slots")
    sample.events[-1]["metadata"]["button_title"] = "Small please"
    store(sample)
    conversation = Conversation.objects.get()
    html = admin_client.get(reverse("ingestion:detail", args=["alpha", conversation.pk])).content
    html = html.decode()
    assert user_bubbles(html) == ["a pizza please", "Large", "Small please"]
    assert 'title="Sent /SetSlots(pizza_size=large)"' in html
