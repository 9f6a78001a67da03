"""Rasa's ``MemoizationPolicy`` and ``AugmentedMemoizationPolicy``: the stories remembered.

Training keeps, for every action of every story tracker (not augmented; rules are the
RulePolicy's), the last
`max_history` states before it as a key (the same key with two different actions is
forgotten). Prediction looks up the conversation's last `max_history` states and predicts the
remembered action with confidence 1.0 (or the latest intent's confidence with
``use_nlu_confidence_as_score``). ``max_history`` defaults to None, the whole conversation, as
in Rasa 3 (``max_history: 5`` is what most classic configurations set). The states leave out
the turns only rules know and the slots and loops only rules use, as Rasa's machine-learned
policies see them.

The augmented policy, when nothing matches, forgets the past: it keeps the last `max_history`
actions (from the ``action_listen`` before them), then drops the oldest events up to the next
action again and again until a remembered key matches, so a story is recalled even when
earlier turns set slots it does not mention.
"""

from __future__ import annotations

from typing import Any

from engine.policies.base import Conversation, PolicyPrediction, training_examples
from engine.policies.states import (
    ACTION_LISTEN,
    past_states,
    prediction_states,
    states_key,
)
from engine.policies.training import TrainingTracker

__all__ = ["AugmentedMemoizationPolicy", "MemoizationPolicy"]

MEMOIZATION_POLICY_PRIORITY = 3


class MemoizationPolicy:
    """See the module docstring. `config` is the policy's entry in config.yml."""

    name = "MemoizationPolicy"

    def __init__(self, config: dict[str, Any], spec: Any) -> None:
        self.config = config
        self.spec = spec
        self.priority = int(config.get("priority", MEMOIZATION_POLICY_PRIORITY))
        raw = config.get("max_history")
        self.max_history: int | None = int(raw) if raw else None
        self.use_nlu_confidence = bool(config.get("use_nlu_confidence_as_score", False))
        self.lookup: dict[str, str] = {}

    def train(self, trackers: list[TrainingTracker], warn: Any = None) -> None:
        originals = [t for t in trackers if not t.is_augmented and not t.is_rule]
        lookup: dict[str, str] = {}
        ambiguous: set[str] = set()
        for example in training_examples(originals, self.spec, self.max_history):
            key = example.key
            if key in ambiguous:
                continue
            if key in lookup and lookup[key] != example.action:
                ambiguous.add(key)
                del lookup[key]
            elif key not in lookup:
                lookup[key] = example.action
        self.lookup = lookup

    def _states(self, conversation: Conversation, events: list[dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
        if events is None:
            states = conversation.ml_states
        else:
            states = past_states(
                events,
                self.spec,
                ignore_rule_only_turns=True,
                rule_only_data=conversation.rule_only_data,
                already_applied=True,
            )
        return prediction_states(states, self.max_history)

    def recall(self, conversation: Conversation) -> str | None:
        states = self._states(conversation)
        if not states:
            return None
        return self.lookup.get(states_key(states))

    def predict(self, conversation: Conversation) -> PolicyPrediction:
        prediction = PolicyPrediction(self.name, self.priority)
        if conversation.routed_to_calm:
            return prediction
        action = self.recall(conversation)
        if action is not None:
            score = 1.0
            if self.use_nlu_confidence and conversation.replay.user_confidence is not None:
                score = conversation.replay.user_confidence
            prediction.probabilities = {action: score}
            prediction.source = "memorised story turn"
        return prediction

    def to_dict(self) -> dict[str, Any]:
        return {"lookup": self.lookup}

    @classmethod
    def from_dict(cls, config: dict[str, Any], spec: Any, data: dict[str, Any]) -> Any:
        policy = cls(config, spec)
        policy.lookup = dict(data.get("lookup", {}))
        return policy


class AugmentedMemoizationPolicy(MemoizationPolicy):
    """`MemoizationPolicy` that also forgets the oldest turns to find a match."""

    name = "AugmentedMemoizationPolicy"

    def recall(self, conversation: Conversation) -> str | None:
        found = super().recall(conversation)
        if found is not None:
            return found
        old = self._states(conversation)
        trimmed = _trim_by_max_history(conversation.applied, self.max_history)
        events = _from_action(trimmed, second=False)
        while events is not None:
            states = self._states(conversation, events)
            if states != old:
                found = self.lookup.get(states_key(states)) if states else None
                if found is not None:
                    return found
                old = states
            events = _from_action(events, second=True)
        return None


def _trim_by_max_history(
    events: list[dict[str, Any]], max_history: int | None
) -> list[dict[str, Any]]:
    """The events from the ``action_listen`` before the last `max_history` actions."""
    if not max_history:
        return events
    actions = 0
    for count, event in enumerate(reversed(events), start=1):
        if event.get("event") == "action":
            actions += 1
            if actions > max_history and event.get("name") == ACTION_LISTEN:
                return events[-count:]
    return events


def _from_action(events: list[dict[str, Any]], *, second: bool) -> list[dict[str, Any]] | None:
    """The events from the first action (`second`: from the second action) on."""
    indices = [i for i, e in enumerate(events) if e.get("event") == "action"][:2]
    wanted = 1 if second else 0
    if len(indices) <= wanted:
        return None
    rest = events[indices[wanted] :]
    return rest or None
