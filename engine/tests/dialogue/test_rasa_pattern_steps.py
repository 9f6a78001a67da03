"""The default patterns have Rasa Pro 3.21's steps, run with Rasa's flow executor semantics.

An action step whose action is not in the domain (nor a response or a default action) is
skipped, so pattern_collect_information's `{{context.utter}}` and `{{context.collect_action}}`
each run only when the domain has them; pattern_validate_slot checks slots set outside their
question; a customised pattern made of the default steps behaves as the default. Rasa Pro 3.21's
patterns: pattern_completed asks whether the user needs more and links to
pattern_customer_satisfaction, pattern_continue_interrupted asks whether (and which) interrupted
flow to continue, pattern_clarification without options asks for more detail,
pattern_human_handoff counts the hand-over, pattern_session_end hangs up.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from engine.formats import default_pattern_definitions
from engine.tests.dialogue.conftest import ActionResult, RecordingActions
from engine.tests.dialogue.test_commands import DOMAIN as DOMAIN_OF_COMMANDS
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
    "that's all, bye": ("session_end", 0.95),
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

#: The patterns Rasa Pro 3.21 ships (its default_flows_for_patterns.yml).
RASA_PRO_3_21_PATTERNS = {
    "pattern_cancel_flow",
    "pattern_cannot_handle",
    "pattern_chitchat",
    "pattern_clarification",
    "pattern_code_change",
    "pattern_collect_information",
    "pattern_completed",
    "pattern_continue_interrupted",
    "pattern_correction",
    "pattern_customer_satisfaction",
    "pattern_external_agent_processing",
    "pattern_human_handoff",
    "pattern_internal_error",
    "pattern_repeat_bot_messages",
    "pattern_restart",
    "pattern_search",
    "pattern_session_end",
    "pattern_session_start",
    "pattern_skip_question",
    "pattern_user_silence",
    "pattern_validate_slot",
}


def test_every_rasa_pattern_has_its_default_steps():
    defaults = default_pattern_definitions()
    assert set(defaults) == RASA_PRO_3_21_PATTERNS
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
    assert _actions_of(defaults["pattern_chitchat"]) == ["utter_cannot_handle"]
    assert _actions_of(defaults["pattern_human_handoff"]) == [
        "action_handoff_metric",
        "utter_human_handoff_not_available",
    ]
    assert _actions_of(defaults["pattern_clarification"]) == [
        "utter_clarification_no_options_rasa",
        "action_clarify_flows",
        "utter_clarification_options_rasa",
    ]
    assert _actions_of(defaults["pattern_cannot_handle"]) == [
        "utter_cannot_handle",
        "utter_cannot_handle",
        "utter_no_relevant_answer_found",
        "utter_ask_rephrase",
    ]
    assert _actions_of(defaults["pattern_user_silence"]) == [
        "action_repeat_bot_messages",
        "utter_ask_still_there",
        "utter_inform_hangup",
        "action_hangup",
    ]
    assert _actions_of(defaults["pattern_completed"]) == [
        "utter_can_do_something_else",
        "utter_closing_words",
    ]
    assert defaults["pattern_completed"]["steps"][0]["collect"] == "continue_conversation"
    assert defaults["pattern_customer_satisfaction"]["run_pattern_completed"] is False
    assert defaults["pattern_customer_satisfaction"]["steps"][0]["collect"] == "csat_score"
    assert _actions_of(defaults["pattern_continue_interrupted"]) == [
        "action_continue_interrupted_flow",
        "action_cancel_interrupted_flows",
        "action_continue_interrupted_flow",
        "action_cancel_interrupted_flows",
    ]
    assert _actions_of(defaults["pattern_session_end"]) == ["action_hangup"]
    assert _actions_of(defaults["pattern_external_agent_processing"]) == ["utter_agent_busy"]
    # Conditions on the context are written as Rasa Pro 3.21 writes them.
    cannot_handle = defaults["pattern_cannot_handle"]["steps"][0]["next"]
    assert cannot_handle[0]["if"] == 'context.reason is "cannot_handle_chitchat"'
    triggers = {
        name: [t["intent"] for t in d.get("nlu_trigger") or []] for name, d in defaults.items()
    }
    assert triggers["pattern_restart"] == ["restart"]
    assert triggers["pattern_session_start"] == ["session_start"]
    assert triggers["pattern_user_silence"] == ["silence_timeout"]
    assert triggers["pattern_session_end"] == ["session_end"]


def test_the_default_slots_are_rasa_pro_3_21s():
    from engine.dialogue.model import default_slots

    slots = {slot.name: slot for slot in default_slots()}
    assert slots["continue_conversation"].type == "bool"
    assert slots["continue_interrupted_flow_confirmation"].type == "bool"
    assert slots["interrupted_flow_to_continue"].type == "text"
    assert slots["csat_score"].type == "categorical"
    assert list(slots["csat_score"].values or []) == ["satisfied", "unsatisfied"]
    assert slots["silence_timeout"].initial_value == 30.0
    assert slots["max_clarification_options"].initial_value == 3.0
    for name in ("continue_conversation", "csat_score", "interrupted_flow_to_continue"):
        assert [m.type for m in slots[name].mappings] == ["from_llm"]


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
    assert c.say("50") == ["utter_sent", "utter_ask_continue_conversation"]
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
    assert c.say("buy milk") == ["utter_done", "utter_ask_continue_conversation"]
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
    assert c.say("50") == ["utter_sent", "utter_ask_continue_conversation"]
    assert c.texts()[0] == "Sent 50.0 to Ann"


def test_a_valid_slot_set_outside_its_question_goes_on(chat):
    c = chat(domain=VALIDATED)
    c.say("send money")
    assert c.say("50") == ["utter_ask_recipient"]
    assert ("flow_started", "pattern_validate_slot") in c.flow_events()
    assert c.say("to Ann") == ["utter_sent", "utter_ask_continue_conversation"]


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
    assert c.say("50") == ["utter_sent", "utter_ask_continue_conversation"]
    # The transfer is done; pattern_completed asks whether the user needs anything else.
    assert [f["flow_id"] for f in c.stack] == ["pattern_completed", "pattern_collect_information"]


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


def test_a_chitchat_pattern_triggering_chitchat_needs_the_intentless_policy():
    flows = """
flows:
  pattern_chitchat:
    description: small talk
    steps:
      - action: action_trigger_chitchat
"""
    c = CommandChat(flows)
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


# -- Rasa Pro 3.21: pattern_completed and pattern_customer_satisfaction ---------------------------


def test_pattern_completed_asks_whether_the_user_needs_more(chat):
    c = chat()
    assert c.say("send 500 to Ann") == ["utter_sent", "utter_ask_continue_conversation"]
    assert ("flow_started", "pattern_completed") in c.flow_events()
    # The offline generator takes "yes" for the bool slot asked for.
    assert c.say("yes") == ["utter_can_do_something_else"]
    assert _slot_events(c, "continue_conversation")[0] is True
    # As in Rasa, the pattern's slot is reset when the pattern ends.
    assert c.slots["continue_conversation"] is None
    assert c.stack == []


def _slot_events(c, name: str) -> list:
    return [e["value"] for e in c.turn_events if e["event"] == "slot" and e["name"] == name]


def test_pattern_completed_links_to_customer_satisfaction_answered_by_button(chat):
    c = chat()
    c.say("send 500 to Ann")
    assert c.say("no thanks") == ["utter_closing_words", "utter_ask_csat_score"]
    assert ("flow_started", "pattern_customer_satisfaction") in c.flow_events()
    buttons = c.messages[-1]["buttons"]
    assert [b["payload"] for b in buttons] == [
        "/SetSlots(csat_score=satisfied)",
        "/SetSlots(csat_score=unsatisfied)",
    ]
    assert c.say(buttons[0]["payload"]) == ["utter_csat_thank_you_satisfied"]
    assert _slot_events(c, "csat_score") == ["satisfied", None]
    # run_pattern_completed: false -- the satisfaction flow ends without pattern_completed.
    assert ("flow_started", "pattern_completed") not in c.flow_events()
    assert c.stack == []


def test_customer_satisfaction_understands_a_typed_answer(chat):
    c = chat()
    c.say("send 500 to Ann")
    c.say("no")
    assert c.say("not satisfied") == ["utter_csat_thank_you_unsatisfied"]
    assert _slot_events(c, "csat_score")[0] == "unsatisfied"


def test_a_flow_with_run_pattern_completed_false_ends_without_the_question(chat):
    flows = FLOWS.replace(
        "    description: send money\n",
        "    description: send money\n    run_pattern_completed: false\n",
    )
    c = chat(flows)
    assert c.say("send 500 to Ann") == ["utter_sent"]
    assert ("flow_started", "pattern_completed") not in c.flow_events()
    assert c.stack == []


def test_starting_a_flow_while_pattern_completed_asks_removes_it():
    c = CommandChat()
    c.say("balance", start("balance"))
    assert c.utters() == ["utter_balance", "utter_ask_continue_conversation"]
    assert c.say("weather", start("weather")) == ["utter_ask_city"]
    # pattern_completed and its question are gone: only the new flow is on the stack.
    assert c.stack_flows() == ["weather", "pattern_collect_information"]
    assert c.say("Oslo", set_slot("city", "Oslo", "NLU")) == [
        "utter_weather",
        "utter_ask_continue_conversation",
    ]


# -- Rasa Pro 3.21: pattern_continue_interrupted -----------------------------------------------


def test_continue_interrupted_asks_to_go_back_to_the_one_interrupted_flow(chat):
    actions = RecordingActions({"action_ask_note": ActionResult(responses=[{"text": "Note?"}])})
    c = chat(actions=actions)
    assert c.say("send money") == ["utter_ask_recipient"]
    c.say("take a note")
    assert c.say("buy milk") == ["utter_done", "utter_ask_continue_interrupted_flow_confirmation"]
    assert c.texts()[-1] == "Shall we go back to transfer?"
    assert c.say("yes") == ["utter_ask_recipient"]
    assert "action_continue_interrupted_flow" in c.actions()
    assert c.slots["continue_interrupted_flow_confirmation"] is None
    assert c.say("to Ann") == ["utter_ask_amount"]


def test_continue_interrupted_declined_cancels_the_interrupted_flow(chat):
    actions = RecordingActions({"action_ask_note": ActionResult(responses=[{"text": "Note?"}])})
    c = chat(actions=actions)
    c.say("send money")
    c.say("take a note")
    c.say("buy milk")
    assert c.say("no") == ["utter_flow_cancelled_rasa"]
    assert "action_cancel_interrupted_flows" in c.actions()
    assert ("flow_cancelled", "transfer") in c.flow_events()
    assert c.stack == []


def _interrupted_twice() -> CommandChat:
    c = CommandChat()
    c.say("send", start("transfer"))
    c.say("weather", start("weather"))
    c.say("balance", start("balance"))
    return c


def test_continue_interrupted_asks_which_of_several_flows_to_continue():
    c = _interrupted_twice()
    assert c.utters() == ["utter_balance", "utter_ask_interrupted_flow_to_continue"]
    assert c.texts()[-1] == "Which would you like to go back to: send money and weather?"
    frame = c.tracker.stack[-2]
    assert frame["flow_id"] == "pattern_continue_interrupted"
    assert frame["multiple_flows_interrupted"] is True
    assert frame["interrupted_flow_ids"] == ["transfer", "weather"]
    # Chosen by id: weather continues, then the flow still waiting is offered.
    assert c.say("weather", set_slot("interrupted_flow_to_continue", "weather")) == [
        "utter_ask_city"
    ]
    assert c.say("Oslo", set_slot("city", "Oslo", "NLU")) == [
        "utter_weather",
        "utter_ask_continue_interrupted_flow_confirmation",
    ]
    assert c.texts()[-1] == "Shall we go back to send money?"
    assert c.say("yes", set_slot("continue_interrupted_flow_confirmation", True)) == [
        "utter_ask_recipient"
    ]


def test_continue_interrupted_takes_a_flow_by_its_name():
    c = _interrupted_twice()
    assert c.say("send money", set_slot("interrupted_flow_to_continue", "send money")) == [
        "utter_ask_recipient"
    ]
    assert c.stack_flows()[-2:] == ["transfer", "pattern_collect_information"]


def test_continue_interrupted_with_none_cancels_every_interrupted_flow():
    c = _interrupted_twice()
    assert c.say("none", set_slot("interrupted_flow_to_continue", "none")) == [
        "utter_flow_cancelled_rasa",
        "utter_flow_cancelled_rasa",
    ]
    cancelled = [flow for event, flow in c.flow_events() if event == "flow_cancelled"]
    assert sorted(cancelled) == ["transfer", "weather"]
    assert c.tracker.stack == []


def test_continue_interrupted_with_an_unknown_flow_lists_the_options():
    c = _interrupted_twice()
    # As in Rasa: the options are told, nothing is resumed, and the flow on top goes on.
    c.say("golf", set_slot("interrupted_flow_to_continue", "golf"))
    assert c.texts()[0].endswith("Please choose one: send money and weather.")
    assert c.utters()[-1] == "utter_ask_city"
    assert c.stack_flows()[0] == "transfer"


# -- Rasa Pro 3.21: clarification, human handoff, session end, chitchat -----------------------


def test_clarification_without_options_asks_for_more_detail():
    c = CommandChat()
    assert c.say("help", {"command": "clarify", "options": []}) == [
        "utter_clarification_no_options_rasa"
    ]
    assert "action_clarify_flows" not in c.actions()


def test_clarification_offers_at_most_max_clarification_options_flows():
    c = CommandChat()
    c.say("x", {"command": "clarify", "options": ["transfer", "balance", "weather"]})
    assert c.texts() == [
        "I can help, but I need a little more information. Which of these would you like to "
        "do: send money, check balance or weather?"
    ]
    domain = DOMAIN_OF_COMMANDS.replace(
        "slots:\n",
        "slots:\n  max_clarification_options:\n    type: float\n    initial_value: 2.0\n",
        1,
    )
    c2 = CommandChat(domain=domain)
    c2.say("x", {"command": "clarify", "options": ["transfer", "balance", "weather"]})
    assert c2.texts()[0].endswith("send money or check balance?")


def test_human_handoff_runs_the_handoff_metric_action():
    c = CommandChat()
    assert c.say("a person please", {"command": "human handoff"}) == [
        "utter_human_handoff_not_available"
    ]
    actions = c.actions()
    assert actions.index("action_handoff_metric") < actions.index(
        "utter_human_handoff_not_available"
    )


def test_session_end_hangs_up():
    c = CommandChat()
    c.say("send", start("transfer"))
    assert c.say("bye", {"command": "session end"}) == []
    assert "action_hangup" in c.actions()
    ended = [e for e in c.turn if e["event"] == "session_ended"]
    assert ended and ended[0]["metadata"]["_reason"] == "user_disconnected"
    assert c.tracker.stack == []


def test_the_session_end_intent_triggers_pattern_session_end(chat):
    c = chat()
    c.say("send money")
    c.say("that's all, bye")
    assert ("flow_started", "pattern_session_end") in c.flow_events()
    assert "action_hangup" in c.actions()
    assert c.stack == []


def test_the_default_chitchat_pattern_says_it_cannot_handle_small_talk():
    c = CommandChat()
    assert c.say("how are you?", {"command": "chitchat"}) == ["utter_cannot_handle"]
    assert [command["command"] for command in c.applied] == ["chitchat"]
    assert "action_trigger_chitchat" not in c.actions()
