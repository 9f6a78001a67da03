"""The ensemble: Rasa's priority order (rules over memoization over the learned policy),
ties, skipped policies, and the round trip through the model archive."""

from __future__ import annotations

from engine.archive import load_model
from engine.policies import PolicyEnsemble
from engine.policies.base import PolicyPrediction
from engine.policies.ensemble import _pick_best
from engine.tests.policies.helpers import action, listen, project, project_files, start, train, user
from engine.train import train_project

STORIES = """
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
- story: faq
  steps:
  - intent: faq
  - action: utter_faq
- story: goodbye in a story
  steps:
  - intent: goodbye
  - action: utter_plain
"""
RULES = """
- rule: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""
ALL = """
- name: RulePolicy
- name: MemoizationPolicy
- name: TEDPolicy
  max_history: 3
"""


def test_the_policies_are_trained_rule_policy_first_and_listed_by_name():
    policies = "- name: TEDPolicy\n- name: RulePolicy\n- name: MemoizationPolicy\n"
    ensemble, _ = train(STORIES, RULES, policies=policies)
    assert ensemble.policies[0].name == "RulePolicy"
    assert ensemble.names == ["TEDPolicy", "RulePolicy", "MemoizationPolicy"]


def test_a_rule_beats_a_story_with_the_same_confidence():
    ensemble, warnings = train(STORIES, RULES, policies=ALL)
    assert any("contradicts rule(s) 'goodbye'" in w for w in warnings)
    prediction = ensemble.predict(start(user("goodbye")))
    assert (prediction.action, prediction.policy) == ("utter_goodbye", "RulePolicy")
    guesses = {g["policy"]: g["action"] for g in prediction.policies}
    assert guesses["MemoizationPolicy"] == "utter_plain"


def test_memoization_beats_the_learned_policy_and_the_fallback():
    ensemble, _ = train(STORIES, RULES, policies=ALL)
    prediction = ensemble.predict(start(user("faq")))
    assert (prediction.action, prediction.confidence, prediction.policy) == (
        "utter_faq",
        1.0,
        "MemoizationPolicy",
    )


def test_the_learned_policy_wins_where_it_is_more_confident_than_the_fallback():
    ensemble, _ = train(STORIES, RULES, policies=ALL)
    unseen = start(user("faq"), action("utter_faq"), listen(), user("greet"))
    prediction = ensemble.predict(unseen)
    assert (prediction.action, prediction.policy) == ("utter_greet", "TEDPolicy")
    assert prediction.confidence > 0.3
    strict, _ = train(
        STORIES,
        RULES,
        policies=ALL.replace(
            "- name: RulePolicy", "- name: RulePolicy\n  core_fallback_threshold: 0.9999"
        ),
    )
    fallback = strict.predict(unseen)
    assert (fallback.action, fallback.policy) == ("action_default_fallback", "RulePolicy")


def test_ties_go_to_the_higher_priority_and_higher_confidence_wins():
    low = PolicyPrediction("Low", 1, {"a": 0.8})
    high = PolicyPrediction("High", 3, {"b": 0.8})
    assert _pick_best([low, high])[0] is high
    assert _pick_best([high, low])[0] is high
    confident = PolicyPrediction("Low", 1, {"a": 0.9})
    assert _pick_best([confident, high])[0] is confident


def test_a_no_user_prediction_beats_every_other_and_end_to_end_beats_intents():
    rules = PolicyPrediction("RulePolicy", 4, {"form": 0.5}, is_no_user_prediction=True)
    memo = PolicyPrediction("MemoizationPolicy", 3, {"x": 1.0})
    assert _pick_best([memo, rules])[0] is rules
    e2e = PolicyPrediction("RulePolicy", 4, {"y": 0.4}, is_end_to_end_prediction=True)
    assert _pick_best([memo, e2e])[0] is e2e


def test_a_rejected_action_gets_no_confidence():
    ensemble, _ = train(STORIES, RULES, policies=ALL)
    rejected = start(
        user("goodbye"), {"event": "action_execution_rejected", "name": "utter_goodbye"}
    )
    assert ensemble.predict(rejected).action != "utter_goodbye"


def test_unknown_and_unsupported_policies_are_warnings_and_skipped():
    policies = """
    - name: MadeUpPolicy
    - name: UnexpecTEDIntentPolicy
    - name: FlowPolicy
    - name: RulePolicy
    """
    ensemble, warnings = train(STORIES, RULES, policies=policies)
    assert [p.name for p in ensemble.policies] == ["RulePolicy"]
    assert (
        "Warning: config.yml (policies.0): the policy 'MadeUpPolicy' is not known to the "
        "built-in engine; skipped"
    ) in warnings
    assert any("policies.1" in w and "UnexpecTEDIntentPolicy" in w for w in warnings)
    assert not any("FlowPolicy" in w for w in warnings)
    assert ensemble.predict(start(user("goodbye"))).action == "utter_goodbye"


TRACKERS = [
    start(user("goodbye")),
    start(user("faq")),
    start(user("faq"), action("utter_faq"), listen(), user("greet")),
    start(user("greet"), action("utter_greet")),
    start(user("thanks")),
]


def test_persist_and_load_predict_the_same(tmp_path):
    ensemble, _ = train(STORIES, RULES, policies=ALL)
    ensemble.persist(tmp_path)
    loaded = PolicyEnsemble.load(tmp_path)
    assert [p.name for p in loaded.policies] == [p.name for p in ensemble.policies]
    for tracker in TRACKERS:
        assert loaded.predict(tracker) == ensemble.predict(tracker)


def test_the_model_archive_carries_the_policies(tmp_path):
    source = project(STORIES, RULES, ALL)
    folder = tmp_path / "assistant"
    for path, text in project_files(STORIES, RULES, ALL).items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    archive = train_project(folder, tmp_path / "models", fixed_model_name="m")
    model = load_model(archive.path)
    trained = PolicyEnsemble.train(source)
    assert model.policies is not None
    for tracker in TRACKERS:
        assert model.policies.predict(tracker) == trained.predict(tracker)
