"""The learned policy: what config.yml's ``TEDPolicy`` runs as in the built-in engine.

Rasa's TED is a transformer over the dialogue history; here a small scikit-learn classifier
(logistic regression, one-vs-rest, fitted by stochastic gradient descent) reads the last
`max_history` states (5 when config.yml sets none) as one sparse vector: for each position
back from the latest state, the intent, the entities, the previous action, the active loop and
the influencing slots' features. Trained on
the story trackers and the augmented ones (stories following each other), never on rules, as
TED; predictions are confidences over every action it was trained on. Training is seeded, so
the same data gives the same model.

Its states leave out the turns only rules know, like the other machine-learned policies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import SGDClassifier

from engine import pickled
from engine.policies.base import Conversation, PolicyPrediction, training_examples
from engine.policies.states import (
    ACTION_NAME,
    ACTION_TEXT,
    ACTIVE_LOOP,
    ENTITIES,
    INTENT,
    LOOP_NAME,
    PREVIOUS_ACTION,
    SHOULD_NOT_BE_SET,
    SLOTS,
    TEXT,
    USER,
    State,
    StateSpec,
    prediction_states,
)
from engine.policies.training import TrainingTracker

__all__ = ["LearnedPolicy", "state_features"]

DEFAULT_POLICY_PRIORITY = 1
DEFAULT_WINDOW = 5
MODEL_FILE = "learned.joblib"
#: Epochs and L2 regularisation of the classifier: a few epochs of stochastic gradient
#: descent fit story data in a fraction of a second.
EPOCHS = 15
ALPHA = 1e-4


def _user_features(prefix: str, state: State, out: dict[str, float]) -> None:
    user = state.get(USER, {})
    if user.get(INTENT):
        out[f"{prefix}intent={user[INTENT]}"] = 1.0
    elif user.get(TEXT):
        out[f"{prefix}text={user[TEXT]}"] = 1.0
    for entity in user.get(ENTITIES, ()):
        out[f"{prefix}entity={entity}"] = 1.0


def _slot_features(prefix: str, state: State, out: dict[str, float]) -> None:
    for slot, features in state.get(SLOTS, {}).items():
        if features == SHOULD_NOT_BE_SET:
            continue
        for index, value in enumerate(features):
            if value:
                out[f"{prefix}slot={slot}_{index}"] = float(value)


def state_features(states: list[State]) -> dict[str, float]:
    """The sparse features of a window of states (position 0 is the latest state)."""
    out: dict[str, float] = {}
    for position, state in enumerate(reversed(states)):
        prefix = f"{position}:"
        _user_features(prefix, state, out)
        action = state.get(PREVIOUS_ACTION, {})
        if action.get(ACTION_NAME):
            out[f"{prefix}prev={action[ACTION_NAME]}"] = 1.0
        elif action.get(ACTION_TEXT):
            out[f"{prefix}bot={action[ACTION_TEXT]}"] = 1.0
        loop = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
        if loop and loop != SHOULD_NOT_BE_SET:
            out[f"{prefix}loop={loop}"] = 1.0
        _slot_features(prefix, state, out)
    if not out:
        out["empty"] = 1.0
    return out


class LearnedPolicy:
    """See the module docstring. `name` is how config.yml names it (``TEDPolicy``)."""

    def __init__(self, config: dict[str, Any], spec: StateSpec, name: str = "TEDPolicy") -> None:
        self.config = config
        self.spec = spec
        self.name = name
        self.priority = int(config.get("priority", DEFAULT_POLICY_PRIORITY))
        raw = config.get("max_history")
        self.window = int(raw) if raw else DEFAULT_WINDOW
        self.vectorizer: DictVectorizer | None = None
        self.classifier: SGDClassifier | None = None
        #: The one action, when training saw no other.
        self.only_action: str | None = None
        self.examples = 0

    def train(self, trackers: list[TrainingTracker], warn: Any = None) -> None:
        stories = [t for t in trackers if not t.is_rule]
        examples = training_examples(stories, self.spec, self.window)
        self.examples = len(examples)
        self.vectorizer = self.classifier = self.only_action = None
        labels = [e.action for e in examples]
        if not labels:
            return
        if len(set(labels)) == 1:
            self.only_action = labels[0]
            return
        self.vectorizer = DictVectorizer()
        matrix = self.vectorizer.fit_transform([state_features(e.states) for e in examples])
        matrix.indices = matrix.indices.astype(np.int32)  # what SGD accepts
        matrix.indptr = matrix.indptr.astype(np.int32)
        self.classifier = SGDClassifier(
            loss="log_loss", alpha=ALPHA, max_iter=EPOCHS, tol=None, random_state=0
        )
        self.classifier.fit(matrix, labels)

    def probabilities(self, states: list[State]) -> dict[str, float]:
        if self.only_action is not None:
            return {self.only_action: 1.0}
        if self.vectorizer is None or self.classifier is None:
            return {}
        window = prediction_states(states, self.window)
        matrix = self.vectorizer.transform([state_features(window)])
        matrix.indices = matrix.indices.astype(np.int32)
        matrix.indptr = matrix.indptr.astype(np.int32)
        row = self.classifier.predict_proba(matrix)[0]
        return {str(c): float(p) for c, p in zip(self.classifier.classes_, row, strict=True)}

    def predict(self, conversation: Conversation) -> PolicyPrediction:
        prediction = PolicyPrediction(self.name, self.priority)
        if conversation.routed_to_calm:
            return prediction
        prediction.probabilities = self.probabilities(conversation.ml_states)
        if prediction.probabilities:
            prediction.source = "learned from the stories"
        return prediction

    # -- persistence ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"only_action": self.only_action, "examples": self.examples, "window": self.window}

    def persist(self, directory: Path, index: int) -> str | None:
        if self.classifier is None:
            return None
        name = f"{index}-{MODEL_FILE}"
        pickled.dump(
            {"vectorizer": self.vectorizer, "classifier": self.classifier}, directory / name
        )
        return name

    @classmethod
    def from_dict(
        cls,
        config: dict[str, Any],
        spec: StateSpec,
        data: dict[str, Any],
        name: str,
        directory: Path,
    ) -> LearnedPolicy:
        policy = cls(config, spec, name)
        policy.only_action = data.get("only_action")
        policy.examples = int(data.get("examples", 0))
        model_file = data.get("model_file")
        if model_file:
            loaded = pickled.load(directory / str(model_file))
            policy.vectorizer = loaded["vectorizer"]
            policy.classifier = loaded["classifier"]
        return policy
