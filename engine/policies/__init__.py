"""Rasa's classic dialogue policies for the built-in engine: rules, memorised stories, a small
learned policy, forms' happy paths and the core fallback, trained from config.yml's
``policies:`` and the project's stories and rules.

Typical use::

    from engine.policies import PolicyEnsemble

    ensemble = PolicyEnsemble.train(project, progress=print)  # project: engine.formats.Project
    ensemble.persist(directory)
    ensemble = PolicyEnsemble.load(directory)
    prediction = ensemble.predict(tracker)  # anything with Rasa ``events``
    prediction.action, prediction.confidence, prediction.policy, prediction.as_metadata()

Imports nothing of the rest of the engine but `engine.formats`.
"""

from engine.policies.ensemble import (
    CALM_POLICIES,
    CLASSIC_POLICIES,
    DEFAULT_ACTIONS,
    PolicyEnsemble,
    PolicyError,
    Prediction,
)
from engine.policies.states import StateSpec, past_states

__all__ = [
    "CALM_POLICIES",
    "CLASSIC_POLICIES",
    "DEFAULT_ACTIONS",
    "PolicyEnsemble",
    "PolicyError",
    "Prediction",
    "StateSpec",
    "past_states",
]
