"""One conversation: its Rasa events, and the state derived from them.

The state (slots, dialogue stack, latest message and action...) is updated incrementally as each
event is appended, so serving a turn never replays the whole history; `Tracker.from_events`
replays once when a conversation is loaded from storage.

Each event changes the state as it does in Rasa (`rasa/shared/core/events.py`):

* ``active_loop`` activates a form (``{"name", "is_interrupted", "rejected",
  "trigger_message"}``) or, with ``name: null``, deactivates it; ``loop_interrupted`` marks
  the active loop interrupted; ``action_execution_rejected`` of the active loop marks it
  rejected; an ``action`` event clears the interruption, and the loop's own action clears
  the rejection.
* ``rewind`` (Rasa's ``UserUtteranceReverted``) takes back the latest user message and
  everything after it, with the ``action_listen`` before it; ``undo`` (``ActionReverted``)
  takes back the latest action and what followed it. Both rebuild the state from
  `applied_events`, as Rasa replays them.
* ``followup`` names the action to run next; ``reminder``, ``cancel_reminder`` and
  ``user_featurization`` are recorded and change no state.
* ``restart`` and ``session_started`` start over; ``routing_session_ended`` (coexistence)
  resets everything but the slots marked ``shared_for_coexistence``.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from engine.dialogue.copying import ATOMIC, json_copy
from engine.dialogue.stackpatch import apply_patch

if TYPE_CHECKING:
    from engine.dialogue.model import DialogueModel

__all__ = ["ACTION_LISTEN", "REQUESTED_SLOT", "Tracker", "now"]

ACTION_LISTEN = "action_listen"
#: The slot a form asks for (Rasa's ``requested_slot``).
REQUESTED_SLOT = "requested_slot"
#: Events after which the derived state is rebuilt from the applied events.
_REVERTING = frozenset({"rewind", "undo"})


def now() -> float:
    return time.time()


class Tracker:
    """A conversation's events (Rasa event dicts, in order) and its derived state.

    Attributes derived from the events: `slots` (name -> value), `stack` (the dialogue stack
    frames, bottom first), `latest_message` (the last user event's parse data),
    `latest_action` / `latest_action_name`, `latest_input_channel`, `followup_action`,
    `paused`, `active_loop`.
    """

    def __init__(
        self,
        sender_id: str,
        initial_slots: Mapping[str, Any] | None = None,
        shared_slots: Iterable[str] = (),
    ) -> None:
        self.sender_id = sender_id
        self.events: list[dict[str, Any]] = []
        # The model's read-only initial values are shared by all its conversations.
        self.initial_slots: Mapping[str, Any] = (
            initial_slots
            if isinstance(initial_slots, MappingProxyType)
            else dict(initial_slots or {})
        )
        #: Slots a coexistence reset (``routing_session_ended``) keeps.
        self.shared_slots: frozenset[str] = frozenset(shared_slots)
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
        if model is not None:
            tracker = cls(sender_id, model.frozen_initial_slots(), model.shared_slots())
        else:
            tracker = cls(sender_id)
        for event in events:
            tracker.append(event)
        return tracker

    def _reset_state(self) -> None:
        self.slots: dict[str, Any] = self._initial_slot_values()
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

    def _initial_slot_values(self) -> dict[str, Any]:
        """A copy of the initial slot values (most are None or a number: shared as they are)."""
        return {k: v if type(v) in ATOMIC else json_copy(v) for k, v in self.initial_slots.items()}

    # -- events -------------------------------------------------------------------------------

    def append(self, event: dict[str, Any]) -> None:
        """Add one event and update the derived state."""
        self.events.append(event)
        self.apply(event)

    def apply(self, event: dict[str, Any]) -> None:
        """Update the derived state for `event` (which is not added to `events`)."""
        if event.get("event") in _REVERTING:
            self._replay()
        else:
            self._apply_without_revert(event)

    def _apply_state_event(self, kind: Any, event: dict[str, Any]) -> None:
        if kind == "slot":
            # A slot event names its slot (validate_events requires it; the engine writes it).
            self.slots[cast(str, event.get("name"))] = json_copy(event.get("value"))
        elif kind == "stack":
            update = event.get("update")
            ops = json.loads(update) if isinstance(update, str) else update or []
            self.stack = apply_patch(self.stack, ops)
        elif kind == "user":
            parse = json_copy(event.get("parse_data") or {})
            parse.setdefault("text", event.get("text"))
            parse["message_id"] = event.get("message_id")
            parse["metadata"] = event.get("metadata") or {}
            self.latest_message = parse
            self.latest_input_channel = event.get("input_channel")
            self.followup_action = None
        elif kind == "action":
            self._apply_action(event)
        elif kind in ("restart", "session_started"):
            self._reset_state()
        elif kind == "reset_slots":
            self.slots = self._initial_slot_values()
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "followup":
            self.followup_action = event.get("name")

    def _apply_action(self, event: dict[str, Any]) -> None:
        self.latest_action = {"action_name": event.get("name")}
        if event.get("action_text"):
            self.latest_action = {"action_text": event.get("action_text")}
        self.followup_action = None
        if self.active_loop:
            self.active_loop["is_interrupted"] = False
            if event.get("name") == self.active_loop.get("name"):
                self.active_loop["rejected"] = False

    def _apply_loop_event(self, kind: Any, event: dict[str, Any]) -> None:
        if kind == "active_loop":
            name = event.get("name")
            self.active_loop = (
                {
                    "name": name,
                    "is_interrupted": False,
                    "rejected": False,
                    "trigger_message": json_copy(self.latest_message),
                }
                if name
                else {}
            )
        elif kind == "loop_interrupted":
            if self.active_loop:
                self.active_loop["is_interrupted"] = bool(event.get("is_interrupted", False))
        elif (
            kind == "action_execution_rejected"
            and self.active_loop
            and event.get("name") == self.active_loop.get("name")
        ):
            self.active_loop["rejected"] = True

    def _replay(self) -> None:
        """Rebuild the state from the applied events (after a ``rewind`` or ``undo``)."""
        self._reset_state()
        for event in self.applied_events():
            self._apply_without_revert(event)

    def _apply_without_revert(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind in _LOOP_EVENTS:
            self._apply_loop_event(kind, event)
        elif kind == "routing_session_ended":
            kept = {k: v for k, v in self.slots.items() if k in self.shared_slots}
            self._reset_state()
            self.slots.update(kept)
        else:
            self._apply_state_event(kind, event)

    def applied_events(self) -> list[dict[str, Any]]:
        """The events that make the current state, as Rasa's ``applied_events``: from the
        latest restart or session start, without what ``rewind`` and ``undo`` took back."""
        applied: list[dict[str, Any]] = []
        for event in self.events:
            kind = event.get("event")
            if kind in ("restart", "session_started"):
                applied = []
            elif kind == "undo":
                _undo_till(applied, "action")
            elif kind == "rewind":
                _undo_till(applied, "user")
                _undo_till(applied, "action")
            else:
                applied.append(event)
        return applied

    def copy(self) -> Tracker:
        """A tracker with the same events and state, for trying events out (the events
        themselves are shared: appended events are never changed)."""
        other = copy.copy(self)
        other.events = list(self.events)
        other.slots = json_copy(self.slots)
        other.stack = json_copy(self.stack)
        other.active_loop = json_copy(self.active_loop)
        other.latest_message = json_copy(self.latest_message)
        other.latest_action = dict(self.latest_action)
        other.pending_stack_base = None
        return other

    # -- queries ------------------------------------------------------------------------------

    @property
    def latest_action_name(self) -> str | None:
        return self.latest_action.get("action_name")

    @property
    def active_loop_name(self) -> str | None:
        return self.active_loop.get("name") or None

    @property
    def is_active_loop_interrupted(self) -> bool:
        return bool(self.active_loop.get("is_interrupted"))

    @property
    def is_active_loop_rejected(self) -> bool:
        return bool(self.active_loop.get("rejected"))

    def has_bot_message_after_latest_user_message(self) -> bool:
        for event in reversed(self.events):
            kind = event.get("event")
            if kind == "bot":
                return True
            if kind in ("user", "restart", "session_started"):
                return False
        return False

    def last_user_event(self) -> dict[str, Any] | None:
        """The latest ``user`` event still applied (none after a restart)."""
        found: dict[str, Any]
        for found in reversed(self.applied_events()):
            if found.get("event") == "user":
                return found
        return None

    def is_session_expired(self, expiration_minutes: float, at: float | None = None) -> bool:
        """Whether the session expired: the latest user message is more than
        `expiration_minutes` old (never when it is 0 or there is no user message), as Rasa's
        ``session_expiration_time``."""
        if expiration_minutes <= 0:
            return False
        for event in reversed(self.events):
            if event.get("event") == "user":
                stamp = event.get("timestamp")
                if isinstance(stamp, bool) or not isinstance(stamp, int | float):
                    return False
                return (now() if at is None else at) > stamp + expiration_minutes * 60
        return False

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
        """The slot being asked for: the topmost collect pattern frame's (or validate slot
        pattern frame's, asking again), else, while a form is active, the ``requested_slot``
        slot."""
        for frame in reversed(self.stack):
            if frame.get("type") == "pattern_collect_information":
                return cast("str | None", frame.get("collect"))
            if frame.get("type") == "pattern_validate_slot":
                return cast("str | None", frame.get("validate"))
        if self.active_loop:
            value = self.slots.get(REQUESTED_SLOT)
            return value if isinstance(value, str) else None
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
            "slots": json_copy(self.slots),
            "latest_message": json_copy(self.latest_message),
            "latest_event_time": self.latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": json_copy(events) if events is not None else None,
            "latest_input_channel": self.latest_input_channel,
            "active_loop": json_copy(self.active_loop),
            "latest_action": dict(self.latest_action),
            "latest_action_name": self.latest_action_name,
            "stack": json_copy(self.stack),
        }


_LOOP_EVENTS = frozenset({"active_loop", "loop_interrupted", "action_execution_rejected"})


def _undo_till(events: list[dict[str, Any]], kind: str) -> None:
    """Remove events from the end of `events` up to and including the last of `kind`."""
    while events:
        if events.pop().get("event") == kind:
            return
