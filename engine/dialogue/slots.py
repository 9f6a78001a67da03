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

__all__ = ["SlotValue", "coerce", "extract_slot_values"]

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
    flows = set(active_flows)
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
    active = list(active_flows)
    found: list[SlotValue] = []
    for slot in slots:
        mappings = slot.mappings if slot.mappings else [SlotMapping(type="from_llm")]
        for mapping in mappings:
            if not _conditions_ok(mapping, active, requested_slot, active_loop):
                continue
            value: Any = None
            kind = mapping.type
            if kind == "from_entity":
                if mapping.entity and _intent_ok(mapping, intent):
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
            elif kind == "from_llm":
                value = _entity_value(entities, slot.name, None, None)
            if value is not None:
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
