"""One conversation: its Rasa events, and the state derived from them.

The state (slots, dialogue stack, latest message and action...) is updated incrementally as each
event is appended, so serving a turn never replays the whole history; `Tracker.from_events`
replays once when a conversation is loaded from storage.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from engine.dialogue.stackpatch import apply_patch

if TYPE_CHECKING:
    from engine.dialogue.model import DialogueModel

__all__ = ["Tracker", "now"]

ACTION_LISTEN = "action_listen"


def now() -> float:
    return time.time()


class Tracker:
    """A conversation's events (Rasa event dicts, in order) and its derived state.

    Attributes derived from the events: `slots` (name -> value), `stack` (the dialogue stack
    frames, bottom first), `latest_message` (the last user event's parse data),
    `latest_action` / `latest_action_name`, `latest_input_channel`, `followup_action`,
    `paused`, `active_loop`.
    """

    def __init__(self, sender_id: str, initial_slots: dict[str, Any] | None = None) -> None:
        self.sender_id = sender_id
        self.events: list[dict[str, Any]] = []
        self.initial_slots: dict[str, Any] = dict(initial_slots or {})
        #: The stack before changes not yet recorded as a ``stack`` event (processor use).
        self.pending_stack_base: list[dict[str, Any]] | None = None
        self._reset_state()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_events(
        cls,
        sender_id: str,
        events: Iterable[dict[str, Any]],
        model: DialogueModel | None = None,
    ) -> Tracker:
        """Replay `events` (e.g. from a tracker store) into a new tracker."""
        tracker = cls(sender_id, model.initial_slots() if model is not None else None)
        for event in events:
            tracker.append(event)
        return tracker

    def _reset_state(self) -> None:
        self.slots: dict[str, Any] = copy.deepcopy(self.initial_slots)
        self.stack: list[dict[str, Any]] = []
        self.latest_message: dict[str, Any] = {
            "intent": {},
            "entities": [],
            "text": None,
            "message_id": None,
            "metadata": {},
        }
        self.latest_action: dict[str, Any] = {}
        self.latest_input_channel: str | None = None
        self.followup_action: str | None = ACTION_LISTEN
        self.paused = False
        self.active_loop: dict[str, Any] = {}

    # -- events -------------------------------------------------------------------------------

    def append(self, event: dict[str, Any]) -> None:
        """Add one event and update the derived state."""
        self.events.append(event)
        self.apply(event)

    def apply(self, event: dict[str, Any]) -> None:
        """Update the derived state for `event` (which is not added to `events`)."""
        kind = event.get("event")
        if kind == "slot":
            # A slot event names its slot (validate_events requires it; the engine writes it).
            self.slots[cast(str, event.get("name"))] = copy.deepcopy(event.get("value"))
        elif kind == "stack":
            update = event.get("update")
            ops = json.loads(update) if isinstance(update, str) else update or []
            self.stack = apply_patch(self.stack, ops)
        elif kind == "user":
            parse = copy.deepcopy(event.get("parse_data") or {})
            parse.setdefault("text", event.get("text"))
            parse["message_id"] = event.get("message_id")
            parse["metadata"] = event.get("metadata") or {}
            self.latest_message = parse
            self.latest_input_channel = event.get("input_channel")
            self.followup_action = None
        elif kind == "action":
            self.latest_action = {"action_name": event.get("name")}
            if event.get("action_text"):
                self.latest_action = {"action_text": event.get("action_text")}
            self.followup_action = None
        elif kind in ("restart", "session_started"):
            self._reset_state()
        elif kind == "reset_slots":
            self.slots = copy.deepcopy(self.initial_slots)
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "followup":
            self.followup_action = event.get("name")
        elif kind == "active_loop":
            name = event.get("name")
            self.active_loop = {"name": name} if name else {}

    # -- queries ------------------------------------------------------------------------------

    @property
    def latest_action_name(self) -> str | None:
        return self.latest_action.get("action_name")

    @property
    def latest_event_time(self) -> float | None:
        return self.events[-1].get("timestamp") if self.events else None

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)

    def has_session(self) -> bool:
        """Whether a session was started (any ``session_started`` since the last restart)."""
        for event in reversed(self.events):
            kind = event.get("event")
            if kind == "session_started":
                return True
            if kind == "restart":
                return False
        return False

    def events_after_restart(self) -> list[dict[str, Any]]:
        for index in range(len(self.events) - 1, -1, -1):
            if self.events[index].get("event") == "restart":
                return self.events[index:]
        return list(self.events)

    def active_flow_ids(self) -> list[str]:
        """Ids of the user flows on the stack, bottom first."""
        return [f["flow_id"] for f in self.stack if f.get("type") == "flow"]

    def top_user_frame(self) -> dict[str, Any] | None:
        frame: dict[str, Any]
        for frame in reversed(self.stack):
            if frame.get("type") == "flow":
                return frame
        return None

    def requested_slot(self) -> str | None:
        """The slot the topmost collect pattern frame asks for, if any."""
        for frame in reversed(self.stack):
            if frame.get("type") == "pattern_collect_information":
                return cast("str | None", frame.get("collect"))
        return None

    def to_dict(self, include_events: str = "AFTER_RESTART") -> dict[str, Any]:
        """The tracker as Rasa's ``GET /conversations/{id}/tracker`` returns it.

        `include_events` is ``ALL``, ``AFTER_RESTART`` (Rasa's default), ``APPLIED`` (treated
        like ``AFTER_RESTART``) or ``NONE``.
        """
        mode = include_events.upper()
        if mode == "ALL":
            events: list[dict[str, Any]] | None = list(self.events)
        elif mode == "NONE":
            events = None
        else:
            events = self.events_after_restart()
        return {
            "sender_id": self.sender_id,
            "slots": copy.deepcopy(self.slots),
            "latest_message": copy.deepcopy(self.latest_message),
            "latest_event_time": self.latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": copy.deepcopy(events) if events is not None else None,
            "latest_input_channel": self.latest_input_channel,
            "active_loop": dict(self.active_loop),
            "latest_action": dict(self.latest_action),
            "latest_action_name": self.latest_action_name,
            "stack": copy.deepcopy(self.stack),
        }
