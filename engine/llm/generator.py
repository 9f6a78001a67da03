"""The LLM command generators: ``CompactLLMCommandGenerator`` (command syntax v2),
``SearchReadyLLMCommandGenerator`` (v3) and ``SingleStepLLMCommandGenerator`` (v1).

For each user message the generator renders its prompt (`engine.llm.prompt`) with the
startable flows (all of them, or the ``num_flows`` most similar to the last messages when
``flow_retrieval`` is active, plus flows with ``always_include_in_prompt``), the active flow and
its slots and the conversation; asks the LLM (`engine.llm.client`), offering a grammar of the
valid commands to servers that take one; and parses the completion (`engine.llm.dsl`).

As in Rasa: with ``minimize_num_calls`` (default true) the LLM is not asked when the commands
of the generators before it (the NLU command adapter) already start a flow or fill the slot
being asked for; their commands win over the LLM's for the same flow or slot; a completion with
no valid command gives ``cannot handle``; an LLM that fails gives ``{"command": "error"}``
(``pattern_internal_error``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.dialogue.conditions import Conditions
from engine.dialogue.flow_classifier import FlowClassifier
from engine.dialogue.model import CompiledFlow, DialogueModel
from engine.dialogue.tracker import Tracker
from engine.formats.defaults import DEFAULT_PATTERN_SLOTS
from engine.formats.languages import LANGUAGE_SLOT
from engine.llm.client import LlmClient, LlmError
from engine.llm.dsl import gbnf_grammar, parse_commands
from engine.llm.prompt import DEFAULT_TEMPLATES, PromptError, PromptTemplate, current_datetime

__all__ = ["GENERATOR_SYNTAX", "LlmCommandGenerator", "RetrievalSettings"]

logger = logging.getLogger(__name__)

Command = dict[str, Any]

#: The config.yml class names and the command syntax each one reads.
GENERATOR_SYNTAX = {
    "CompactLLMCommandGenerator": "v2",
    "SearchReadyLLMCommandGenerator": "v3",
    "SingleStepLLMCommandGenerator": "v1",
    "LLMCommandGenerator": "v1",
}
INTERNAL_ERROR = "rasa_internal_error_default"
_MAX_TRANSCRIPT_LINES = 40


@dataclass(frozen=True)
class RetrievalSettings:
    """``flow_retrieval``: ``active`` (default true), ``num_flows`` (20), ``turns_to_embed`` (1)."""

    active: bool = True
    num_flows: int = 20
    turns_to_embed: int = 1

    @classmethod
    def from_config(cls, raw: Any) -> RetrievalSettings:
        raw = raw if isinstance(raw, dict) else {}
        return cls(
            active=raw.get("active", True) is not False,
            num_flows=max(1, _int(raw.get("num_flows"), 20)),
            turns_to_embed=max(1, _int(raw.get("turns_to_embed"), 1)),
        )


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass
class LlmCommandGenerator:
    """One LLM command generator of the pipeline (implements the generator shape:
    ``name`` and ``commands(tracker, parse)``)."""

    name: str
    model: DialogueModel
    client: LlmClient
    template_text: str | None = None
    template_source: str = "the default prompt template"
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    minimize_num_calls: bool = True
    include_date_time: bool = False
    timezone: str | None = None

    def __post_init__(self) -> None:
        self.syntax = GENERATOR_SYNTAX.get(self.name, "v2")
        text = self.template_text or DEFAULT_TEMPLATES[self.syntax]
        self.template = PromptTemplate(text, self.template_source)
        self.conditions = Conditions()
        self.user_flows = [f for f in self.model.flows.values() if not f.is_pattern]
        self._retrieval = (
            FlowClassifier.train([f.flow for f in self.user_flows])
            if self.retrieval.active and len(self.user_flows) > self.retrieval.num_flows
            else None
        )
        #: The last prompt and completion, for the inspector.
        self.last_prompt: dict[str, Any] | None = None

    # -- the generator ---------------------------------------------------------------------------

    def settable_slots(self, tracker: Tracker) -> list[str]:
        """The slots the LLM may name: the domain's, without the default patterns' own slots
        (silence counters, confirmations) unless one is the slot being asked for now, and never
        the built-in ``language`` slot (which no extractor fills, as in Rasa Pro)."""
        requested = tracker.requested_slot()
        return sorted(
            name
            for name in self.model.slots
            if (name not in DEFAULT_PATTERN_SLOTS or name == requested) and name != LANGUAGE_SLOT
        )

    def commands(
        self, tracker: Tracker, parse: dict[str, Any], prior: Sequence[Command] = ()
    ) -> list[Command]:
        """The LLM's commands for the message in `parse` (after the `prior` generators')."""
        prior = list(prior)
        self.last_prompt = None
        startable = self.startable_flows(tracker)
        if not startable and not tracker.active_flow_ids():
            return prior
        if self.minimize_num_calls and self._prior_suffices(prior, tracker):
            return prior
        text = str(parse.get("text") or "")
        slots = self.settable_slots(tracker)
        grammar = gbnf_grammar(flows=startable, slots=slots, syntax=self.syntax)
        prompt = ""
        try:
            prompt = self.render(tracker, text, startable)
            response = self.client.complete(prompt, grammar=grammar)
        except (LlmError, PromptError) as exc:
            logger.warning("%s: no commands from the LLM: %s", self.name, exc)
            self.last_prompt = {"prompt": prompt, "error": str(exc)}
            error = {"command": "error", "error_type": INTERNAL_ERROR, "info": {"llm": str(exc)}}
            return [*prior, self._stamp(error)]
        result = parse_commands(response.text, flows=startable, slots=slots, syntax=self.syntax)
        self.last_prompt = {
            "prompt": prompt,
            "llm_output": response.text,
            "model": response.model,
            "latency_ms": round(response.latency_ms, 1),
            "dropped_lines": [line for line, _ in result.dropped],
        }
        commands = [self._stamp(c) for c in result.commands]
        if not commands and not prior:
            commands = [self._stamp({"command": "cannot handle", "reason": None})]
        return _merge(prior, commands)

    def _stamp(self, command: Command) -> Command:
        if command.get("command") == "set slot":
            # The LLM's value for a slot already filled is a correction (Rasa's semantics).
            command = {**command, "allow_correction": True}
        return {**command, "generator": self.name}

    def _prior_suffices(self, prior: list[Command], tracker: Tracker) -> bool:
        if any(c.get("command") == "start flow" for c in prior):
            return True
        asked = tracker.requested_slot()
        return asked is not None and any(
            c.get("command") == "set slot" and c.get("name") == asked for c in prior
        )

    # -- the prompt ------------------------------------------------------------------------------

    def startable_flows(self, tracker: Tracker) -> list[str]:
        """User flows whose guard lets the LLM start them (``if: false`` flows never)."""
        out = []
        for compiled in self.user_flows:
            guard = compiled.flow.guard
            if guard is False:
                continue
            if guard is None or guard is True or self.conditions.holds(guard, tracker.slots, {}):
                out.append(compiled.id)
        return out

    def prompt_flows(self, tracker: Tracker, text: str, startable: list[str]) -> list[str]:
        if self._retrieval is None:
            return startable
        query = " ".join(
            [*self._recent_user_messages(tracker, self.retrieval.turns_to_embed - 1), text]
        )
        allowed = set(startable)
        ranked = [r["name"] for r in self._retrieval.rank(query) if r["name"] in allowed]
        chosen = set(ranked[: self.retrieval.num_flows])
        chosen.update(
            f.id for f in self.user_flows if f.flow.always_include_in_prompt and f.id in allowed
        )
        chosen.update(f for f in tracker.active_flow_ids() if f in allowed)
        return [f for f in startable if f in chosen]

    def render(self, tracker: Tracker, text: str, startable: list[str]) -> str:
        inputs = self.inputs(tracker, text, self.prompt_flows(tracker, text, startable))
        return self.template.render(self.syntax, **inputs)

    def inputs(self, tracker: Tracker, text: str, flows: list[str]) -> dict[str, Any]:
        """The template variables (see `engine.llm.prompt`)."""
        was_set = _slots_set(tracker)
        frame = tracker.top_user_frame()
        active = self.model.flow(frame["flow_id"]) if frame is not None else None
        asked = tracker.requested_slot()
        asked_view = active.collect_step_for(asked) if active is not None and asked else None
        if asked_view is None and asked:
            asked_view = next(
                (v for f in self.user_flows if (v := f.collect_step_for(asked)) is not None), None
            )
        message = " ".join(text.split())
        inputs: dict[str, Any] = {
            "available_flows": [self._flow_entry(f, tracker, was_set, asked) for f in flows],
            "current_flow": active.id if active is not None else None,
            "current_slot": asked,
            "current_slot_description": (
                asked_view.data.get("description") if asked_view else None
            ),
            "current_slot_type": self.model.slots[asked].type
            if asked in self.model.slots
            else None,
            "current_slot_allowed_values": self._allowed(asked) if asked else None,
            "flow_slots": self._flow_slots(active, tracker, was_set, asked),
            "current_conversation": _transcript(tracker) + f"\nUSER: {message}",
            "user_message": message,
        }
        if self.include_date_time:
            inputs["current_datetime"] = current_datetime(self.timezone)
        return inputs

    def _allowed(self, name: str | None) -> str | None:
        slot = self.model.slots.get(name or "")
        if slot is None:
            return None
        if slot.type == "categorical" and slot.values:
            return "[" + ", ".join(str(v) for v in slot.values) + "]"
        if slot.type == "bool":
            return "[True, False]"
        return None

    def _extractable(self, view: Any, was_set: set[str], asked: str | None) -> bool:
        name = view.target
        if name not in self.model.slots:
            return False
        return not view.data.get("ask_before_filling") or name in was_set or name == asked

    def _collects(self, compiled: CompiledFlow) -> list[Any]:
        seen: set[str] = set()
        views = []
        for view in compiled.steps.values():
            if view.kind == "collect" and isinstance(view.target, str) and view.target not in seen:
                seen.add(view.target)
                views.append(view)
        return views

    def _flow_entry(
        self, flow_id: str, tracker: Tracker, was_set: set[str], asked: str | None
    ) -> dict[str, Any]:
        compiled = self.model.flows[flow_id]
        return {
            "name": compiled.id,
            "description": compiled.flow.description or compiled.flow.name or "",
            "slots": [
                {
                    "name": v.target,
                    "description": v.data.get("description"),
                    "allowed_values": self._allowed(v.target),
                }
                for v in self._collects(compiled)
                if self._extractable(v, was_set, asked)
            ],
        }

    def _flow_slots(
        self, active: CompiledFlow | None, tracker: Tracker, was_set: set[str], asked: str | None
    ) -> list[dict[str, Any]]:
        if active is None:
            return []
        out = []
        for view in self._collects(active):
            if not self._extractable(view, was_set, asked):
                continue
            value = tracker.slots.get(view.target)
            out.append(
                {
                    "name": view.target,
                    "value": "undefined" if value is None else str(value),
                    "type": self.model.slots[view.target].type,
                    "description": view.data.get("description"),
                    "allowed_values": self._allowed(view.target),
                }
            )
        return out

    @staticmethod
    def _recent_user_messages(tracker: Tracker, count: int) -> list[str]:
        if count <= 0:
            return []
        texts = [
            str(e.get("text") or "")
            for e in _session_events(tracker)[:-1]
            if e.get("event") == "user"
        ]
        return texts[-count:]


def _session_events(tracker: Tracker) -> list[dict[str, Any]]:
    events = tracker.events
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") in ("session_started", "restart"):
            return events[index + 1 :]
    return list(events)


def _slots_set(tracker: Tracker) -> set[str]:
    return {str(e.get("name")) for e in _session_events(tracker) if e.get("event") == "slot"}


def _transcript(tracker: Tracker) -> str:
    """``USER:`` / ``AI:`` lines of the session before the latest user message."""
    events = _session_events(tracker)
    # The latest user message is the one being understood: it is not part of the history.
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            events = events[:index]
            break
    lines = []
    for event in events:
        text = event.get("text")
        if not text:
            continue
        if event.get("event") == "user":
            lines.append(f"USER: {' '.join(str(text).split())}")
        elif event.get("event") == "bot":
            lines.append(f"AI: {' '.join(str(text).split())}")
    return "\n".join(lines[-_MAX_TRANSCRIPT_LINES:])


def _merge(prior: list[Command], commands: list[Command]) -> list[Command]:
    """`prior` commands win: the LLM's start of another flow, or value for a slot that the
    prior commands set, is dropped (Rasa's ``_check_commands_overlap``)."""
    prior_flows = {c.get("flow") for c in prior if c.get("command") == "start flow"}
    prior_slots = {c.get("name") for c in prior if c.get("command") == "set slot"}
    kept = []
    for command in commands:
        if (
            prior_flows
            and command.get("command") == "start flow"
            and command.get("flow") not in prior_flows
        ):
            continue
        if command.get("command") == "set slot" and command.get("name") in prior_slots:
            continue
        if command.get("command") == "start flow" and command.get("flow") in prior_flows:
            continue
        kept.append(command)
    return [*prior, *kept]
