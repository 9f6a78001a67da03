"""The built-in actions of the default patterns (``action_restart``, ``action_cancel_flow``,
``action_correct_flow_slot``, ``action_trigger_search``, ``action_repeat_bot_messages``,
``action_clean_stack``, ``action_hangup``, ``action_reset_routing``...) and `BUILTINS`, the
table the executor dispatches on. Each one records its ``action`` event first."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.dialogue.commands import (
    CANNOT_HANDLE_CHITCHAT,
    CANNOT_HANDLE_NO_RELEVANT_ANSWER,
    options_text,
)
from engine.dialogue.copying import json_copy
from engine.dialogue.tracker import Tracker, now
from engine.dialogue.turn import Turn
from engine.formats import END

if TYPE_CHECKING:
    from engine.dialogue.executor import Executor

__all__ = ["BUILTINS", "Builtin"]

log = logging.getLogger(__name__)

#: The slot limiting how many flows the clarification question offers, and its fallback.
MAX_CLARIFICATION_OPTIONS = "max_clarification_options"
DEFAULT_MAX_CLARIFICATION_OPTIONS = 3
#: The slots pattern_continue_interrupted collects; its actions unset them.
INTERRUPTED_FLOW_TO_CONTINUE = "interrupted_flow_to_continue"
CONTINUE_CONFIRMATION = "continue_interrupted_flow_confirmation"

#: A built-in action: run on the tracker by the executor, within a turn.
Builtin = Callable[["Executor", Tracker, Turn], None]


def restart(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    executor.recorder.action(tracker, "action_restart")
    executor.recorder.append(tracker, {"event": "restart", "timestamp": now()})
    executor.recorder.update_stack(tracker, [])


def session_start(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    executor.recorder.action(tracker, "action_session_start")


def run_slot_rejections(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Reject the value just collected (pattern_collect_information's ``collect``, with the
    collect step's rejections) or set (pattern_validate_slot's ``validate``, with the slot's
    validation) when a rejection's condition holds: utter and unset."""
    executor.recorder.action(tracker, "action_run_slot_rejections")
    frame = tracker.stack[-1]
    slot_name = frame.get("collect") or frame.get("validate")
    if not slot_name or tracker.slots.get(slot_name) is None:
        return
    rejections = list(frame.get("rejections") or [])
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
    """Put the candidate flows' names in the frame, for the clarification question: at most
    as many as the ``max_clarification_options`` slot says (3 when it holds no number)."""
    executor.recorder.action(tracker, "action_clarify_flows")
    names = list(tracker.stack[-1].get("names") or [])
    try:
        limit = int(tracker.slots.get(MAX_CLARIFICATION_OPTIONS))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        limit = DEFAULT_MAX_CLARIFICATION_OPTIONS
    names = names[:limit]
    stack = json_copy(tracker.stack)
    stack[-1]["names"] = names
    stack[-1]["clarification_options"] = options_text(names, "or")
    executor.recorder.update_stack(tracker, stack)


def correct_flow_slot(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Set the corrected slots and send the corrected flow back to the collect step."""
    executor.recorder.action(tracker, "action_correct_flow_slot")
    frame = tracker.stack[-1]
    for name, value in (frame.get("corrected_slots") or {}).items():
        executor.recorder.set_slot(tracker, name, value, filled_by="NLU")
    flow_id, step_id = frame.get("reset_flow_id"), frame.get("reset_step_id")
    stack = json_copy(tracker.stack)
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
    """Free-form small talk needs Rasa's IntentlessPolicy; without it the message cannot be
    handled (reason ``cannot_handle_chitchat``), as Rasa does."""
    executor.recorder.action(tracker, "action_trigger_chitchat")
    executor.stack.push_pattern(
        tracker, "pattern_cannot_handle", {"reason": CANNOT_HANDLE_CHITCHAT}
    )


def trigger_search(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Answer the latest user message from the knowledge base (EnterpriseSearchPolicy).

    Without the policy in config.yml or without documents: ``utter_no_knowledge_base``. No
    relevant passage: pattern_cannot_handle (``cannot_handle_no_relevant_answer``). With the
    executor's `search_llm` the LLM answers from the best passages; its failure is an internal
    error. The answer is sent by ``action_send_text``, with the passages' sources in its
    metadata. As Rasa Pro 3.21's EnterpriseSearchPolicy does, an answer takes
    pattern_search off the stack, and the cannot-handle and error patterns take its place (so
    neither is followed by pattern_completed)."""
    executor.recorder.action(tracker, "action_trigger_search")
    knowledge = executor.model.knowledge
    if "EnterpriseSearchPolicy" not in executor.model.policies or not knowledge:
        executor.utter_action(tracker, "utter_no_knowledge_base", turn)
        return
    query = str(tracker.latest_message.get("text") or "")
    try:
        found = knowledge.answer(query, executor.search_llm)
    except Exception as exc:  # the LLM hook: any failure of the user's LLM is reported
        log.warning("knowledge answer failed: %s", exc)
        _drop_search_frame(executor, tracker)
        executor.stack.push_pattern(
            tracker,
            "pattern_internal_error",
            {"error_type": "rasa_internal_error_default", "reason": f"search failed: {exc}"},
        )
        return
    if found is None:
        # Rasa Pro 3.21's EnterpriseSearchPolicy: no relevant document is "cannot handle"
        # with the reason that says so (utter_no_relevant_answer_found).
        _drop_search_frame(executor, tracker)
        executor.stack.push_pattern(
            tracker, "pattern_cannot_handle", {"reason": CANNOT_HANDLE_NO_RELEVANT_ANSWER}
        )
        return
    text, results = found
    _drop_search_frame(executor, tracker)
    executor.recorder.action(tracker, "action_send_text")
    sources = [
        {"source": r.passage.source, "title": r.passage.title, "score": round(r.score, 4)}
        for r in results
    ]
    executor.bot(tracker, {"text": text, "metadata": {"search_results": sources}}, turn)


def _drop_search_frame(executor: Executor, tracker: Tracker) -> None:
    """Take the pattern_search frame that runs the action off the top of the stack."""
    if tracker.stack and tracker.stack[-1].get("type") == "pattern_search":
        frame = tracker.stack[-1]
        executor.recorder.update_stack(tracker, tracker.stack[:-1])
        executor.recorder.flow_event(tracker, "flow_completed", frame)


def repeat_bot_messages(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Send again the bot messages that came after the user's message before the latest one.

    When a question is being collected, its last message is left out: the question is asked
    again anyway."""
    executor.recorder.action(tracker, "action_repeat_bot_messages")
    bots = _last_bot_messages(tracker.events)
    below = tracker.stack[-2] if len(tracker.stack) > 1 else {}
    if below.get("type") == "pattern_collect_information" and bots:
        bots = bots[:-1]
    for event in bots:
        message = {**(event.get("data") or {}), "text": event.get("text")}
        message["metadata"] = {**(event.get("metadata") or {}), "repeated": True}
        executor.bot(tracker, json_copy(message), turn)


def _last_bot_messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last run of bot events before the latest user message (Rasa's rule: for
    ``U1 B1 B2 U2 B4 B5 U3`` that is ``B4 B5``)."""
    said = [e for e in events if e.get("event") in ("bot", "user")]
    found: list[dict[str, Any]] = []
    for event in reversed(said):
        if event["event"] == "bot":
            found.append(event)
        elif found:
            break
    return list(reversed(found))


def clean_stack(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """End every flow on the stack (after a code change): each frame goes to its end, user
    flows as regular ones so that no interrupted flow is continued."""
    executor.recorder.action(tracker, "action_clean_stack")
    stack = json_copy(tracker.stack)
    for frame in stack:
        frame["step_id"] = END
        if frame.get("type") == "flow":
            frame["frame_type"] = "regular"
    executor.recorder.update_stack(tracker, stack)


def hangup(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """End the session (``session_ended``): in pattern_session_end the user ended it,
    otherwise the bot hangs up. Nothing on the stack runs after it."""
    executor.recorder.action(tracker, "action_hangup")
    by_user = bool(tracker.stack) and tracker.stack[-1].get("flow_id") == "pattern_session_end"
    reason = "user_disconnected" if by_user else "agent_hangup"
    executor.recorder.update_stack(tracker, [])
    executor.recorder.append(
        tracker, {"event": "session_ended", "timestamp": now(), "metadata": {"_reason": reason}}
    )


def handoff_metric(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Rasa counts hand-overs for its analytics here; the action event records it."""
    executor.recorder.action(tracker, "action_handoff_metric")


def _continue_frame(tracker: Tracker) -> dict[str, Any] | None:
    """The active pattern_continue_interrupted frame (above the topmost user flow)."""
    frame: dict[str, Any]
    for frame in reversed(tracker.stack):
        if frame.get("type") == "pattern_continue_interrupted":
            return frame
        if frame.get("type") == "flow":
            return None
    return None


def continue_interrupted_flow(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Resume the interrupted flow the user chose (pattern_continue_interrupted): the only
    one, or the one ``interrupted_flow_to_continue`` names by id or by name. Another answer
    is told the options and nothing is resumed, as in Rasa."""
    executor.recorder.action(tracker, "action_continue_interrupted_flow")
    frame = _continue_frame(tracker)
    if frame is None:
        log.warning("action_continue_interrupted_flow without pattern_continue_interrupted")
        return
    ids = list(frame.get("interrupted_flow_ids") or [])
    names = list(frame.get("interrupted_flow_names") or [])
    chosen: str | None = None
    if len(ids) == 1:
        chosen = ids[0]
    elif ids:
        selected = tracker.slots.get(INTERRUPTED_FLOW_TO_CONTINUE)
        if selected in ids:
            chosen = str(selected)
        elif selected in names:
            chosen = ids[names.index(selected)]
    if chosen is None:
        executor.recorder.action(tracker, "action_send_text")
        options = frame.get("interrupted_flow_options") or ""
        text = f"That is not one of the tasks we can go back to. Please choose one: {options}."
        executor.bot(tracker, {"text": text, "metadata": {}}, turn)
        return
    executor.stack.resume_flow(tracker, chosen)
    executor.recorder.set_slot(tracker, INTERRUPTED_FLOW_TO_CONTINUE, None)
    executor.recorder.set_slot(tracker, CONTINUE_CONFIRMATION, None)


def cancel_interrupted_flows(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Cancel every flow pattern_continue_interrupted offered: a pattern_cancel_flow for each,
    with the frames from the flow up to the next regular or interrupting flow."""
    executor.recorder.action(tracker, "action_cancel_interrupted_flows")
    frame = _continue_frame(tracker)
    if frame is None:
        log.warning("action_cancel_interrupted_flows without pattern_continue_interrupted")
        return
    stack = tracker.stack
    groups = [
        (flow_id, executor.stack.flow_group(stack, flow_id))
        for flow_id in frame.get("interrupted_flow_ids") or []
    ]
    for flow_id, group in groups:
        if not group:
            continue
        compiled = executor.model.flow(flow_id)
        executor.stack.push_pattern(
            tracker,
            "pattern_cancel_flow",
            {
                "canceled_name": compiled.name if compiled else flow_id,
                "canceled_frames": [f["frame_id"] for f in group],
            },
        )
    executor.recorder.set_slot(tracker, INTERRUPTED_FLOW_TO_CONTINUE, None)
    executor.recorder.set_slot(tracker, CONTINUE_CONFIRMATION, None)


def default_fallback(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    executor.recorder.action(tracker, "action_default_fallback")
    responses = executor.model.responses
    name = "utter_default" if "utter_default" in responses else "utter_ask_rephrase"
    executor.utter(tracker, name, turn)


def reset_routing(executor: Executor, tracker: Tracker, turn: Turn) -> None:
    """Coexistence: end the routing session (``routing_session_ended`` resets the tracker but
    for the slots shared for coexistence) and unset ``route_session_to_calm``, so the router
    decides again on the next message."""
    executor.recorder.action(tracker, "action_reset_routing")
    executor.recorder.update_stack(tracker, [])
    executor.recorder.append(tracker, {"event": "routing_session_ended", "timestamp": now()})
    executor.recorder.set_slot(tracker, "route_session_to_calm", None)


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
    "action_trigger_search": trigger_search,
    "action_repeat_bot_messages": repeat_bot_messages,
    "action_clean_stack": clean_stack,
    "action_hangup": hangup,
    "action_handoff_metric": handoff_metric,
    "action_continue_interrupted_flow": continue_interrupted_flow,
    "action_cancel_interrupted_flows": cancel_interrupted_flows,
    "action_default_fallback": default_fallback,
    "action_noop": noop,
    "action_reset_routing": reset_routing,
}
