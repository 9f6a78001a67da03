"""How the dialogue runs custom actions: a client protocol and its result types.

The HTTP implementation (the Rasa SDK action server protocol) lives with the server; tests and the
e2e runner use `NullActionClient`, which returns nothing for every action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ActionClient", "ActionError", "ActionResult", "NullActionClient"]


@dataclass
class ActionResult:
    """What a custom action returned.

    `events` are Rasa event dicts (``slot``, ``reset_slots``, ``followup``...); `responses` are
    the messages as the SDK returns them: ``{"text"...}``, ``{"response": "utter_x", ...}``,
    ``{"custom": {...}}``, ``{"buttons": [...]}``, ``{"image": "..."}``...
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


class ActionError(Exception):
    """A custom action failed (server unreachable, error status, rejected execution...)."""


class ActionClient(Protocol):
    """Runs custom actions. A client may set ``reads_state = False`` when its actions never
    look at the tracker and domain they are given (then the executor passes empty ones)."""

    def run(
        self, action_name: str, tracker: dict[str, Any], domain: dict[str, Any]
    ) -> ActionResult:
        """Run `action_name` with the tracker state (`Tracker.to_dict`) and the domain.

        Raises `ActionError` when the action cannot be run.
        """
        ...


class NullActionClient:
    """An action client whose actions do nothing (no events, no messages).

    A subclass whose `run` reads the tracker or the domain sets `reads_state` back to True.
    """

    #: Its actions never look at the tracker and domain (the executor sends empty ones).
    reads_state = False

    def run(
        self, action_name: str, tracker: dict[str, Any], domain: dict[str, Any]
    ) -> ActionResult:
        return ActionResult()
