"""The one function that turns a conversation's events into an e2e test case, on fixture
events as a bot's tracker (Try) and the ingested conversations (review) hold them."""

import pytest

from apps.testing.builder import (
    NothingToTest,
    build_test_case,
    case_name,
    exact_pattern,
    test_case_yaml,
)
from engine import formats

#: A Try session: a restart, then a flow started with a preset slot, a collect step, slots set
#: and reset, a button, and a free-text message.
EVENTS = [
    {"event": "action", "name": "action_session_start"},
    {"event": "user", "text": "forget this"},
    {"event": "bot", "text": "Old answer", "metadata": {"utter_action": "utter_old"}},
    {"event": "restart"},
    {"event": "session_started"},
    {"event": "slot", "name": "session_started_metadata", "value": {"x": 1}},
    {"event": "slot", "name": "account", "value": "savings"},
    {"event": "user", "text": "send money", "parse_data": {"intent": {"name": "transfer"}}},
    {"event": "stack", "update": "[]"},
    {"event": "flow_started", "flow_id": "transfer_money"},
    {"event": "flow_started", "flow_id": "pattern_collect_information"},
    {"event": "slot", "name": "requested_slot", "value": "amount"},
    {
        "event": "bot",
        "text": "How much?",
        "metadata": {"utter_action": "utter_ask_amount"},
        "data": {"buttons": [{"title": "Fifty", "payload": "/SetSlots(amount=50)"}]},
    },
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "/SetSlots(amount=50)"},
    {"event": "slot", "name": "amount", "value": 50},
    {"event": "slot", "name": "amount", "value": 50},
    {"event": "bot", "text": "Sent 50.", "metadata": {"utter_action": "utter_sent"}},
    {"event": "bot", "text": "Anything else?", "metadata": {"utter_action": "utter_more"}},
    {"event": "flow_completed", "flow_id": "transfer_money"},
    {"event": "slot", "name": "amount", "value": None},
    {"event": "user", "text": "what is a (savings) account?"},
    {"event": "bot", "text": "A savings account earns interest."},
]
RESPONSES = {
    "utter_ask_amount": ["How much?"],
    "utter_sent": ["Sent {amount}.", "Done: {amount}."],  # two variations: no text_matches
    "utter_more": ["Anything else?"],
}


def test_each_user_turn_asserts_the_flows_started_slots_set_and_what_the_bot_said():
    document = build_test_case(EVENTS, "transfer", responses=RESPONSES)
    assert document["fixtures"] == [{"transfer_slots": [{"account": "savings"}]}]
    case = document["test_cases"][0]
    assert case["test_case"] == "transfer" and case["fixtures"] == ["transfer_slots"]
    assert case["steps"] == [
        {
            "user": "send money",
            "assertions": [
                {"flow_started": "transfer_money"},
                {
                    "bot_uttered": {
                        "utter_name": "utter_ask_amount",
                        "text_matches": "^How much\\?$",
                        "buttons": [{"title": "Fifty", "payload": "/SetSlots(amount=50)"}],
                    }
                },
            ],
        },
        {
            "user": "/SetSlots(amount=50)",
            "assertions": [
                {"slot_was_set": [{"name": "amount", "value": 50}]},
                {"bot_uttered": {"utter_name": "utter_sent"}},
                {"bot_uttered": {"utter_name": "utter_more", "text_matches": "^Anything else\\?$"}},
            ],
        },
        {
            "user": "what is a (savings) account?",
            "assertions": [
                {"bot_uttered": {"text_matches": "^A savings account earns interest\\.$"}}
            ],
        },
    ]


def test_the_yaml_is_a_valid_rasa_e2e_file_whose_patterns_match_the_texts():
    text = test_case_yaml(EVENTS, "transfer", responses=RESPONSES)
    (case,) = formats.load_test_cases(text, "tests/transfer.yml")
    assert case.name == "transfer" and case.fixtures == {"account": "savings"}
    assert [step["user"] for step in case.steps] == [
        "send money",
        "/SetSlots(amount=50)",
        "what is a (savings) account?",
    ]
    import re

    last = case.steps[2]["assertions"][0]["bot_uttered"]["text_matches"]
    assert re.search(last, "A savings account earns interest.")
    assert not re.search(last, "A savings account earns interest. Or not.")
    assert re.search(exact_pattern("a (b) [c] $5 * x?"), "a (b) [c] $5 * x?")
    assert not re.search(exact_pattern("a (b) [c] $5 * x?"), "a b [c] $5 * x")
    assert re.search(exact_pattern("a (b) [c] $5 * x? {y} | z\\"), "a (b) [c] $5 * x? {y} | z\\")


def test_without_responses_a_response_is_asserted_by_name_only():
    case = build_test_case(EVENTS, "x")["test_cases"][0]
    assert case["steps"][0]["assertions"][1] == {
        "bot_uttered": {
            "utter_name": "utter_ask_amount",
            "buttons": [{"title": "Fifty", "payload": "/SetSlots(amount=50)"}],
        }
    }


def test_a_conversation_without_user_messages_makes_no_case():
    with pytest.raises(NothingToTest):
        build_test_case([{"event": "action", "name": "action_session_start"}], "x")
    with pytest.raises(NothingToTest):
        build_test_case(EVENTS[:4], "x")  # everything before the restart is dropped


def test_a_turn_where_the_bot_said_nothing_still_makes_an_assertion_case():
    document = build_test_case([{"event": "user", "text": "hi"}], "silent")
    (case,) = formats.load_test_cases(formats.dump_yaml(document), "t.yml")
    assert case.uses_assertions()
    assert document["test_cases"][0]["steps"] == [
        {"user": "hi", "assertions": [{"bot_did_not_utter": {"text_matches": ".+"}}]}
    ]


def test_case_names_are_made_of_safe_characters():
    assert case_name("Try 2026-12-03 12:00") == "try_2026_12_03_12_00"
    assert case_name("§§") == "conversation"
