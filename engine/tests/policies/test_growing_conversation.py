"""The training analysis' incremental conversation gives what a fresh `Conversation` of each
prefix gives, undo, rewind, restarts and loops' folded happy paths included."""

from __future__ import annotations

import random

from engine.policies.base import Conversation, GrowingConversation
from engine.policies.states import StateSpec
from engine.tests.policies.helpers import action, listen, loop, project, slot, user

POOL = [
    listen(),
    action("booking_form"),
    action("utter_greet"),
    user("greet"),
    user("inform", {"city": "Oslo"}),
    slot("city", "Oslo"),
    slot("vip", True),
    loop("booking_form"),
    loop(None),
    {"event": "undo"},
    {"event": "rewind"},
    {"event": "restart"},
    {"event": "session_started"},
    {"event": "action_execution_rejected", "name": "booking_form"},
    {"event": "loop_interrupted", "is_interrupted": True},
    {"event": "followup", "name": "utter_greet"},
]
REJECTED = {"event": "action_execution_rejected", "name": "booking_form"}


def same(a: Conversation, b: Conversation) -> bool:
    return a.applied == b.applied and a.states == b.states and vars(a.replay) == vars(b.replay)


def test_every_prefix_matches_a_fresh_conversation():
    spec = StateSpec.from_domain(project().domain)
    rng = random.Random(7)
    folded = 0
    for _ in range(400):
        events = [dict(rng.choice(POOL)) for _ in range(rng.randint(1, 20))]
        growing = GrowingConversation(spec)
        for index, event in enumerate(events):
            growing.add(event)
            prefix = events[: index + 1]
            assert same(growing.conversation(), Conversation(prefix, spec)), prefix
            assert same(growing.conversation(REJECTED), Conversation([*prefix, REJECTED], spec))
            folded += len(growing.conversation().applied) < len(prefix)
    assert folded  # the sequences did exercise undo/restart/loop folding


def test_a_loops_happy_path_folds_as_the_tracker_does():
    spec = StateSpec.from_domain(project().domain)
    events = [
        listen(),
        user("book"),
        action("booking_form"),
        loop("booking_form"),
        listen(),
        user("inform", {"city": "Oslo"}),
        slot("city", "Oslo"),
        action("booking_form"),
    ]
    growing = GrowingConversation(spec)
    for event in events:
        growing.add(event)
    conversation = growing.conversation()
    assert [s.get("prev_action") for s in conversation.states] == [
        None,
        {"action_name": "action_listen"},
        {"action_name": "booking_form"},
    ]
    assert conversation.replay.slots["city"] == "Oslo"
