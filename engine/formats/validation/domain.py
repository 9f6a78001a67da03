"""Domain checks: intents, slots (values, mappings, validation), responses (conditions,
button payloads, slots used in texts) and actions."""

from __future__ import annotations

import re

from engine.formats.domain import Action, Intent
from engine.formats.errors import join_path
from engine.formats.responses import Response, ResponseVariation
from engine.formats.slots import MappingCondition, Slot, SlotMapping, SlotValidation
from engine.formats.validation.context import Context, Report, check_condition, value_problem

__all__ = ["check_domain", "check_slot"]

_SET_SLOTS_PAYLOAD_RE = re.compile(r"^/SetSlots\((?P<args>.*)\)\s*$")
_INTENT_PAYLOAD_RE = re.compile(r"^/(?P<intent>[^{(\s]+)(?P<rest>.*)$", re.DOTALL)
_TEXT_SLOT_RE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def check_domain(report: Report, ctx: Context) -> None:
    domain = ctx.project.domain
    for intent in domain.intents:
        _check_intent(report, ctx, intent)
    for slot in domain.slots:
        check_slot(report, ctx, slot)
    for response in domain.responses:
        _check_response(report, ctx, response)
    for action in domain.actions:
        _check_action(report, ctx, action)


def _check_intent(report: Report, ctx: Context, intent: Intent) -> None:
    path = join_path("intents", ctx.index(intent))
    if not intent.name.strip() or any(ch.isspace() for ch in intent.name):
        report.add(
            intent.source_file,
            path,
            f"invalid intent name {intent.name!r}: intent names cannot contain spaces",
            line=intent.source_line,
        )
    listed = (intent.use_entities if isinstance(intent.use_entities, list) else []) + (
        intent.ignore_entities or []
    )
    for entity in listed:
        if entity not in ctx.entities:
            report.add(
                intent.source_file,
                path,
                f"intent '{intent.name}' lists the entity '{entity}', which "
                "is not in the domain's entities",
                line=intent.source_line,
            )
    if isinstance(intent.use_entities, list) and intent.ignore_entities:
        report.add(
            intent.source_file,
            path,
            f"intent '{intent.name}' cannot have both use_entities and ignore_entities",
            line=intent.source_line,
        )


def _check_response(report: Report, ctx: Context, response: Response) -> None:
    base = join_path("responses", response.name)
    file = response.source_file
    if not response.name.startswith("utter_"):
        report.add(
            file,
            base,
            f"response name '{response.name}' should start with 'utter_'",
            "warning",
            line=response.source_line,
        )
    for index, var in enumerate(response.variations):
        _check_variation(report, ctx, file, join_path(base, index), var)


def _check_variation(
    report: Report, ctx: Context, file: str | None, vpath: str, var: ResponseVariation
) -> None:
    if isinstance(var.condition, str):
        check_condition(
            report,
            file,
            join_path(vpath, "condition"),
            var.condition,
            ctx,
            "response condition",
        )
    elif isinstance(var.condition, list):
        for c_index, cond in enumerate(var.condition):
            cpath = join_path(vpath, "condition", c_index)
            slot = ctx.slots.get(str(cond.get("name")))
            if slot is None:
                report.add(
                    file,
                    cpath,
                    "response condition uses the slot "
                    f"'{cond.get('name')}', which is not defined in the domain",
                )
            else:
                problem = value_problem(slot, cond.get("value"))
                if problem:
                    report.add(file, cpath, f"response condition: {problem}")
    for b_index, button in enumerate(var.buttons or []):
        if button.payload:
            _check_payload(
                report,
                ctx,
                file,
                join_path(vpath, "buttons", b_index, "payload"),
                button.payload,
            )
    if var.text:
        for name in sorted(set(_TEXT_SLOT_RE.findall(var.text))):
            if name not in ctx.slots:
                report.add(
                    file,
                    join_path(vpath, "text"),
                    f"the text uses {{{name}}}, but there is no slot '{name}'",
                    "warning",
                )


def _check_action(report: Report, ctx: Context, action: Action) -> None:
    if action.name in ctx.responses:
        report.add(
            action.source_file,
            join_path("actions", ctx.index(action)),
            f"'{action.name}' is both a custom action and a response",
            "warning",
            line=action.source_line,
        )


def check_slot(report: Report, ctx: Context, slot: Slot) -> None:
    file = slot.source_file
    base = join_path("slots", slot.name)
    if slot.type in ("categorical", "strict_categorical") and not slot.values:
        report.add(
            file,
            base,
            f"categorical slot '{slot.name}' needs a list of 'values'",
            line=slot.source_line,
        )
    if slot.values is not None and slot.type not in ("categorical", "strict_categorical"):
        report.add(
            file,
            join_path(base, "values"),
            f"'values' only applies to categorical slots, and '{slot.name}' is {slot.type}",
            "warning",
        )
    if (slot.min_value is not None or slot.max_value is not None) and slot.type != "float":
        report.add(
            file,
            base,
            f"min_value/max_value only apply to float slots, and '{slot.name}' is {slot.type}",
            "warning",
            line=slot.source_line,
        )
    if (
        slot.min_value is not None
        and slot.max_value is not None
        and slot.min_value > slot.max_value
    ):
        report.add(
            file,
            join_path(base, "min_value"),
            f"min_value ({slot.min_value}) is larger than max_value ({slot.max_value})",
        )
    if slot.initial_value is not None:
        problem = value_problem(slot, slot.initial_value)
        if problem:
            report.add(file, join_path(base, "initial_value"), f"initial_value: {problem}")
    for index, mapping in enumerate(slot.mappings or []):
        _check_mapping(report, ctx, slot, join_path(base, "mappings", index), mapping)
    if slot.validation is not None:
        _check_slot_validation(report, ctx, file, join_path(base, "validation"), slot.validation)


def _check_mapping(
    report: Report, ctx: Context, slot: Slot, mpath: str, mapping: SlotMapping
) -> None:
    file = slot.source_file
    if mapping.type == "from_entity" and mapping.entity:
        entity = ctx.entities.get(mapping.entity)
        if entity is None:
            report.add(
                file,
                join_path(mpath, "entity"),
                f"slot '{slot.name}' is mapped from the entity "
                f"'{mapping.entity}', which is not in the domain's entities",
            )
        else:
            if mapping.role and mapping.role not in (entity.roles or []):
                report.add(
                    file,
                    join_path(mpath, "role"),
                    f"entity '{entity.name}' has no role '{mapping.role}'",
                )
            if mapping.group and mapping.group not in (entity.groups or []):
                report.add(
                    file,
                    join_path(mpath, "group"),
                    f"entity '{entity.name}' has no group '{mapping.group}'",
                )
    if mapping.type == "from_intent" and mapping.value is None:
        report.add(file, mpath, "a from_intent mapping needs a 'value'")
    if mapping.type in ("from_intent", "from_trigger_intent") and mapping.value is not None:
        problem = value_problem(slot, mapping.value)
        if problem:
            report.add(file, join_path(mpath, "value"), problem)
    for key in ("intent", "not_intent"):
        if mapping.type == "from_text":
            break  # Rasa does not check these lists for from_text mappings
        names = getattr(mapping, key)
        for name in [names] if isinstance(names, str) else names or []:
            if name not in ctx.known_intents:
                # As Rasa: a warning, the mapping simply never applies to that intent.
                report.add(
                    file,
                    join_path(mpath, key),
                    f"slot '{slot.name}' mapping refers to the intent "
                    f"'{name}', which is not in the domain's intents",
                    "warning",
                )
    _check_mapping_conditions(report, ctx, file, mpath, mapping.conditions or [])


def _check_mapping_conditions(
    report: Report, ctx: Context, file: str | None, mpath: str, conditions: list[MappingCondition]
) -> None:
    for c_index, cond in enumerate(conditions):
        cpath = join_path(mpath, "conditions", c_index)
        if cond.requested_slot and cond.requested_slot not in ctx.slots:
            report.add(
                file,
                join_path(cpath, "requested_slot"),
                f"requested_slot '{cond.requested_slot}' is not a slot in the domain",
            )
        if cond.active_loop and cond.active_loop != "null" and cond.active_loop not in ctx.forms:
            report.add(
                file,
                join_path(cpath, "active_loop"),
                f"active_loop '{cond.active_loop}' is not a form in the domain",
                "warning",
            )
        if cond.active_flow and cond.active_flow not in ctx.flows:
            report.add(
                file,
                join_path(cpath, "active_flow"),
                f"active_flow '{cond.active_flow}' is not a flow in the project",
            )


def _check_slot_validation(
    report: Report, ctx: Context, file: str | None, vpath: str, validation: SlotValidation
) -> None:
    for index, rejection in enumerate(validation.rejections):
        rpath = join_path(vpath, "rejections", index)
        check_condition(
            report,
            file,
            join_path(rpath, "if"),
            rejection.condition,
            ctx,
            "rejection condition",
        )
        if not ctx.response_exists(rejection.utter):
            report.add(
                file, join_path(rpath, "utter"), f"response '{rejection.utter}' is not defined"
            )
    if validation.refill_utter and not ctx.response_exists(validation.refill_utter):
        report.add(
            file,
            join_path(vpath, "refill_utter"),
            f"response '{validation.refill_utter}' is not defined",
        )


def _check_payload(report: Report, ctx: Context, file: str | None, path: str, payload: str) -> None:
    match = _SET_SLOTS_PAYLOAD_RE.match(payload.strip())
    if match:
        for part in filter(None, (p.strip() for p in match.group("args").split(","))):
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip().strip("'\"")
            slot = ctx.slots.get(name)
            if not sep:
                report.add(
                    file, path, f"button payload {payload!r}: expected slot=value in /SetSlots(...)"
                )
            elif slot is None:
                report.add(
                    file,
                    path,
                    f"button payload sets the slot '{name}', which is not defined in the domain",
                )
            else:
                problem = value_problem(slot, value)
                if problem:
                    report.add(file, path, f"button payload: {problem}")
        return
    match = _INTENT_PAYLOAD_RE.match(payload.strip())
    if match and ctx.intents and match.group("intent") not in ctx.known_intents:
        report.add(
            file,
            path,
            f"button payload triggers the intent '{match.group('intent')}', which "
            "is not in the domain's intents",
        )
