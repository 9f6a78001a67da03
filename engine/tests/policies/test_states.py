"""Dialogue states: what one state holds, slot featurisation, max_history cuts, prediction
states and the applied events."""

from __future__ import annotations

from engine.policies.states import (
    StateSpec,
    applied_events,
    past_states,
    prediction_states,
    states_key,
)
from engine.tests.policies.helpers import action, listen, loop, project, slot, user


def spec() -> StateSpec:
    return StateSpec.from_domain(project().domain)


def test_a_state_holds_the_user_turn_previous_action_loop_and_influencing_slots():
    events = [
        listen(),
        user("inform", {"city": "Paris"}),
        slot("city", "Paris"),
        slot("notes", "anything"),  # an `any` slot never influences
        action("booking_form"),
        loop("booking_form"),
    ]
    states = past_states(events, spec())
    # one state before each action, one at the end
    assert len(states) == 3
    assert states[0] == {}
    assert states[1] == {
        "user": {"intent": "inform", "entities": ("city",), "text": "/inform"},
        "prev_action": {"action_name": "action_listen"},
        "slots": {"city": (1.0,)},
    }
    assert states[2]["active_loop"] == {"name": "booking_form"}
    assert states[2]["prev_action"] == {"action_name": "booking_form"}
    assert "notes" not in states[2]["slots"]


def test_slots_are_featurised_by_type():
    events = [slot("vip", True), slot("count", 5), slot("city", None)]
    state = past_states(events, spec())[-1]
    assert state["slots"] == {"vip": (1.0, 1.0), "count": (1.0, 0.5)}
    false_vip = past_states([slot("vip", False), slot("count", 50)], spec())[-1]
    assert false_vip["slots"] == {"vip": (1.0, 0.0), "count": (1.0, 1.0)}


def test_prediction_states_cut_to_max_history_and_read_the_latest_turn_by_intent():
    events = [listen(), user("greet"), action("utter_greet"), listen(), user("faq")]
    states = past_states(events, spec())
    assert len(states) == 4
    cut = prediction_states(states, 2)
    assert len(cut) == 2
    assert cut[-1]["user"] == {"intent": "faq"}  # the text is dropped for the intent
    assert cut[0]["prev_action"] == {"action_name": "utter_greet"}
    assert prediction_states(states, None) == prediction_states(states, 10)
    by_text = prediction_states(states, 2, use_text=True)
    assert by_text[-1]["user"] == {"text": "/faq"}
    # the states given are not changed
    assert states[-1]["user"] == {"intent": "faq", "text": "/faq"}


def test_the_same_events_give_the_same_key():
    events = [listen(), user("greet"), action("utter_greet")]
    a = prediction_states(past_states(events, spec()), 3)
    b = prediction_states(past_states([dict(e) for e in events], spec()), 3)
    assert states_key(a) == states_key(b)
    other = prediction_states(past_states([listen(), user("faq")], spec()), 3)
    assert states_key(a) != states_key(other)


def test_applied_events_start_over_at_a_restart_and_undo_reverts():
    events = [listen(), user("greet"), action("utter_greet"), {"event": "restart"}, listen()]
    assert applied_events(events) == [listen()]
    undone = [listen(), user("greet"), action("utter_greet"), {"event": "undo"}]
    assert applied_events(undone) == [listen(), user("greet")]
    rewound = [listen(), user("greet"), action("utter_greet"), listen(), user("faq")]
    assert applied_events([*rewound, {"event": "rewind"}]) == rewound[:3]


def test_a_loops_happy_path_folds_into_its_first_execution():
    events = [
        listen(),
        user("book"),
        action("booking_form"),
        loop("booking_form"),
        listen(),
        user("inform", {"city": "Oslo"}),
        slot("city", "Oslo"),
        action("booking_form"),
    ]
    applied = applied_events(events)
    names = [e.get("name") for e in applied if e["event"] == "action"]
    assert names == ["action_listen", "booking_form"]
    assert slot("city", "Oslo") in applied
