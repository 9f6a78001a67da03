"""Classic assistants converse: the policy loop, forms, default actions and tracker semantics,
through the served HTTP API and directly through the processor.

The table-booking project (`rasa_projects/classic-forms`) is trained for real: its NLU, and
its rules and stories into the policy ensemble.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.dialogue import (
    ActionResult,
    DialogueModel,
    Processor,
    Tracker,
    UserMessage,
)
from engine.nlu import NluModel
from engine.policies import PolicyEnsemble
from engine.server import Bot, create_app
from engine.train import load_and_validate, nlu_training_data

PROJECTS = Path(__file__).parents[1] / "rasa_projects"
FORMS_PROJECT = PROJECTS / "classic-forms"


class Actions:
    """The action server as the tests script it: preset results per action, calls recorded."""

    def __init__(self, results: dict[str, ActionResult] | None = None) -> None:
        self.results = results or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run(self, action_name: str, tracker: dict, domain: dict) -> ActionResult:
        self.calls.append((action_name, tracker))
        return self.results.get(action_name, ActionResult())


@pytest.fixture(scope="module")
def trained() -> tuple[DialogueModel, Any, PolicyEnsemble]:
    project, _ = load_and_validate(FORMS_PROJECT)
    policies = PolicyEnsemble.train(project)
    nlu = NluModel.train(nlu_training_data(project), language="en")
    return DialogueModel.build(project), nlu, policies


def processor_for(trained: tuple, actions: Actions | None = None, **settings: Any) -> Processor:
    model, nlu, policies = trained
    if settings:
        model = DialogueModel(
            domain=model.domain,
            user_flows=model.user_flows,
            settings={**model.settings, **settings},
            policies=model.policies,
        )
    return Processor(model, nlu, None, action_client=actions, policies=policies, model_id="m1")


class Http:
    """One conversation through the REST channel and the tracker endpoint."""

    def __init__(self, processor: Processor, sender: str = "guest") -> None:
        self.client = TestClient(create_app(Bot.from_processor(processor)))
        self.sender = sender

    def say(self, text: str) -> list[dict[str, Any]]:
        response = self.client.post(
            "/webhooks/rest/webhook", json={"sender": self.sender, "message": text}
        )
        assert response.status_code == 200, response.text
        return list(response.json())

    def tracker(self) -> dict[str, Any]:
        response = self.client.get(
            f"/conversations/{self.sender}/tracker", params={"include_events": "ALL"}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


def actions_after_last_user(events: list[dict[str, Any]]) -> list[str]:
    last = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [e["name"] for e in events[last:] if e["event"] == "action"]


def test_the_mode_is_classic_and_a_greeting_is_answered_by_the_rule(trained):
    processor = processor_for(trained)
    assert processor.dialogue_mode == "classic"
    chat = Http(processor)
    texts = [m["text"] for m in chat.say("hi")]
    assert texts == ["Hello! I can book you a table. Just say when you're ready."]
    events = chat.tracker()["events"]
    utter = next(e for e in events if e["event"] == "action" and e["name"] == "utter_greet")
    assert utter["policy"] == "RulePolicy" and utter["confidence"] == 1.0
    prediction = utter["metadata"]["prediction"]
    assert prediction["policy"] == "RulePolicy"
    assert prediction["ranking"][0] == {"action": "utter_greet", "confidence": 1.0}
    assert {p["policy"] for p in prediction["policies"]} >= {"RulePolicy", "TEDPolicy"}
    assert utter["metadata"]["model_id"] == "m1"
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"


def test_a_form_is_filled_over_http_with_requested_slot_and_completion(trained):
    chat = Http(processor_for(trained))
    chat.say("hi")
    assert [m["text"] for m in chat.say("I want to book a table")] == [
        "Which cuisine would you like?"
    ]
    state = chat.tracker()
    assert state["active_loop"]["name"] == "booking_form"
    assert state["slots"]["requested_slot"] == "cuisine"
    chat.say("Indian")
    assert chat.tracker()["slots"]["cuisine"] == "Indian"
    asked = chat.say("we are 6")
    assert asked[0]["text"] == "Would you like to sit outside?"
    assert [b["payload"] for b in asked[0]["buttons"]] == ["/affirm", "/deny"]
    done = [m["text"] for m in chat.say("/affirm")]
    assert done[0] == "Booking a Indian table for 6.0."
    assert done[-1] == "Can I help with anything else?"
    state = chat.tracker()
    assert state["active_loop"] == {}
    assert state["slots"]["requested_slot"] is None and state["slots"]["outdoor"] is True
    events = state["events"]
    last = max(i for i, e in enumerate(events) if e["event"] == "user")
    kinds = [(e["event"], e.get("name")) for e in events[last:] if e["event"] != "bot"]
    assert kinds[kinds.index(("action", "booking_form")) :][:3] == [
        ("action", "booking_form"),
        ("slot", "requested_slot"),
        ("active_loop", None),
    ]
    assert actions_after_last_user(events)[-3:] == [
        "action_confirm_booking",
        "utter_anything_else",
        "action_listen",
    ]


def test_events_are_stamped_in_the_order_they_are_recorded(trained):
    # An action's events are made while it runs, before its action event: stamped then, a
    # review sorted by time would show the form's banner above the form's action.
    chat = Http(processor_for(trained))
    for text in ("hi", "I want to book a table", "Indian", "we are 6", "/affirm"):
        chat.say(text)
    stamps = [e["timestamp"] for e in chat.tracker()["events"]]
    assert stamps == sorted(stamps)


def test_an_unanswered_question_rejects_the_form_and_the_story_handles_it(trained):
    chat = Http(processor_for(trained))
    chat.say("I want to book a table")
    assert [m["text"] for m in chat.say("stop")] == ["Do you want to keep booking?"]
    events = chat.tracker()["events"]
    last = max(i for i, e in enumerate(events) if e["event"] == "user")
    turn = events[last:]
    rejected = [e for e in turn if e["event"] == "action_execution_rejected"]
    assert [r["name"] for r in rejected] == ["booking_form"]
    assert "policy" in rejected[0] and "confidence" in rejected[0]
    assert actions_after_last_user(events) == ["utter_ask_continue", "action_listen"]
    # The user stops for good: the loop is deactivated and requested_slot reset.
    assert [m["text"] for m in chat.say("no")] == ["Okay, I stopped the booking."]
    state = chat.tracker()
    assert state["active_loop"] == {} and state["slots"]["requested_slot"] is None
    assert "action_deactivate_loop" in actions_after_last_user(state["events"])


def test_prefilled_slots_are_taken_at_activation(trained):
    processor = processor_for(trained)
    tracker = processor.new_tracker("p")
    processor.handle_message(
        tracker, UserMessage('/book_table{"cuisine": "thai", "number": "3"}', "p")
    )
    # Both mappings are conditioned on the requested slot: at activation none is requested,
    # so only what the form asks next is filled later, as in Rasa.
    assert tracker.active_loop_name == "booking_form"
    assert tracker.slots["requested_slot"] == "cuisine"
    processor.handle_message(tracker, UserMessage('/inform{"cuisine": "thai"}', "p"))
    assert tracker.slots["cuisine"] == "thai"
    assert tracker.slots["requested_slot"] == "party_size"


def test_the_core_fallback_utters_and_rewinds_the_user_message(trained):
    processor = processor_for(trained)
    tracker = processor.new_tracker("f")
    processor.handle_message(tracker, UserMessage("hi", "f"))
    processor.handle_message(tracker, UserMessage("/nlu_fallback", "f"))
    events = tracker.events
    assert [e["event"] for e in events[-3:]] == ["action", "rewind", "action"]
    assert events[-3]["name"] == "action_default_fallback"
    assert events[-1]["name"] == "action_listen"
    # The rewind took the fallback message back: the greeting is the latest message again.
    assert tracker.latest_message["intent"]["name"] == "greet"
    replayed = Tracker.from_events("f", events, processor.model)
    assert replayed.to_dict(include_events="NONE") == tracker.to_dict(include_events="NONE")


def test_trigger_intent_runs_an_external_event_as_a_user_message(trained):
    processor = processor_for(trained)
    tracker = processor.new_tracker("x")
    messages = processor.trigger_intent(tracker, "greet", {"cuisine": "thai"}, "rest")
    assert [m["text"] for m in messages] == [
        "Hello! I can book you a table. Just say when you're ready."
    ]
    user = next(e for e in tracker.events if e["event"] == "user")
    assert user["text"] == "EXTERNAL: greet"
    assert user["parse_data"]["intent"] == {"name": "greet", "confidence": 1.0}
    assert user["parse_data"]["entities"] == [{"entity": "cuisine", "value": "thai"}]
    assert user["metadata"]["is_external"] is True
    assert tracker.events[0]["name"] == "action_session_start"


def test_custom_action_events_followup_and_reminders_are_applied_as_rasa_does(trained):
    reminder = {
        "event": "reminder",
        "intent": "greet",
        "entities": [],
        "date_time": "2030-01-01T10:00:00",
        "name": "nudge",
        "kill_on_user_msg": True,
        "timestamp": None,
    }
    actions = Actions(
        {
            "action_confirm_booking": ActionResult(
                events=[
                    {"event": "slot", "name": "booking_reference", "value": "ABC"},
                    reminder,
                    {"event": "cancel_reminder", "name": "old", "timestamp": None},
                    {"event": "followup", "name": "utter_goodbye", "timestamp": None},
                ],
                responses=[{"text": "Reference ABC."}],
            )
        }
    )
    processor = processor_for(trained, actions)
    tracker = processor.new_tracker("c")
    for text in ("I want to book a table", "Indian", "we are 2"):
        processor.handle_message(tracker, UserMessage(text, "c"))
    messages = processor.handle_message(tracker, UserMessage("/deny", "c"))
    texts = [m["text"] for m in messages]
    assert texts[:3] == [
        "Booking a Indian table for 2.0.",
        "Reference ABC.",
        "Goodbye, enjoy your meal.",
    ]
    kinds = [e["event"] for e in tracker.events]
    assert "reminder" in kinds and "cancel_reminder" in kinds
    followed = next(
        e for e in tracker.events if e["event"] == "action" and e["name"] == "utter_goodbye"
    )
    assert followed["policy"] == "followup_action" and followed["confidence"] == 1.0
    assert tracker.slots["booking_reference"] == "ABC"
    sent = dict(actions.calls)["action_confirm_booking"]
    assert sent["slots"]["outdoor"] is False and sent["active_loop"] == {}


def test_a_rejecting_custom_action_is_recorded_as_rejected(trained):
    from engine.actions import ActionExecutionRejected

    class Rejecting(Actions):
        def run(self, action_name: str, tracker: dict, domain: dict) -> ActionResult:
            if action_name == "action_confirm_booking":
                raise ActionExecutionRejected(action_name, "not now")
            return super().run(action_name, tracker, domain)

    processor = processor_for(trained, Rejecting())
    tracker = processor.new_tracker("r")
    for text in ("I want to book a table", "Indian", "we are 2", "/deny"):
        processor.handle_message(tracker, UserMessage(text, "r"))
    rejected = [e for e in tracker.events if e["event"] == "action_execution_rejected"]
    assert [e["name"] for e in rejected] == ["action_confirm_booking"]
    assert not any(
        e["event"] == "action" and e["name"] == "action_confirm_booking" for e in tracker.events
    )


def test_the_number_of_predictions_is_limited(trained):
    processor = processor_for(trained, max_number_of_predictions=1)
    tracker = processor.new_tracker("l")
    processor.handle_message(tracker, UserMessage("hi", "l"))
    # One action after the message, then the circuit breaker stops (no action_listen).
    assert actions_after_last_user(tracker.events) == ["utter_greet"]


def test_an_expired_session_starts_a_new_one_with_the_slots_carried_over(trained):
    processor = processor_for(trained)
    tracker = processor.new_tracker("s")
    processor.handle_message(tracker, UserMessage("I want to book a table", "s"))
    processor.handle_message(tracker, UserMessage("Indian", "s"))
    for event in tracker.events:  # the conversation happened two hours ago
        event["timestamp"] -= 7200
    processor.handle_message(tracker, UserMessage("hi", "s"))
    starts = [i for i, e in enumerate(tracker.events) if e["event"] == "session_started"]
    assert len(starts) == 2
    after = tracker.events[starts[1] :]
    assert ("cuisine", "Indian") in [(e["name"], e["value"]) for e in after if e["event"] == "slot"]
    assert tracker.active_loop == {}  # a new session starts without the form
    assert tracker.slots["cuisine"] == "Indian"


def test_undo_and_rewind_take_events_back_and_the_state_equals_a_replay(trained):
    processor = processor_for(trained)
    tracker = processor.new_tracker("u")
    processor.handle_message(tracker, UserMessage("I want to book a table", "u"))
    processor.handle_message(tracker, UserMessage("Indian", "u"))
    assert tracker.slots["requested_slot"] == "party_size"
    tracker.append({"event": "rewind", "timestamp": 1.0})
    # Back to before "Indian": its slot and the form's next question are taken back.
    assert tracker.slots["cuisine"] is None
    assert tracker.slots["requested_slot"] == "cuisine"
    assert tracker.latest_message["text"] == "I want to book a table"
    assert tracker.latest_action_name == "booking_form"
    # Undo takes back the form's action and what it did: the form is no longer active.
    tracker.append({"event": "undo", "timestamp": 2.0})
    assert tracker.latest_action_name == "action_listen"
    assert tracker.active_loop == {} and tracker.slots["requested_slot"] is None
    replayed = Tracker.from_events("u", tracker.events, processor.model)
    assert replayed.to_dict(include_events="NONE") == tracker.to_dict(include_events="NONE")


def test_loop_interruption_and_rejection_flags_follow_the_events():
    tracker = Tracker("t", {"requested_slot": None})
    tracker.append({"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}})
    tracker.append({"event": "active_loop", "name": "booking_form"})
    assert tracker.active_loop["trigger_message"]["text"] == "hi"
    tracker.append({"event": "loop_interrupted", "is_interrupted": True})
    assert tracker.is_active_loop_interrupted
    tracker.append({"event": "action_execution_rejected", "name": "booking_form"})
    assert tracker.is_active_loop_rejected
    tracker.append({"event": "action", "name": "utter_greet"})
    assert not tracker.is_active_loop_interrupted and tracker.is_active_loop_rejected
    tracker.append({"event": "action", "name": "booking_form"})
    assert not tracker.is_active_loop_rejected
    tracker.append({"event": "followup", "name": "utter_greet"})
    assert tracker.followup_action == "utter_greet"
    tracker.append({"event": "active_loop", "name": None})
    assert tracker.active_loop == {} and tracker.to_dict()["active_loop"] == {}


def test_a_failing_custom_action_is_recorded_and_the_bot_goes_on(trained):
    from engine.dialogue import ActionError

    class Failing(Actions):
        def run(self, action_name: str, tracker: dict, domain: dict) -> ActionResult:
            if action_name == "action_confirm_booking":
                raise ActionError("the action server is down")
            return super().run(action_name, tracker, domain)

    processor = processor_for(trained, Failing())
    tracker = processor.new_tracker("down")
    for text in ("I want to book a table", "Indian", "we are 2"):
        processor.handle_message(tracker, UserMessage(text, "down"))
    texts = [m["text"] for m in processor.handle_message(tracker, UserMessage("/deny", "down"))]
    assert texts == ["Booking a Indian table for 2.0.", "Can I help with anything else?"]
    ran = [e["name"] for e in tracker.events if e["event"] == "action"]
    assert "action_confirm_booking" in ran and ran[-1] == "action_listen"
    assert tracker.slots["booking_reference"] is None
