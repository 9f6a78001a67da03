"""The dialogue processor: one user message in, Rasa events and bot messages out.

A turn runs in three stages, as Rasa Pro's CALM does without a language model:

1. **Understand**: NLU parse data becomes commands. Payload commands (``/SetSlots(...)``,
   ``/StartFlow(...)``) are taken as they are; an intent in a flow's ``nlu_trigger`` (at or above
   its ``confidence_threshold``, guard permitting) starts that flow; slot mappings give
   ``set slot`` commands; for flows without triggers the flow classifier may start one or ask
   for clarification; if nothing came out, the message cannot be handled.
2. **Apply commands** to the dialogue stack: slots are set (a changed value for a slot already
   collected by the active flow is a correction), flows are started (on top of an active flow
   they interrupt it), and patterns are pushed (cancel, correction, clarification, cannot
   handle).
3. **Advance** the flow on top of the stack step by step until the bot has to listen.

Deviations from Rasa that are deliberate (no LLM):

* NLU values for a slot that is already filled only correct it (pattern_correction) when they
  come from an entity (``from_entity``) or the mapping says ``allow_nlu_correction: true``;
  values of intent mappings (``from_intent``: "yes", "no") never correct earlier answers.
* An NLU value for a slot that only flows outside the stack collect is ignored; a slot no flow
  collects is set directly. Command payloads set any slot.
* A value that cannot be coerced to the slot's type is dropped; if it answered the question
  being asked, the question is asked again.
"""

from __future__ import annotations

import copy
import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

from engine.dialogue.action_client import ActionClient, ActionError, NullActionClient
from engine.dialogue.flow_classifier import FlowClassifier
from engine.dialogue.model import START, CompiledFlow, DialogueModel
from engine.dialogue.responses import fill, render_response
from engine.dialogue.slots import INVALID, coerce, extract_slot_values
from engine.dialogue.stackpatch import diff
from engine.dialogue.tracker import ACTION_LISTEN, Tracker, now
from engine.formats import END, ConditionError, StepView, evaluate, parse_condition

__all__ = ["Processor", "UserMessage"]

POLICY = "FlowPolicy"
_CONTEXT = "{{"
_FRAME_LETTERS = string.ascii_uppercase


@dataclass
class UserMessage:
    text: str
    sender_id: str
    input_channel: str = "rest"
    metadata: dict | None = None
    message_id: str | None = None


@dataclass
class _Turn:
    """What one call produces: the bot messages (REST channel shape)."""

    sender_id: str
    channel: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)


class _Listen(Exception):
    pass


def _stamped(event: dict[str, Any]) -> dict[str, Any]:
    """`event` with a timestamp: one that has none, or not a number (the Rasa SDK sends
    ``"timestamp": null`` for the events a custom action returns), is stamped now, when it is
    received, as Rasa does."""
    stamp = event.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        event["timestamp"] = now()
    return event


def _render_context(text: str, frame: dict[str, Any]) -> str:
    """Replace ``{{context.x}}`` in action names and conditions with the frame's values."""
    if _CONTEXT not in text:
        return text
    return fill(text, {}, frame)


class Processor:
    def __init__(
        self,
        model: DialogueModel,
        nlu: Any,
        flow_classifier: FlowClassifier | None = None,
        *,
        action_client: ActionClient | None = None,
        seed: int | None = None,
        model_id: str = "",
        assistant_id: str = "",
    ) -> None:
        self.model = model
        self.nlu = nlu
        self.flow_classifier = flow_classifier
        self.action_client: ActionClient = action_client or NullActionClient()
        self.rng = random.Random(seed)
        self._ids = random.Random(seed)
        self.model_id = model_id
        self.assistant_id = assistant_id or model.assistant_id
        self.settings = model.settings
        self._conditions: dict[str, Any] = {}

    # ==========================================================================================
    # Public API

    def new_tracker(self, sender_id: str) -> Tracker:
        return Tracker(sender_id, self.model.initial_slots())

    def handle_message(self, tracker: Tracker, message: UserMessage) -> list[dict[str, Any]]:
        """One user turn: parse, update slots, run flows until the bot listens.

        Appends Rasa events to the tracker (every event's metadata carries ``model_id`` and
        ``assistant_id``) and returns the bot messages as Rasa's REST channel returns them:
        ``[{"recipient_id", "text"?, "buttons"?, "image"?, "custom"?, ...}]``.
        """
        turn = _Turn(tracker.sender_id, message.input_channel)
        if not tracker.has_session():
            self._start_session(tracker, turn, message.metadata)
        parse = self.parse(message.text)
        parse["message_id"] = message.message_id
        user_event = {
            "event": "user",
            "timestamp": now(),
            "text": message.text,
            "parse_data": parse,
            "input_channel": message.input_channel,
            "message_id": message.message_id,
            "metadata": dict(message.metadata or {}),
        }
        self._append(tracker, user_event)
        commands = self.understand(tracker, parse)
        self._apply_commands(tracker, commands, turn)
        self._advance(tracker, turn)
        return turn.messages

    def parse(self, text: str) -> dict[str, Any]:
        parse = self.nlu.parse(text) if self.nlu is not None else {"text": text}
        parse.setdefault("intent", {"name": None, "confidence": 0.0})
        parse.setdefault("entities", [])
        parse.setdefault("intent_ranking", [])
        parse["text"] = text
        return parse

    def apply_events(
        self, tracker: Tracker, events: list[dict[str, Any]], *, run: bool = True
    ) -> list[dict[str, Any]]:
        """Append `events` (as ``POST /conversations/{id}/tracker/events`` does).

        Slot events preset slots; ``stack`` events or ``flow_started`` events (which push the
        flow when it is not on the stack yet) start at a flow. With `run`, flows then advance
        until the bot listens; the bot messages produced are returned.
        """
        turn = _Turn(tracker.sender_id, tracker.latest_input_channel)
        if not tracker.has_session():
            self._start_session(tracker, turn, None)
        started = False
        for event in events:
            event = _stamped(copy.deepcopy(event))
            if event.get("event") == "flow_started":
                flow_id = event.get("flow_id")
                if flow_id in self.model.flows and flow_id not in tracker.active_flow_ids():
                    self._push_flow(tracker, flow_id, "regular", emit_started=False)
                    started = True
            elif event.get("event") == "stack":
                started = True
            self._append(tracker, event)
        if run and started:
            self._advance(tracker, turn)
        self._flush_stack(tracker)
        return turn.messages

    def start_flow(
        self, tracker: Tracker, flow_id: str, slots: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Start a session (if needed) at `flow_id` with preset `slots`; run until listen."""
        if flow_id not in self.model.flows:
            raise KeyError(f"unknown flow '{flow_id}'")
        turn = _Turn(tracker.sender_id, tracker.latest_input_channel)
        if not tracker.has_session():
            self._start_session(tracker, turn, None)
        for name, value in (slots or {}).items():
            self._set_slot(tracker, name, value)
        if flow_id.startswith("pattern_"):
            self._push_pattern(tracker, flow_id, {})
        else:
            self._start_user_flow(tracker, flow_id)
        self._advance(tracker, turn)
        return turn.messages

    def restart(self, tracker: Tracker) -> None:
        """Restart the conversation: a ``restart`` event clears slots and the stack."""
        self._append(
            tracker,
            {"event": "action", "timestamp": now(), **self._action_fields("action_restart")},
        )
        self._append(tracker, {"event": "restart", "timestamp": now()})

    # ==========================================================================================
    # Events

    def _append(self, tracker: Tracker, event: dict[str, Any]) -> None:
        self._flush_stack(tracker)
        metadata = dict(event.get("metadata") or {})
        metadata.setdefault("model_id", self.model_id)
        metadata.setdefault("assistant_id", self.assistant_id)
        event["metadata"] = metadata
        tracker.append(event)

    @staticmethod
    def _action_fields(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "policy": POLICY,
            "confidence": 1.0,
            "action_text": None,
            "hide_rule_turn": False,
        }

    def _action_event(self, tracker: Tracker, name: str) -> None:
        self._append(tracker, {"event": "action", "timestamp": now(), **self._action_fields(name)})

    def _listen(self, tracker: Tracker) -> None:
        self._action_event(tracker, ACTION_LISTEN)

    def _set_slot(
        self, tracker: Tracker, name: str, value: Any, filled_by: str | None = None
    ) -> None:
        event = {"event": "slot", "timestamp": now(), "name": name, "value": value}
        if filled_by:
            event["filled_by"] = filled_by
        self._append(tracker, event)

    def _flow_event(self, tracker: Tracker, kind: str, frame: dict[str, Any]) -> None:
        event: dict[str, Any] = {"event": kind, "timestamp": now(), "flow_id": frame["flow_id"]}
        if kind != "flow_started":
            event["step_id"] = frame.get("step_id")
        self._append(tracker, event)

    def _update_stack(self, tracker: Tracker, new_stack: list[dict[str, Any]]) -> None:
        """Change the stack; consecutive changes become one ``stack`` event (see _flush_stack)."""
        if tracker.pending_stack_base is None:
            tracker.pending_stack_base = tracker.stack
        tracker.stack = new_stack

    def _flush_stack(self, tracker: Tracker) -> None:
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
                "metadata": {"model_id": self.model_id, "assistant_id": self.assistant_id},
            }
            tracker.events.append(event)  # the state already reflects it

    def _frame_id(self) -> str:
        return "".join(self._ids.choice(_FRAME_LETTERS) for _ in range(8))

    # ==========================================================================================
    # Session

    def _start_session(self, tracker: Tracker, turn: _Turn, metadata: dict | None) -> None:
        carried = {}
        if tracker.events and self._carry_over_slots():
            carried = {
                k: v for k, v in tracker.slots.items() if v != self.model.initial_slots().get(k)
            }
        self._action_event(tracker, "action_session_start")
        started: dict[str, Any] = {"event": "session_started", "timestamp": now()}
        if metadata:
            started["metadata"] = dict(metadata)
        self._append(tracker, started)
        for name, value in carried.items():
            self._set_slot(tracker, name, value)
        if any(f.id == "pattern_session_start" for f in self.model.user_flows):
            self._push_pattern(tracker, "pattern_session_start", {})
            self._advance(tracker, turn)
        else:
            self._listen(tracker)

    def _carry_over_slots(self) -> bool:
        config = self.model.domain.session_config or {}
        return bool(config.get("carry_over_slots_to_new_session", True))

    # ==========================================================================================
    # Understanding

    def _guard_ok(self, compiled: CompiledFlow, tracker: Tracker, *, by_trigger: bool) -> bool:
        guard = compiled.flow.guard
        if guard is None or guard is True:
            return True
        if guard is False:
            return by_trigger
        return self._eval(guard, tracker.slots, {})

    def _triggered_flow(self, tracker: Tracker, parse: dict[str, Any]) -> str | None:
        intent = parse.get("intent") or {}
        name = intent.get("name")
        if not name:
            return None
        confidence = float(intent.get("confidence") or 0.0)
        for compiled in self.model.flows.values():
            for trigger in compiled.flow.nlu_trigger or []:
                threshold = trigger.confidence_threshold or 0.0
                if (
                    trigger.intent == name
                    and confidence >= threshold
                    and self._guard_ok(compiled, tracker, by_trigger=True)
                ):
                    return compiled.id
        return None

    def _classify(self, tracker: Tracker, text: str) -> dict[str, Any] | None:
        """A ``start flow`` or ``clarify`` command from the flow classifier, or None."""
        if self.flow_classifier is None or not text or text.startswith("/"):
            return None
        active = set(tracker.active_flow_ids())
        candidates = []
        for item in self.flow_classifier.rank(text):
            compiled = self.model.flow(item["name"])
            if (
                compiled is None
                or compiled.is_pattern
                or compiled.flow.nlu_trigger
                or compiled.id in active
                or not self._guard_ok(compiled, tracker, by_trigger=False)
            ):
                continue
            candidates.append(item)
        if not candidates:
            return None
        best = candidates[0]
        if best["confidence"] >= float(self.settings["flow_classifier_threshold"]):
            return {"command": "start flow", "flow": best["name"]}
        low = float(self.settings["clarification_threshold"])
        margin = float(self.settings["clarification_margin"])
        close = [
            c
            for c in candidates
            if c["confidence"] >= low and best["confidence"] - c["confidence"] < margin
        ]
        if len(close) >= 2:
            return {"command": "clarify", "options": [c["name"] for c in close]}
        return None

    def understand(self, tracker: Tracker, parse: dict[str, Any]) -> list[dict[str, Any]]:
        """The commands for one parsed message (see the module docstring)."""
        text = parse.get("text") or ""
        is_payload = text.strip().startswith("/")
        commands: list[dict[str, Any]] = []
        for command in parse.get("commands") or []:
            if isinstance(command, dict) and command.get("command"):
                commands.append({**command, "source": "payload"})
        triggered = self._triggered_flow(tracker, parse)
        if triggered is not None:
            commands.append({"command": "start flow", "flow": triggered, "source": "nlu"})
        active = tracker.active_flow_ids()
        starting = [c["flow"] for c in commands if c["command"] == "start flow" and c.get("flow")]
        values = extract_slot_values(
            self.model.domain.slots,
            parse,
            active_flows=[*active, *starting],
            requested_slot=tracker.requested_slot(),
            triggered=triggered is not None,
            is_payload=is_payload,
            active_loop=tracker.active_loop.get("name"),
        )
        for value in values:
            commands.append(
                {
                    "command": "set slot",
                    "name": value.slot,
                    "value": value.value,
                    "extractor": "NLU",
                    "source": "nlu",
                    "mapping_type": value.mapping_type,
                    "allow_correction": value.allow_correction,
                }
            )
        if not commands:
            classified = self._classify(tracker, text)
            if classified is not None:
                commands.append({**classified, "source": "classifier"})
        if not commands:
            confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
            reason = (
                "low_confidence"
                if confidence < float(self.settings["nlu_fallback_threshold"])
                else "no_command"
            )
            commands.append({"command": "cannot handle", "reason": reason})
        return commands

    # ==========================================================================================
    # Commands

    def _slot_allowed(self, tracker: Tracker, name: str, starting: list[str]) -> bool:
        collectors = self.model.collecting_flows.get(name)
        if not collectors:
            return True
        on_stack = set(tracker.active_flow_ids()) | set(starting)
        # Flows called from flows on the stack count as well (their slots are shared).
        for flow_id in list(on_stack):
            compiled = self.model.flow(flow_id)
            if compiled is not None:
                on_stack.update(compiled.called_flows)
        return bool(collectors & on_stack) or name == tracker.requested_slot()

    def _correction_target(self, tracker: Tracker, name: str) -> tuple[str, str] | None:
        """``(flow_id, collect step id)`` when setting `name` corrects an earlier answer."""
        frame = tracker.top_user_frame()
        if frame is None:
            return None
        compiled = self.model.flow(frame["flow_id"])
        if compiled is None:
            return None
        view = compiled.collect_step_for(name)
        if view is None:
            return None
        current = compiled.order.get(frame.get("step_id"), -1)
        if compiled.order[view.id] > current:
            return None
        return compiled.id, view.id

    def _apply_commands(
        self, tracker: Tracker, commands: list[dict[str, Any]], turn: _Turn
    ) -> None:
        starting = [
            c["flow"]
            for c in commands
            if c["command"] == "start flow" and c.get("flow") in self.model.flows
        ]
        requested = tracker.requested_slot()
        corrections: dict[str, Any] = {}
        correction_target: tuple[str, str] | None = None
        handled = False
        for command in commands:
            if command["command"] == "cancel flow":
                handled = self._cancel_flow(tracker) or handled
        for command in commands:
            if command["command"] != "set slot":
                continue
            name = command.get("name")
            slot = self.model.slots.get(name)
            if slot is None:
                continue
            value = coerce(slot, command.get("value"))
            if value is INVALID:
                # An answer of the wrong type re-asks the question instead of "cannot handle".
                handled = handled or name == requested
                continue
            from_payload = command.get("source") == "payload"
            if not from_payload and not self._slot_allowed(tracker, name, starting):
                continue
            handled = True
            current = tracker.slots.get(name)
            if current == value and type(current) is type(value):
                continue
            if current is not None and name != requested:
                target = self._correction_target(tracker, name)
                if target is not None:
                    if from_payload or command.get("allow_correction"):
                        corrections[name] = value
                        correction_target = correction_target or target
                    continue
            self._set_slot(tracker, name, value, filled_by=command.get("extractor"))
        for command in commands:
            if command["command"] != "start flow":
                continue
            flow_id = command.get("flow")
            compiled = self.model.flow(flow_id) if flow_id else None
            if compiled is None:
                continue
            if flow_id == "pattern_cancel_flow":
                handled = self._cancel_flow(tracker) or handled
                continue
            handled = True
            if compiled.is_pattern:
                self._push_pattern(tracker, flow_id, {})
            elif flow_id not in tracker.active_flow_ids():
                self._start_user_flow(tracker, flow_id)
        if corrections and correction_target is not None:
            handled = True
            self._push_pattern(
                tracker,
                "pattern_correction",
                {
                    "is_reset_only": False,
                    "corrected_slots": corrections,
                    "corrected_slots_text": ", ".join(
                        f"{k} to {v}" for k, v in corrections.items()
                    ),
                    "reset_flow_id": correction_target[0],
                    "reset_step_id": correction_target[1],
                },
            )
        for command in commands:
            if command["command"] == "clarify":
                options = [o for o in command.get("options") or [] if o in self.model.flows]
                if options:
                    handled = True
                    names = [self.model.flows[o].name for o in options]
                    self._push_pattern(
                        tracker,
                        "pattern_clarification",
                        {"names": names, "clarification_options": ""},
                    )
            elif command["command"] == "chitchat":
                handled = True
                self._push_pattern(tracker, "pattern_chitchat", {})
            elif command["command"] in ("cannot handle", "error"):
                handled = True
                self._push_pattern(
                    tracker, "pattern_cannot_handle", {"reason": command.get("reason")}
                )
        if not handled:
            self._push_pattern(tracker, "pattern_cannot_handle", {"reason": "no_command"})

    # ==========================================================================================
    # Stack manipulation

    def _push_flow(
        self, tracker: Tracker, flow_id: str, frame_type: str, *, emit_started: bool = True
    ) -> dict[str, Any]:
        frame = {
            "frame_id": self._frame_id(),
            "flow_id": flow_id,
            "step_id": START,
            "frame_type": frame_type,
            "type": "flow",
        }
        self._update_stack(tracker, [*tracker.stack, frame])
        if emit_started:
            self._flow_event(tracker, "flow_started", frame)
        return frame

    def _start_user_flow(self, tracker: Tracker, flow_id: str) -> None:
        current = tracker.top_user_frame()
        if current is not None:
            self._flow_event(tracker, "flow_interrupted", current)
        self._push_flow(tracker, flow_id, "interrupt" if current is not None else "regular")

    def _push_pattern(self, tracker: Tracker, flow_id: str, context: dict[str, Any]) -> None:
        if flow_id not in self.model.flows:
            return
        frame = {
            "frame_id": self._frame_id(),
            "flow_id": flow_id,
            "step_id": START,
            **context,
            "type": flow_id,
        }
        self._update_stack(tracker, [*tracker.stack, frame])
        self._flow_event(tracker, "flow_started", frame)

    def _reset_flow_slots(self, tracker: Tracker, compiled: CompiledFlow) -> None:
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
                self._set_slot(tracker, name, copy.deepcopy(initial.get(name)))

    def _end_top_frame(self, tracker: Tracker, *, linked: bool = False) -> None:
        frame = tracker.stack[-1]
        compiled = self.model.flow(frame["flow_id"])
        self._update_stack(tracker, tracker.stack[:-1])
        self._flow_event(tracker, "flow_completed", frame)
        if frame.get("type") != "flow" or compiled is None:
            return
        if frame.get("frame_type") == "call":
            return  # the parent continues; the child's slots are reset with the parent's
        self._reset_flow_slots(tracker, compiled)
        if linked:
            return
        below = tracker.top_user_frame()
        if below is not None:
            below_flow = self.model.flow(below["flow_id"])
            self._flow_event(tracker, "flow_resumed", below)
            self._push_pattern(
                tracker,
                "pattern_continue_interrupted",
                {"previous_flow_name": below_flow.name if below_flow else below["flow_id"]},
            )
        elif compiled.flow.run_pattern_completed is not False and not any(
            f.get("type") == "pattern_completed" for f in tracker.stack
        ):
            self._push_pattern(tracker, "pattern_completed", {"previous_flow_name": compiled.name})

    def _cancel_flow(self, tracker: Tracker) -> bool:
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
        self._push_pattern(
            tracker,
            "pattern_cancel_flow",
            {
                "canceled_name": compiled.name if compiled else frame["flow_id"],
                "canceled_frames": cancelled,
            },
        )
        return True

    # ==========================================================================================
    # Execution

    def _eval(self, condition: Any, slots: dict[str, Any], context: dict[str, Any]) -> bool:
        if isinstance(condition, bool):
            return condition
        text = _render_context(str(condition), context)
        node = self._conditions.get(text)
        if node is None:
            try:
                node = parse_condition(text)
            except ConditionError:
                node = False
            self._conditions[text] = node
        if node is False:
            return False
        return evaluate(node, slots, context)

    def _next_step_id(self, compiled: CompiledFlow, frame: dict[str, Any], tracker: Tracker) -> str:
        step_id = frame.get("step_id") or START
        if step_id == START:
            return compiled.first
        if step_id == END:
            return END
        view = compiled.steps.get(step_id)
        if view is None:
            return END
        if view.kind == "link":
            return END
        if view.next is not None:
            return view.next
        if view.branches:
            for branch in view.branches:
                if branch.condition is None or self._eval(branch.condition, tracker.slots, frame):
                    if branch.target is not None:
                        return branch.target
                    return branch.steps[0].id if branch.steps else END
        return compiled.following.get(view.id, END)

    def _set_step(self, tracker: Tracker, step_id: str) -> None:
        stack = copy.deepcopy(tracker.stack)
        stack[-1]["step_id"] = step_id
        self._update_stack(tracker, stack)

    def _advance(self, tracker: Tracker, turn: _Turn) -> None:
        """Run steps until the bot listens (an ``action_listen`` event ends the turn)."""
        limit = int(self.settings.get("max_steps_per_turn", 250))
        try:
            for _ in range(limit):
                if not tracker.stack:
                    break
                frame = tracker.stack[-1]
                compiled = self.model.flow(frame["flow_id"])
                if compiled is None:
                    self._update_stack(tracker, tracker.stack[:-1])
                    continue
                step_id = self._next_step_id(compiled, frame, tracker)
                view = compiled.steps.get(step_id) if step_id != END else None
                if view is None:
                    self._end_top_frame(tracker)
                    continue
                self._set_step(tracker, step_id)
                self._run_step(tracker, compiled, view, turn)
            else:
                # A flow that loops without listening: stop it rather than spin forever.
                self._push_pattern(tracker, "pattern_internal_error", {"reason": "step_limit"})
                self._update_stack(tracker, [])
        except _Listen:
            return
        self._listen(tracker)

    def _run_step(
        self, tracker: Tracker, compiled: CompiledFlow, view: StepView, turn: _Turn
    ) -> None:
        frame = tracker.stack[-1]
        if view.kind == "action":
            name = _render_context(str(view.target), frame)
            if name == ACTION_LISTEN:
                self._listen(tracker)
                raise _Listen
            self._run_action(tracker, name, turn)
        elif view.kind == "collect":
            self._run_collect(tracker, view)
        elif view.kind == "set_slots":
            for name, value in view.set_slots:
                self._set_slot(tracker, name, copy.deepcopy(value))
        elif view.kind == "link":
            target = str(view.target)
            self._end_top_frame(tracker, linked=True)
            if target in self.model.flows:
                self._push_flow(tracker, target, "link")
        elif view.kind == "call":
            target = str(view.target)
            if target in self.model.flows:
                self._push_flow(tracker, target, "call")

    def _run_collect(self, tracker: Tracker, view: StepView) -> None:
        slot = str(view.target)
        filled = tracker.slots.get(slot) is not None
        ask_before = bool(view.data.get("ask_before_filling", False))
        if filled and not ask_before:
            return
        if filled:
            self._set_slot(tracker, slot, None)
        self._push_pattern(
            tracker,
            "pattern_collect_information",
            {
                "collect": slot,
                "utter": view.data.get("utter") or f"utter_ask_{slot}",
                "collect_action": f"action_ask_{slot}",
                "rejections": copy.deepcopy(view.data.get("rejections") or []),
            },
        )

    # ==========================================================================================
    # Actions

    def _run_action(self, tracker: Tracker, name: str, turn: _Turn) -> None:
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            getattr(self, builtin)(tracker, turn)
        elif name in self.model.custom_actions:
            self._run_custom_action(tracker, name, turn)
        elif name.startswith("utter_") or name in self.model.responses:
            self._utter_action(tracker, name, turn)
        elif name.startswith("action_ask_"):
            frame = tracker.stack[-1]
            utter = frame.get("utter") or f"utter_ask_{name[len('action_ask_') :]}"
            self._utter_action(tracker, utter, turn)
        elif name.startswith("validate_"):
            return  # no validation action defined for this slot
        else:
            self._run_custom_action(tracker, name, turn)

    def _utter_action(self, tracker: Tracker, name: str, turn: _Turn) -> None:
        self._action_event(tracker, name)
        self._utter(tracker, name, turn)

    def _utter(
        self,
        tracker: Tracker,
        name: str,
        turn: _Turn,
        extra_values: dict[str, Any] | None = None,
    ) -> None:
        response = self.model.responses.get(name)
        if response is None:
            return
        frame = tracker.stack[-1] if tracker.stack else {}
        message = render_response(
            response, tracker.slots, turn.channel, self.rng, frame, extra_values
        )
        if message is None:
            return
        message["metadata"] = {"utter_action": name, **message["metadata"]}
        self._bot(tracker, message, turn)

    def _bot(self, tracker: Tracker, message: dict[str, Any], turn: _Turn) -> None:
        data = {
            key: message.get(key)
            for key in ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
        }
        self._append(
            tracker,
            {
                "event": "bot",
                "timestamp": now(),
                "text": message.get("text"),
                "data": data,
                "metadata": dict(message.get("metadata") or {}),
            },
        )
        turn.messages.extend(_rest_messages(turn.sender_id, message))

    def _run_custom_action(self, tracker: Tracker, name: str, turn: _Turn) -> None:
        try:
            result = self.action_client.run(name, tracker.to_dict(), self.model.domain_dict())
        except ActionError:
            self._push_pattern(tracker, "pattern_internal_error", {"reason": "action_failed"})
            return
        self._action_event(tracker, name)
        for response in result.responses or []:
            self._custom_response(tracker, response, turn)
        for event in result.events or []:
            if not isinstance(event, dict) or not event.get("event"):
                continue
            event = _stamped(copy.deepcopy(event))
            if event["event"] == "slot" and event.get("name") in self.model.slots:
                value = coerce(self.model.slots[event["name"]], event.get("value"))
                if value is not INVALID:
                    event["value"] = value
            if event["event"] == "bot":
                self._bot(tracker, {**(event.get("data") or {}), "text": event.get("text")}, turn)
                continue
            self._append(tracker, event)
            if event["event"] == "restart":
                self._update_stack(tracker, [])

    def _custom_response(self, tracker: Tracker, response: dict[str, Any], turn: _Turn) -> None:
        if not isinstance(response, dict):
            return
        template = response.get("response") or response.get("template")
        if template:
            known = {
                "text",
                "buttons",
                "image",
                "custom",
                "attachment",
                "elements",
                "quick_replies",
                "response",
                "template",
                "json_message",
            }
            extra = {k: v for k, v in response.items() if k not in known and v is not None}
            self._utter(tracker, template, turn, extra)
            return
        message = {
            "text": response.get("text"),
            "buttons": response.get("buttons") or None,
            "image": response.get("image"),
            "custom": response.get("custom") or response.get("json_message") or None,
            "attachment": response.get("attachment"),
            "elements": response.get("elements") or None,
            "quick_replies": response.get("quick_replies") or None,
            "metadata": {},
        }
        if any(v for k, v in message.items() if k != "metadata"):
            self._bot(tracker, message, turn)

    # -- built-in actions (each logs its action event first) ---------------------------------

    def _builtin_restart(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_restart")
        self._append(tracker, {"event": "restart", "timestamp": now()})
        self._update_stack(tracker, [])

    def _builtin_session_start(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_session_start")

    def _builtin_run_slot_rejections(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_run_slot_rejections")
        frame = tracker.stack[-1]
        slot_name = frame.get("collect")
        if not slot_name or tracker.slots.get(slot_name) is None:
            return
        rejections = list(frame.get("rejections") or [])
        slot = self.model.slots.get(slot_name)
        if slot is not None and slot.validation is not None:
            rejections.extend(
                {"if": r.condition, "utter": r.utter} for r in slot.validation.rejections
            )
        for rejection in rejections:
            if self._eval(rejection.get("if"), tracker.slots, frame):
                self._utter(tracker, rejection.get("utter"), turn)
                self._set_slot(tracker, slot_name, None)
                return

    def _builtin_cancel_flow(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_cancel_flow")
        frame = tracker.stack[-1]
        cancelled = set(frame.get("canceled_frames") or [])
        removed = [f for f in tracker.stack if f.get("frame_id") in cancelled]
        self._update_stack(
            tracker, [f for f in tracker.stack if f.get("frame_id") not in cancelled]
        )
        for old in reversed(removed):
            if old.get("type") == "flow":
                self._flow_event(tracker, "flow_cancelled", old)
                compiled = self.model.flow(old["flow_id"])
                if compiled is not None:
                    self._reset_flow_slots(tracker, compiled)

    def _builtin_clarify_flows(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_clarify_flows")
        names = list(tracker.stack[-1].get("names") or [])
        if len(names) > 1:
            text = ", ".join(names[:-1]) + " or " + names[-1]
        else:
            text = names[0] if names else ""
        stack = copy.deepcopy(tracker.stack)
        stack[-1]["clarification_options"] = text
        self._update_stack(tracker, stack)

    def _builtin_correct_flow_slot(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_correct_flow_slot")
        frame = tracker.stack[-1]
        for name, value in (frame.get("corrected_slots") or {}).items():
            self._set_slot(tracker, name, value, filled_by="NLU")
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
        self._update_stack(tracker, stack)

    def _builtin_trigger_chitchat(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_trigger_chitchat")
        self._push_pattern(tracker, "pattern_cannot_handle", {"reason": "chitchat"})

    def _builtin_default_fallback(self, tracker: Tracker, turn: _Turn) -> None:
        self._action_event(tracker, "action_default_fallback")
        name = "utter_default" if "utter_default" in self.model.responses else "utter_ask_rephrase"
        self._utter(tracker, name, turn)

    def _builtin_noop(self, tracker: Tracker, turn: _Turn) -> None:
        return


_BUILTINS = {
    "action_restart": "_builtin_restart",
    "action_session_start": "_builtin_session_start",
    "action_run_slot_rejections": "_builtin_run_slot_rejections",
    "action_cancel_flow": "_builtin_cancel_flow",
    "action_clarify_flows": "_builtin_clarify_flows",
    "action_correct_flow_slot": "_builtin_correct_flow_slot",
    "action_trigger_chitchat": "_builtin_trigger_chitchat",
    "action_default_fallback": "_builtin_default_fallback",
    "action_noop": "_builtin_noop",
}


def _rest_messages(recipient: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages as Rasa's REST channel (CollectingOutputChannel) sends them."""
    out: list[dict[str, Any]] = []
    text = message.get("text")
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons:
        out.append({"recipient_id": recipient, "text": text or "", "buttons": buttons})
    elif text:
        for part in str(text).strip().split("\n\n"):
            out.append({"recipient_id": recipient, "text": part})
    if message.get("elements"):
        for element in message["elements"]:
            if not isinstance(element, dict):
                continue
            item = {
                "recipient_id": recipient,
                "text": f"{element.get('title', '')} : {element.get('subtitle', '')}",
            }
            if element.get("buttons"):
                item["buttons"] = element["buttons"]
            out.append(item)
    if message.get("custom"):
        out.append({"recipient_id": recipient, "custom": message["custom"]})
    if message.get("image"):
        out.append({"recipient_id": recipient, "image": message["image"]})
    if message.get("attachment"):
        out.append({"recipient_id": recipient, "attachment": message["attachment"]})
    return out
