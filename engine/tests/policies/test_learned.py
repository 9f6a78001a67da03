"""The learned policy (config.yml's TEDPolicy): it generalises past the stories, its
confidences are a distribution, training is deterministic."""

from __future__ import annotations

import pytest

from engine.policies.base import Conversation
from engine.tests.policies.helpers import action, listen, start, train, user

STORIES = """
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
- story: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
- story: faq
  steps:
  - intent: faq
  - action: utter_faq
- story: greet and faq
  steps:
  - intent: greet
  - action: utter_greet
  - intent: faq
  - action: utter_faq
"""
POLICIES = "- name: TEDPolicy\n  max_history: 3\n"


def learned(ensemble, tracker):
    policy = ensemble.policies[0]
    return policy.predict(Conversation(tracker.events, ensemble.spec))


def test_it_predicts_what_no_story_covers():
    ensemble, _ = train(STORIES, policies=POLICIES)
    # no story has goodbye after faq after thanks
    unseen = start(user("faq"), action("utter_faq"), listen(), user("goodbye"))
    prediction = ensemble.predict(unseen)
    assert (prediction.action, prediction.policy) == ("utter_goodbye", "TEDPolicy")
    after = ensemble.predict(start(user("goodbye"), action("utter_goodbye")))
    assert after.action == "action_listen"


def test_its_confidences_are_a_distribution_over_the_trained_actions():
    ensemble, _ = train(STORIES, policies=POLICIES)
    probabilities = learned(ensemble, start(user("greet"))).probabilities
    assert set(probabilities) == {"utter_greet", "utter_goodbye", "utter_faq", "action_listen"}
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert max(probabilities, key=probabilities.get) == "utter_greet"
    assert 0.0 < probabilities["utter_greet"] < 1.0


def test_training_is_deterministic(tmp_path):
    first, _ = train(STORIES, policies=POLICIES)
    second, _ = train(STORIES, policies=POLICIES)
    tracker = start(user("greet"), action("utter_greet"), listen(), user("goodbye"))
    assert learned(first, tracker).probabilities == learned(second, tracker).probabilities


def test_one_action_only_is_predicted_with_certainty():
    stories = """
    - story: only
      steps:
      - action: utter_welcome
    """
    # the first action is no label: the story only teaches to listen after it
    ensemble, _ = train(stories, policies=POLICIES)
    assert learned(ensemble, start(user("greet"))).probabilities == {"action_listen": 1.0}
