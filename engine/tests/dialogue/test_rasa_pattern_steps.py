"""The default patterns have Rasa Pro 3.12's steps, run with Rasa's flow executor semantics.

An action step whose action is not in the domain (nor a response or a default action) is
skipped, so pattern_collect_information's `{{context.utter}}` and `{{context.collect_action}}`
each run only when the domain has them; pattern_validate_slot checks slots set outside their
question; a customised pattern made of the default steps behaves as the default.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from engine.formats import default_pattern_definitions
from engine.tests.dialogue.conftest import ActionResult, RecordingActions
from engine.tests.dialogue.test_commands import CommandChat, set_slot, start

DOMAIN = """
version: "3.1"
intents: [transfer, inform, restart]
entities: [amount, recipient]
slots:
  recipient:
    type: text
    mappings: [{type: from_entity, entity: recipient}]
  amount:
    type: float
    mappings: [{type: from_entity, entity: amount}]
  note:
    type: text
    mappings: [{type: from_text}]
  code:
    type: text
    mappings: [{type: from_text}]
responses:
  utter_ask_recipient: [{text: "To whom?"}]
  utter_ask_amount: [{text: "How much?"}]
  utter_sent: [{text: "Sent {amount} to {recipient}"}]
  utter_done: [{text: "done"}]
actions: [action_ask_note]
"""

FLOWS = """
flows:
  transfer:
    description: send money
    nlu_trigger: [{intent: transfer}]
    steps:
      - collect: recipient
      - collect: amount
      - action: utter_sent
  note:
    description: take a note
    nlu_trigger: [{intent: inform}]
    steps:
      - collect: note
      - action: utter_done
"""

SCRIPT = {
    "send money": ("transfer", 0.9),
    "send 500 to Ann": ("transfer", 0.9, [("amount", 500), ("recipient", "Ann")]),
    "to Ann": ("transfer", 0.9, [("recipient", "Ann")]),
    "50": ("transfer", 0.9, [("amount", 50)]),
    "500": ("transfer", 0.9, [("amount", 500)]),
    "take a note": ("inform", 0.9),
    "start over": ("restart", 0.95),
}


@pytest.fixture
def chat(chat_factory):
    def make(flows: str = FLOWS, domain: str = DOMAIN, **kwargs):
        return chat_factory(domain, flows, SCRIPT, **kwargs)

    return make


def _actions_of(definition: dict) -> list[str]:
    """The action names of a flow definition's steps, depth first."""
    found: list[str] = []
    for step in definition.get("steps") or []:
        if "action" in step:
            found.append(step["action"])
        branches = step.get("next") if isinstance(step.get("next"), list) else []
        for branch in branches:
            for key in ("then", "else"):
                if isinstance(branch.get(key), list):
                    found.extend(_actions_of({"steps": branch[key]}))
    return found


# -- the default steps ---------------------------------------------------------------------------

#: The patterns Rasa Pro 3.12 ships (its default_flows_for_patterns.yml).
RASA_PRO_3_12_PATTERNS = {
    "pattern_cancel_flow",
    "pattern_cannot_handle",
    "pattern_chitchat",
    "pattern_clarification",
    "pattern_code_change",
    "pattern_collect_information",
    "pattern_completed",
    "pattern_continue_interrupted",
    "pattern_correction",
    "pattern_human_handoff",
    "pattern_internal_error",
    "pattern_repeat_bot_messages",
    "pattern_restart",
    "pattern_search",
    "pattern_session_start",
    "pattern_skip_question",
    "pattern_user_silence",
    "pattern_validate_slot",
}


def test_every_rasa_pattern_has_its_default_steps():
    defaults = default_pattern_definitions()
    assert set(defaults) >= RASA_PRO_3_12_PATTERNS
    assert _actions_of(defaults["pattern_collect_information"]) == [
        "action_run_slot_rejections",
        "validate_{{context.collect}}",
        "{{context.utter}}",
        "{{context.collect_action}}",
        "action_listen",
    ]
    assert _actions_of(defaults["pattern_validate_slot"]) == [
        "action_run_slot_rejections",
        "{{context.refill_utter}}",
        "{{context.refill_action}}",
        "action_listen",
    ]
    assert _actions_of(defaults["pattern_chitchat"]) == ["action_trigger_chitchat"]
    assert _actions_of(defaults["pattern_human_handoff"]) == ["utter_human_handoff_not_available"]
    assert _actions_of(defaults["pattern_clarification"]) == [
        "action_clarify_flows",
        "utter_clarification_options_rasa",
    ]
    assert _actions_of(defaults["pattern_cannot_handle"]) == [
        "utter_cannot_handle",
        "utter_cannot_handle",
        "utter_ask_rephrase",
    ]
    assert _actions_of(defaults["pattern_user_silence"]) == [
        "action_repeat_bot_messages",
        "utter_ask_still_there",
        "utter_inform_hangup",
        "action_hangup",
    ]
    triggers = {
        name: [t["intent"] for t in d.get("nlu_trigger") or []] for name, d in defaults.items()
    }
    assert triggers["pattern_restart"] == ["restart"]
    assert triggers["pattern_session_start"] == ["session_start"]
    assert triggers["pattern_user_silence"] == ["silence_timeout"]


# -- pattern_collect_information ---------------------------------------------------------------


def test_collect_says_the_question_when_only_the_response_exists(chat):
    actions = RecordingActions({})
    c = chat(actions=actions)
    assert c.say("send money") == ["utter_ask_recipient"]
    # action_ask_recipient is not in the domain: its step is skipped, nothing is called.
    assert "action_ask_recipient" not in c.actions()
    assert actions.calls == []


def test_collect_runs_the_custom_ask_action_when_only_it_exists(chat):
    actions = RecordingActions({"action_ask_note": ActionResult(responses=[{"text": "Note?"}])})
    c = chat(actions=actions)
    c.say("take a note")
    assert c.texts() == ["Note?"]
    # utter_ask_note is no response of the domain: its step is skipped.
    assert "utter_ask_note" not in c.actions()
    assert c.actions()[-2:] == ["action_ask_note", "action_listen"]
    assert [name for name, *_ in actions.calls] == ["action_ask_note"]


def test_a_collect_step_without_a_question_cancels_its_flow_with_an_internal_error(chat):
    c = chat(FLOWS.replace("collect: note", "collect: code"))
    assert c.say("take a note") == ["utter_internal_error_rasa"]
    assert ("flow_cancelled", "note") in c.flow_events()
    assert c.stack == []


def test_a_customised_collect_pattern_with_the_default_steps_asks_the_question(chat):
    # What customising the pattern in Studio starts from: the default definition, as a flow.
    definition = copy.deepcopy(default_pattern_definitions()["pattern_collect_information"])
    flows = FLOWS + _indented_flow("pattern_collect_information", definition)
    actions = RecordingActions({"action_ask_note": ActionResult(responses=[{"text": "Note?"}])})
    c = chat(flows, actions=actions)
    assert c.say("send money") == ["utter_ask_recipient"]
    assert c.say("to Ann") == ["utter_ask_amount"]
    assert c.say("50") == ["utter_sent", "utter_can_do_something_else"]
    c.say("take a note")
    assert c.texts() == ["Note?"]


def _indented_flow(name: str, definition: dict) -> str:
    text = yaml.safe_dump({name: definition}, sort_keys=False)
    return "".join(f"  {line}\n" for line in text.splitlines())


def test_an_action_step_naming_an_unknown_action_is_skipped(chat):
    flows = FLOWS.replace(
        "      - action: utter_done", "      - action: utter_not_there\n      - action: utter_done"
    )
    actions = RecordingActions({"action_ask_note": ActionResult(responses=[{"text": "Note?"}])})
    c = chat(flows, actions=actions)
    c.say("take a note")
    assert c.say("buy milk") == ["utter_done", "utter_can_do_something_else"]
    assert "utter_not_there" not in c.actions()


def test_the_restart_intent_triggers_pattern_restart(chat):
    c = chat()
    c.say("send money")
    c.say("start over")
    assert ("flow_started", "pattern_restart") in c.flow_events()
    assert "action_restart" in c.actions()
    assert c.stack == []


# -- pattern_validate_slot -----------------------------------------------------------------------

VALIDATED = DOMAIN.replace(
    "    mappings: [{type: from_entity, entity: amount}]\n",
    "    mappings: [{type: from_entity, entity: amount}]\n"
    "    validation:\n"
    "      rejections:\n"
    "        - if: slots.amount > 100\n"
    "          utter: utter_too_much\n"
    "      refill_utter: utter_ask_amount_again\n",
).replace(
    "responses:\n",
    'responses:\n  utter_too_much: [{text: "too much"}]\n'
    '  utter_ask_amount_again: [{text: "How much, at most 100?"}]\n',
)


def test_a_slot_set_outside_its_question_is_validated_and_asked_for_again(chat):
    c = chat(domain=VALIDATED)
    assert c.say("send 500 to Ann") == ["utter_too_much", "utter_ask_amount_again"]
    assert ("flow_started", "pattern_validate_slot") in c.flow_events()
    assert c.slots["amount"] is None
    assert c.say("50") == ["utter_sent", "utter_can_do_something_else"]
    assert c.texts()[0] == "Sent 50.0 to Ann"


def test_a_valid_slot_set_outside_its_question_goes_on(chat):
    c = chat(domain=VALIDATED)
    c.say("send money")
    assert c.say("50") == ["utter_ask_recipient"]
    assert ("flow_started", "pattern_validate_slot") in c.flow_events()
    assert c.say("to Ann") == ["utter_sent", "utter_can_do_something_else"]


def test_the_answer_to_a_question_is_validated_by_the_slots_validation_first(chat):
    c = chat(domain=VALIDATED)
    c.say("send money")
    c.say("to Ann")
    # As in Rasa: the slot's validation (pattern_validate_slot) rejects the answer and asks
    # with its refill response; the collect step's own question is not asked as well.
    assert c.say("500") == ["utter_too_much", "utter_ask_amount_again"]
    assert ("flow_started", "pattern_validate_slot") in c.flow_events()
    assert c.slots["amount"] is None
    assert c.say("500") == ["utter_too_much", "utter_ask_amount_again"]
    assert c.say("50") == ["utter_sent", "utter_can_do_something_else"]
    assert c.stack == []


# -- pattern_chitchat ------------------------------------------------------------------------------


def test_a_chitchat_pattern_with_a_free_form_response_answers_small_talk():
    flows = """
flows:
  pattern_chitchat:
    description: small talk
    steps:
      - action: utter_free_chitchat_response
"""
    c = CommandChat(flows)
    assert c.say("how are you?", {"command": "chitchat"}) == ["utter_free_chitchat_response"]
    assert [command["command"] for command in c.applied] == ["chitchat"]


def test_the_default_chitchat_pattern_needs_the_intentless_policy():
    c = CommandChat()
    assert c.say("how are you?", {"command": "chitchat"}) == ["utter_cannot_handle"]
    assert c.applied == [{"command": "cannot handle", "reason": "cannot_handle_chitchat"}]


def test_cannot_handle_branches_on_the_reason_as_rasa_does():
    c = CommandChat()
    c.say("send", start("transfer"), set_slot("recipient", "Jo"))
    assert c.say("x", {"command": "cannot handle", "reason": "cannot_handle_not_supported"}) == [
        "utter_cannot_handle",
        "utter_ask_amount",
    ]
    assert c.say("x", {"command": "cannot handle"}) == ["utter_ask_rephrase", "utter_ask_amount"]
