"""Rasa's ``RulePolicy``: rules remembered exactly, forms' happy paths, default actions and
the core fallback.

Training turns each rule tracker into keys: the states after the rule's ``...`` (the part of
the conversation the rule speaks about), each mapped to the action that follows. Prediction
keeps the rules whose states match the end of the conversation (a rule state matches when
every feature it names has the same value, ``should_not_be_set`` matching only an unset
feature; the first state of a ``conversation_start`` rule matches only the start), and takes
the longest. In order, as Rasa's ``RulePolicy._predict``:

1. a rule on the latest user text (end-to-end rules);
2. a default intent right after the user spoke: ``restart`` -> ``action_restart``,
   ``back`` -> ``action_back``, ``session_start`` -> ``action_session_start``;
3. an active loop that was not rejected: its action after any other action, ``action_listen``
   after it (a "no user" prediction, which beats every other policy);
4. a rule on the latest intent; with an active loop, a rule's ``action_listen`` from a rule
   that does not mention the loop becomes the loop's action again, unless a story or rule says
   that the loop is not to be run there; returning to a loop after its unhappy path asks for
   ``loop_interrupted``.

Without a rule, the prediction is ``core_fallback_action_name`` at ``core_fallback_threshold``
(with ``enable_fallback_prediction``): any other policy more confident than that wins.

Simplified from Rasa: a rule with more than one user turn (``restrict_rules``), an incomplete
rule and rules contradicting each other or the stories (``check_for_contradictions``) are
reported as warnings and training goes on, where Rasa stops training. Rules that no story
uses are still found, so that their turns are hidden from the other policies
(``hide_rule_turn``) as Rasa hides them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from engine.policies.base import (
    Conversation,
    GrowingConversation,
    PolicyPrediction,
    training_examples,
)
from engine.policies.states import (
    ACTION_LISTEN,
    ACTION_NAME,
    ACTIVE_LOOP,
    INTENT,
    LOOP_NAME,
    PREVIOUS_ACTION,
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    SLOTS,
    USER,
    Replay,
    State,
    StateSpec,
    active_loop_name,
    is_prev_action_listen,
    prediction_states,
)
from engine.policies.training import TrainingTracker

__all__ = ["DEFAULT_ACTION_MAPPINGS", "RulePolicy"]

DEFAULT_ACTION_MAPPINGS = {
    "restart": "action_restart",
    "back": "action_back",
    "session_start": "action_session_start",
}
DEFAULT_RULES = "predicting default action with intent "
LOOP_RULES = "handling active loops and forms - "
LOOP_RULES_SEPARATOR = " - "
LOOP_WAS_INTERRUPTED = "loop_was_interrupted"
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"
DEFAULT_FALLBACK_ACTION = "action_default_fallback"
RULE_POLICY_PRIORITY = 4

Warn = Callable[[str], None]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def feature_key(states: Sequence[State]) -> str | None:
    """The states after the last ``...`` as text, or None when nothing is left."""
    kept: list[State] = []
    for state in reversed(states):
        if state.get(PREVIOUS_ACTION, {}).get(ACTION_NAME) == RULE_SNIPPET_ACTION:
            break
        kept.insert(0, state)
    if not kept:
        return None
    return json.dumps(_plain(kept), sort_keys=True, ensure_ascii=False)


def _sub_state_matches(rule_sub: dict[str, Any], conversation_sub: dict[str, Any]) -> bool:
    for key, expected in rule_sub.items():
        actual = conversation_sub.get(key)
        if expected and expected != SHOULD_NOT_BE_SET and actual != expected:
            return False
        if expected == SHOULD_NOT_BE_SET and actual and actual != SHOULD_NOT_BE_SET:
            return False
    return True


def rule_state_matches(rule_state: State, state: State) -> bool:
    """Every feature the rule's state names has that value in the conversation's state."""
    return all(_sub_state_matches(sub, state.get(kind, {})) for kind, sub in rule_state.items())


class _Lookup:
    """Rule keys with their parsed states (latest first), indexed by the previous action and
    the intent of their latest state: a rule can only match a conversation whose latest
    state has the same previous action, and the same intent when the rule names one."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.reversed_states = {key: list(reversed(json.loads(key))) for key in table}
        self.index: dict[tuple[str, str | None], list[str]] = defaultdict(list)
        for key, states in self.reversed_states.items():
            self.index[_index_key(states[0])].append(key)

    def candidates(self, prev_action: dict[str, Any] | None, intent: str | None) -> list[str]:
        action = _action_key(prev_action)
        keys = list(self.index.get((action, intent), []))
        if intent is not None:
            keys += self.index.get((action, None), [])
        return keys

    def applicable(self, states: list[State]) -> list[str]:
        if not states:
            return []
        latest = states[-1]
        keys = self.candidates(latest.get(PREVIOUS_ACTION), latest.get(USER, {}).get(INTENT))
        for index, state in enumerate(reversed(states)):
            keys = [k for k in keys if self._applies(k, index, state)]
            if not keys or all(index >= len(self.reversed_states[k]) for k in keys):
                break
        return keys

    def _applies(self, key: str, index: int, state: State) -> bool:
        rule_states = self.reversed_states[key]
        if index >= len(rule_states):
            return True
        rule_state = rule_states[index]
        if not rule_state.get(PREVIOUS_ACTION) and not state.get(PREVIOUS_ACTION):
            return True
        if not rule_state.get(PREVIOUS_ACTION) or not state.get(PREVIOUS_ACTION):
            return False
        return rule_state_matches(rule_state, state)


def _action_key(prev_action: dict[str, Any] | None) -> str:
    return json.dumps(prev_action or None, sort_keys=True)


def _index_key(state: State) -> tuple[str, str | None]:
    return _action_key(state.get(PREVIOUS_ACTION)), state.get(USER, {}).get(INTENT)


class RulePolicy:
    """See the module docstring. `config` is the policy's entry in config.yml."""

    name = "RulePolicy"

    def __init__(self, config: dict[str, Any], spec: StateSpec) -> None:
        self.config = config
        self.spec = spec
        self.priority = int(config.get("priority", RULE_POLICY_PRIORITY))
        self.fallback_threshold = float(config.get("core_fallback_threshold", 0.3))
        self.fallback_action = str(
            config.get("core_fallback_action_name") or DEFAULT_FALLBACK_ACTION
        )
        self.enable_fallback = config.get("enable_fallback_prediction", True) is not False
        self.use_nlu_confidence = bool(config.get("use_nlu_confidence_as_score", False))
        self.rules: dict[str, str] = {}
        self.loop_unhappy: dict[str, str] = {}
        self.rule_only_slots: list[str] = []
        self.rule_only_loops: list[str] = []
        self.rules_not_in_stories: list[str] = []
        self._lookups: dict[str, _Lookup] = {}

    # -- training -------------------------------------------------------------------------

    def train(self, trackers: list[TrainingTracker], warn: Warn | None = None) -> None:
        report: Warn = warn or (lambda _line: None)
        trackers = [t for t in trackers if not t.is_augmented]
        rules = [t for t in trackers if t.is_rule]
        stories = [t for t in trackers if not t.is_rule]
        self._check_restriction(rules, report)
        self._check_rules_agree(rules, report)
        rule_examples = training_examples(rules, self.spec, None, omit_unset_slots=True)
        story_examples = training_examples(stories, self.spec, None)
        self.rules = {
            k: a for k, a in _lookup_from(rule_examples).items() if a != RULE_SNIPPET_ACTION
        }
        self.rule_only_slots, self.rule_only_loops = _rule_only(rule_examples, story_examples)
        self.loop_unhappy = _loop_unhappy_lookup(rule_examples + story_examples)
        self._lookups = {}
        self.rules_not_in_stories = self._analyse(rules, trackers, report)

    @staticmethod
    def _check_restriction(rules: list[TrainingTracker], warn: Warn) -> None:
        for tracker in rules:
            turns = sum(1 for e in tracker.events if e.get("event") == "user")
            if turns > 1:
                warn(
                    f"{tracker.source}: rule '{tracker.name}' has {turns} user messages; rules "
                    "are meant for one (Rasa refuses this rule: write a story instead)"
                )

    def _check_rules_agree(self, rules: list[TrainingTracker], warn: Warn) -> None:
        """Warns about rules that predict different actions after the same states: the lookup
        forgets such states, so none of those rules applies there."""
        actions: dict[str, dict[str, list[TrainingTracker]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for tracker in rules:
            for example in training_examples([tracker], self.spec, None, omit_unset_slots=True):
                key = feature_key(example.states)
                if key is not None and tracker not in actions[key][example.action]:
                    actions[key][example.action].append(tracker)
        for by_action in actions.values():
            if len(by_action) < 2:
                continue
            trackers = [t for group in by_action.values() for t in group]
            names = ", ".join(f"'{t.name}'" for t in trackers)
            predicted = ", ".join(f"'{action}'" for action in by_action)
            warn(
                f"{trackers[0].source}: the rules {names} contradict each other: after the same "
                f"conversation they predict {predicted}; none of them applies there (Rasa "
                "refuses these rules)"
            )

    def _analyse(
        self, rules: list[TrainingTracker], trackers: list[TrainingTracker], warn: Warn
    ) -> list[str]:
        """Which rules no story uses (their turns are hidden from the other policies); warns
        about rules and stories that contradict the rules."""
        sources: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for tracker, gold, predicted, source in self._replay(rules):
            if source is None:
                continue
            if source.startswith((DEFAULT_RULES, LOOP_RULES)):
                sources[source].append((source, predicted or gold))
            else:
                sources[source].append((tracker.name, gold))
        used: set[str] = set()
        reported: set[str] = set()
        for tracker, gold, predicted, source in self._replay(trackers):
            if source is None or predicted is None:
                continue
            if not tracker.is_rule and predicted == gold:
                used.add(source)
            if predicted == gold or (predicted == ACTION_LISTEN and not tracker.is_rule):
                continue
            rivals = sorted({name for name, action in sources.get(source, []) if action != gold})
            message = (
                f"{tracker.source}: the action '{gold}' in {'rule' if tracker.is_rule else 'story'}"
                f" '{tracker.name}' contradicts rule(s) '{', '.join(rivals)}'"
                f" which predict '{predicted}'"
            )
            if rivals and message not in reported:
                reported.add(message)
                warn(message)
        every = set(sources) | {DEFAULT_RULES + i for i in DEFAULT_ACTION_MAPPINGS}
        for form in self.spec.forms:
            every |= {LOOP_RULES + form, LOOP_RULES + form + LOOP_RULES_SEPARATOR + ACTION_LISTEN}
        return sorted(every - used)

    def _replay(self, trackers: list[TrainingTracker]):  # type: ignore[no-untyped-def]
        """(tracker, gold action, predicted action, prediction source) at every predictable
        action of the trackers where a rule could apply."""
        for tracker in trackers:
            done = GrowingConversation(self.spec)
            replay = Replay(self.spec)
            unpredictable = True
            for event in tracker.events:
                if event.get("event") == "action":
                    name = event.get("name")
                    skip = (
                        name == RULE_SNIPPET_ACTION or unpredictable or event.get("unpredictable")
                    )
                    unpredictable = name == RULE_SNIPPET_ACTION
                    if not skip and self._could_apply(replay):
                        gold = str(name or event.get("action_text") or "")
                        predicted, source = self._predicted_for_training(
                            done, gold, tracker.is_rule
                        )
                        yield tracker, gold, predicted, source
                done.add(event)
                replay.apply(event)

    def _could_apply(self, replay: Replay) -> bool:
        """Whether any rule, default action or loop could predict here (a quick check)."""
        if replay.active_loop is not None:
            return True
        listened = replay.latest_action_name == ACTION_LISTEN
        if listened and (replay.latest_intent or "") in DEFAULT_ACTION_MAPPINGS:
            return True
        intent = replay.user.get(INTENT)
        return bool(self._lookup("rules").candidates(replay.latest_action or None, intent))

    def _predicted_for_training(
        self, events: GrowingConversation, gold: str, is_rule: bool
    ) -> tuple[str | None, str | None]:
        conversation = events.conversation()
        prediction = self.predict(conversation)
        action = self._winner(prediction, is_rule)
        loop = conversation.active_loop
        if loop and action != gold and action == loop:  # as a form rejecting its turn would
            rejected = {"event": "action_execution_rejected", "name": loop}
            prediction = self.predict(events.conversation(rejected))
            action = self._winner(prediction, is_rule)
        return action, prediction.source

    def _winner(self, prediction: PolicyPrediction, is_rule: bool) -> str | None:
        """The predicted action; None when only the fallback is (stories only, as Rasa)."""
        if prediction.probabilities == self._default_probabilities() and not is_rule:
            return None
        return prediction.best(self.order())[0] or ACTION_LISTEN

    # -- prediction -----------------------------------------------------------------------

    def order(self) -> list[str]:
        return [ACTION_LISTEN, self.fallback_action, *self.spec.actions]

    def rule_only_data(self) -> dict[str, list[str]]:
        return {"slots": list(self.rule_only_slots), "loops": list(self.rule_only_loops)}

    def _lookup(self, name: str) -> _Lookup:
        if name not in self._lookups:
            self._lookups[name] = _Lookup(self.rules if name == "rules" else self.loop_unhappy)
        return self._lookups[name]

    def _default_probabilities(self) -> dict[str, float]:
        if self.enable_fallback:
            return {self.fallback_action: self.fallback_threshold}
        return {}

    def _result(self, action: str, conversation: Conversation) -> dict[str, float]:
        out = self._default_probabilities()
        score = 1.0
        if self.use_nlu_confidence:
            score = float(conversation.replay.user_confidence or 1.0)
        out[action] = score
        return out

    def _prediction(
        self,
        probabilities: dict[str, float],
        source: str | None,
        *,
        interrupted: bool = False,
        end_to_end: bool = False,
        no_user: bool = False,
    ) -> PolicyPrediction:
        return PolicyPrediction(
            policy=self.name,
            priority=self.priority,
            probabilities=probabilities,
            events=[{"event": "loop_interrupted", "is_interrupted": True}] if interrupted else [],
            is_end_to_end_prediction=end_to_end,
            is_no_user_prediction=no_user,
            hide_rule_turn=source is not None and source in self.rules_not_in_stories,
            source=source,
        )

    def predict(self, conversation: Conversation) -> PolicyPrediction:
        """The rule prediction for the conversation (see the module docstring)."""
        if conversation.routed_to_calm:
            return PolicyPrediction(self.name, self.priority)
        text_action, text_source, text_back = self._from_rules(conversation, use_text=True)
        default = self._default_action(conversation)
        if default is not None and not text_action:
            rule_key = DEFAULT_RULES + str(conversation.latest_intent)
            return self._prediction(self._result(default, conversation), rule_key)
        loop_action, loop_source = self._loop_happy_path(conversation)
        if loop_action is not None:
            return self._prediction(
                self._result(loop_action, conversation), loop_source, no_user=True
            )
        if text_action:
            return self._prediction(
                self._result(text_action, conversation),
                text_source,
                interrupted=text_back,
                end_to_end=True,
            )
        action, source, back = self._from_rules(conversation, use_text=False)
        probabilities = (
            self._result(action, conversation) if action else self._default_probabilities()
        )
        return self._prediction(probabilities, source, interrupted=text_back or back)

    @staticmethod
    def _default_action(conversation: Conversation) -> str | None:
        if conversation.latest_action_name != ACTION_LISTEN:
            return None
        return DEFAULT_ACTION_MAPPINGS.get(conversation.latest_intent or "")

    @staticmethod
    def _loop_happy_path(conversation: Conversation) -> tuple[str | None, str | None]:
        loop = conversation.active_loop
        if loop is None or conversation.replay.loop_rejected:
            return None, None
        latest = conversation.replay.latest_action
        if latest and latest.get(ACTION_NAME) != loop:
            return loop, LOOP_RULES + loop
        if conversation.latest_action_name == loop:
            return ACTION_LISTEN, f"{LOOP_RULES}{loop}{LOOP_RULES_SEPARATOR}{ACTION_LISTEN}"
        return None, None

    def _from_rules(
        self, conversation: Conversation, *, use_text: bool
    ) -> tuple[str | None, str | None, bool]:
        """(action or None, the matched rule's key, whether a loop is returned to)."""
        if use_text and (
            conversation.latest_action_name != ACTION_LISTEN or not conversation.replay.user_text
        ):
            return None, None, False
        states = _plain(prediction_states(conversation.states, None, use_text=use_text))
        keys = self._lookup("rules").applicable(states)
        action: str | None = None
        best = ""
        if keys:
            best = max(keys, key=lambda k: (len(k), k))
            action = self.rules[best]
        back = False
        loop = conversation.active_loop
        if loop:
            conditions = {self.loop_unhappy[k] for k in self._lookup("unhappy").applicable(states)}
            general_listen = action == ACTION_LISTEN and not active_loop_name(json.loads(best)[-1])
            if general_listen:
                if DO_NOT_PREDICT_LOOP_ACTION not in conditions:
                    return loop, best, back
                action = None
            back = LOOP_WAS_INTERRUPTED in conditions
        return action, best or feature_key(states), back

    # -- persistence ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": self.rules,
            "rules_for_loop_unhappy_path": self.loop_unhappy,
            "rule_only_slots": self.rule_only_slots,
            "rule_only_loops": self.rule_only_loops,
            "rules_not_in_stories": self.rules_not_in_stories,
        }

    @classmethod
    def from_dict(cls, config: dict[str, Any], spec: StateSpec, data: dict[str, Any]) -> RulePolicy:
        policy = cls(config, spec)
        policy.rules = dict(data.get("rules", {}))
        policy.loop_unhappy = dict(data.get("rules_for_loop_unhappy_path", {}))
        policy.rule_only_slots = list(data.get("rule_only_slots", []))
        policy.rule_only_loops = list(data.get("rule_only_loops", []))
        policy.rules_not_in_stories = list(data.get("rules_not_in_stories", []))
        return policy


def _lookup_from(examples: Sequence[Any]) -> dict[str, str]:
    """Key -> action; a key seen with two different actions is dropped (Rasa's
    ``_create_lookup_from_states``)."""
    lookup: dict[str, str] = {}
    ambiguous: set[str] = set()
    for example in examples:
        key = feature_key(example.states)
        if key is None or key in ambiguous:
            continue
        if key in lookup and lookup[key] != example.action:
            ambiguous.add(key)
            del lookup[key]
        elif key not in lookup:
            lookup[key] = example.action
    return lookup


def _slots_and_loops(examples: Sequence[Any]) -> tuple[set[str], set[str]]:
    slots: set[str] = set()
    loops: set[str] = set()
    for example in examples:
        for state in example.states:
            slots.update(state.get(SLOTS, {}))
            loop = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
            if loop:
                loops.add(loop)
    return slots, loops


def _rule_only(
    rule_examples: Sequence[Any], story_examples: Sequence[Any]
) -> tuple[list[str], list[str]]:
    rule_slots, rule_loops = _slots_and_loops(rule_examples)
    story_slots, story_loops = _slots_and_loops(story_examples)
    return (
        sorted(rule_slots - story_slots - {SHOULD_NOT_BE_SET}),
        sorted(rule_loops - story_loops - {SHOULD_NOT_BE_SET}),
    )


def _loop_unhappy_lookup(examples: Sequence[Any]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for example in examples:
        states = example.states
        loop = active_loop_name(states[-1])
        if not loop:
            continue
        if len(states) == 1 or not states[-2].get(PREVIOUS_ACTION):
            short = [states[-1]]
        else:
            short = [{PREVIOUS_ACTION: states[-2][PREVIOUS_ACTION]}, states[-1]]
        key = feature_key(short)
        if key is None:
            continue
        listen_before = is_prev_action_listen(short[-1])
        if listen_before and example.action == loop:
            lookup[key] = LOOP_WAS_INTERRUPTED
        elif not listen_before and example.action != loop:
            lookup[key] = DO_NOT_PREDICT_LOOP_ACTION
    return lookup
