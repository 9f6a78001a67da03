"""The built-in actions of the default patterns (``action_restart``, ``action_cancel_flow``,
``action_correct_flow_slot``, ...) and `BUILTINS`, the table the executor dispatches on.
Each one records its ``action`` event first."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.dialogue.tracker import Tracker, now
from engine.dialogue.turn import Turn

if TYPE_CHECKING:
    from engine.dialogue.executor import Executor

__all__ = ["BUILTINS", "Builtin"]

#: A built-in action: run on the tracker by the executor, within a turn.
Builtin = Callable[["Executor", Tracker, Turn], None]


def restart(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    executor.recorder.action(tracker, "action_restart")
    executor.recorder.append(tracker, {"event": "restart", "timestamp": now()})
    executor.recorder.update_stack(tracker, [])


def session_start(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    executor.recorder.action(tracker, "action_session_start")


def run_slot_rejections(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Reject the value just collected when a rejection's condition holds: utter and unset."""
    executor.recorder.action(tracker, "action_run_slot_rejections")
    frame = tracker.stack[-1]
    slot_name = frame.get("collect")
    if not slot_name or tracker.slots.get(slot_name) is None:
        return
    rejections = list(frame.get("rejections") or [])
    slot = executor.model.slots.get(slot_name)
    if slot is not None and slot.validation is not None:
        rejections.extend({"if": r.condition, "utter": r.utter} for r in slot.validation.rejections)
    for rejection in rejections:
        if executor.conditions.holds(rejection.get("if"), tracker.slots, frame):
            executor.utter(tracker, rejection.get("utter"), turn)
            executor.recorder.set_slot(tracker, slot_name, None)
            return


def cancel_flow(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Remove the frames pattern_cancel_flow names; cancelled flows' slots are reset."""
    executor.recorder.action(tracker, "action_cancel_flow")
    frame = tracker.stack[-1]
    cancelled = set(frame.get("canceled_frames") or [])
    removed = [f for f in tracker.stack if f.get("frame_id") in cancelled]
    executor.recorder.update_stack(
        tracker, [f for f in tracker.stack if f.get("frame_id") not in cancelled]
    )
    for old in reversed(removed):
        if old.get("type") == "flow":
            executor.recorder.flow_event(tracker, "flow_cancelled", old)
            compiled = executor.model.flow(old["flow_id"])
            if compiled is not None:
                executor.stack.reset_flow_slots(tracker, compiled)


def clarify_flows(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Put the candidate flows' names in the frame, for the clarification question."""
    executor.recorder.action(tracker, "action_clarify_flows")
    names = list(tracker.stack[-1].get("names") or [])
    if len(names) > 1:
        text = ", ".join(names[:-1]) + " or " + names[-1]
    else:
        text = names[0] if names else ""
    stack = copy.deepcopy(tracker.stack)
    stack[-1]["clarification_options"] = text
    executor.recorder.update_stack(tracker, stack)


def correct_flow_slot(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Set the corrected slots and send the corrected flow back to the collect step."""
    executor.recorder.action(tracker, "action_correct_flow_slot")
    frame = tracker.stack[-1]
    for name, value in (frame.get("corrected_slots") or {}).items():
        executor.recorder.set_slot(tracker, name, value, filled_by="NLU")
    flow_id, step_id = frame.get("reset_flow_id"), frame.get("reset_step_id")
    stack = copy.deepcopy(tracker.stack)
    index = next(
        (
            i
            for i in range(len(stack) - 1, -1, -1)
            if stack[i].get("type") == "flow" and stack[i].get("flow_id") == flow_id
        ),
        None,
    )
    if index is None or not step_id:
        return
    stack[index]["step_id"] = step_id
    # Questions asked after the corrected one are asked again when their step comes.
    stack = [
        f
        for i, f in enumerate(stack)
        if not (i > index and f.get("type") == "pattern_collect_information")
    ]
    executor.recorder.update_stack(tracker, stack)


def trigger_chitchat(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    executor.recorder.action(tracker, "action_trigger_chitchat")
    executor.stack.push_pattern(tracker, "pattern_cannot_handle", {"reason": "chitchat"})


def default_fallback(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    executor.recorder.action(tracker, "action_default_fallback")
    responses = executor.model.responses
    name = "utter_default" if "utter_default" in responses else "utter_ask_rephrase"
    executor.utter(tracker, name, turn)


def noop(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    return


BUILTINS: dict[str, Builtin] = {
    "action_restart": restart,
    "action_session_start": session_start,
    "action_run_slot_rejections": run_slot_rejections,
    "action_cancel_flow": cancel_flow,
    "action_clarify_flows": clarify_flows,
    "action_correct_flow_slot": correct_flow_slot,
    "action_trigger_chitchat": trigger_chitchat,
    "action_default_fallback": default_fallback,
    "action_noop": noop,
}
