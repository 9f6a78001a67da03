"""Slots: the `Slot` dataclass with its mappings and validation, how a domain's ``slots``
mapping is parsed (`parse_slots`, `parse_rejections`) and written back (`slot_to_yaml`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.formats._check import Checker, describe, source_field
from engine.formats.errors import ProblemCollector, join_path

SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any", "strict_categorical")
MAPPING_TYPES = (
    "from_entity",
    "from_intent",
    "from_trigger_intent",
    "from_text",
    "from_llm",
    "controlled",
    "custom",
)


@dataclass
class MappingCondition:
    """A slot mapping condition; `active_loop` may be the string "null" to mean no active form."""

    active_loop: str | None = None
    requested_slot: str | None = None
    active_flow: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SlotMapping:
    """One entry of a slot's ``mappings``; which keys apply depends on `type`."""

    type: str
    entity: str | None = None
    role: str | None = None
    group: str | None = None
    intent: str | list[str] | None = None
    not_intent: str | list[str] | None = None
    value: Any = None
    action: str | None = None
    run_action_every_turn: str | None = None
    conditions: list[MappingCondition] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rejection:
    """A ``{if: <condition>, utter: <response>}`` pair (slot validation, collect rejections)."""

    condition: str
    utter: str


@dataclass
class SlotValidation:
    rejections: list[Rejection] = field(default_factory=list)
    refill_utter: str | None = None


@dataclass
class Slot:
    name: str
    type: str
    mappings: list[SlotMapping] | None = None
    initial_value: Any = None
    influence_conversation: bool | None = None
    values: list[Any] | None = None
    min_value: float | None = None
    max_value: float | None = None
    validation: SlotValidation | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = source_field()
    source_line: int | None = source_field()


_SLOT_KEYS = (
    "type",
    "mappings",
    "initial_value",
    "influence_conversation",
    "values",
    "min_value",
    "max_value",
    "validation",
    "allow_llm_set",
    "shared_for_coexistence",
)
_MAPPING_KEYS = (
    "type",
    "entity",
    "role",
    "group",
    "intent",
    "not_intent",
    "value",
    "action",
    "run_action_every_turn",
    "conditions",
    "coexistence_system",
    "allow_nlu_correction",
)
_CONDITION_KEYS = ("active_loop", "requested_slot", "active_flow")


def parse_slots(check: Checker, c: ProblemCollector, value: Any, path: str) -> list[Slot]:
    slots = []
    for name, spec, slot_path in check.named_items(value, path, "slots", noun="slot name"):
        settings = check.mapping(spec, slot_path, f"slot '{name}'")
        if settings is None:
            continue
        check.keys(settings, slot_path, _SLOT_KEYS, what=f"slot '{name}'", unknown="warning")
        slot_type = settings.get("type")
        if "type" not in settings:
            check.error(slot_path, f"slot '{name}' is missing the required key 'type'")
            slot_type = "any"
        elif not isinstance(slot_type, str):
            check.error(
                join_path(slot_path, "type"),
                f"slot type must be a string, not {describe(slot_type)}",
            )
            slot_type = "any"
        elif slot_type not in SLOT_TYPES and "." not in slot_type:
            check.error(
                join_path(slot_path, "type"),
                f"unknown slot type '{slot_type}' (expected one of: {', '.join(SLOT_TYPES)}, "
                "or the module path of a custom slot class)",
            )
        slot = Slot(
            name=name, type=slot_type, source_file=c.file, source_line=c.line_for(slot_path)
        )
        slots.append(slot)
        for key, val in settings.items():
            key_path = join_path(slot_path, key)
            if key == "type":
                continue
            if key == "mappings":
                slot.mappings = _parse_mappings(check, val, key_path, name)
            elif key == "initial_value":
                slot.initial_value = val
            elif key == "influence_conversation":
                slot.influence_conversation = check.boolean(val, key_path, key)
            elif key == "values":
                if val is not None:
                    values = check.seq(val, key_path, "values")
                    if values is not None:
                        for index, item in enumerate(values):
                            if isinstance(item, (dict, list)):
                                check.error(
                                    join_path(key_path, index),
                                    "each categorical value must be a plain value",
                                )
                        slot.values = values
            elif key in ("min_value", "max_value"):
                setattr(slot, key, check.number(val, key_path, key))
            elif key == "validation":
                slot.validation = _parse_slot_validation(check, val, key_path)
            else:
                slot.extra[key] = val
    return slots


def _parse_mappings(check: Checker, value: Any, path: str, slot: str) -> list[SlotMapping] | None:
    items = check.seq(value, path, f"the mappings of slot '{slot}'")
    if items is None:
        return None
    mappings = []
    for spec, item_path in check.mappings(items, path, "a slot mapping"):
        mtype = spec.get("type")
        if "type" not in spec:
            check.error(item_path, "a slot mapping is missing the required key 'type'")
            continue
        if not isinstance(mtype, str) or (mtype not in MAPPING_TYPES and "." not in mtype):
            check.error(
                join_path(item_path, "type"),
                f"unknown slot mapping type {describe(mtype)} (expected one of: "
                f"{', '.join(MAPPING_TYPES)})",
            )
            continue
        check.keys(spec, item_path, _MAPPING_KEYS, what=f"a {mtype} mapping", unknown="warning")
        if mtype == "from_entity" and "entity" not in spec:
            check.error(item_path, "a from_entity mapping needs the key 'entity'")
        if mtype == "custom":
            check.warning(
                join_path(item_path, "type"),
                "the 'custom' mapping type is deprecated; Rasa Pro treats it as 'controlled'",
            )
        mapping = SlotMapping(type=mtype)
        for key, val in spec.items():
            key_path = join_path(item_path, key)
            if key == "type":
                continue
            if key in ("entity", "role", "group", "action", "run_action_every_turn"):
                setattr(mapping, key, check.string(val, key_path, key))
            elif key in ("intent", "not_intent"):
                setattr(mapping, key, check.str_or_list(val, key_path, key))
            elif key == "value":
                mapping.value = val
            elif key == "conditions":
                mapping.conditions = _parse_mapping_conditions(check, val, key_path)
            else:
                mapping.extra[key] = val
        mappings.append(mapping)
    return mappings


def _parse_mapping_conditions(
    check: Checker, value: Any, path: str
) -> list[MappingCondition] | None:
    items = check.seq(value, path, "conditions")
    if items is None:
        return None
    out = []
    for spec, item_path in check.mappings(items, path, "a mapping condition"):
        check.keys(spec, item_path, _CONDITION_KEYS, what="a mapping condition", unknown="warning")
        cond = MappingCondition()
        for key, val in spec.items():
            key_path = join_path(item_path, key)
            if key in _CONDITION_KEYS:
                if val is None:
                    setattr(cond, key, "null")
                else:
                    setattr(cond, key, check.string(val, key_path, key))
            else:
                cond.extra[key] = val
        out.append(cond)
    return out


def parse_rejections(check: Checker, value: Any, path: str) -> list[Rejection] | None:
    """Parse a list of ``{if, utter}`` rejections."""
    items = check.seq(value, path, "rejections")
    if items is None:
        return None
    out = []
    for spec, item_path in check.mappings(items, path, "a rejection"):
        check.keys(spec, item_path, ("if", "utter"), what="a rejection", required=("if", "utter"))
        cond: Any = spec.get("if")
        utter: Any = spec.get("utter")
        if "if" in spec and not isinstance(cond, (str, bool)):
            check.error(
                join_path(item_path, "if"),
                f"a rejection condition must be a string, not {describe(cond)}",
            )
            continue
        if "utter" in spec and check.string(utter, join_path(item_path, "utter"), "utter") is None:
            continue
        if "if" in spec and "utter" in spec:
            out.append(Rejection(condition=cond, utter=utter))
    return out


def _parse_slot_validation(check: Checker, value: Any, path: str) -> SlotValidation | None:
    spec = check.mapping(value, path, "validation")
    if spec is None:
        return None
    check.keys(spec, path, ("rejections", "refill_utter"), what="slot validation")
    result = SlotValidation()
    if "rejections" in spec:
        result.rejections = (
            parse_rejections(check, spec["rejections"], join_path(path, "rejections")) or []
        )
    if "refill_utter" in spec:
        result.refill_utter = check.string(
            spec["refill_utter"], join_path(path, "refill_utter"), "refill_utter"
        )
    return result


def mapping_to_yaml(mapping: SlotMapping) -> dict[str, Any]:
    out: dict[str, Any] = {"type": mapping.type}
    for key in (
        "entity",
        "role",
        "group",
        "intent",
        "not_intent",
        "value",
        "action",
        "run_action_every_turn",
    ):
        value = getattr(mapping, key)
        if value is not None:
            out[key] = value
    if mapping.conditions is not None:
        out["conditions"] = [
            {
                **{
                    k: (None if v == "null" else v)
                    for k in _CONDITION_KEYS
                    if (v := getattr(c, k)) is not None
                },
                **c.extra,
            }
            for c in mapping.conditions
        ]
    out.update(mapping.extra)
    return out


def slot_to_yaml(slot: Slot) -> dict[str, Any]:
    out: dict[str, Any] = {"type": slot.type}
    if slot.values is not None:
        out["values"] = list(slot.values)
    for key in ("min_value", "max_value", "initial_value", "influence_conversation"):
        value = getattr(slot, key)
        if value is not None:
            out[key] = value
    if slot.mappings is not None:
        out["mappings"] = [mapping_to_yaml(m) for m in slot.mappings]
    if slot.validation is not None:
        validation: dict[str, Any] = {
            "rejections": [
                {"if": r.condition, "utter": r.utter} for r in slot.validation.rejections
            ]
        }
        if slot.validation.refill_utter is not None:
            validation["refill_utter"] = slot.validation.refill_utter
        out["validation"] = validation
    out.update(slot.extra)
    return out
