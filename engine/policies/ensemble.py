"""The policy ensemble: config.yml's classic ``policies:`` trained together, and the choice of
the next action among their predictions, as Rasa's ``DefaultPolicyPredictionEnsemble``.

Each policy predicts a confidence per action. The winner is the prediction with the highest
confidence, ties going to the higher priority (RulePolicy 4, MemoizationPolicy and
AugmentedMemoizationPolicy 3, TEDPolicy 1, or the ``priority`` config.yml gives), after two
overrides: a "no user" prediction (an active form's happy path) beats every other, and an
end-to-end prediction (on the user's text) beats those on the intent. An action whose
execution was just rejected (``action_execution_rejected``) gets confidence 0 everywhere.
After a user message the prediction also asks for a ``user_featurization`` event saying
whether the text or the intent was read, as Rasa records it.

``FlowPolicy``, ``EnterpriseSearchPolicy`` and ``IntentlessPolicy`` are CALM's and ignored
here; ``UnexpecTEDIntentPolicy`` is skipped with a warning; any other name is a warning too.

Persisted as ``policies.json`` (the state spec, each policy's lookups) and one pickle file per
learned policy. Training is deterministic: the augmentation and the classifier are seeded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.formats import Project, load_stories
from engine.formats.defaults import CLASSIC_POLICIES
from engine.policies.base import Conversation, PolicyPrediction
from engine.policies.learned import LearnedPolicy
from engine.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from engine.policies.rule import DEFAULT_FALLBACK_ACTION, RulePolicy
from engine.policies.states import ACTION_LISTEN, StateSpec
from engine.policies.training import generate_trackers

__all__ = [
    "CALM_POLICIES",
    "CLASSIC_POLICIES",
    "DEFAULT_ACTIONS",
    "PolicyEnsemble",
    "PolicyError",
    "Prediction",
]

CALM_POLICIES = ("FlowPolicy", "EnterpriseSearchPolicy", "IntentlessPolicy")
#: Rasa's default actions, in Rasa's order (the order breaks ties between equal confidences).
DEFAULT_ACTIONS = (
    ACTION_LISTEN,
    "action_restart",
    "action_session_start",
    DEFAULT_FALLBACK_ACTION,
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_send_text",
    "action_back",
    "action_extract_slots",
)
POLICIES_FILE = "policies.json"
FORMAT_VERSION = 1
MAX_RANKING = 10

Progress = Callable[[str], None]


class PolicyError(Exception):
    """The stored policies cannot be loaded; the message says why."""


class _Policy(Protocol):
    name: str
    priority: int

    def train(self, trackers: list[Any], warn: Any = None) -> None: ...
    def predict(self, conversation: Conversation) -> PolicyPrediction: ...
    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class Prediction:
    """The ensemble's choice of the next action."""

    action: str
    confidence: float
    #: The winning policy as Rasa writes it into action events (``RulePolicy``...).
    policy: str
    #: Actions and confidences of the winning prediction, best first.
    ranking: list[tuple[str, float]]
    #: Every policy's own best guess: ``{"policy", "action", "confidence"}``.
    policies: list[dict[str, Any]]
    hide_rule_turn: bool = False
    #: Events the policies ask to apply before the action (``loop_interrupted``...).
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "confidence": self.confidence,
            "ranking": [
                {"action": action, "confidence": confidence}
                for action, confidence in self.ranking[:MAX_RANKING]
            ],
            "policies": [dict(p) for p in self.policies],
        }


def _build(name: str, config: dict[str, Any], spec: StateSpec) -> _Policy:
    if name == "RulePolicy":
        return RulePolicy(config, spec)
    if name == "MemoizationPolicy":
        return MemoizationPolicy(config, spec)
    if name == "AugmentedMemoizationPolicy":
        return AugmentedMemoizationPolicy(config, spec)
    return LearnedPolicy(config, spec, name)


class PolicyEnsemble:
    """The trained classic policies of one assistant (see the module docstring)."""

    def __init__(
        self,
        spec: StateSpec,
        policies: list[_Policy],
        names: list[str],
        stats: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.policies = policies
        #: The classic policies config.yml lists, in its order (skipped ones included).
        self.names = names
        self.stats: dict[str, Any] = dict(stats or {})
        self.order = list(dict.fromkeys([*DEFAULT_ACTIONS, *spec.actions]))

    @property
    def active(self) -> bool:
        """config.yml lists at least one classic policy."""
        return bool(self.names)

    @property
    def rule_policy(self) -> RulePolicy | None:
        return next((p for p in self.policies if isinstance(p, RulePolicy)), None)

    # -- training -------------------------------------------------------------------------

    @classmethod
    def train(cls, project: Project, progress: Progress | None = None) -> PolicyEnsemble:
        """Train config.yml's classic policies on the project's stories and rules."""
        say: Progress = progress or (lambda _line: None)

        def report(line: str) -> None:
            say(f"Warning: {line}")

        began = time.perf_counter()
        spec = StateSpec.from_domain(project.domain)
        names, policies = cls._configured(project, spec, report)
        data = load_stories(project.other_files)
        used = _actions_in(data)
        spec.actions = list(dict.fromkeys([*spec.actions, *sorted(used - set(spec.actions))]))
        stats: dict[str, Any] = {"stories": len(data.stories), "rules": len(data.rules)}
        if not policies:
            return cls(spec, [], names, {**stats, "trackers": 0, "seconds": 0.0})
        learned = any(isinstance(p, LearnedPolicy) for p in policies)
        trackers = generate_trackers(data, spec, augmentation=50 if learned else 0, warn=report)
        rule = next((p for p in policies if isinstance(p, RulePolicy)), None)
        if rule is not None:
            cls._check_fallback(rule, spec, report)
        for policy in policies:  # the RulePolicy first: the others use its rule-only data
            policy.train(trackers, report)
        stats["trackers"] = len(trackers)
        stats["seconds"] = round(time.perf_counter() - began, 3)
        return cls(spec, policies, names, stats)

    @staticmethod
    def _configured(
        project: Project, spec: StateSpec, report: Progress
    ) -> tuple[list[str], list[_Policy]]:
        entries = project.config.policies if project.config is not None else []
        names: list[str] = []
        policies: list[_Policy] = []
        for index, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or name in CALM_POLICIES:
                continue
            where = f"config.yml (policies.{index})"
            if name not in CLASSIC_POLICIES:
                report(f"{where}: the policy '{name}' is not known to the built-in engine; skipped")
                continue
            names.append(name)
            if name == "UnexpecTEDIntentPolicy":
                report(f"{where}: the built-in engine does not run UnexpecTEDIntentPolicy; skipped")
                continue
            policies.append(_build(name, dict(entry), spec))
        policies.sort(key=lambda p: not isinstance(p, RulePolicy))
        return names, policies

    @staticmethod
    def _check_fallback(rule: RulePolicy, spec: StateSpec, report: Progress) -> None:
        action = rule.fallback_action
        if action not in DEFAULT_ACTIONS and action not in spec.actions:
            report(
                "config.yml (RulePolicy.core_fallback_action_name): the fallback "
                f"action '{action}' is not in the domain"
            )

    # -- prediction -----------------------------------------------------------------------

    def predict(self, tracker: Any) -> Prediction:
        """The next action for the conversation in `tracker` (anything with ``events``)."""
        rule = self.rule_policy
        conversation = Conversation(
            tracker.events, self.spec, rule.rule_only_data() if rule is not None else None
        )
        predictions = [p.predict(conversation) for p in self.policies]
        rejected = conversation.rejected_action()
        if rejected:
            for prediction in predictions:
                if rejected in prediction.probabilities:
                    prediction.probabilities[rejected] = 0.0
        return self._combine(predictions, conversation)

    def _combine(
        self, predictions: list[PolicyPrediction], conversation: Conversation
    ) -> Prediction:
        guesses = []
        for prediction in predictions:
            action, confidence = prediction.best(self.order)
            guesses.append(
                {"policy": prediction.policy, "action": action, "confidence": confidence}
            )
        if not predictions:
            return Prediction(ACTION_LISTEN, 0.0, "", [(ACTION_LISTEN, 0.0)], [])
        winner, events = _pick_best(predictions)
        action, confidence = winner.best(self.order)
        action = action or ACTION_LISTEN
        if conversation.latest_action_name == ACTION_LISTEN:
            events.append(
                {
                    "event": "user_featurization",
                    "use_text_for_featurization": winner.is_end_to_end_prediction,
                }
            )
        return Prediction(
            action=action,
            confidence=confidence,
            policy=winner.policy,
            ranking=self._ranking(winner, action, confidence),
            policies=guesses,
            hide_rule_turn=winner.hide_rule_turn,
            events=events,
        )

    def _ranking(
        self, winner: PolicyPrediction, action: str, confidence: float
    ) -> list[tuple[str, float]]:
        rank = {name: i for i, name in enumerate(self.order)}
        scored = [(a, c) for a, c in winner.probabilities.items() if c > 0]
        scored.sort(key=lambda item: (-item[1], rank.get(item[0], len(rank)), item[0]))
        return scored[:MAX_RANKING] or [(action, confidence)]

    # -- persistence ----------------------------------------------------------------------

    def persist(self, directory: str | Path) -> None:
        """Write the ensemble into `directory` (which must exist)."""
        target = Path(directory)
        stored = []
        for index, policy in enumerate(self.policies):
            entry: dict[str, Any] = {
                "name": policy.name,
                "config": getattr(policy, "config", {}),
                "data": policy.to_dict(),
            }
            if isinstance(policy, LearnedPolicy):
                entry["data"]["model_file"] = policy.persist(target, index)
            stored.append(entry)
        document = {
            "format_version": FORMAT_VERSION,
            "names": self.names,
            "spec": self.spec.to_dict(),
            "policies": stored,
            "stats": self.stats,
        }
        (target / POLICIES_FILE).write_text(
            json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: str | Path) -> PolicyEnsemble:
        source = Path(directory)
        try:
            document = json.loads((source / POLICIES_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicyError(
                f"{source / POLICIES_FILE}: cannot read the policies ({exc})"
            ) from exc
        if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
            raise PolicyError(f"{source / POLICIES_FILE}: not a policies file of this engine")
        spec = StateSpec.from_dict(document.get("spec") or {})
        policies: list[_Policy] = []
        for entry in document.get("policies", []):
            name, config, data = entry["name"], entry.get("config") or {}, entry.get("data") or {}
            if name == "RulePolicy":
                policies.append(RulePolicy.from_dict(config, spec, data))
            elif name == "MemoizationPolicy":
                policies.append(MemoizationPolicy.from_dict(config, spec, data))
            elif name == "AugmentedMemoizationPolicy":
                policies.append(AugmentedMemoizationPolicy.from_dict(config, spec, data))
            else:
                policies.append(LearnedPolicy.from_dict(config, spec, data, name, source))
        return cls(spec, policies, list(document.get("names", [])), document.get("stats"))


def _pick_best(
    predictions: list[PolicyPrediction],
) -> tuple[PolicyPrediction, list[dict[str, Any]]]:
    """Rasa's ``_pick_best_policy``: the winner, and every prediction's events."""
    no_user = any(p.is_no_user_prediction for p in predictions)
    end_to_end = any(p.is_end_to_end_prediction for p in predictions)
    events: list[dict[str, Any]] = []
    best: PolicyPrediction | None = None
    best_score = (-1.0, -1)
    for prediction in predictions:
        events.extend(prediction.events)
        if prediction.is_no_user_prediction != no_user:
            continue
        if not no_user and prediction.is_end_to_end_prediction != end_to_end:
            continue
        score = (prediction.max_confidence, prediction.priority)
        if score > best_score:
            best, best_score = prediction, score
    assert best is not None  # at least one prediction has each flag's value
    return best, events


def _actions_in(data: Any) -> set[str]:
    names = set()
    for block in [*data.stories, *data.rules]:
        for ref in block.references:
            if ref.kind in ("action", "form"):
                names.add(ref.name)
    return names
