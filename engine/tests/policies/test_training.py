"""Training data: trackers from stories (checkpoints, ``or``) and rules (conditions, ``...``),
and augmentation."""

from __future__ import annotations

from engine.formats import load_stories
from engine.policies.states import RULE_SNIPPET_ACTION, SHOULD_NOT_BE_SET, StateSpec
from engine.policies.training import augment, generate_trackers, rule_trackers, story_trackers
from engine.tests.policies.helpers import project

STORIES = """
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
  - checkpoint: greeted
- story: then faq or goodbye
  steps:
  - checkpoint: greeted
  - or:
    - intent: faq
    - intent: goodbye
  - action: utter_faq
- story: city
  steps:
  - intent: inform
    entities:
    - city: Paris
  - action: utter_city
"""

RULES = """
- rule: vip greeting
  condition:
  - slot_was_set:
    - vip: true
  - active_loop: null
  steps:
  - intent: greet
  - action: utter_vip
  wait_for_user_input: false
- rule: first greeting
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_first
"""


def data():
    loaded = project(STORIES, RULES)
    return load_stories(loaded.other_files), StateSpec.from_domain(loaded.domain)


def names(events):
    return [
        (e["event"], e.get("name") or e.get("parse_data", {}).get("intent", {}).get("name"))
        for e in events
    ]


def test_checkpoints_join_and_or_steps_fork():
    stories, spec = data()
    trackers = story_trackers(stories.stories, spec)
    joined = [t for t in trackers if t.name == "greet > then faq or goodbye"]
    assert len(joined) == 2
    intents = sorted(names(t.events)[4][1] for t in joined)
    assert intents == ["faq", "goodbye"]
    first = joined[0]
    assert names(first.events)[:3] == [
        ("action", "action_listen"),
        ("user", "greet"),
        ("action", "utter_greet"),
    ]
    assert first.events[-1] == {"event": "action", "name": "action_listen"}
    # a part that starts with a checkpoint is not a conversation of its own
    assert not any(t.name == "then faq or goodbye" for t in trackers)


def test_a_story_entity_sets_its_from_entity_slot():
    stories, spec = data()
    city = next(t for t in story_trackers(stories.stories, spec) if t.name == "city")
    assert {"event": "slot", "name": "city", "value": "Paris"} in city.events


def test_the_first_action_of_a_story_before_any_user_turn_is_not_a_label():
    loaded = project("""
    - story: bot speaks first
      steps:
      - action: utter_welcome
      - intent: greet
      - action: utter_greet
    """)
    spec = StateSpec.from_domain(loaded.domain)
    tracker = story_trackers(load_stories(loaded.other_files).stories, spec)[0]
    assert tracker.events[0] == {"event": "action", "name": "utter_welcome", "unpredictable": True}
    assert not any(e.get("unpredictable") for e in tracker.events[1:])
    stories, spec = data()
    assert not any(
        e.get("unpredictable") for t in story_trackers(stories.stories, spec) for e in t.events
    )


def test_rule_trackers_hold_conditions_snippets_and_should_not_be_set():
    stories, spec = data()
    by_name = {t.name: t for t in rule_trackers(stories.rules, spec)}
    vip = by_name["vip greeting"].events
    assert vip[0] == {"event": "slot", "name": "vip", "value": True}
    assert vip[1] == {"event": "active_loop", "name": SHOULD_NOT_BE_SET}
    assert vip[2]["name"] == RULE_SNIPPET_ACTION  # `...` before the rule's steps
    # wait_for_user_input: false: `...` follows the rule's last action
    assert [e.get("name") for e in vip[-3:]] == ["utter_vip", RULE_SNIPPET_ACTION, "action_listen"]
    first = by_name["first greeting"].events
    assert RULE_SNIPPET_ACTION not in [e.get("name") for e in first[:2]]
    assert first[-1] == {"event": "action", "name": "action_listen"}
    assert all(t.is_rule for t in by_name.values())


def test_augmentation_glues_stories_deterministically_and_only_stories():
    stories, spec = data()
    trackers = generate_trackers(stories, spec, augmentation=1)
    augmented = [t for t in trackers if t.is_augmented]
    plain = [t for t in trackers if not t.is_augmented and not t.is_rule]
    assert len(augmented) == min(10, 10 * len(plain))
    for tracker in augmented:
        first_name, second_name = tracker.name.split(" + ")
        # the first story without its final action_listen, then the second
        assert any(
            tracker.events == first.events[:-1] + second.events
            for first in plain
            if first.name == first_name
            for second in plain
            if second.name == second_name
        )
    again = generate_trackers(stories, spec, augmentation=1)
    assert [t.events for t in again] == [t.events for t in trackers]
    assert augment([t for t in trackers if t.is_rule], 5) == []
    assert not any(t.is_augmented for t in generate_trackers(stories, spec, augmentation=0))
