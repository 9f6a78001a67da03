"""Understanding a message: command generators turn parse data into commands for the stack.

Two generators, each an object with a ``name`` and ``commands(tracker, parse)``:

* `NLUCommandAdapter` (Rasa's component of that name): payload commands (``/SetSlots(...)``,
  ``/StartFlow(...)``) as they are, a flow whose ``nlu_trigger`` the intent meets, and ``set
  slot`` commands from the NLU slot mappings (entities, intents, ``from_text``). It may return
  nothing.
* `OfflineCommandGenerator`, what a CALM assistant understands without a language model (the
  default when no LLM is configured). It does what the adapter does, then reads the free text
  (`engine.dialogue.extract`), in this order:

  1. a cancellation ("never mind") cancels the active flow;
  2. a move that is about neither slots nor flows: ``skip question`` (while a question is
     asked), ``repeat``, ``restart``, ``human handoff`` (unless a flow for it is retrieved);
  3. a correction ("I meant Joe", "make it 60") sets the earlier answer it fits (the applier
     turns a changed answer into ``pattern_correction``);
  4. the slot being asked for gets the value the message gives for it, by the slot's type;
  5. flow retrieval (`FlowClassifier`) starts the closest startable flow, or asks to clarify
     when two are close;
  6. other slots of the flows on the stack or starting that the message names ("Transfer $50
     to Joe") are set;
  7. if nothing came out: ``chitchat`` for small talk, ``knowledge`` for a question, else
     ``cannot handle``.

Every command carries ``"generator"``: the name of the generator, or ``"payload"``.
"""

from __future__ import annotations

import re
from typing import Any

from engine.dialogue import extract
from engine.dialogue.conditions import Conditions
from engine.dialogue.flow_classifier import FlowClassifier
from engine.dialogue.model import CompiledFlow, DialogueModel
from engine.dialogue.slots import extract_slot_values
from engine.dialogue.tracker import Tracker
from engine.dialogue.turn import Command
from engine.formats import Slot

__all__ = [
    "NLUCommandAdapter",
    "OfflineCommandGenerator",
    "Understanding",
]

#: Words a text answer may have at most: longer messages are not taken as a name or a city.
MAX_TEXT_ANSWER_WORDS = 8


def _set_slot(name: str, value: Any, generator: str, **extra: Any) -> Command:
    return {
        "command": "set slot",
        "name": name,
        "value": value,
        "extractor": "NLU" if generator == "NLUCommandAdapter" else "LLM",
        "generator": generator,
        **extra,
    }


def _guard_ok(
    conditions: Conditions, compiled: CompiledFlow, tracker: Tracker, *, by_trigger: bool
) -> bool:
    """Whether the flow's guard lets it start (``if: false`` flows start only by trigger)."""
    guard = compiled.flow.guard
    if guard is None or guard is True:
        return True
    if guard is False:
        return by_trigger
    return conditions.holds(guard, tracker.slots, {})


class NLUCommandAdapter:
    """Intents and entities -> commands, as Rasa's NLUCommandAdapter (no fallback command)."""

    name = "NLUCommandAdapter"

    def __init__(self, model: DialogueModel, conditions: Conditions) -> None:
        self.model = model
        self.conditions = conditions

    def commands(self, tracker: Tracker, parse: dict[str, Any]) -> list[Command]:
        text = parse.get("text") or ""
        is_payload = text.strip().startswith("/")
        commands: list[Command] = []
        for command in parse.get("commands") or []:
            if isinstance(command, dict) and command.get("command"):
                commands.append({**command, "generator": "payload"})
        triggered = self.triggered_flow(tracker, parse)
        if triggered is not None:
            commands.append({"command": "start flow", "flow": triggered, "generator": self.name})
        starting = [c["flow"] for c in commands if c["command"] == "start flow" and c.get("flow")]
        values = extract_slot_values(
            self.model.domain.slots,
            parse,
            active_flows=[*tracker.active_flow_ids(), *starting],
            requested_slot=tracker.requested_slot(),
            triggered=triggered is not None,
            is_payload=is_payload,
            active_loop=tracker.active_loop.get("name"),
        )
        for value in values:
            commands.append(
                _set_slot(
                    value.slot,
                    value.value,
                    self.name,
                    mapping_type=value.mapping_type,
                    allow_correction=value.allow_correction,
                )
            )
        return commands

    def triggered_flow(self, tracker: Tracker, parse: dict[str, Any]) -> str | None:
        """The flow whose ``nlu_trigger`` the parsed intent meets, or None."""
        intent = parse.get("intent") or {}
        name = intent.get("name")
        if not name:
            return None
        confidence = float(intent.get("confidence") or 0.0)
        for compiled, threshold in self.model.triggers(name):
            if confidence >= threshold and _guard_ok(
                self.conditions, compiled, tracker, by_trigger=True
            ):
                return compiled.id
        return None


class _Turn:
    """What the offline generator knows while it reads one message."""

    def __init__(self, tracker: Tracker, text: str, commands: list[Command]) -> None:
        self.tracker = tracker
        self.text = text
        self.commands = commands
        self.requested = tracker.requested_slot()
        self.set_names = {c.get("name") for c in commands if c["command"] == "set slot"}
        self.starting = [c["flow"] for c in commands if c["command"] == "start flow"]

    def add(self, command: Command) -> None:
        self.commands.append(command)
        if command["command"] == "set slot":
            self.set_names.add(command["name"])
        elif command["command"] == "start flow":
            self.starting.append(command["flow"])


class OfflineCommandGenerator:
    """Commands from a message without a language model (see the module docstring)."""

    name = "OfflineCommandGenerator"

    def __init__(
        self,
        model: DialogueModel,
        flow_classifier: FlowClassifier | None,
        conditions: Conditions,
        *,
        synonyms: dict[str, list[str]] | None = None,
    ) -> None:
        self.model = model
        self.flow_classifier = flow_classifier
        self.conditions = conditions
        self.settings = model.settings
        self.nlu = NLUCommandAdapter(model, conditions)
        #: Categorical values' other names, {value: [synonym, ...]} (the NLU data's synonyms).
        self.synonyms = model.synonyms if synonyms is None else synonyms
        self._hints = _slot_hints(model)

    def commands(self, tracker: Tracker, parse: dict[str, Any]) -> list[Command]:
        text = parse.get("text") or ""
        commands = self.nlu.commands(tracker, parse)
        if text.strip().startswith("/") or not text.strip():
            if not commands:
                commands.append(self._command("cannot handle", reason="no_command"))
            return commands
        turn = _Turn(tracker, text, commands)
        if self._moves(turn):
            return turn.commands
        if self._correction(turn):
            return turn.commands
        retrieved = None if turn.starting else self.classify(tracker, text)
        answered = self._requested_value(turn, retrieved)
        if retrieved is not None and not (answered and _short(text)):
            turn.add(retrieved)  # a short answer ("savings") answers; it starts nothing
        self._mentions(turn)
        if not turn.commands:
            turn.add(self._fallback(parse, text))
        return turn.commands

    # -- the steps --------------------------------------------------------------------------

    def _command(self, kind: str, **fields: Any) -> Command:
        return {"command": kind, **fields, "generator": self.name}

    def _moves(self, turn: _Turn) -> bool:
        """Cancellation and the moves about neither slots nor flows; True when one was made."""
        text = turn.text
        if extract.is_cancel(text):
            if turn.tracker.top_user_frame() is None:
                return False
            turn.add(self._command("cancel flow"))
            return True
        move = extract.move(text)
        if move in (None, "chitchat"):
            return False
        if move == "skip question" and turn.requested is None:
            return False
        if move == "human handoff":
            retrieved = self.classify(turn.tracker, text)
            if retrieved is not None and retrieved["command"] == "start flow":
                turn.add(retrieved)
                return True
        turn.add(self._command(str(move)))
        return True

    def _correction(self, turn: _Turn) -> bool:
        """A correction of an answer the active flow collected; True when one was found."""
        value_text = extract.correction_phrase(turn.text)
        frame = turn.tracker.top_user_frame()
        if value_text is None or frame is None:
            return False
        compiled = self.model.flow(frame["flow_id"])
        if compiled is None:
            return False
        filled = [s for s in compiled.collect_slots if turn.tracker.slots.get(s) is not None]
        for name in reversed(filled):
            slot = self.model.slots.get(name)
            if slot is None or name in turn.set_names or not _llm_fillable(slot):
                continue
            value = extract.value_for(slot, value_text, self._hints.get(name, ""), self.synonyms)
            if value is None or value == turn.tracker.slots.get(name):
                continue
            turn.add(_set_slot(name, value, self.name, allow_correction=True))
            return True
        return False

    def _requested_value(self, turn: _Turn, retrieved: Command | None) -> bool:
        """The answer to the question being asked, if the message gives one (then True)."""
        name = turn.requested
        slot = self.model.slots.get(name) if name else None
        if slot is None or name in turn.set_names or not _llm_fillable(slot):
            return False
        hint = self._hints.get(slot.name, "")
        value = extract.value_for(slot, turn.text, hint, self.synonyms)
        if value is None:
            return False
        if _free_answer(slot, value) and (
            retrieved is not None
            or turn.starting
            or (extract.is_question(turn.text) and not _wants_a_question(slot, hint))
            or extract.move(turn.text) == "chitchat"
            or len(str(value).split()) > MAX_TEXT_ANSWER_WORDS
        ):
            return False  # the message is about something else than this answer
        turn.add(_set_slot(slot.name, value, self.name))
        return True

    def _mentions(self, turn: _Turn) -> None:
        """Slots of the flows on the stack (or starting) that the message names."""
        flows = [*turn.tracker.active_flow_ids(), *turn.starting]
        names: list[str] = []
        seen: set[str] = set()
        while flows:
            compiled = self.model.flow(flows.pop(0))
            if compiled is None or compiled.id in seen:
                continue
            seen.add(compiled.id)
            names.extend(compiled.collect_slots)
            flows.extend(compiled.called_flows)
        for name in dict.fromkeys(names):
            slot = self.model.slots.get(name)
            if (
                slot is None
                or name == turn.requested
                or name in turn.set_names
                or turn.tracker.slots.get(name) is not None
                or not _llm_fillable(slot)
            ):
                continue
            hint = self._hints.get(name, "")
            value = extract.mentioned_value(slot, turn.text, hint, self.synonyms)
            if value is not None:
                turn.add(_set_slot(name, value, self.name))

    def _fallback(self, parse: dict[str, Any], text: str) -> Command:
        if extract.move(text) == "chitchat":
            return self._command("chitchat")
        if extract.is_question(text):
            return self._command("knowledge")
        confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
        name = (parse.get("intent") or {}).get("name")
        # A FallbackClassifier in the pipeline already said so: the intent is nlu_fallback.
        low = name == "nlu_fallback" or confidence < float(self.settings["nlu_fallback_threshold"])
        reason = "low_confidence" if name and low else "no_command"
        return self._command("cannot handle", reason=reason)

    # -- flow retrieval ---------------------------------------------------------------------

    def guard_ok(self, compiled: CompiledFlow, tracker: Tracker, *, by_trigger: bool) -> bool:
        return _guard_ok(self.conditions, compiled, tracker, by_trigger=by_trigger)

    def triggered_flow(self, tracker: Tracker, parse: dict[str, Any]) -> str | None:
        return self.nlu.triggered_flow(tracker, parse)

    def classify(self, tracker: Tracker, text: str) -> Command | None:
        """A ``start flow`` or ``clarify`` command from flow retrieval, or None.

        The best flow starts when its score reaches ``flow_classifier_threshold`` and no other
        flow is within ``clarification_margin`` of it; flows within that margin that all reach
        ``clarification_threshold`` are offered as a clarification. One startable flow alone
        starts on its score.
        """
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
        start = float(self.settings["flow_classifier_threshold"])
        low = float(self.settings["clarification_threshold"])
        margin = float(self.settings["clarification_margin"])
        close = [
            c
            for c in candidates
            if c["confidence"] >= low and best["confidence"] - c["confidence"] < margin
        ]
        if len(close) >= 2:
            return self._command("clarify", options=[c["name"] for c in close])
        if best["confidence"] >= start:
            return self._command("start flow", flow=best["name"])
        return None


#: The generator the processor runs when no language model is configured.
Understanding = OfflineCommandGenerator


def _llm_fillable(slot: Slot) -> bool:
    """Whether free text may fill `slot`: ``from_llm`` mappings, or none (Rasa Pro's default)."""
    return not slot.mappings or any(m.type == "from_llm" for m in slot.mappings)


#: Words in a slot's name or its collect step's description that say its answer is a question.
_QUESTION_SLOT = re.compile(r"\b(?:questions?|query|queries|enquiry|inquiry|issue|problem)\b", re.I)


def _wants_a_question(slot: Slot, hint: str) -> bool:
    """Whether the slot asked for holds a question ("product_question", "the user's question
    about a product"): then a question answers it rather than being a knowledge question."""
    return bool(_QUESTION_SLOT.search(f"{slot.name.replace('_', ' ')} {hint}"))


def _short(text: str) -> bool:
    """A message of at most three words: an answer, not a new request."""
    return len(text.split()) <= 3


def _free_answer(slot: Slot, value: Any) -> bool:
    """Whether `value` is free text taken as an answer (not a parsed yes/no, number or date)."""
    return slot.type in ("text", "any", "list") and not isinstance(value, bool)


def _slot_hints(model: DialogueModel) -> dict[str, str]:
    """What the flows say about each slot: the descriptions of the collect steps."""
    hints: dict[str, list[str]] = {}
    for compiled in model.flows.values():
        for view in compiled.steps.values():
            if view.kind == "collect" and isinstance(view.target, str):
                description = view.data.get("description")
                if isinstance(description, str) and description.strip():
                    hints.setdefault(view.target, []).append(description.strip())
    return {name: " ".join(texts) for name, texts in hints.items()}
