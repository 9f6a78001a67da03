"""Applying commands to the dialogue stack, with Rasa Pro's semantics.

`FlowStack` holds the stack operations (push a flow or a pattern, end the top frame, cancel the
active flow, resume a flow, reset a finished flow's slots), each recording its events.

`CommandApplier.apply` takes one turn's commands (the vocabulary of Rasa's ``Command.command()``
names: ``start flow``, ``set slot``, ``cancel flow``, ``clarify``, ``chitchat``, ``knowledge``,
``human handoff``, ``skip question``, ``cannot handle``, ``repeat``, ``restart``,
``session end``, ``error``, ``correct slot``, ``user silence``, ``handle code change``) and
works as Rasa's command processor does:

1. **Clean up** (`clean_up`): a ``set slot`` for a slot the domain lacks, or from an extractor
   its mappings do not allow (an LLM value for an NLU-only slot, an NLU value for a
   ``from_llm``-only slot, anything for a ``controlled`` slot) becomes ``cannot handle``; a
   changed value for an already filled slot that the active flow collected earlier becomes one
   ``correct slot`` command; a ``cancel flow`` without an active flow becomes ``cannot handle``;
   a ``start flow`` of the flow already on top is dropped; ``chitchat`` becomes
   ``cannot handle`` (reason ``cannot_handle_chitchat``) when pattern_chitchat runs
   ``action_trigger_chitchat`` and no ``IntentlessPolicy`` is configured; ``clarify`` next to
   other commands is dropped; at most one ``cannot handle``, ``repeat`` and ``chitchat`` stay,
   and ``cannot handle`` goes when anything else is left.
2. **Run** the commands in reverse order (so that the first one ends up on top of the stack;
   with no active flow, ``start flow`` runs first), each pushing its flow or pattern; slots are
   set in the order given.

Deliberate deviations (without an LLM): an NLU value (``extractor: NLU``) for a slot that
no flow collects is set directly, and command payloads (``generator: payload``) set any
slot of the domain; NLU values correct an earlier answer only when they come from an entity
or the mapping says ``allow_nlu_correction: true``. A turn whose commands change nothing
pushes ``pattern_cannot_handle``, so a turn never ends silent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from engine.dialogue.copying import json_copy
from engine.dialogue.model import START, CompiledFlow, DialogueModel
from engine.dialogue.slots import INVALID, coerce
from engine.dialogue.tracker import Tracker
from engine.dialogue.turn import Command, Recorder
from engine.formats import END, Slot

__all__ = [
    "CANNOT_HANDLE_CHITCHAT",
    "CANNOT_HANDLE_DEFAULT",
    "CANNOT_HANDLE_NOT_SUPPORTED",
    "CANNOT_HANDLE_NO_RELEVANT_ANSWER",
    "COMMAND_KINDS",
    "CommandApplier",
    "FlowStack",
]

log = logging.getLogger(__name__)

#: ``reason`` values pattern_cannot_handle branches on (Rasa's constants).
CANNOT_HANDLE_DEFAULT = "cannot_handle_default"
CANNOT_HANDLE_CHITCHAT = "cannot_handle_chitchat"
CANNOT_HANDLE_NOT_SUPPORTED = "cannot_handle_not_supported"
CANNOT_HANDLE_NO_RELEVANT_ANSWER = "cannot_handle_no_relevant_answer"

#: Commands that push a pattern, and the pattern.
_PATTERN_OF = {
    "chitchat": "pattern_chitchat",
    "knowledge": "pattern_search",
    "human handoff": "pattern_human_handoff",
    "repeat": "pattern_repeat_bot_messages",
    "restart": "pattern_restart",
    "session end": "pattern_session_end",
    "user silence": "pattern_user_silence",
    "skip question": "pattern_skip_question",
    "handle code change": "pattern_code_change",
}
#: Of those, the ones that need an active user flow (Rasa skips them otherwise).
_NEED_ACTIVE_FLOW = {"skip question", "handle code change"}

#: Every command kind the applier knows.
COMMAND_KINDS = frozenset(
    {
        "start flow",
        "set slot",
        "cancel flow",
        "clarify",
        "cannot handle",
        "error",
        "correct slot",
        *_PATTERN_OF,
    }
)

#: Mapping types filled by NLU (Rasa's predefined mapping types).
_NLU_MAPPINGS = {"from_entity", "from_intent", "from_trigger_intent", "from_text"}
#: Slots the default patterns count with.
SILENCE_SLOT = "consecutive_silence_timeouts"


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

    def start_user_flow(
        self, tracker: Tracker, flow_id: str, original: list[dict[str, Any]] | None = None
    ) -> None:
        """Start a user flow as Rasa's ``start flow`` command does.

        An active pattern_completed goes (with the patterns above it); a flow that is on the
        stack already is resumed (moved to the top), and an active
        pattern_continue_interrupted goes; otherwise the flow is pushed, interrupting the flow
        that was active before the turn's commands ran (`original`, default: the stack now).
        """
        original = tracker.stack if original is None else original
        self.remove_active_pattern(tracker, "pattern_completed")
        before = _top_user_frame(original)
        if before is not None and before["flow_id"] == flow_id:
            if self.remove_active_pattern(tracker, "pattern_continue_interrupted"):
                self.resume_flow(tracker, flow_id)
            return
        if flow_id in tracker.active_flow_ids() and before is not None:
            self.remove_active_pattern(tracker, "pattern_continue_interrupted")
            self.resume_flow(tracker, flow_id)
            self.recorder.flow_event(tracker, "flow_interrupted", before)
            return
        self.remove_active_pattern(tracker, "pattern_continue_interrupted")
        if before is not None:
            self.recorder.flow_event(tracker, "flow_interrupted", before)
        self.push_flow(tracker, flow_id, "interrupt" if before is not None else "regular")

    def remove_active_pattern(self, tracker: Tracker, pattern: str) -> bool:
        """When `pattern` is active (on the stack above the topmost user flow), take the
        pattern frames off the top of the stack, each completed, as Rasa does; whether it
        was."""
        stack = tracker.stack
        active = False
        for frame in reversed(stack):
            if frame.get("type") == "flow":
                break
            if frame.get("type") == pattern:
                active = True
                break
        if not active:
            return False
        end = len(stack)
        while end > 0 and stack[end - 1].get("type") != "flow":
            end -= 1
        removed = stack[end:]
        self.recorder.update_stack(tracker, stack[:end])
        for frame in reversed(removed):
            self.recorder.flow_event(tracker, "flow_completed", frame)
        return True

    def remove_patterns(self, tracker: Tracker, pattern: str) -> None:
        """Take the frames of `pattern` off the stack, each completed."""
        removed = [f for f in tracker.stack if f.get("type") == pattern]
        if not removed:
            return
        self.recorder.update_stack(tracker, [f for f in tracker.stack if f.get("type") != pattern])
        for frame in removed:
            self.recorder.flow_event(tracker, "flow_completed", frame)

    @staticmethod
    def flow_group(stack: list[dict[str, Any]], flow_id: str) -> list[dict[str, Any]]:
        """The frames that go with user flow `flow_id`, as Rasa collects them to resume or
        cancel it: its regular or interrupting frame and the frames above it (the flows it
        called or linked, its patterns) up to the next regular or interrupting user flow."""
        group: list[dict[str, Any]] = []
        for frame in stack:
            boundary = frame.get("type") == "flow" and frame.get("frame_type") not in (
                "call",
                "link",
            )
            if not group:
                if boundary and frame.get("flow_id") == flow_id:
                    group.append(frame)
                continue
            if boundary:
                break
            group.append(frame)
        return group

    def resume_flow(self, tracker: Tracker, flow_id: str) -> None:
        """Move user flow `flow_id` with its frames (`flow_group`) to the top, as Rasa
        resumes a flow: the bottom user flow becomes the regular one, the others interrupt."""
        group = self.flow_group(tracker.stack, flow_id)
        if not group:
            return
        ids = {f["frame_id"] for f in group}
        stack = json_copy([f for f in tracker.stack if f["frame_id"] not in ids] + group)
        first = True
        for frame in stack:
            if frame.get("type") != "flow" or frame.get("frame_type") in ("call", "link"):
                continue
            frame["frame_type"] = "regular" if first else "interrupt"
            first = False
        self.recorder.update_stack(tracker, stack)
        self.recorder.flow_event(tracker, "flow_resumed", group[0])

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
                self.recorder.set_slot(tracker, name, json_copy(initial.get(name)))

    def end_top_frame(self, tracker: Tracker, *, link_to: str | None = None) -> None:
        """Complete the top frame as Rasa's flow executor ends a flow.

        A link step's target (`link_to`) is pushed in its place. Then, as in Rasa: when the
        stack is empty after a user flow (or pattern_search) ended, pattern_completed runs
        unless the flow says ``run_pattern_completed: false``; when a flow that interrupted
        others ended (or pattern_search), pattern_continue_interrupted asks whether to continue
        the interrupted flows that still have steps to run (below a linked flow, which runs
        first)."""
        frame = tracker.stack[-1]
        compiled = self.model.flow(frame["flow_id"])
        self.recorder.update_stack(tracker, tracker.stack[:-1])
        self.recorder.flow_event(tracker, "flow_completed", frame)
        is_user_flow = frame.get("type") == "flow"
        if compiled is not None and frame.get("frame_type") != "call":
            # As in Rasa, every flow's slots are reset when it ends, the patterns' included
            # (unless persisted); a called flow's are reset with its parent's.
            self.reset_flow_slots(tracker, compiled)
        if link_to is not None:
            self.push_flow(tracker, link_to, "link")
        ends_search = frame.get("type") == "pattern_search"
        if not (is_user_flow or ends_search) or compiled is None:
            return
        if not tracker.stack:
            if compiled.flow.run_pattern_completed is not False:
                self.push_pattern(
                    tracker,
                    "pattern_completed",
                    {"previous_flow_name": compiled.readable_name(tracker.slots)},
                )
            return
        if ends_search or frame.get("frame_type") == "interrupt":
            self._push_continue_interrupted(tracker)

    def _push_continue_interrupted(self, tracker: Tracker) -> None:
        """pattern_continue_interrupted for the regular and interrupting user flows on the
        stack that have steps left, with their names and ids (Rasa's frame context)."""
        frames = [
            f
            for f in tracker.stack
            if f.get("type") == "flow"
            and f.get("frame_type") not in ("call", "link")
            and f.get("step_id") != END
            and self.model.flow(f["flow_id"]) is not None
        ]
        if not frames or "pattern_continue_interrupted" not in self.model.flows:
            return
        names = [self.model.flows[f["flow_id"]].readable_name(tracker.slots) for f in frames]
        context = {
            "interrupted_flow_names": names,
            "interrupted_flow_ids": [f["flow_id"] for f in frames],
            "interrupted_flow_options": options_text(names, "and"),
            "multiple_flows_interrupted": len(names) > 1,
        }
        top = tracker.stack[-1]
        below_link = top.get("type") == "flow" and top.get("frame_type") == "link"
        self.push_pattern(tracker, "pattern_continue_interrupted", context)
        if below_link:
            stack = tracker.stack
            self.recorder.update_stack(tracker, [*stack[:-2], stack[-1], stack[-2]])

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

    def cancel_flow(self, tracker: Tracker, original: list[dict[str, Any]] | None = None) -> bool:
        """Push pattern_cancel_flow for the flow that was active before the turn's commands
        ran (`original`, default: the stack now); False when no flow was active.

        The cancelled frames are that flow, the frames above it and the call frames beneath it
        that lead to it; frames the turn's commands pushed are not cancelled."""
        original = tracker.stack if original is None else original
        frame = _top_user_frame(original)
        if frame is None:
            return False
        index = next(i for i, f in enumerate(original) if f["frame_id"] == frame["frame_id"])
        start = index
        while start > 0 and original[start].get("frame_type") == "call":
            start -= 1
        cancelled = [f["frame_id"] for f in original[start:]]
        compiled = self.model.flow(frame["flow_id"])
        self.push_pattern(
            tracker,
            "pattern_cancel_flow",
            {
                "canceled_name": compiled.readable_name(tracker.slots)
                if compiled
                else frame["flow_id"],
                "canceled_frames": cancelled,
            },
        )
        return True


def _as_cancellation(command: Command) -> Command:
    """A start of pattern_cancel_flow (its trigger) is a cancellation, one with any other."""
    if command["command"] != "start flow" or command.get("flow") != "pattern_cancel_flow":
        return command
    cancel = {**command, "command": "cancel flow"}
    cancel.pop("flow")
    return cancel


def options_text(names: list[str], conjunction: str) -> str:
    """``a, b and c``: options in a sentence, as Rasa lists them."""
    if len(names) < 2:
        return names[0] if names else ""
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def _top_user_frame(stack: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((f for f in reversed(stack) if f.get("type") == "flow"), None)


@dataclass
class _Turn:
    """What the commands of one turn see: the stack before they ran, the slot being asked for
    when the message came, the flows they start; and whether a dropped command still counts
    as handled (a repeated answer, a start of the flow already active)."""

    original: list[dict[str, Any]]
    requested: str | None
    starting: list[str] = field(default_factory=list)
    quiet: bool = False
    #: The slots the turn's ``set slot`` commands changed, in order.
    changed: list[str] = field(default_factory=list)


class CommandApplier:
    """Cleans up and runs one turn's commands (see the module docstring)."""

    def __init__(self, model: DialogueModel, stack: FlowStack, recorder: Recorder) -> None:
        self.model = model
        self.stack = stack
        self.recorder = recorder

    # -- the turn ------------------------------------------------------------------------------

    def apply(self, tracker: Tracker, commands: list[Command]) -> list[Command]:
        """Clean up and run `commands`; returns the commands that ran (a ``cannot handle``
        added when none of them changed anything)."""
        turn = _Turn(json_copy(tracker.stack), tracker.requested_slot())
        known = [c for c in commands if isinstance(c, dict) and c.get("command") in COMMAND_KINDS]
        for dropped in (c for c in commands if c not in known):
            log.info("dropped a command of unknown kind: %r", dropped)
        final = self.clean_up(tracker, known, turn)
        turn.starting = [c["flow"] for c in final if c["command"] == "start flow" and c.get("flow")]
        self._reset_silence_count(tracker, final)
        handled = False
        for command in _execution_order(final, tracker):
            handled = self.run(tracker, command, turn) or handled
        self._validate_changed_slots(tracker, turn)
        if not handled and not turn.quiet:
            reason = "no_command" if not final else "commands_changed_nothing"
            self.stack.push_pattern(tracker, "pattern_cannot_handle", {"reason": reason})
            final = [*final, {"command": "cannot handle", "reason": reason}]
        return final

    def run(self, tracker: Tracker, command: Command, turn: _Turn) -> bool:
        """Run one cleaned command; True when it changed (or confirmed) something."""
        kind = command["command"]
        if kind == "set slot":
            return self.set_slot(tracker, command, turn)
        if kind == "correct slot":
            return self.correct_slots(tracker, command)
        if kind == "start flow":
            return self.start_flow(tracker, command, turn)
        if kind == "cancel flow":
            return self.stack.cancel_flow(tracker, turn.original)
        return self.push_pattern(tracker, command, turn)

    # -- clean up ------------------------------------------------------------------------------

    def clean_up(self, tracker: Tracker, commands: list[Command], turn: _Turn) -> list[Command]:
        """Rasa's clean-up of predicted commands (see the module docstring)."""
        clean: list[Command] = []
        commands = [_as_cancellation(c) for c in commands]
        for command in commands:
            self._clean_one(tracker, command, commands, clean, turn)
        for kind in ("cannot handle", "repeat", "chitchat"):
            clean = _at_most_one(clean, kind)
        if len(clean) > 1:
            clean = [c for c in clean if c["command"] != "cannot handle"]
        return clean

    def _clean_one(
        self,
        tracker: Tracker,
        command: Command,
        commands: list[Command],
        clean: list[Command],
        turn: _Turn,
    ) -> None:
        kind = command["command"]
        if kind == "set slot":
            self._clean_set_slot(tracker, command, clean, turn)
        elif kind == "correct slot":
            for name, value in _corrected_pairs(command):
                _add_correction(clean, {**command, "name": name, "value": value})
        elif kind == "cancel flow":
            if _top_user_frame(turn.original) is None:
                clean.append(_cannot_handle("cancel flow predicted but no flow is active"))
            elif not _has(clean, "cancel flow"):
                clean.append(command)
        elif kind == "start flow":
            self._clean_start_flow(tracker, command, clean, turn)
        elif kind == "chitchat":
            if self._chitchat_needs_intentless_policy():
                clean.insert(0, _cannot_handle(CANNOT_HANDLE_CHITCHAT))
            else:
                clean.insert(0, command)
        elif kind == "clarify" and len(commands) > 1:
            if all(c["command"] == "clarify" for c in commands) and not clean:
                clean.append(command)
            else:
                log.info("dropped clarify next to other commands")
        else:
            clean.append(command)

    def _clean_set_slot(
        self, tracker: Tracker, command: Command, clean: list[Command], turn: _Turn
    ) -> None:
        name: Any = command.get("name")
        slot = self.model.slots.get(name) if isinstance(name, str) else None
        if slot is None:
            log.info("set slot of %r dropped: the domain has no such slot", name)
            clean.append(_cannot_handle("the slot predicted is not defined in the domain"))
            return
        if not _extractor_allowed(slot, command, clean):
            log.info("set slot of %r dropped: its mappings do not allow that extractor", name)
            if not any(c["command"] == "set slot" and c.get("name") == name for c in clean):
                clean.append(
                    _cannot_handle(
                        "a value was extracted by an extractor the slot's mappings do not allow"
                    )
                )
            return
        extractor = _extractor(command)
        if (
            extractor == "LLM"
            and _filled_by(tracker, name) == "NLU"
            and not _mapping_flag(slot, "from_llm", "allow_nlu_correction")
        ):
            turn.quiet = True  # an LLM does not overwrite an NLU value unless allowed
            return
        current = tracker.slots.get(name)
        if current is None or name == turn.requested:
            clean.append(command)
            return
        value = coerce(slot, command.get("value"))
        if value is not INVALID and str(value) == str(current):
            turn.quiet = True
            return
        if value is INVALID or _correction_target(self.model, tracker, name) is None:
            clean.append(command)
            return
        if extractor == "NLU" and not _is_payload(command) and not command.get("allow_correction"):
            turn.quiet = True  # NLU values never correct an answer unless the mapping allows it
            return
        _add_correction(clean, command)

    def _clean_start_flow(
        self, tracker: Tracker, command: Command, clean: list[Command], turn: _Turn
    ) -> None:
        flow_id = command.get("flow")
        if not isinstance(flow_id, str) or flow_id not in self.model.flows:
            log.info("start flow of %r dropped: no such flow", flow_id)
            return
        top = _top_user_frame(turn.original)
        continuing = any(f.get("type") == "pattern_continue_interrupted" for f in tracker.stack)
        if top is not None and top["flow_id"] == flow_id and not continuing:
            turn.quiet = True
            return
        clean.append(command)

    def _chitchat_needs_intentless_policy(self) -> bool:
        compiled = self.model.flow("pattern_chitchat")
        if compiled is None:
            return True
        uses_trigger = any(
            v.kind == "action" and v.target == "action_trigger_chitchat"
            for v in compiled.steps.values()
        )
        return uses_trigger and "IntentlessPolicy" not in self.model.policies

    def _reset_silence_count(self, tracker: Tracker, commands: list[Command]) -> None:
        """A message from the user ends a silence: the count of silences starts again."""
        if _has(commands, "user silence") or SILENCE_SLOT not in self.model.slots:
            return
        if tracker.slots.get(SILENCE_SLOT) not in (None, 0, 0.0):
            self.recorder.set_slot(tracker, SILENCE_SLOT, 0.0)

    # -- running -------------------------------------------------------------------------------

    def set_slot(self, tracker: Tracker, command: Command, turn: _Turn) -> bool:
        """Set the slot; True when the command counts as handled."""
        name: Any = command.get("name")
        slot = self.model.slots.get(name)
        if slot is None:
            return False
        value = coerce(slot, command.get("value"))
        if value is INVALID:
            # An answer of the wrong type re-asks the question instead of "cannot handle".
            log.info("value %r for slot %r is not a %s", command.get("value"), name, slot.type)
            return bool(name == turn.requested)
        if not self._may_fill(tracker, name, command, turn):
            log.info("set slot of %r skipped: no active or starting flow collects it", name)
            return False
        current = tracker.slots.get(name)
        if current == value and type(current) is type(value):
            return True
        self.recorder.set_slot(tracker, name, value, filled_by=_extractor(command))
        turn.changed.append(name)
        return True

    def _validate_changed_slots(self, tracker: Tracker, turn: _Turn) -> None:
        """Push pattern_validate_slot for each slot with a ``validation`` that the turn set,
        on top of everything the commands pushed, as Rasa's command processor does (also for
        the answer to a collect step: the slot's validation runs before the step's own
        rejections). The answer to the validation's own question is checked by the frame that
        asked it."""
        top = tracker.stack[-1] if tracker.stack else {}
        for name in dict.fromkeys(turn.changed):
            slot = self.model.slots.get(name)
            if slot is None or slot.validation is None or tracker.slots.get(name) is None:
                continue
            if top.get("type") == "pattern_validate_slot" and top.get("validate") == name:
                continue
            self.stack.push_pattern(
                tracker,
                "pattern_validate_slot",
                {
                    "validate": name,
                    "refill_utter": slot.validation.refill_utter or f"utter_ask_{name}",
                    "refill_action": f"action_ask_{name}",
                    "rejections": [
                        {"if": r.condition, "utter": r.utter} for r in slot.validation.rejections
                    ],
                },
            )

    def _may_fill(self, tracker: Tracker, name: str, command: Command, turn: _Turn) -> bool:
        """Rasa's rule: a slot is set when the slot is being asked for, or a flow on the stack
        (or a flow it calls) or a flow starting now collects it without
        ``ask_before_filling``. Command payloads set any slot; an NLU value for a slot that no
        flow collects is set directly."""
        if _is_payload(command) or name == turn.requested or name == tracker.requested_slot():
            return True
        collectors = self.model.filling_flows.get(name)
        if not collectors:
            return _extractor(command) != "LLM" and not self.model.collecting_flows.get(name)
        flows = set(tracker.active_flow_ids()) | set(turn.starting)
        for flow_id in list(flows):
            compiled = self.model.flow(flow_id)
            if compiled is not None:
                flows.update(compiled.called_flows)
        return bool(collectors & flows)

    def start_flow(self, tracker: Tracker, command: Command, turn: _Turn) -> bool:
        flow_id: Any = command.get("flow")
        compiled = self.model.flow(flow_id) if flow_id else None
        if compiled is None:
            return False
        if flow_id == "pattern_cancel_flow":
            return self.stack.cancel_flow(tracker, turn.original)
        if compiled.is_pattern:
            self.stack.push_pattern(tracker, flow_id, {})
        else:
            self.stack.start_user_flow(tracker, flow_id, turn.original)
        return True

    def correct_slots(self, tracker: Tracker, command: Command) -> bool:
        """Push pattern_correction for the corrected slots (when a user flow on the stack
        collects them), going back to the earliest collect step of those slots."""
        pairs = _corrected_pairs(command)
        values: dict[str, Any] = {}
        targets: list[tuple[str, str]] = []
        for name, raw in pairs:
            slot = self.model.slots.get(name)
            value = coerce(slot, raw)
            if slot is None or value is INVALID or not self._collected_on_stack(tracker, name):
                log.info("correction of %r skipped: no flow on the stack collects it", name)
                return False
            values[name] = value
            target = _correction_target(self.model, tracker, name)
            if target is not None:
                targets.append(target)
        if not values:
            return False
        if not targets:
            for name, value in values.items():
                self.recorder.set_slot(tracker, name, value, filled_by=_extractor(command))
            return True
        compiled = self.model.flows[targets[0][0]]
        reset = min(targets, key=lambda t: compiled.order.get(t[1], 0))
        self.stack.remove_patterns(tracker, "pattern_correction")
        self.stack.push_pattern(
            tracker,
            "pattern_correction",
            {
                "is_reset_only": False,
                "corrected_slots": values,
                "corrected_slots_text": ", ".join(f"{k} to {v}" for k, v in values.items()),
                "reset_flow_id": reset[0],
                "reset_step_id": reset[1],
            },
        )
        return True

    def _collected_on_stack(self, tracker: Tracker, name: str) -> bool:
        return bool(self.model.collecting_flows.get(name, set()) & set(tracker.active_flow_ids()))

    def push_pattern(self, tracker: Tracker, command: Command, turn: _Turn) -> bool:
        """The commands that push a pattern (clarify, cannot handle, error and `_PATTERN_OF`)."""
        kind = command["command"]
        if kind == "clarify":
            options = [o for o in command.get("options") or [] if o in self.model.flows]
            if len(options) != len(command.get("options") or []):
                log.info("clarify: dropped unknown flows from %r", command.get("options"))
            if not options:
                # Rasa pushes the pattern all the same: it asks for more detail.
                log.info("clarify without options: none of them is a flow")
            self.stack.remove_active_pattern(tracker, "pattern_completed")
            self.stack.push_pattern(
                tracker,
                "pattern_clarification",
                {
                    "names": [self.model.flows[o].readable_name(tracker.slots) for o in options],
                    "clarification_ids": options,
                    "clarification_options": "",
                },
            )
            return True
        if kind == "cannot handle":
            context = {"reason": command.get("reason")} if command.get("reason") else {}
            self.stack.push_pattern(tracker, "pattern_cannot_handle", context)
            return True
        if kind == "error":
            context = {
                "error_type": command.get("error_type") or "rasa_internal_error_default",
                "info": json_copy(command.get("info") or {}),
            }
            self.stack.push_pattern(tracker, "pattern_internal_error", context)
            return True
        pattern = _PATTERN_OF.get(kind)
        if pattern is None or pattern not in self.model.flows:
            return False
        if kind in _NEED_ACTIVE_FLOW and _top_user_frame(turn.original) is None:
            log.info("%s skipped: no flow is active", kind)
            return False
        self.stack.push_pattern(tracker, pattern, {})
        return True


# -- helpers ------------------------------------------------------------------------------------


def _execution_order(commands: list[Command], tracker: Tracker) -> list[Command]:
    """Rasa's order: with no active flow a ``start flow`` goes last, then all are reversed so
    the first command ends on top of the stack. Slots are still set in the order given."""
    ordered = list(commands)
    if tracker.top_user_frame() is None:
        starts = [c for c in ordered if c["command"] == "start flow"]
        if starts:
            ordered = [c for c in ordered if c is not starts[-1]] + [starts[-1]]
    ordered.reverse()
    slots = iter([c for c in commands if c["command"] == "set slot"])
    return [next(slots) if c["command"] == "set slot" else c for c in ordered]


def _has(commands: list[Command], kind: str) -> bool:
    return any(c["command"] == kind for c in commands)


def _at_most_one(commands: list[Command], kind: str) -> list[Command]:
    seen = False
    out = []
    for command in commands:
        if command["command"] == kind:
            if seen:
                continue
            seen = True
        out.append(command)
    return out


def _cannot_handle(reason: str) -> Command:
    return {"command": "cannot handle", "reason": reason}


def _is_payload(command: Command) -> bool:
    return (
        command.get("generator") == "payload"
        or command.get("extractor") == "COMMAND_PAYLOAD_READER"
    )


def _extractor(command: Command) -> str | None:
    """``LLM``, ``NLU`` or None. An NLU value found through a ``from_llm`` mapping (the offline
    stand-in for an LLM) counts as the LLM's."""
    if _is_payload(command):
        return None
    if command.get("mapping_type") == "from_llm":
        return "LLM"
    extractor = command.get("extractor")
    return extractor if extractor in ("LLM", "NLU") else None


def _mapping_types(slot: Slot) -> set[str]:
    return {m.type for m in slot.mappings} if slot.mappings else {"from_llm"}


def _mapping_flag(slot: Slot, mapping_type: str, flag: str) -> bool:
    return any(m.type == mapping_type and bool(m.extra.get(flag)) for m in (slot.mappings or []))


def _extractor_allowed(slot: Slot, command: Command, clean: list[Command]) -> bool:
    """Rasa's ``should_slot_be_set``: whether the slot's mappings allow the extractor."""
    extractor = _extractor(command)
    if extractor is None:
        return True
    types = _mapping_types(slot)
    has_nlu = bool(types & _NLU_MAPPINGS)
    allows_llm = "from_llm" in types
    earlier = [c for c in clean if c["command"] == "set slot" and c.get("name") == slot.name]
    if earlier and extractor == "LLM":
        return allows_llm and not any(_extractor(c) == "NLU" for c in earlier)
    if extractor == "LLM" and has_nlu and not allows_llm:
        return False
    if extractor == "NLU" and allows_llm and not has_nlu:
        return False
    return has_nlu or allows_llm


def _filled_by(tracker: Tracker, name: str) -> str | None:
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == name:
            filled_by = event.get("filled_by")
            return filled_by if isinstance(filled_by, str) else None
        if event.get("event") in ("restart", "session_started"):
            return None
    return None


def _corrected_pairs(command: Command) -> list[tuple[str, Any]]:
    """The ``(slot, value)`` pairs of a ``correct slot`` (or ``set slot``) command:
    ``name``/``value``, or ``corrected_slots`` as a list of ``{name, value}`` or a mapping."""
    slots = command.get("corrected_slots")
    if isinstance(slots, dict):
        return [(str(k), v) for k, v in slots.items()]
    if isinstance(slots, list):
        return [
            (str(s["name"]), s.get("value"))
            for s in slots
            if isinstance(s, dict) and isinstance(s.get("name"), str)
        ]
    name = command.get("name")
    return [(name, command.get("value"))] if isinstance(name, str) else []


def _add_correction(clean: list[Command], command: Command) -> None:
    """Group corrections into one ``correct slot`` command, as Rasa does."""
    entry = {"name": command.get("name"), "value": command.get("value")}
    for existing in clean:
        if existing["command"] == "correct slot":
            existing["corrected_slots"].append(entry)
            return
    correction: Command = {"command": "correct slot", "corrected_slots": [entry]}
    for key in ("generator", "extractor"):
        if key in command:
            correction[key] = command[key]
    clean.append(correction)


def _correction_target(model: DialogueModel, tracker: Tracker, name: str) -> tuple[str, str] | None:
    """``(flow_id, collect step id)`` when setting `name` corrects an answer the active flow
    collected earlier (its collect step is at or before the current step)."""
    frame = tracker.top_user_frame()
    if frame is None:
        return None
    compiled = model.flow(frame["flow_id"])
    if compiled is None:
        return None
    view = compiled.collect_step_for(name)
    if view is None:
        return None
    step_id: Any = frame.get("step_id")
    current = compiled.order.get(step_id, -1)
    if compiled.order[view.id] > current:
        return None
    return compiled.id, view.id
