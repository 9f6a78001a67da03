"""Slot values: coercion to the slot's type and extraction through the slot mappings.

Mapping types (Rasa's NLU-based mappings, as the NLUCommandAdapter applies them):

* ``from_entity``: the first entity of that name whose role and group equal the mapping's (an
  entity with a role does not fill a mapping without one), optionally limited by ``intent`` /
  ``not_intent``.
* ``from_intent``: the mapping's ``value`` when the intent matches.
* ``from_trigger_intent``: like ``from_intent``, but only when the intent starts a flow in
  this message.
* ``from_text``: the whole message, only while the slot is being asked for.
* ``from_llm`` (and slots without mappings, which Rasa Pro treats as ``from_llm``): an entity
  named like the slot fills it; the free text is read by the command generator instead (the
  offline generator reads the value by the slot's type, `engine.dialogue.extract`).
* ``controlled`` / ``custom``: never from NLU; only actions, ``set_slots`` and command payloads
  such as ``/SetSlots(...)`` set them.

``conditions`` on a mapping hold if any of them holds: ``active_flow`` (a user flow on the stack
or starting in this message), ``requested_slot``, ``active_loop`` (``null`` means none).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.formats import Slot, SlotMapping

__all__ = [
    "LoopState",
    "SlotValue",
    "coerce",
    "extract_classic_slot_values",
    "extract_slot_values",
    "mapping_key",
]

_TRUE = {"true", "yes", "y", "yeah", "yep", "1", "on", "affirmative"}
_FALSE = {"false", "no", "n", "nope", "0", "off", "negative"}
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_WORD = re.compile(r"\w+", re.UNICODE)


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def _as_float(value: Any) -> Any:
    if isinstance(value, bool):
        return INVALID
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else INVALID
    if isinstance(value, str):
        numbers = _NUMBER.findall(value)
        if len(numbers) != 1:
            return INVALID
        try:
            return float(numbers[0].replace(",", ""))
        except ValueError:
            return INVALID
    return INVALID


def _as_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value) if value in (0, 1) else INVALID
    if isinstance(value, str):
        text = value.strip().lower().strip(".!")
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return INVALID


def _as_categorical(value: Any, values: list[Any]) -> Any:
    if not values:
        return value
    for candidate in values:
        if candidate == value and type(candidate) is type(value):
            return candidate
    text = str(value).strip().lower()
    for candidate in values:
        if str(candidate).lower() == text:
            return candidate
    # Lenient: exactly one allowed value appears as a word in the text ("the savings one").
    words = set(_WORD.findall(text))
    found = [c for c in values if str(c).lower() in words]
    if len(found) == 1:
        return found[0]
    return INVALID


def coerce(slot: Slot | None, value: Any) -> Any:
    """`value` converted to `slot`'s type, or `INVALID`. ``None`` always stays ``None``."""
    if value is None or slot is None:
        return value
    kind = slot.type
    if kind == "float":
        return _as_float(value)
    if kind == "bool":
        return _as_bool(value)
    if kind in ("categorical", "strict_categorical"):
        return _as_categorical(value, list(slot.values or []))
    if kind == "text":
        if isinstance(value, (dict, list)):
            return INVALID
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if kind == "list":
        if isinstance(value, list):
            return value
        return [value]
    return value


@dataclass
class SlotValue:
    """A value found for a slot in a user message, before coercion."""

    slot: str
    value: Any
    mapping_type: str
    allow_correction: bool = False


def _names(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _intent_ok(mapping: SlotMapping, intent: str | None) -> bool:
    wanted = _names(mapping.intent)
    if wanted and intent not in wanted:
        return False
    return intent not in _names(mapping.not_intent) if intent is not None else True


def _conditions_ok(
    mapping: SlotMapping,
    active_flows: Iterable[str],
    requested_slot: str | None,
    active_loop: str | None,
) -> bool:
    if not mapping.conditions:
        return True
    flows = active_flows if isinstance(active_flows, set | frozenset) else set(active_flows)
    for cond in mapping.conditions:
        ok = True
        if cond.active_flow is not None:
            ok = ok and cond.active_flow in flows
        if cond.requested_slot is not None:
            ok = ok and cond.requested_slot == requested_slot
        if cond.active_loop is not None:
            ok = ok and (
                active_loop is None
                if cond.active_loop == "null"
                else cond.active_loop == active_loop
            )
        if ok:
            return True
    return False


def _entity_value(
    entities: list[dict[str, Any]], name: str, role: str | None, group: str | None
) -> Any:
    for entity in entities:
        if (
            entity.get("entity") == name
            and entity.get("role") == role
            and entity.get("group") == group
        ):
            return entity.get("value")
    return None


#: The mappings of a slot that lists none (Rasa Pro's default; never changed).
_FROM_LLM = (SlotMapping(type="from_llm"),)


def extract_slot_values(
    slots: Iterable[Slot],
    parse_data: dict[str, Any],
    *,
    active_flows: Iterable[str],
    requested_slot: str | None,
    triggered: bool,
    is_payload: bool,
    active_loop: str | None = None,
) -> list[SlotValue]:
    """Values for slots found in one message, at most one per slot (first matching mapping)."""
    intent = (parse_data.get("intent") or {}).get("name")
    entities = parse_data.get("entities") or []
    text = parse_data.get("text") or ""
    active = set(active_flows)
    # The entity names of the message: a mapping of another entity finds no value.
    named = {entity.get("entity") for entity in entities} - {None, ""}
    found: list[SlotValue] = []
    for slot in slots:
        mappings = slot.mappings or _FROM_LLM
        for mapping in mappings:
            # The value first, the conditions only for a value: both must hold, and most
            # mappings of a large assistant find nothing in a message.
            value: Any = None
            kind = mapping.type
            if kind == "from_entity":
                if mapping.entity and mapping.entity in named and _intent_ok(mapping, intent):
                    value = _entity_value(entities, mapping.entity, mapping.role, mapping.group)
            elif kind == "from_intent":
                if intent is not None and _intent_ok(mapping, intent):
                    value = mapping.value
            elif kind == "from_trigger_intent":
                if triggered and intent is not None and _intent_ok(mapping, intent):
                    value = mapping.value
            elif kind == "from_text":
                if requested_slot == slot.name and not is_payload and _intent_ok(mapping, intent):
                    value = text
            elif kind == "from_llm" and slot.name in named:
                value = _entity_value(entities, slot.name, None, None)
            if value is not None and _conditions_ok(mapping, active, requested_slot, active_loop):
                found.append(
                    SlotValue(
                        slot.name,
                        value,
                        kind,
                        allow_correction=bool(mapping.extra.get("allow_nlu_correction"))
                        or kind == "from_entity",
                    )
                )
                break
    return found


@dataclass
class LoopState:
    """What classic slot filling needs to know about the active form (Rasa's loop state)."""

    name: str | None = None
    requested_slot: str | None = None
    rejected: bool = False
    #: The active form's ``required_slots``.
    required_slots: tuple[str, ...] = ()
    #: The active form's ``ignored_intents``.
    ignored_intents: tuple[str, ...] = ()
    #: Whether a form is being activated in this step (``from_trigger_intent`` fills then).
    activating: bool = False


def _classic_conditions_ok(mapping: SlotMapping, slot: str, loop: LoopState) -> bool:
    """Rasa's form conditions: a mapping with ``conditions`` fills only when one of them
    matches the active loop (and its ``requested_slot``, if given), or ``active_loop: null``
    with no loop active; never the requested slot of a rejected loop."""
    if not mapping.conditions or mapping.type == "from_trigger_intent":
        return True
    if loop.rejected and loop.requested_slot == slot:
        return False
    for cond in mapping.conditions:
        wanted = None if cond.active_loop in (None, "null") else cond.active_loop
        if (
            wanted is not None
            and wanted == loop.name
            and (not cond.requested_slot or cond.requested_slot == loop.requested_slot)
        ):
            return True
        if wanted is None and loop.name is None:
            return True
    return False


def _classic_intent_ok(mapping: SlotMapping, intent: str | None, loop: LoopState) -> bool:
    wanted = _names(mapping.intent)
    blocked = _names(mapping.not_intent)
    if loop.name is not None:
        matches_loop = not mapping.conditions or any(
            c.active_loop == loop.name for c in mapping.conditions
        )
        if matches_loop:
            blocked = blocked + list(loop.ignored_intents)
    return (not wanted and intent not in blocked) or intent in wanted


def _trigger_ok(mapping: SlotMapping, loop: LoopState) -> bool:
    if loop.name is None or not loop.activating:
        return False
    loops = [c.active_loop for c in mapping.conditions or [] if c.active_loop]
    return not loops or loop.name in loops


def _classic_values(mapping: SlotMapping, parse_data: dict[str, Any], loop: LoopState) -> list[Any]:
    kind = mapping.type
    if kind == "from_entity":
        return [
            e.get("value")
            for e in parse_data.get("entities") or []
            if e.get("entity") == mapping.entity
            and e.get("role") == mapping.role
            and e.get("group") == mapping.group
        ]
    if kind == "from_intent" or (kind == "from_trigger_intent" and _trigger_ok(mapping, loop)):
        return [mapping.value]
    if kind == "from_text":
        return [parse_data.get("text")]
    return []


def extract_classic_slot_values(
    slots: Iterable[Slot],
    parse_data: dict[str, Any],
    loop: LoopState,
    current: dict[str, Any],
    *,
    unique_entity_mappings: set[str] | None = None,
) -> list[tuple[str, Any]]:
    """The slot values Rasa's ``action_extract_slots`` sets for one user message in a classic
    assistant: for each slot, its first mapping that applies (``from_entity``,
    ``from_intent``, ``from_trigger_intent``, ``from_text``; ``from_llm``, ``controlled`` and
    ``custom`` mappings are skipped), with the mapping's ``intent`` / ``not_intent``, the
    form's ``ignored_intents`` and the mapping ``conditions`` as Rasa checks them. While a
    form is active, an entity that fills several of its required slots fills only the one
    requested (`unique_entity_mappings` holds the mapping keys, `mapping_key`, that fill one
    slot only). A list slot gets every value; another slot the last one. A ``None`` value is
    set only over a value."""
    intent = (parse_data.get("intent") or {}).get("name")
    found: list[tuple[str, Any]] = []
    for slot in slots:
        for mapping in slot.mappings or []:
            if mapping.type in ("from_llm", "controlled", "custom"):
                continue
            if not _classic_intent_ok(mapping, intent, loop):
                continue
            if not _classic_conditions_ok(mapping, slot.name, loop):
                continue
            if (
                mapping.type == "from_entity"
                and loop.name is not None
                and loop.requested_slot != slot.name
                and slot.name in loop.required_slots
                and unique_entity_mappings is not None
                and mapping_key(mapping) not in unique_entity_mappings
            ):
                continue
            values = _classic_values(mapping, parse_data, loop)
            if not values:
                continue
            value = values if slot.type == "list" else values[-1]
            if value is not None or current.get(slot.name) is not None:
                found.append((slot.name, value))
                break
    return found


def mapping_key(mapping: SlotMapping) -> str:
    """A ``from_entity`` mapping as a comparable key (entity, role, group, intents,
    conditions): two slots' mappings with equal keys fill from the same entity."""
    return repr(
        (
            mapping.entity,
            mapping.role,
            mapping.group,
            _names(mapping.intent),
            _names(mapping.not_intent),
            [(c.active_loop, c.requested_slot) for c in mapping.conditions or []],
        )
    )
