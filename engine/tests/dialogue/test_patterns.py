"""The default patterns, digressions and their overrides."""

import pytest

from engine.tests.dialogue.conftest import ActionError, RecordingActions

DOMAIN = """
version: "3.1"
intents: [transfer, balance, cancel, inform, chit]
entities: [amount, recipient]
slots:
  recipient:
    type: text
    mappings: [{type: from_entity, entity: recipient}]
  amount:
    type: float
    mappings: [{type: from_entity, entity: amount}]
  confirmed:
    type: bool
    mappings:
      - type: from_intent
        intent: affirm
        value: true
responses:
  utter_ask_recipient: [{text: "To whom?"}]
  utter_ask_amount: [{text: "How much?"}]
  utter_ask_confirmed: [{text: "Sure?"}]
  utter_sent: [{text: "Sent {amount} to {recipient}"}]
  utter_balance: [{text: "Your balance is fine"}]
  utter_too_much: [{text: "too much"}]
actions: [action_fail]
"""

FLOWS = """
flows:
  transfer:
    name: send money
    description: send money
    nlu_trigger: [{intent: transfer}]
    steps:
      - collect: recipient
      - collect: amount
        rejections:
          - if: slots.amount > 100
            utter: utter_too_much
      - action: utter_sent
  balance:
    name: check balance
    description: check balance
    nlu_trigger: [{intent: balance}]
    steps:
      - action: utter_balance
"""

SCRIPT = {
    "send money": ("transfer", 0.9),
    "to Ann": ("inform", 0.9, [("recipient", "Ann")]),
    "to Bob": ("inform", 0.9, [("recipient", "Bob")]),
    "50": ("inform", 0.9, [("amount", 50)]),
    "500": ("inform", 0.9, [("amount", 500)]),
    "send 20 to Ann": ("transfer", 0.9, [("amount", 20), ("recipient", "Ann")]),
    "balance?": ("balance", 0.9),
    "stop": ("cancel", 0.9),
    "gibberish": ("inform", 0.1),
    "meh": ("inform", 0.9),
}


@pytest.fixture
def chat(chat_factory):
    """A chat on DOMAIN and SCRIPT with `flows` (default FLOWS)."""
    return lambda flows=FLOWS, **kwargs: chat_factory(DOMAIN, flows, SCRIPT, **kwargs)


def test_pattern_completed_offers_more_help_after_a_user_flow(chat):
    c = chat()
    assert c.say("balance?") == ["utter_balance", "utter_ask_continue_conversation"]
    assert c.texts()[1] == "Can I help you with anything else?"
    assert ("flow_started", "pattern_completed") in c.flow_events()
    # Rasa Pro 3.21's pattern_completed collects continue_conversation: it waits for the answer.
    assert [f["flow_id"] for f in c.stack] == ["pattern_completed", "pattern_collect_information"]


def test_run_pattern_completed_false_skips_it(chat):
    flows = FLOWS.replace(
        "    nlu_trigger: [{intent: balance}]",
        "    nlu_trigger: [{intent: balance}]\n    run_pattern_completed: false",
    )
    assert chat(flows).say("balance?") == ["utter_balance"]


def test_a_user_flow_overrides_a_pattern_of_the_same_id(chat):
    flows = (
        FLOWS
        + """
  pattern_completed:
    description: mine
    steps:
      - action: utter_too_much
"""
    )
    assert chat(flows).say("balance?") == ["utter_balance", "utter_too_much"]


def test_collect_rejections_utter_reset_and_ask_again(chat):
    c = chat()
    c.say("send money")
    c.say("to Ann")
    assert c.say("500") == ["utter_too_much", "utter_ask_amount"]
    assert c.slots["amount"] is None
    assert c.say("50") == ["utter_sent", "utter_ask_continue_conversation"]


def test_slots_can_be_filled_ahead_and_with_the_starting_message(chat):
    c = chat()
    assert c.say("send 20 to Ann") == ["utter_sent", "utter_ask_continue_conversation"]
    c = chat()
    c.say("send money")
    assert c.say("50") == ["utter_ask_recipient"]  # amount is collected later: filled ahead
    assert c.say("to Ann") == ["utter_sent", "utter_ask_continue_conversation"]


def test_a_digression_interrupts_and_the_flow_resumes_with_its_question(chat):
    c = chat()
    c.say("send money")
    c.say("to Ann")
    # Rasa Pro 3.21's pattern_continue_interrupted asks whether to go back to the flow.
    assert c.say("balance?") == [
        "utter_balance",
        "utter_ask_continue_interrupted_flow_confirmation",
    ]
    assert c.texts()[1] == "Shall we go back to send money?"
    assert ("flow_interrupted", "transfer") in c.flow_events()
    assert c.say("yes") == ["utter_ask_amount"]
    assert ("flow_resumed", "transfer") in c.flow_events()
    assert c.say("50") == ["utter_sent", "utter_ask_continue_conversation"]


def test_correction_of_an_earlier_slot_updates_it_and_confirms(chat):
    c = chat()
    c.say("send money")
    c.say("to Ann")
    assert c.say("to Bob") == ["utter_corrected_previous_input", "utter_ask_amount"]
    assert c.slots["recipient"] == "Bob"
    assert c.texts()[0] == "Okay, I've updated recipient to Bob."
    assert ("flow_started", "pattern_correction") in c.flow_events()


def test_correction_after_later_steps_goes_back_to_the_corrected_step(chat):
    flows = FLOWS.replace(
        "      - action: utter_sent",
        "      - collect: confirmed\n      - action: utter_sent",
    )
    c = chat(flows)
    c.say("send money")
    c.say("to Ann")
    assert c.say("50") == ["utter_ask_confirmed"]
    assert c.say("/SetSlots(amount=60)") == [
        "utter_corrected_previous_input",
        "utter_ask_confirmed",
    ]
    assert c.slots["amount"] == 60.0


def test_cancel_flow_via_a_trigger_on_the_pattern(chat):
    flows = (
        FLOWS
        + """
  pattern_cancel_flow:
    description: cancel
    nlu_trigger: [{intent: cancel}]
    steps:
      - action: action_cancel_flow
      - action: utter_flow_cancelled_rasa
"""
    )
    c = chat(flows)
    c.say("send money")
    c.say("to Ann")
    assert c.say("stop") == ["utter_flow_cancelled_rasa"]
    assert c.texts() == ["Okay, I've stopped send money."]
    assert ("flow_cancelled", "transfer") in c.flow_events()
    assert c.stack == []
    assert c.slots["recipient"] is None


def test_cancel_without_an_active_flow_cannot_be_handled(chat):
    c = chat()
    assert c.say("/StartFlow(pattern_cancel_flow)") == ["utter_ask_rephrase"]


def test_cannot_handle_when_nothing_is_understood_then_the_question_is_asked_again(chat):
    c = chat()
    assert c.say("gibberish") == ["utter_ask_rephrase"]
    assert c.stack == []
    c.say("send money")
    assert c.say("meh") == ["utter_ask_rephrase", "utter_ask_recipient"]


def test_a_value_of_the_wrong_type_re_asks_without_cannot_handle(chat):
    c = chat()
    c.say("send money")
    c.say("to Ann")
    assert c.say("/SetSlots(amount=lots)") == ["utter_ask_amount"]


def test_internal_error_when_a_custom_action_fails_and_the_flow_continues(chat):
    flows = FLOWS.replace(
        "      - action: utter_balance",
        "      - action: action_fail\n      - action: utter_balance",
    )
    actions = RecordingActions({"action_fail": ActionError("down")})
    c = chat(flows, actions=actions)
    assert c.say("balance?") == [
        "utter_internal_error_rasa",
        "utter_balance",
        "utter_ask_continue_conversation",
    ]
    assert "action_fail" not in c.actions()


def test_chitchat_pattern_falls_back_to_cannot_handle(chat_factory):
    flows = (
        FLOWS
        + """
  pattern_chitchat:
    description: chitchat
    nlu_trigger: [{intent: chit}]
    steps:
      - action: action_trigger_chitchat
"""
    )
    c = chat_factory(DOMAIN, flows, {"how are you": ("chit", 0.9)})
    # Without Rasa's IntentlessPolicy, action_trigger_chitchat cannot answer (as in Rasa).
    assert c.say("how are you") == ["utter_cannot_handle"]
    assert c.texts() == ["I'm sorry, that's not something I can help with."]


def test_an_out_of_scope_trigger_on_pattern_cannot_handle(chat_factory):
    flows = (
        FLOWS
        + """
  pattern_cannot_handle:
    description: mine
    nlu_trigger: [{intent: {name: chit, confidence_threshold: 0.4}}]
    steps:
      - action: utter_too_much
"""
    )
    c = chat_factory(DOMAIN, flows, {"joke": ("chit", 0.5)})
    assert c.say("joke") == ["utter_too_much"]


def test_clarification_when_two_flows_are_close(chat_factory):
    flows = """
    flows:
      order_pizza:
        description: order food to eat
        steps:
          - action: utter_sent
      order_drink:
        description: order something to drink
        steps:
          - action: utter_balance
    """
    c = chat_factory(
        DOMAIN,
        flows,
        {},
        classifier=True,
        config="studio:\n  clarification_threshold: 0.2\n  clarification_margin: 0.5\n",
    )
    assert c.say("order") == ["utter_clarification_options_rasa"]
    assert c.texts()[0].startswith("I can help, but I need a little more information.")
    assert "Which of these would you like to do: order" in c.texts()[0]
    assert " or " in c.texts()[0]


def test_the_flow_classifier_starts_flows_without_triggers(chat_factory):
    flows = """
    flows:
      order_pizza:
        description: order a pizza with toppings for delivery
        steps:
          - action: utter_sent
      order_drink:
        description: order a cold drink like a soda or juice
        steps:
          - action: utter_balance
    """
    c = chat_factory(
        DOMAIN, flows, {}, classifier=True, config="studio:\n  flow_classifier_threshold: 0.5\n"
    )
    assert c.say("order a pizza with toppings") == ["utter_sent", "utter_ask_continue_conversation"]


def test_pattern_session_start_runs_when_overridden(chat):
    flows = (
        FLOWS
        + """
  pattern_session_start:
    description: start
    steps:
      - action: utter_balance
"""
    )
    c = chat(flows)
    assert c.say("balance?") == [
        "utter_balance",
        "utter_balance",
        "utter_ask_continue_conversation",
    ]
    kinds = [e["event"] for e in c.turn_events[:3]]
    assert kinds == ["action", "session_started", "stack"]


def test_a_value_filled_ahead_is_checked_by_the_rejections_when_its_collect_step_comes(chat):
    c = chat()
    c.say("send money")
    # The amount is filled ahead (it is collected after the recipient) ...
    assert c.say("500") == ["utter_ask_recipient"]
    assert c.slots["amount"] == 500
    # ... and rejected when its collect step is reached, as Rasa's pattern does.
    assert c.say("to Ann") == ["utter_too_much", "utter_ask_amount"]
    assert c.slots["amount"] is None
    assert c.say("50") == ["utter_sent", "utter_ask_continue_conversation"]
