"""Try your assistant without a running bot: the bot's HTTP API is replaced by a stand-in."""

import json
import re

import pytest
from django.urls import reverse

from apps.training import bot
from apps.training.inspector import describe_event, slot_rows, stack_frames, turns_of
from apps.training.models import Deployment

pytestmark = pytest.mark.django_db

TRACKER = {
    "slots": {"pizza_size": "large", "extra_cheese": None, "flow_hashes": {"x": "1"}},
    "stack": [
        {"flow_id": "order_pizza", "step_id": "collect_size", "type": "flow"},
        {
            "flow_id": "pattern_collect_information",
            "step_id": "listen",
            "collect": "pizza_size",
            "type": "pattern_collect_information",
        },
    ],
    "events": [
        {"event": "action", "name": "action_session_start"},
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "a pizza please",
            "parse_data": {
                "intent": {"name": "order_pizza", "confidence": 0.91},
                "intent_ranking": [{"name": "order_pizza", "confidence": 0.91}],
                "entities": [],
            },
        },
        {"event": "stack", "update": "[]"},
        {"event": "flow_started", "flow_id": "order_pizza"},
        {"event": "slot", "name": "pizza_size", "value": "large"},
        {"event": "bot", "text": "Coming right up!"},
        {"event": "action", "name": "action_listen"},
    ],
}


@pytest.fixture
def fake_bot(monkeypatch):
    sent = []
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: TRACKER)
    monkeypatch.setattr(
        bot, "send_message", lambda deployment, sender, text, **kw: sent.append(text)
    )
    return sent


def test_the_inspector_lists_the_slots_set_first_without_rasas_internal_ones():
    assert slot_rows(TRACKER) == [
        {"name": "pizza_size", "value": "large", "is_set": True},
        {"name": "extra_cheese", "value": "null", "is_set": False},
    ]


def test_the_inspector_shows_the_stack_top_first():
    frames = stack_frames(TRACKER)
    assert [f["flow"] for f in frames] == ["pattern_collect_information", "order_pizza"]
    assert frames[0]["detail"] == "asking for pizza_size" and frames[0]["is_pattern"]
    assert stack_frames({}) == []


def test_the_inspector_describes_what_happened_without_bookkeeping():
    (turn,) = [t for t in turns_of(TRACKER) if t["user"]]
    assert [(line["kind"], line["text"]) for line in turn["lines"]] == [
        ("flow started", "order_pizza"),
        ("slot", "pizza_size = large"),
        ("bot", "Coming right up!"),
    ]
    assert turn["intent"]["name"] == "order_pizza"
    assert describe_event({"event": "slot", "name": "n", "value": 2.5})["text"] == "n = 2.5"
    assert describe_event({"event": "stack", "update": "[]"}) is None


def test_a_message_that_is_refused_keeps_the_conversation_on_screen(admin_client, live, fake_bot):
    response = admin_client.post(
        reverse("training:try_message", args=["tiny"]), {"message": "  "}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Type a message first." in page
    # The conversation so far is still shown with the error, and the inspector with it.
    assert "a pizza please" in page and "Coming right up!" in page
    assert "asking for pizza_size" in page
    assert fake_bot == []


def test_a_message_is_relayed_and_the_chat_and_inspector_shown(admin_client, live, fake_bot):
    response = admin_client.post(
        reverse("training:try_message", args=["tiny"]),
        {"message": "a pizza please"},
        HTTP_HX_REQUEST="true",
    )
    page = response.content.decode()
    assert response.status_code == 200 and fake_bot == ["a pizza please"]
    assert '<li class="msg bot"><span>Coming right up!</span>' in page
    assert "<code>pizza_size</code></th><td><code>large</code>" in page


def test_a_bot_that_does_not_answer_says_so_without_asking_it_again(
    admin_client, live, monkeypatch
):
    calls = []

    def down(*args, **kwargs):
        calls.append(args)
        raise bot.BotUnavailable("The bot did not answer: connection refused")

    monkeypatch.setattr(bot, "send_message", down)
    monkeypatch.setattr(bot, "tracker", down)
    response = admin_client.post(
        reverse("training:try_message", args=["tiny"]), {"message": "hi"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "connection refused" in response.content.decode()
    assert len(calls) == 1


def test_a_bot_that_failed_to_start_shows_why(admin_client, live):
    Deployment.objects.filter(pk=live.pk).update(
        status=Deployment.Status.FAILED, error="The bot did not start:\nValueError: bad model"
    )
    page = admin_client.get(reverse("training:try", args=["tiny"]) + "?version=1").content
    page = page.decode()
    assert "Version 1 is not running." in page
    assert "Its bot failed to start." in page and "ValueError: bad model" in page
    assert "Start Version 1" in page


def test_htmx_swaps_answers_that_are_forms_with_errors(admin_client, tiny):
    """Views answer an invalid form with 400 and the form again: htmx must show it (its default
    leaves 4xx answers unswapped, so the user would see nothing happen)."""
    page = admin_client.get(reverse("training:try", args=["tiny"])).content.decode()
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page)
    assert meta, "base.html sets htmx's config"
    rules = json.loads(meta.group(1))["responseHandling"]

    def rule_for(status):
        return next(r for r in rules if re.search(r["code"], str(status)))

    assert rule_for(400)["swap"] and rule_for(422)["swap"]
    assert rule_for(200)["swap"] and not rule_for(204)["swap"]
    assert not rule_for(403)["swap"] and not rule_for(404)["swap"] and not rule_for(500)["swap"]


def test_without_javascript_a_message_goes_back_to_the_page(admin_client, live, fake_bot):
    response = admin_client.post(reverse("training:try_message", args=["tiny"]), {"message": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("training:try", args=["tiny"]) + "?version=1"
    page = admin_client.get(response["Location"]).content.decode()
    assert "Type a message first." in page and "Coming right up!" in page


PATH_TRACKER = {
    "events": [
        {"event": "user", "text": "hello", "parse_data": {"intent": {"name": "greet"}}},
        {
            "event": "stack",
            "update": json.dumps(
                [{"op": "add", "path": "/0", "value": {"frame_id": "F1", "flow_id": "say_hello",
                  "step_id": "START", "type": "flow"}}]
            ),
        },
        {"event": "stack", "update": '[{"op": "replace", "path": "/0/step_id", "value": "say_hello_0_utter_hello"}]'},
        {
            "event": "stack",
            "update": json.dumps(
                [{"op": "add", "path": "/1", "value": {"frame_id": "F2", "flow_id": "pattern_completed",
                  "step_id": "ask", "type": "pattern_completed"}}]
            ),
        },
        {"event": "bot", "text": "Hello from the tiny bot!"},
    ]
}  # fmt: skip


def test_each_turn_links_the_steps_it_ran_to_the_canvas(admin_client, live, monkeypatch):
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: PATH_TRACKER)
    response = admin_client.get(reverse("training:try", args=["tiny"]), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    canvas = reverse("flows:detail", args=["tiny", "say_hello"])
    assert f'<a href="{canvas}?step=say_hello_0_utter_hello"' in page
    # A pattern is not a flow of the assistant: named, not linked.
    assert "pattern_completed › <code>ask</code>" in page
    path = re.search(r'<script id="try-path" type="application/json">(.*?)</script>', page)
    assert json.loads(path.group(1)) == {
        "say_hello": ["say_hello_0_utter_hello"],
        "pattern_completed": ["ask"],
    }
