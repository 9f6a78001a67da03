"""MemoizationPolicy and AugmentedMemoizationPolicy: stories remembered within max_history."""

from __future__ import annotations

from engine.policies.base import Conversation
from engine.tests.policies.helpers import Tracker, action, listen, slot, start, train, user

STORIES = """
- story: greet then faq
  steps:
  - intent: greet
  - action: utter_greet
  - intent: faq
  - action: utter_faq
- story: faq alone
  steps:
  - intent: faq
  - action: utter_city
"""
GREETED_FAQ = [user("greet"), action("utter_greet"), listen(), user("faq")]


def memo(ensemble):
    return ensemble.policies[0]


def recall(ensemble, tracker):
    policy = memo(ensemble)
    return policy.predict(Conversation(tracker.events, ensemble.spec))


def test_a_story_turn_is_recalled_with_confidence_one():
    ensemble, _ = train(STORIES, policies="- name: MemoizationPolicy\n")
    prediction = ensemble.predict(start(*GREETED_FAQ))
    assert (prediction.action, prediction.confidence, prediction.policy) == (
        "utter_faq",
        1.0,
        "MemoizationPolicy",
    )
    assert ensemble.predict(start(user("faq"))).action == "utter_city"


def test_without_max_history_the_whole_conversation_must_match():
    ensemble, _ = train(STORIES, policies="- name: MemoizationPolicy\n")
    longer = start(user("thanks"), action("utter_thanks"), listen(), *GREETED_FAQ)
    assert recall(ensemble, longer).probabilities == {}


def test_max_history_keeps_only_the_latest_states():
    policies = "- name: MemoizationPolicy\n  max_history: 2\n"
    ensemble, _ = train(STORIES, policies=policies)
    assert memo(ensemble).max_history == 2
    longer = start(user("thanks"), action("utter_thanks"), listen(), *GREETED_FAQ)
    assert recall(ensemble, longer).probabilities == {"utter_faq": 1.0}
    # with one state only, "faq after greeting" and "faq alone" are the same key: forgotten
    short, _ = train(STORIES, policies="- name: MemoizationPolicy\n  max_history: 1\n")
    assert recall(short, start(*GREETED_FAQ)).probabilities == {}


def test_the_augmented_policy_forgets_old_turns_to_find_a_story():
    policies = "- name: AugmentedMemoizationPolicy\n  max_history: 5\n"
    ensemble, _ = train(STORIES, policies=policies)
    # a slot set before the conversation's first action, which no story mentions
    tracker = Tracker([slot("vip", True), listen(), *GREETED_FAQ])
    assert recall(ensemble, tracker).probabilities == {"utter_faq": 1.0}
    plain, _ = train(STORIES, policies="- name: MemoizationPolicy\n  max_history: 5\n")
    assert recall(plain, tracker).probabilities == {}


def test_use_nlu_confidence_as_score():
    policies = "- name: MemoizationPolicy\n  use_nlu_confidence_as_score: true\n"
    ensemble, _ = train(STORIES, policies=policies)
    tracker = start(user("faq", confidence=0.7))
    assert recall(ensemble, tracker).probabilities == {"utter_city": 0.7}
