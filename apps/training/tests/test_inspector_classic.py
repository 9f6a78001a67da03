"""The inspector for classic assistants (stories, rules, forms, retrieval intents) and mixed
ones: the policy behind each action with the other policies' guesses and the ranking, the active
form and its requested slot, the response selector's choice, ``nlu_fallback`` and the router's
decision. The tracker is shaped as Rasa's ``GET /conversations/{id}/tracker`` returns it."""

from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from apps.projects import content
from apps.training import bot, services
from apps.training.inspector import (
    active_form,
    describe_event,
    nlu_fallback,
    response_selections,
    turns_of,
)
from apps.training.models import Deployment, ModelVersion

META = {"model_id": "m1", "assistant_id": "inn"}


def action(name, policy=None, confidence=None, prediction=None, hide_rule_turn=False):
    metadata = dict(META)
    if prediction is not None:
        metadata["prediction"] = prediction
    return {
        "event": "action",
        "timestamp": 1.0,
        "metadata": metadata,
        "name": name,
        "policy": policy,
        "confidence": confidence,
        "action_text": None,
        "hide_rule_turn": hide_rule_turn,
    }


def user(text, intent, confidence, **parse):
    ranking = parse.pop("intent_ranking", [{"name": intent, "confidence": confidence}])
    return {
        "event": "user",
        "timestamp": 1.0,
        "metadata": META,
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": parse.pop("entities", []),
            "text": text,
            "message_id": "x",
            "metadata": {},
            "intent_ranking": ranking,
            **parse,
        },
        "input_channel": "rest",
        "message_id": "x",
    }


FORM_PREDICTION = {
    "policy": "RulePolicy",
    "confidence": 1.0,
    "ranking": [
        {"action": "booking_form", "confidence": 1.0},
        {"action": "utter_greet", "confidence": 0.0},
    ],
    "policies": [
        {"policy": "RulePolicy", "action": "booking_form", "confidence": 1.0},
        {"policy": "MemoizationPolicy", "action": None, "confidence": 0.0},
        {"policy": "TEDPolicy", "action": "booking_form", "confidence": 0.83},
    ],
}
SELECTOR = {
    "all_retrieval_intents": ["chitchat", "faq"],
    "default": {
        "response": {
            "responses": [{"text": "I'm the Seaside Inn's assistant."}],
            "confidence": 0.91,
            "intent_response_key": "chitchat/ask_name",
            "utter_action": "utter_chitchat/ask_name",
        },
        "ranking": [
            {"id": 1, "confidence": 0.91, "intent_response_key": "chitchat/ask_name"},
            {"id": 2, "confidence": 0.06, "intent_response_key": "chitchat/ask_weather"},
        ],
    },
}
TRACKER = {
    "sender_id": "s1",
    "slots": {"guests": "2", "arrival": None, "requested_slot": "arrival"},
    "active_loop": {"name": "booking_form"},
    "stack": [],
    "latest_action_name": "action_listen",
    "events": [
        action("action_session_start"),
        {"event": "session_started", "timestamp": 1.0, "metadata": META},
        action("action_listen"),
        user("what's your name", "chitchat", 0.95, response_selector=SELECTOR),
        action("utter_chitchat", "RulePolicy", 1.0, hide_rule_turn=True),
        {
            "event": "bot",
            "timestamp": 1.0,
            "metadata": {**META, "utter_action": "utter_chitchat/ask_name"},
            "text": "I'm the Seaside Inn's assistant.",
            "data": {},
        },
        action("action_listen", "RulePolicy", 1.0),
        user(
            "blorp",
            "nlu_fallback",
            0.3,
            intent_ranking=[
                {"name": "nlu_fallback", "confidence": 0.3},
                {"name": "greet", "confidence": 0.21},
            ],
        ),
        action("action_default_fallback", "RulePolicy", 1.0),
        {"event": "rewind", "timestamp": 1.0, "metadata": META},
        user("I'd like to book a room", "book_room", 0.97),
        action("booking_form", "RulePolicy", 1.0, prediction=FORM_PREDICTION),
        {"event": "active_loop", "timestamp": 1.0, "metadata": META, "name": "booking_form"},
        {"event": "slot", "timestamp": 1.0, "metadata": META, "name": "requested_slot", "value": "guests"},
        action("action_listen", "RulePolicy", 1.0),
        user(
            "two of us",
            "inform",
            0.9,
            routing={"router": "IntentBasedRouter", "route": "nlu", "reason": "inform is an nlu_entry intent"},
        ),
        {"event": "action_execution_rejected", "timestamp": 1.0, "metadata": META, "name": "booking_form", "policy": "RulePolicy", "confidence": 1.0},
        {"event": "loop_interrupted", "timestamp": 1.0, "metadata": META, "is_interrupted": True},
        action("utter_ask_guests", "TEDPolicy", 0.62),
        action("booking_form", "RulePolicy", 1.0),
        {"event": "slot", "timestamp": 1.0, "metadata": META, "name": "guests", "value": "2"},
        {"event": "active_loop", "timestamp": 1.0, "metadata": META, "name": None},
        {"event": "reminder", "timestamp": 1.0, "metadata": META, "intent": "EXTERNAL_check_in", "entities": None, "date_time": "2026-12-02T19:00:00", "name": "check_in", "kill_on_user_msg": True},
        {"event": "cancel_reminder", "timestamp": 1.0, "metadata": META},
        {"event": "undo", "timestamp": 1.0, "metadata": META},
    ],
}  # fmt: skip


def test_each_action_shows_the_policy_that_chose_it_and_the_others_guesses():
    turns = turns_of(TRACKER)
    booking = next(t for t in turns if t["shown"] == "I'd like to book a room")
    (form,) = [line for line in booking["lines"] if line["kind"] == "action"]
    assert form["text"] == "booking_form"
    assert (form["policy"], form["confidence"]) == ("RulePolicy", 1.0)
    assert form["ranking"][0] == {"action": "booking_form", "confidence": 1.0}
    assert [(g["policy"], g["action"], g["confidence"]) for g in form["policies"]] == [
        ("RulePolicy", "booking_form", 1.0),
        ("MemoizationPolicy", "", 0.0),
        ("TEDPolicy", "booking_form", 0.83),
    ]
    # An action no policy chose (the session start) has nothing to show.
    assert describe_event(action("action_session_start")) == {
        "kind": "action",
        "text": "action_session_start",
    }
    chitchat = next(t for t in turns if t["shown"] == "what's your name")
    assert chitchat["lines"][0]["rule_turn"] is True


def test_forms_rejections_and_reverts_read_as_what_they_do():
    turns = turns_of(TRACKER)
    booking = next(t for t in turns if t["shown"] == "I'd like to book a room")
    assert ("form started", "booking_form") in [(x["kind"], x["text"]) for x in booking["lines"]]
    two = next(t for t in turns if t["shown"] == "two of us")
    kinds = [(line["kind"], line["text"]) for line in two["lines"]]
    assert kinds[0] == ("rejected", "booking_form refused to run")
    assert two["lines"][0]["policy"] == "RulePolicy"
    assert kinds[1] == ("form interrupted", "the form does not validate this message")
    # The deactivating active_loop event has no name: the line names the form that ends.
    assert ("form ended", "booking_form") in kinds
    assert ("reminder set", "check_in: EXTERNAL_check_in at 2026-12-02T19:00:00") in kinds
    assert ("reminder cancelled", "all reminders") in kinds
    assert ("undo", "the last action is reverted") in kinds
    blorp = next(t for t in turns if t["shown"] == "blorp")
    assert ("rewind", "the last user message is reverted") in [
        (x["kind"], x["text"]) for x in blorp["lines"]
    ]


def test_the_response_selector_fallback_and_routing_of_a_message():
    turns = turns_of(TRACKER)
    chitchat = next(t for t in turns if t["shown"] == "what's your name")
    (selection,) = chitchat["selections"]
    assert selection["retrieval_intent"] == "default"
    assert selection["intent_response_key"] == "chitchat/ask_name"
    assert selection["utter_action"] == "utter_chitchat/ask_name"
    assert selection["confidence"] == 0.91
    assert selection["text"] == "I'm the Seaside Inn's assistant."
    assert [r["intent_response_key"] for r in selection["ranking"]] == [
        "chitchat/ask_name",
        "chitchat/ask_weather",
    ]
    assert chitchat["retrieval"] == "chitchat/ask_name"

    blorp = next(t for t in turns if t["shown"] == "blorp")
    assert blorp["fallback"] == {"threshold": 0.3, "best": "greet", "best_confidence": 0.21}
    assert chitchat["fallback"] is None

    two = next(t for t in turns if t["shown"] == "two of us")
    assert two["routing"]["router"] == "IntentBasedRouter"
    assert two["routing"]["route"] == "nlu"
    assert two["routing"]["reason"] == "inform is an nlu_entry intent"
    assert chitchat["routing"] is None


def test_only_the_selector_that_answers_the_intent_is_its_choice():
    """Every response selector answers every message (Rasa runs them all): the one for the
    message's retrieval intent is its choice; the others are listed apart."""

    def choice(key, confidence):
        return {
            "response": {
                "responses": [{"text": key}],
                "confidence": confidence,
                "intent_response_key": key,
                "utter_action": f"utter_{key}",
            },
            "ranking": [{"confidence": confidence, "intent_response_key": key}],
        }

    selector = {
        "all_retrieval_intents": ["chitchat", "faq"],
        "chitchat": choice("chitchat/ask_weather", 0.31),
        "faq": choice("faq/parking", 0.93),
    }
    faq = {
        "events": [
            user("do you have parking", "faq", 0.8, response_selector=selector),
            user("bye", "goodbye", 0.95, response_selector=selector),
        ]
    }
    faq["events"][0]["parse_data"]["intent"]["full_retrieval_intent_name"] = "faq/parking"
    parking, bye = turns_of(faq)
    assert [(s["retrieval_intent"], s["used"]) for s in parking["selections"]] == [
        ("chitchat", False),
        ("faq", True),
    ]
    assert parking["retrieval"] == "faq/parking"
    assert [s["retrieval_intent"] for s in parking["unused_selections"]] == ["chitchat"]
    assert bye["retrieval"] == "" and len(bye["unused_selections"]) == 2

    html = render_to_string(
        "training/_chat.html",
        {
            "assistant": SimpleNamespace(name="inn"),
            "version": SimpleNamespace(number=1, label="Version 1", pk=1),
            "deployment": SimpleNamespace(status="live", get_status_display="Live"),
            "tracker": faq,
            "turns": [parking],
        },
    )
    assert 'Response selector <span class="muted">· faq</span>' in html
    assert 'Response selector <span class="muted">· chitchat</span>' not in html
    assert (
        "not used for this intent" in html and "chitchat: <code>chitchat/ask_weather</code>" in html
    )


def test_odd_shapes_are_shown_never_an_error():
    assert response_selections({"response_selector": {"default": "x", "faq": {"response": 3}}}) == [
        {
            "retrieval_intent": "faq",
            "used": False,
            "intent_response_key": "",
            "confidence": None,
            "utter_action": "",
            "text": "",
            "ranking": [],
        }
    ]
    assert nlu_fallback({"intent": {"name": "nlu_fallback"}, "intent_ranking": "x"}) == {
        "threshold": None,
        "best": "",
        "best_confidence": None,
    }
    assert describe_event({"event": "action", "name": "a", "metadata": {"prediction": [1]}}) == {
        "kind": "action",
        "text": "a",
    }
    assert active_form({"active_loop": "x"}) is None
    assert active_form(TRACKER) == {"name": "booking_form", "requested_slot": "arrival"}


CLASSIC = {
    "config.yml": (
        "recipe: default.v1\nlanguage: en\npipeline: []\n"
        "policies:\n  - name: RulePolicy\n  - name: MemoizationPolicy\n"
    ),
    "domain.yml": (
        'version: "3.1"\nintents: [greet, book_room, inform]\n'
        "slots:\n  guests:\n    type: text\n    mappings:\n    - type: from_text\n"
        "      conditions:\n      - active_loop: booking_form\n        requested_slot: guests\n"
        "forms:\n  booking_form:\n    required_slots: [guests]\n"
        "responses:\n  utter_greet:\n  - text: Welcome to the inn!\n"
        "  utter_ask_guests:\n  - text: How many guests?\n"
    ),
    "data/rules.yml": (
        'version: "3.1"\nrules:\n- rule: greet\n  steps:\n  - intent: greet\n'
        "  - action: utter_greet\n"
    ),
    "data/nlu.yml": (
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n'
        "- intent: book_room\n  examples: |\n    - book a room\n    - I need a room\n"
        "- intent: inform\n  examples: |\n    - two\n    - three of us\n"
    ),
}


@pytest.fixture
def inn(make_assistant, monkeypatch):
    """A classic assistant (no flows) whose version 1 is live; the bot answers TRACKER."""
    assistant = make_assistant("inn")
    content.import_files(assistant, CLASSIC)
    job = services.request_training(assistant, None)
    ModelVersion.objects.filter(pk=job.version_id).update(
        model_file="models/inn/1.tar.gz", trained_at=job.created_at
    )
    Deployment.objects.create(
        assistant=assistant,
        version=job.version,
        status=Deployment.Status.LIVE,
        bot_url="http://127.0.0.1:9",
        live_at=job.created_at,
    )
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: TRACKER)
    return assistant


@pytest.mark.django_db
def test_the_try_page_of_a_classic_assistant(admin_client, inn):
    page = admin_client.get(reverse("training:try", args=["inn"])).content.decode()
    # No flows: nothing to start, no flow stack; the form that runs, with its requested slot.
    assert "Start at a flow" not in page and "Flow stack" not in page
    form = page.split("<h3>Form</h3>")[1].split("<h3>")[0]
    assert "booking_form" in form and "asking for <code>arrival</code>" in form
    assert "<code>chitchat/ask_name</code> 0.95" in page  # the turn's summary
    assert "answers with</span> <code>utter_chitchat/ask_name</code>" in page
    assert "<code>nlu_fallback</code>: the FallbackClassifier found the NLU" in page
    assert "(threshold 0.30)" in page and "<code>greet</code> 0.210" in page
    assert "<code>IntentBasedRouter</code> sent it to stories and rules (NLU)" in page
    assert '<span class="policy">· RulePolicy 1.00</span>' in page
    assert '<span class="policy">· TEDPolicy 0.62</span>' in page
    assert '<tr class="chosen"><td>RulePolicy</td><td><code>booking_form</code></td>' in page
    assert "<td>TEDPolicy</td><td><code>booking_form</code></td><td>0.830</td>" in page


@pytest.mark.django_db
def test_a_classic_assistant_with_no_active_form_says_so(admin_client, inn, monkeypatch):
    idle = {**TRACKER, "active_loop": {}, "slots": {"requested_slot": None}}
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: idle)
    page = admin_client.get(reverse("training:try", args=["inn"])).content.decode()
    assert "No form is active." in page
