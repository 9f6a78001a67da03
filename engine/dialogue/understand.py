"""Understanding a message: NLU parse data becomes commands for the dialogue stack.

`Understanding` is the command generator without a language model (payload commands, flows
started by ``nlu_trigger``, slot mappings, the flow classifier); `slot_allowed` and
`correction_target` answer what a ``set slot`` command may do in the current state.
"""

from __future__ import annotations

from typing import Any

from engine.dialogue.conditions import Conditions
from engine.dialogue.flow_classifier import FlowClassifier
from engine.dialogue.model import CompiledFlow, DialogueModel
from engine.dialogue.slots import extract_slot_values
from engine.dialogue.tracker import Tracker
from engine.dialogue.turn import Command

__all__ = ["Understanding", "correction_target", "slot_allowed"]


class Understanding:
    """The commands for a parsed message (see the processor's module docstring, stage 1)."""

    def __init__(
        self,
        model: DialogueModel,
        flow_classifier: FlowClassifier | None,
        conditions: Conditions,
    ) -> None:
        self.model = model
        self.flow_classifier = flow_classifier
        self.conditions = conditions
        self.settings = model.settings

    def commands(self, tracker: Tracker, parse: dict[str, Any]) -> list[Command]:
        text = parse.get("text") or ""
        is_payload = text.strip().startswith("/")
        commands: list[Command] = []
        for command in parse.get("commands") or []:
            if isinstance(command, dict) and command.get("command"):
                commands.append({**command, "source": "payload"})
        triggered = self.triggered_flow(tracker, parse)
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
            classified = self.classify(tracker, text)
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

    def guard_ok(self, compiled: CompiledFlow, tracker: Tracker, *, by_trigger: bool) -> bool:
        """Whether the flow's guard lets it start (``if: false`` flows start only by trigger)."""
        guard = compiled.flow.guard
        if guard is None or guard is True:
            return True
        if guard is False:
            return by_trigger
        return self.conditions.holds(guard, tracker.slots, {})

    def triggered_flow(self, tracker: Tracker, parse: dict[str, Any]) -> str | None:
        """The flow whose ``nlu_trigger`` the parsed intent meets, or None."""
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
                    and self.guard_ok(compiled, tracker, by_trigger=True)
                ):
                    return compiled.id
        return None

    def classify(self, tracker: Tracker, text: str) -> Command | None:
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
                or not self.guard_ok(compiled, tracker, by_trigger=False)
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


def slot_allowed(model: DialogueModel, tracker: Tracker, name: str, starting: list[str]) -> bool:
    """Whether NLU may fill slot `name`: no flow collects it, or one on the stack (or starting,
    or called from one of those) does, or it is the slot being asked for."""
    collectors = model.collecting_flows.get(name)
    if not collectors:
        return True
    on_stack = set(tracker.active_flow_ids()) | set(starting)
    # Flows called from flows on the stack count as well (their slots are shared).
    for flow_id in list(on_stack):
        compiled = model.flow(flow_id)
        if compiled is not None:
            on_stack.update(compiled.called_flows)
    return bool(collectors & on_stack) or name == tracker.requested_slot()


def correction_target(model: DialogueModel, tracker: Tracker, name: str) -> tuple[str, str] | None:
    """``(flow_id, collect step id)`` when setting `name` corrects an earlier answer."""
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
