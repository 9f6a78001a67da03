"""Applying commands to the dialogue stack.

`FlowStack` holds the stack operations (push a flow or a pattern, end the top frame, cancel the
active flow, reset a finished flow's slots), each recording its events; `CommandApplier` applies
one turn's commands with them, one method per command kind, in a fixed order: cancellations,
slots (a changed answer becomes a correction), flow starts, the correction, then patterns.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.dialogue.model import START, CompiledFlow, DialogueModel
from engine.dialogue.slots import INVALID, coerce
from engine.dialogue.tracker import Tracker
from engine.dialogue.turn import Command, Recorder
from engine.dialogue.understand import correction_target, slot_allowed

__all__ = ["CommandApplier", "FlowStack"]


class FlowStack:
    """Operations on a tracker's dialogue stack."""

    def __init__(self, model: DialogueModel, recorder: Recorder) -> None:
        self.model = model
        self.recorder = recorder

    def push_flow(
        self, tracker: Tracker, flow_id: str, frame_type: str, *, emit_started: bool = True
    ) -> dict[str, Any]:
        frame = {
            "frame_id": self.recorder.frame_id(),
            "flow_id": flow_id,
            "step_id": START,
            "frame_type": frame_type,
            "type": "flow",
        }
        self.recorder.update_stack(tracker, [*tracker.stack, frame])
        if emit_started:
            self.recorder.flow_event(tracker, "flow_started", frame)
        return frame

    def start_user_flow(self, tracker: Tracker, flow_id: str) -> None:
        """Push a user flow; on top of an active one it interrupts it."""
        current = tracker.top_user_frame()
        if current is not None:
            self.recorder.flow_event(tracker, "flow_interrupted", current)
        self.push_flow(tracker, flow_id, "interrupt" if current is not None else "regular")

    def push_pattern(self, tracker: Tracker, flow_id: str, context: dict[str, Any]) -> None:
        if flow_id not in self.model.flows:
            return
        frame = {
            "frame_id": self.recorder.frame_id(),
            "flow_id": flow_id,
            "step_id": START,
            **context,
            "type": flow_id,
        }
        self.recorder.update_stack(tracker, [*tracker.stack, frame])
        self.recorder.flow_event(tracker, "flow_started", frame)

    def reset_flow_slots(self, tracker: Tracker, compiled: CompiledFlow) -> None:
        """Reset the slots a flow (and the flows it calls) collected or set, unless persisted."""
        names: list[str] = []
        persisted: set[str] = set()
        seen: set[str] = set()
        todo = [compiled]
        while todo:
            current = todo.pop()
            if current.id in seen:
                continue
            seen.add(current.id)
            names.extend(current.resettable_slots)
            names.extend(current.set_slot_names)
            persisted |= current.persisted
            todo.extend(c for f in current.called_flows if (c := self.model.flow(f)) is not None)
        initial = self.model.initial_slots()
        for name in dict.fromkeys(names):
            if name in persisted or name not in self.model.slots:
                continue
            if tracker.slots.get(name) != initial.get(name):
                self.recorder.set_slot(tracker, name, copy.deepcopy(initial.get(name)))

    def end_top_frame(self, tracker: Tracker, *, linked: bool = False) -> None:
        """Complete the top frame; a user flow's end resumes the one below or completes."""
        frame = tracker.stack[-1]
        compiled = self.model.flow(frame["flow_id"])
        self.recorder.update_stack(tracker, tracker.stack[:-1])
        self.recorder.flow_event(tracker, "flow_completed", frame)
        if frame.get("type") != "flow" or compiled is None:
            return
        if frame.get("frame_type") == "call":
            return  # the parent continues; the child's slots are reset with the parent's
        self.reset_flow_slots(tracker, compiled)
        if linked:
            return
        below = tracker.top_user_frame()
        if below is not None:
            below_flow = self.model.flow(below["flow_id"])
            self.recorder.flow_event(tracker, "flow_resumed", below)
            self.push_pattern(
                tracker,
                "pattern_continue_interrupted",
                {"previous_flow_name": below_flow.name if below_flow else below["flow_id"]},
            )
        elif compiled.flow.run_pattern_completed is not False and not any(
            f.get("type") == "pattern_completed" for f in tracker.stack
        ):
            self.push_pattern(tracker, "pattern_completed", {"previous_flow_name": compiled.name})

    def stop_for_error(self, tracker: Tracker, reason: str, error_type: str) -> None:
        """Cancel the flow that runs now (with the flows that called it) and push
        ``pattern_internal_error`` with `reason`, as Rasa does when a step cannot run."""
        start = len(tracker.stack) - 1
        while start > 0 and tracker.stack[start].get("frame_type") == "call":
            start -= 1
        removed = tracker.stack[start:]
        self.recorder.update_stack(tracker, tracker.stack[:start])
        for old in reversed(removed):
            if old.get("type") == "flow":
                self.recorder.flow_event(tracker, "flow_cancelled", old)
        self.push_pattern(
            tracker, "pattern_internal_error", {"error_type": error_type, "reason": reason}
        )

    def cancel_flow(self, tracker: Tracker) -> bool:
        """Push pattern_cancel_flow for the top user flow; False when no flow is active."""
        frame = tracker.top_user_frame()
        if frame is None:
            return False
        index = next(i for i, f in enumerate(tracker.stack) if f["frame_id"] == frame["frame_id"])
        # The flow, the frames above it, and the call frames beneath it that lead to it.
        start = index
        while start > 0 and tracker.stack[start].get("frame_type") == "call":
            start -= 1
        cancelled = [f["frame_id"] for f in tracker.stack[start:]]
        compiled = self.model.flow(frame["flow_id"])
        self.push_pattern(
            tracker,
            "pattern_cancel_flow",
            {
                "canceled_name": compiled.name if compiled else frame["flow_id"],
                "canceled_frames": cancelled,
            },
        )
        return True


class _SlotChanges:
    """What ``set slot`` commands see of the turn (the flows starting, the slot asked for when
    the message came) and collect (the values that correct earlier answers, and the collect
    step to go back to)."""

    def __init__(self, starting: list[str], requested: str | None) -> None:
        self.starting = starting
        self.requested = requested
        self.corrections: dict[str, Any] = {}
        self.target: tuple[str, str] | None = None


class CommandApplier:
    """Applies one turn's commands; a turn whose commands change nothing can't be handled."""

    def __init__(self, model: DialogueModel, stack: FlowStack, recorder: Recorder) -> None:
        self.model = model
        self.stack = stack
        self.recorder = recorder

    def apply(self, tracker: Tracker, commands: list[Command]) -> None:
        starting = [
            c["flow"]
            for c in commands
            if c["command"] == "start flow" and c.get("flow") in self.model.flows
        ]
        changes = _SlotChanges(starting, tracker.requested_slot())
        handled = False
        for _cancel in _of_kind(commands, "cancel flow"):
            handled = self.stack.cancel_flow(tracker) or handled
        for command in _of_kind(commands, "set slot"):
            handled = self.set_slot(tracker, command, changes) or handled
        for command in _of_kind(commands, "start flow"):
            handled = self.start_flow(tracker, command) or handled
        handled = self.correct(tracker, changes) or handled
        for command in commands:
            handled = self.push_pattern(tracker, command) or handled
        if not handled:
            self.stack.push_pattern(tracker, "pattern_cannot_handle", {"reason": "no_command"})

    def set_slot(self, tracker: Tracker, command: Command, changes: _SlotChanges) -> bool:
        """Set the slot, or note a correction; True when the command counts as handled."""
        name: Any = command.get("name")
        slot = self.model.slots.get(name)
        if slot is None:
            return False
        requested = changes.requested
        value = coerce(slot, command.get("value"))
        if value is INVALID:
            # An answer of the wrong type re-asks the question instead of "cannot handle".
            return bool(name == requested)
        from_payload = command.get("source") == "payload"
        if not from_payload and not slot_allowed(self.model, tracker, name, changes.starting):
            return False
        current = tracker.slots.get(name)
        if current == value and type(current) is type(value):
            return True
        if current is not None and name != requested:
            target = correction_target(self.model, tracker, name)
            if target is not None:
                if from_payload or command.get("allow_correction"):
                    changes.corrections[name] = value
                    changes.target = changes.target or target
                return True
        self.recorder.set_slot(tracker, name, value, filled_by=command.get("extractor"))
        return True

    def start_flow(self, tracker: Tracker, command: Command) -> bool:
        flow_id: Any = command.get("flow")
        compiled = self.model.flow(flow_id) if flow_id else None
        if compiled is None:
            return False
        if flow_id == "pattern_cancel_flow":
            return self.stack.cancel_flow(tracker)
        if compiled.is_pattern:
            self.stack.push_pattern(tracker, flow_id, {})
        elif flow_id not in tracker.active_flow_ids():
            self.stack.start_user_flow(tracker, flow_id)
        return True

    def correct(self, tracker: Tracker, changes: _SlotChanges) -> bool:
        """Push pattern_correction for the answers that changed, if any."""
        if not changes.corrections or changes.target is None:
            return False
        slots = changes.corrections
        self.stack.push_pattern(
            tracker,
            "pattern_correction",
            {
                "is_reset_only": False,
                "corrected_slots": slots,
                "corrected_slots_text": ", ".join(f"{k} to {v}" for k, v in slots.items()),
                "reset_flow_id": changes.target[0],
                "reset_step_id": changes.target[1],
            },
        )
        return True

    def push_pattern(self, tracker: Tracker, command: Command) -> bool:
        """The commands that push a pattern: clarify, chitchat, cannot handle (or error)."""
        kind = command["command"]
        if kind == "clarify":
            options = [o for o in command.get("options") or [] if o in self.model.flows]
            if not options:
                return False
            names = [self.model.flows[o].name for o in options]
            self.stack.push_pattern(
                tracker, "pattern_clarification", {"names": names, "clarification_options": ""}
            )
            return True
        if kind == "chitchat":
            self.stack.push_pattern(tracker, "pattern_chitchat", {})
            return True
        if kind in ("cannot handle", "error"):
            self.stack.push_pattern(
                tracker, "pattern_cannot_handle", {"reason": command.get("reason")}
            )
            return True
        return False


def _of_kind(commands: list[Command], kind: str) -> list[Command]:
    return [c for c in commands if c["command"] == kind]
