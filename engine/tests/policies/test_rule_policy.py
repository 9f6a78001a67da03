"""RulePolicy on its own: conditions, conversation_start, wait_for_user_input, the core
fallback, default actions, forms' happy path, contradictions."""

from __future__ import annotations

from engine.tests.policies.helpers import action, listen, loop, slot, start, train, user

RULES = """
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: vip greeting
  condition:
  - slot_was_set:
    - vip: true
  steps:
  - intent: greet
  - action: utter_vip
- rule: say goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""


def rule_prediction(ensemble, tracker):
    policy = ensemble.rule_policy
    from engine.policies.base import Conversation

    return policy.predict(Conversation(tracker.events, ensemble.spec, policy.rule_only_data()))


def test_a_rule_predicts_its_action_with_confidence_one():
    ensemble, _ = train(rules=RULES)
    prediction = ensemble.predict(start(user("goodbye")))
    assert (prediction.action, prediction.confidence, prediction.policy) == (
        "utter_goodbye",
        1.0,
        "RulePolicy",
    )
    # after the rule's action, the rule says listen
    after = ensemble.predict(start(user("goodbye"), action("utter_goodbye")))
    assert after.action == "action_listen"


def test_a_slot_condition_picks_the_more_specific_rule():
    ensemble, _ = train(rules=RULES)
    assert ensemble.predict(start(user("greet"))).action == "utter_greet"
    assert ensemble.predict(start(slot("vip", True), user("greet"))).action == "utter_vip"
    assert ensemble.predict(start(slot("vip", False), user("greet"))).action == "utter_greet"


def test_an_active_loop_null_condition_needs_no_active_loop():
    rules = """
    - rule: faq outside forms
      condition:
      - active_loop: null
      steps:
      - intent: faq
      - action: utter_faq
    """
    ensemble, _ = train(rules=rules)
    assert ensemble.predict(start(user("faq"))).action == "utter_faq"
    in_form = start(
        user("book"), action("booking_form"), loop("booking_form"), listen(), user("faq")
    )
    prediction = rule_prediction(ensemble, in_form)
    assert prediction.probabilities.get("utter_faq", 0.0) == 0.0


def test_conversation_start_rules_only_match_at_the_start():
    rules = """
    - rule: first greeting
      conversation_start: true
      steps:
      - intent: greet
      - action: utter_first
    - rule: later greeting
      steps:
      - intent: greet
      - action: utter_second
    """
    ensemble, _ = train(rules=rules)
    assert ensemble.predict(start(user("greet"))).action == "utter_first"
    later = start(user("greet"), action("utter_first"), listen(), user("greet"))
    assert ensemble.predict(later).action == "utter_second"


def test_wait_for_user_input_false_lets_the_rule_go_on():
    rules = """
    - rule: greet and carry on
      steps:
      - intent: greet
      - action: utter_greet
      wait_for_user_input: false
    - rule: after greeting
      steps:
      - action: utter_greet
      - action: utter_faq
    """
    ensemble, _ = train(rules=rules)
    after = rule_prediction(ensemble, start(user("greet"), action("utter_greet")))
    assert after.best(ensemble.order)[0] == "utter_faq"

    waiting, _ = train(rules=RULES)
    assert waiting.predict(start(user("greet"), action("utter_greet"))).action == "action_listen"


def test_no_rule_gives_the_core_fallback_at_its_threshold():
    policies = """
    - name: RulePolicy
      core_fallback_threshold: 0.4
      core_fallback_action_name: utter_plain
    """
    ensemble, _ = train(rules=RULES, policies=policies)
    prediction = ensemble.predict(start(user("faq")))
    assert (prediction.action, prediction.confidence) == ("utter_plain", 0.4)
    default, _ = train(rules=RULES)
    assert default.predict(start(user("faq"))).action == "action_default_fallback"
    assert default.predict(start(user("faq"))).confidence == 0.3


def test_enable_fallback_prediction_false_predicts_nothing_without_a_rule():
    policies = """
    - name: RulePolicy
      enable_fallback_prediction: false
    """
    ensemble, _ = train(rules=RULES, policies=policies)
    assert rule_prediction(ensemble, start(user("faq"))).probabilities == {}
    # a rule still predicts, without the fallback beside it
    assert rule_prediction(ensemble, start(user("greet"))).probabilities == {"utter_greet": 1.0}


def test_an_unknown_fallback_action_is_a_warning():
    policies = """
    - name: RulePolicy
      core_fallback_action_name: utter_nowhere
    """
    _, warnings = train(rules=RULES, policies=policies)
    assert any("utter_nowhere" in w and "not in the domain" in w for w in warnings)


def test_default_intents_run_default_actions():
    ensemble, _ = train(rules=RULES)
    assert ensemble.predict(start(user("restart"))).action == "action_restart"
    assert ensemble.predict(start(user("back"))).action == "action_back"


def test_an_active_form_runs_its_happy_path_before_any_other_policy():
    ensemble, _ = train(rules=RULES)
    events = [user("book"), action("booking_form"), loop("booking_form"), listen()]
    prediction = ensemble.predict(start(*events, user("inform", {"city": "Rome"})))
    assert (prediction.action, prediction.policy) == ("booking_form", "RulePolicy")
    asked = ensemble.predict(start(*events[:3]))
    assert asked.action == "action_listen"
    # the form rejected its turn: no happy path, the rules decide
    rejected = start(
        *events, user("goodbye"), {"event": "action_execution_rejected", "name": "booking_form"}
    )
    assert ensemble.predict(rejected).action == "utter_goodbye"


def test_contradicting_rules_are_reported_as_warnings_and_training_goes_on():
    rules = """
    - rule: one
      steps:
      - intent: thanks
      - action: utter_thanks
    - rule: other
      steps:
      - intent: thanks
      - action: utter_goodbye
    """
    ensemble, warnings = train(rules=rules)
    assert warnings == [
        "Warning: data/rules.yml:4: the rules 'one', 'other' contradict each other: after the "
        "same conversation they predict 'utter_thanks', 'utter_goodbye'; none of them applies "
        "there (Rasa refuses these rules)"
    ]
    # the ambiguous key is forgotten: nothing is predicted from it
    assert ensemble.predict(start(user("thanks"))).action == "action_default_fallback"


def test_a_story_contradicting_a_rule_is_a_warning():
    stories = """
    - story: greeted then plain goodbye
      steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
      - action: utter_plain
    """
    ensemble, warnings = train(stories=stories, rules=RULES)
    assert (
        "Warning: data/stories.yml:4: the action 'utter_plain' in story 'greeted then plain "
        "goodbye' contradicts rule(s) 'say goodbye' which predict 'utter_goodbye'"
    ) in warnings
    assert ensemble.predict(start(user("goodbye"))).action == "utter_goodbye"


def test_a_rule_with_two_user_turns_is_a_warning():
    rules = """
    - rule: long
      steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
      - action: utter_goodbye
    """
    _, warnings = train(rules=rules)
    assert any("'long' has 2 user messages" in w for w in warnings)
