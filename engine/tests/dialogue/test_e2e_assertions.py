"""Rasa's e2e assertions, metadata and stubbed custom actions, against the real dialogue (in
process and over HTTP), and every assertion kind against recorded conversations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from engine.dialogue import DialogueModel, Processor
from engine.e2e import (
    junit_xml,
    run_conversation,
    run_test_case_http,
    run_test_cases,
    run_test_cases_http,
)
from engine.formats import load_test_cases
from engine.server import Bot, create_app
from engine.tests.dialogue.conftest import RecordingActions, ScriptedNlu, TestClient, project_from

DOMAIN = """
version: "3.1"
intents: [start]
slots:
  name:
    type: text
    mappings: [{type: from_text}]
  tier:
    type: text
    mappings: [{type: controlled}]
actions: [action_lookup]
responses:
  utter_ask_name:
    - text: "Name?"
      buttons:
        - {title: Ann, payload: "/SetSlots(name=Ann)"}
        - {title: Bo, payload: "/SetSlots(name=Bo)"}
  utter_hi:
    - text: "Hi {name} ({tier})"
"""
FLOWS = """
flows:
  greet:
    description: greet someone by name
    nlu_trigger: [{intent: start}]
    steps:
      - collect: name
      - action: action_lookup
      - action: utter_hi
"""

#: Every assertion here holds for the conversation the bot holds.
CORRECT = """
test_cases:
  - test_case: assertions_hold
    steps:
      - user: "/start"
        assertions:
          - flow_started: greet
          - flow_started: {flow_ids: [transfer, greet], operator: any}
          - action_executed: utter_ask_name
          - bot_uttered:
              utter_name: utter_ask_name
              text_matches: "^Name\\\\?$"
              buttons:
                - {title: Ann, payload: "/SetSlots(name=Ann)"}
          - bot_did_not_utter: {utter_name: utter_hi}
          - slot_was_not_set: [{name: name}]
      - user: "Ann"
        assertion_order_enabled: true
        assertions:
          - slot_was_set: [{name: name, value: Ann}]
          - action_executed: action_lookup
          - bot_uttered: {text_matches: "Hi Ann"}
          - flow_completed: {flow_id: greet, flow_step_id: greet_2_utter_hi}
          - bot_uttered: {utter_name: utter_ask_continue_conversation}
"""
#: Every assertion here is false; the case must fail at the first one. (As in Rasa, the bot
#: steps of a case with assertions are not checked; they all hold here.)
ALL_FALSE = """
test_cases:
  - test_case: assertions_are_false
    steps:
      - user: "/start"
        assertions:
          - flow_started: transfer
          - bot_uttered: {utter_name: utter_hi}
      - utter: utter_ask_name
      - user: "Ann"
        assertions:
          - slot_was_set: [{name: name, value: Bo}]
          - flow_cancelled: {flow_id: greet}
      - utter: utter_hi
      - utter: utter_ask_continue_conversation
"""


def processor(actions=None):
    return Processor(
        DialogueModel.build(project_from(DOMAIN, FLOWS)),
        ScriptedNlu(),
        action_client=actions,
        seed=1,
    )


def run(text: str, actions=None):
    return run_test_cases(load_test_cases(text, "tests/e2e/cases.yml"), lambda: processor(actions))


def test_a_correct_assertion_case_passes():
    [result] = run(CORRECT)
    assert result.failure is None
    assert result.status == "passed"


def test_a_case_whose_assertions_are_all_false_fails_at_the_first():
    [result] = run(ALL_FALSE)
    assert not result.passed
    assert result.failure["step"] == 0
    assert result.failure["line"] == 7  # the flow_started assertion's own line
    assert result.failure["message"] == ("flow_started: flow 'transfer' did not start")
    assert result.failure["expected"] == {"flow_started": "transfer"}
    assert "flow_started greet" in result.failure["events"]


def _only(assertion: str, step: int = 0) -> str:
    """A case holding one assertion at user step `step` (0: "/start", 1: "Ann")."""
    users = ['"/start"', '"Ann"']
    lines = ["test_cases:", "  - test_case: one", "    steps:"]
    for index, user in enumerate(users[: step + 1]):
        lines.append(f"      - user: {user}")
        if index == step:
            lines.append("        assertions:")
            lines.append(f"          - {assertion}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("assertion", "step", "message"),
    [
        ("flow_started: {flow_ids: [a, b], operator: any}", 0, "none of the flows a, b started"),
        ("flow_completed: {flow_id: greet}", 0, "flow 'greet' was not completed"),
        (
            "flow_completed: {flow_id: greet, flow_step_id: greet_0_collect_name}",
            1,
            "flow 'greet' was completed at step 'greet_2_utter_hi', not at 'greet_0_collect_name'",
        ),
        ("flow_cancelled: {flow_id: greet}", 1, "flow 'greet' was not cancelled"),
        ("action_executed: action_lookup", 0, "action 'action_lookup' did not run"),
        ("slot_was_set: [{name: tier}]", 1, "slot 'tier' was not set"),
        (
            "slot_was_set: [{name: name, value: Bo}]",
            1,
            "slot 'name' was set to 'Ann' then None, not 'Bo'",
        ),
        ("bot_uttered: {utter_name: utter_hi}", 0, "the bot did not utter utter_hi"),
        ("bot_uttered: {text_matches: '^Hello'}", 1, "no bot message matches '^Hello'"),
        (
            "bot_uttered: {buttons: [{title: Bo, payload: '/SetSlots(name=Bo)'}]}",
            0,
            "no bot message has the expected buttons",
        ),
        ("bot_did_not_utter: {utter_name: utter_ask_name}", 0, "the bot uttered utter_ask_name"),
        ("bot_did_not_utter: {text_matches: 'Ann'}", 1, "a bot message matches 'Ann'"),
        (
            "bot_did_not_utter: {buttons: [{title: Bo, payload: '/SetSlots(name=Bo)'}]}",
            0,
            "a bot message has a forbidden button",
        ),
        ("pattern_clarification_contains: [greet]", 0, "'pattern_clarification' did not start"),
    ],
)
def test_each_false_assertion_fails_with_its_reason(assertion, step, message):
    [result] = run(_only(assertion, step))
    assert not result.passed, assertion
    assert result.failure["step"] == step
    kind = assertion.split(":")[0]
    assert result.failure["message"].startswith(f"{kind}: ")
    assert message in result.failure["message"]


def test_slot_was_not_set_sees_the_slot_reset_at_the_end_of_the_flow():
    # the flow resets `name` when it completes: its last value in the turn is None
    [result] = run(_only("slot_was_not_set: [{name: name}]", 1))
    assert result.passed, result.failure
    [result] = run(_only("slot_was_not_set: [{name: name, value: Ann}]", 1))
    assert "slot 'name' was set to" not in str(result.failure)
    assert result.passed


def test_assertion_order_checks_each_assertion_after_the_previous_match():
    ordered = (
        _only("bot_uttered: {utter_name: utter_hi}", 1).replace(
            '      - user: "Ann"\n',
            '      - user: "Ann"\n        assertion_order_enabled: true\n',
        )
        + "          - action_executed: action_lookup\n"
    )
    [result] = run(ordered)
    assert not result.passed
    assert "action_executed: action 'action_lookup' did not run" in result.failure["message"]
    assert "assertion_order_enabled" in result.failure["message"]
    [unordered] = run(ordered.replace("        assertion_order_enabled: true\n", ""))
    assert unordered.passed, unordered.failure


def test_generative_assertions_are_skipped_with_the_reason():
    case = _only("generative_response_is_relevant: {threshold: 0.8}", 1)
    [result] = run(case)
    assert result.passed and result.status == "skipped"
    assert result.skipped == [
        "step 2, assertion 1: 'generative_response_is_relevant' needs an LLM judge, "
        "and the built-in test runner has none"
    ]
    # a failing assertion beside it still fails the case
    [failed] = run(case + "          - flow_started: transfer\n")
    assert failed.status == "failed"


METADATA = """
metadata:
  - device:
      os: linux
      lang: en
  - german:
      lang: de
test_cases:
  - test_case: sends_metadata
    metadata: device
    steps:
      - user: "/start"
      - user: "Ann"
        metadata: german
"""


def test_metadata_is_sent_with_the_user_messages():
    proc = processor()
    [case] = load_test_cases(METADATA)
    assert case.step_metadata == [{"os": "linux", "lang": "en"}, {"os": "linux", "lang": "de"}]
    from engine.e2e import ProcessorConversation

    conversation = ProcessorConversation(proc, "meta")
    assert run_conversation(conversation, case).passed
    users = [e for e in conversation.tracker.events if e["event"] == "user"]
    assert users[0]["metadata"]["os"] == "linux" and users[0]["metadata"]["lang"] == "en"
    assert users[1]["metadata"]["lang"] == "de"


STUBS = """
stub_custom_actions:
  action_lookup:
    events:
      - {event: slot, name: tier, value: gold}
  platinum::action_lookup:
    events:
      - {event: slot, name: tier, value: platinum}
    responses:
      - text: "Looking you up."
test_cases:
  - test_case: gold
    steps:
      - user: "/start"
      - user: "Ann"
      - slot_was_set:
          - tier: gold
      - bot: "Hi Ann (gold)"
  - test_case: platinum
    steps:
      - user: "/start"
      - user: "Ann"
      - bot: "Looking you up."
      - bot: "Hi Ann (platinum)"
"""


def test_stubbed_custom_actions_answer_instead_of_the_action_server():
    actions = RecordingActions()
    results = run(STUBS, actions)
    assert [(r.name, r.failure) for r in results] == [("gold", None), ("platinum", None)]
    assert actions.calls == []  # the stubs answered, not the action client


def test_an_action_without_a_stub_fails_when_the_suite_stubs_actions():
    text = STUBS.replace(
        "  action_lookup:\n    events:\n      - {event: slot, name: tier, value: gold}\n", ""
    )
    results = {r.name: r for r in run(text)}
    assert results["platinum"].passed
    assert not results["gold"].passed
    assert "slot 'tier' was not set" in results["gold"].failure["message"]
    assert "action pattern_internal_error" not in results["gold"].failure["events"]
    assert "flow_started pattern_internal_error" in results["gold"].failure["events"]


def test_both_drivers_give_the_same_results():
    cases = load_test_cases(CORRECT + ALL_FALSE.replace("test_cases:\n", ""))
    local = [r.as_dict() for r in run_test_cases(cases, processor)]
    with TestClient(create_app(Bot.from_processor(processor()))) as client:
        remote = [r.as_dict() for r in run_test_cases_http(cases, client)]
    assert [r["status"] for r in local] == ["passed", "failed"]
    assert remote == local


def test_cases_with_stubs_are_skipped_over_http():
    cases = load_test_cases(STUBS)
    with TestClient(create_app(Bot.from_processor(processor()))) as client:
        results = run_test_cases_http(cases, client)
    assert [r.status for r in results] == ["skipped", "skipped"]
    assert "a served bot calls its own action server" in results[0].skipped[0]


def test_the_junit_report_is_valid_xml_with_each_outcome():
    results = (
        run(CORRECT)
        + run(ALL_FALSE)
        + run(_only("generative_response_is_grounded: {threshold: 0.5}"))
    )
    root = ET.fromstring(junit_xml(results))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite.attrib["tests"] == "3"
    assert suite.attrib["failures"] == "1" and suite.attrib["skipped"] == "1"
    cases = suite.findall("testcase")
    assert [c.attrib["name"] for c in cases] == ["assertions_hold", "assertions_are_false", "one"]
    assert cases[0].attrib["classname"] == "cases.yml"
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None
    failure = cases[1].find("failure")
    assert failure.attrib["message"] == "flow_started: flow 'transfer' did not start"
    assert "at tests/e2e/cases.yml:7" in failure.text
    assert "flow_started greet" in failure.text
    assert "LLM judge" in cases[2].find("skipped").attrib["message"]


# --------------------------------------------------------------------------------------------
# Clarification, against a recorded conversation


class Recorded:
    """A conversation that answers each message with recorded events."""

    def __init__(self, turns: list[list[dict[str, Any]]], flow_names=None) -> None:
        self.turns = list(turns)
        self.flow_names = flow_names or {}

    def preset(self, slots):
        return [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]

    def send(self, text, metadata=None):
        return [{"event": "user", "text": text}, *self.turns.pop(0)]


def _clarifying(frame: dict[str, Any]) -> list[dict[str, Any]]:
    ops = [{"op": "add", "path": "/0", "value": {"flow_id": "pattern_clarification", **frame}}]
    return [
        {"event": "stack", "update": json.dumps(ops)},
        {"event": "flow_started", "flow_id": "pattern_clarification"},
        {
            "event": "bot",
            "text": "Which one?",
            "metadata": {"utter_action": "utter_clarification_options_rasa"},
        },
    ]


@pytest.mark.parametrize(
    ("assertion", "passes"),
    [
        ("{flow_ids: [transfer_money, add_contact], operator: all}", True),
        ("{flow_ids: [transfer_money], operator: all}", False),
        ("{flow_ids: [transfer_money, check_balance], operator: any}", True),
        ("{flow_ids: [check_balance], operator: any}", False),
        ("[Transfer money, Add a contact]", True),
        ("[Transfer money]", False),
    ],
)
def test_pattern_clarification_contains(assertion, passes):
    [case] = load_test_cases(_only(f"pattern_clarification_contains: {assertion}"))
    names = {"transfer_money": "Transfer money", "add_contact": "Add a contact"}
    # the options as flow names on the stack frame (what the built-in engine records)
    frame = {"names": ["Transfer money", "Add a contact"]}
    result = run_conversation(Recorded([_clarifying(frame)], names), case)
    assert result.passed is passes, result.failure
    # and as flow ids in the frame (what Rasa records), read without knowing the flows
    frame = {**frame, "clarification_ids": ["transfer_money", "add_contact"]}
    result = run_conversation(Recorded([_clarifying(frame)]), case)
    assert result.passed is passes, result.failure


@pytest.mark.parametrize(
    ("slots", "passes"),
    [
        ("[{name: tier}]", False),
        ("[{name: tier, value: gold}]", False),
        ("[{name: tier, value: x}]", True),
    ],
)
def test_slot_was_not_set_checks_the_last_value_of_the_turn(slots, passes):
    [case] = load_test_cases(_only(f"slot_was_not_set: {slots}"))
    turn = [
        {"event": "slot", "name": "tier", "value": "silver"},
        {"event": "slot", "name": "tier", "value": "gold"},
    ]
    result = run_conversation(Recorded([turn]), case)
    assert result.passed is passes, result.failure
    if not passes:
        assert result.failure["message"] == "slot_was_not_set: slot 'tier' was set to 'gold'"


def test_a_failing_slot_is_reported_at_its_own_line():
    text = """\
test_cases:
  - test_case: slots
    steps:
      - user: "/start"
      - user: "Ann"
        assertions:
          - slot_was_set:
              - name: name
                value: Ann
              - name: tier
                value: gold
"""
    [result] = run(text)
    assert result.failure["step"] == 1
    assert result.failure["line"] == 10
    assert result.failure["message"] == "slot_was_set: slot 'tier' was not set"


def test_metadata_is_sent_over_http_too():
    [case] = load_test_cases(METADATA)
    bot = Bot.from_processor(processor())
    with TestClient(create_app(bot)) as client:
        result = run_test_case_http(client, case, "meta-http")
        assert result.passed, result.failure
        events = client.get("/conversations/meta-http/tracker").json()["events"]
    users = [e for e in events if e["event"] == "user"]
    assert [u["metadata"].get("lang") for u in users] == ["en", "de"]
    assert users[0]["metadata"]["os"] == "linux"


def test_assertions_on_an_empty_user_message_fail_instead_of_crashing():
    text = 'test_cases:\n  - test_case: empty\n    steps:\n      - user: ""\n        assertions:\n          - flow_started: greet\n'
    [result] = run(text)
    assert not result.passed
    assert result.failure["step"] == 0 and result.failure["line"] == 4
    assert "user message is empty" in result.failure["message"]


def test_the_junit_report_stays_valid_xml_whatever_the_bot_said():
    from engine.e2e import CaseResult

    result = CaseResult("odd \x01 name", False, "tests/e2e/a.yml")
    result.failure = {
        "step": 0,
        "line": 3,
        "message": "said \x00\x1b[31m",
        "events": ["bot '\x07'"],
    }
    root = ET.fromstring(junit_xml([result]))
    failure = root.find("testsuite/testcase/failure")
    assert failure.attrib["message"] == "said \ufffd\ufffd[31m"
    assert root.find("testsuite/testcase").attrib["name"] == "odd \ufffd name"
