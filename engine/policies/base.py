"""What every policy shares: the conversation as the policies see it, one policy's
prediction, and training examples (states -> next action) from training trackers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from engine.policies.states import (
    ROUTE_TO_CALM_SLOT,
    Replay,
    State,
    StateSpec,
    applied_events,
    fold_event,
    past_states,
    remove_user_text_if_intent,
    shared_slots,
    state_key,
    states_key,
)
from engine.policies.training import TrainingTracker

__all__ = ["Conversation", "GrowingConversation", "PolicyPrediction", "training_examples"]


class Conversation:
    """A live tracker's events, replayed once for all policies of one prediction."""

    def __init__(
        self,
        events: Sequence[dict[str, Any]],
        spec: StateSpec,
        rule_only_data: dict[str, list[str]] | None = None,
    ) -> None:
        self.events = list(events)
        self.spec = spec
        self.rule_only_data = rule_only_data or {}
        self.applied = applied_events(self.events, spec)
        self.replay: Replay = _final_replay(self.applied, spec)

    @cached_property
    def states(self) -> list[State]:
        """Every state, rule turns included (the RulePolicy's view)."""
        return past_states(self.applied, self.spec, already_applied=True)

    @cached_property
    def ml_states(self) -> list[State]:
        """The states without the turns only rules know (the other policies' view)."""
        return past_states(
            self.applied,
            self.spec,
            ignore_rule_only_turns=True,
            rule_only_data=self.rule_only_data,
            already_applied=True,
        )

    @property
    def latest_action_name(self) -> str | None:
        return self.replay.latest_action_name

    @property
    def active_loop(self) -> str | None:
        loop = self.replay.active_loop
        return None if loop is None or loop == "should_not_be_set" else loop

    @property
    def latest_intent(self) -> str | None:
        return self.replay.latest_intent

    @property
    def routed_to_calm(self) -> bool:
        """The coexistence router sent this session to CALM: classic policies abstain."""
        return self.replay.slots.get(ROUTE_TO_CALM_SLOT) is True

    def rejected_action(self) -> str | None:
        """The action whose execution was rejected, when that is the latest action event."""
        for event in reversed(self.events):
            kind = event.get("event")
            if kind == "action_execution_rejected":
                return str(event.get("name"))
            if kind == "action":
                return None
        return None


class GrowingConversation:
    """A training tracker's events added one by one, with the `Conversation` of every prefix
    at the cost of the new event (replaying from the start only when an event changes the
    applied events other than by adding itself: an undo, a loop's folded happy path...).
    `conversation()` is what ``Conversation(events, spec)`` gives for the events so far."""

    def __init__(self, spec: StateSpec) -> None:
        self.spec = spec
        self.events: list[dict[str, Any]] = []
        self._loops: set[Any] = set()
        self._shared = shared_slots(spec)
        self._applied: list[dict[str, Any]] = []
        self._replay = Replay(spec)
        #: The state before each applied action.
        self._prior: list[State] = []

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        name = event.get("name")
        if event.get("event") == "active_loop" and name and name not in self._loops:
            self._loops.add(name)  # earlier loop executions may fold differently now
            self._rebuild()
            return
        before, size = self._applied, len(self._applied)
        after = fold_event(self._applied, event, self._loops, self._shared)
        if after is before and len(after) == size + 1 and after[-1] is event:
            if event.get("event") == "action":
                self._prior.append(self._replay.state())
            self._replay.apply(event)
        else:
            self._applied = after
            self._rebuild(refold=False)

    def _rebuild(self, refold: bool = True) -> None:
        if refold:
            self._applied = []
            for event in self.events:
                self._applied = fold_event(self._applied, event, self._loops, self._shared)
        self._replay = Replay(self.spec)
        self._prior = []
        for event in self._applied:
            if event.get("event") == "action":
                self._prior.append(self._replay.state())
            self._replay.apply(event)

    def conversation(self, extra: dict[str, Any] | None = None) -> Conversation:
        """The conversation of the events so far, and `extra` when given (an event that adds
        itself to the applied events, such as ``action_execution_rejected``)."""
        conversation = Conversation.__new__(Conversation)
        conversation.spec = self.spec
        conversation.rule_only_data = {}
        replay = self._replay
        conversation.events = list(self.events)
        conversation.applied = list(self._applied)
        if extra is not None:
            replay = replay.copy()
            replay.apply(extra)
            conversation.events.append(extra)
            conversation.applied.append(extra)
        conversation.replay = replay
        conversation.__dict__["states"] = [*self._prior, replay.state()]
        return conversation


def _final_replay(events: Iterable[dict[str, Any]], spec: StateSpec) -> Replay:
    replay = Replay(spec)
    for event in events:
        replay.apply(event)
    return replay


@dataclass
class PolicyPrediction:
    """One policy's prediction: a confidence per action (absent: 0.0)."""

    policy: str
    priority: int
    probabilities: dict[str, float] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    is_end_to_end_prediction: bool = False
    is_no_user_prediction: bool = False
    hide_rule_turn: bool = False
    #: What the inspector shows about how the policy decided (the matched rule...).
    source: str | None = None

    def best(self, order: Sequence[str]) -> tuple[str | None, float]:
        """The most confident action (ties: the first in `order`, as Rasa's argmax over the
        domain's actions), or ``(None, 0.0)`` when every confidence is 0."""
        best_action: str | None = None
        best_confidence = 0.0
        rank = {name: i for i, name in enumerate(order)}
        for action, confidence in sorted(
            self.probabilities.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])
        ):
            if confidence > best_confidence:
                best_action, best_confidence = action, confidence
        return best_action, best_confidence

    @property
    def max_confidence(self) -> float:
        return max(self.probabilities.values(), default=0.0)


@dataclass
class Example:
    states: list[State]
    action: str
    #: `states_key` of `states`.
    key: str


def training_examples(
    trackers: Iterable[TrainingTracker],
    spec: StateSpec,
    max_history: int | None,
    *,
    omit_unset_slots: bool = False,
    remove_duplicates: bool = True,
) -> list[Example]:
    """(states, next action) for every predictable action of the trackers, the states cut to
    the last `max_history` (Rasa's ``MaxHistoryTrackerFeaturizer``)."""
    out: list[Example] = []
    seen: set[tuple[str, str]] = set()
    for tracker in trackers:
        events = applied_events(tracker.events, spec)
        states = past_states(events, spec, omit_unset_slots=omit_unset_slots, already_applied=True)
        remove_user_text_if_intent(states)
        keys = [state_key(s) for s in states]
        index = 0
        for event in events:
            if event.get("event") != "action":
                continue
            index += 1
            label = event.get("name") or event.get("action_text")
            if event.get("unpredictable") or not label:
                continue
            start = max(0, index - max_history) if max_history else 0
            key = states_key([], keys[start:index])
            if remove_duplicates:
                if (key, str(label)) in seen:
                    continue
                seen.add((key, str(label)))
            out.append(Example(states[start:index], str(label), key))
    return out
