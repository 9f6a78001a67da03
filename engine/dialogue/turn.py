"""What one turn records: the bot messages of a call (`Turn`) and the `Recorder`, which appends
Rasa events to the tracker with the model's metadata and folds stack changes into one ``stack``
event. Every stage of the processor writes through it."""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

from engine.dialogue.copying import json_copy
from engine.dialogue.stackpatch import diff
from engine.dialogue.tracker import ACTION_LISTEN, Tracker, now

__all__ = ["POLICY", "Command", "Listen", "Recorder", "Turn", "action_fields", "stamped"]

POLICY = "FlowPolicy"
_FRAME_LETTERS = string.ascii_uppercase

#: A command for the dialogue stack, as understanding produces it: ``{"command": "set slot",
#: "name": ..., "value": ...}``, ``{"command": "start flow", "flow": ...}``, ...
Command = dict[str, Any]


@dataclass
class Turn:
    """What one call produces: the bot messages (REST channel shape)."""

    sender_id: str
    channel: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)


class Listen(Exception):
    """The bot listens: the turn ends (raised by a step that runs ``action_listen``)."""


def stamped(event: dict[str, Any]) -> dict[str, Any]:
    """`event` with a timestamp: one that has none, or not a number (the Rasa SDK sends
    ``"timestamp": null`` for the events a custom action returns), is stamped now, when it is
    received, as Rasa does."""
    stamp = event.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        event["timestamp"] = now()
    return event


def action_fields(name: str) -> dict[str, Any]:
    """The fields of an ``action`` event for the action `name`, predicted by the flow policy."""
    return {
        "name": name,
        "policy": POLICY,
        "confidence": 1.0,
        "action_text": None,
        "hide_rule_turn": False,
    }


class Recorder:
    """Appends events to trackers; every event's metadata carries the model and assistant ids."""

    def __init__(self, model_id: str, assistant_id: str, seed: int | None = None) -> None:
        self.model_id = model_id
        self.assistant_id = assistant_id
        self._ids_only = {"model_id": model_id, "assistant_id": assistant_id}
        self._ids = random.Random(seed)
        #: The fields of the next ``action`` event, when the policies predicted it (set by the
        #: classic loop; used once, by the next `action` call for that action).
        self.predicted: dict[str, Any] | None = None

    def append(self, tracker: Tracker, event: dict[str, Any]) -> None:
        self.flush_stack(tracker)
        given = event.get("metadata")
        if given:
            metadata = dict(given)
            metadata.setdefault("model_id", self.model_id)
            metadata.setdefault("assistant_id", self.assistant_id)
            event["metadata"] = metadata
        else:
            # Appended events are never changed: those with no metadata of their own share one.
            event["metadata"] = self._shared_ids()
        tracker.append(event)

    def _shared_ids(self) -> dict[str, Any]:
        """``{"model_id", "assistant_id"}``, one dict while they stay the same."""
        ids = self._ids_only
        if ids["model_id"] != self.model_id or ids["assistant_id"] != self.assistant_id:
            ids = self._ids_only = {"model_id": self.model_id, "assistant_id": self.assistant_id}
        return ids

    def action(self, tracker: Tracker, name: str) -> None:
        """Record that the action `name` ran: as the policies predicted it when `predicted`
        names it, otherwise as the flow policy's step."""
        fields = action_fields(name)
        predicted = self.predicted
        if predicted is not None and predicted.get("name") == name:
            self.predicted = None
            fields = json_copy(predicted)
        self.append(tracker, {"event": "action", "timestamp": now(), **fields})

    def listen(self, tracker: Tracker) -> None:
        self.action(tracker, ACTION_LISTEN)

    def set_slot(
        self, tracker: Tracker, name: str, value: Any, filled_by: str | None = None
    ) -> None:
        event = {"event": "slot", "timestamp": now(), "name": name, "value": value}
        if filled_by:
            event["filled_by"] = filled_by
        self.append(tracker, event)

    def flow_event(self, tracker: Tracker, kind: str, frame: dict[str, Any]) -> None:
        event: dict[str, Any] = {"event": kind, "timestamp": now(), "flow_id": frame["flow_id"]}
        if kind != "flow_started":
            event["step_id"] = frame.get("step_id")
        self.append(tracker, event)

    def update_stack(self, tracker: Tracker, new_stack: list[dict[str, Any]]) -> None:
        """Change the stack; consecutive changes become one ``stack`` event (see flush_stack)."""
        if tracker.pending_stack_base is None:
            tracker.pending_stack_base = tracker.stack
        tracker.stack = new_stack

    def flush_stack(self, tracker: Tracker) -> None:
        """Record the stack changes since the last event as one ``stack`` event."""
        base = tracker.pending_stack_base
        if base is None:
            return
        tracker.pending_stack_base = None
        ops = diff(base, tracker.stack)
        if ops:
            event = {
                "event": "stack",
                "timestamp": now(),
                "update": json.dumps(ops),
                "metadata": self._shared_ids(),
            }
            tracker.events.append(event)  # the state already reflects it

    def frame_id(self) -> str:
        """A new frame id: eight capital letters (seeded, so tests are reproducible)."""
        return "".join(self._ids.choice(_FRAME_LETTERS) for _ in range(8))
