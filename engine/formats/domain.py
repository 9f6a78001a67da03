"""The domain: intents, entities, slots, responses, actions, forms and session settings.

`parse_domain` reads one domain document (a project may split its domain over many files;
`merge_domains` joins them in file order) and `domain_to_dict` writes one back. Values Studio does
not model (forms, session_config, unknown keys Rasa tolerates) are kept as plain data in the
`extra`/raw fields so that they round-trip unchanged.

An attribute left as ``None`` means "the key is absent"; dumping omits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.formats._check import Checker, describe
from engine.formats.errors import ProblemCollector, join_path
from engine.formats.yamlio import double_quoted

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
DEFAULT_DOMAIN_VERSION = "3.1"


def _src() -> Any:
    return field(default=None, compare=False, repr=False)


@dataclass
class Intent:
    """An intent. `use_entities` is True/False or a list of entity names."""

    name: str
    use_entities: bool | list[str] | None = None
    ignore_entities: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = _src()
    source_line: int | None = _src()


@dataclass
class Entity:
    name: str
    roles: list[str] | None = None
    groups: list[str] | None = None
    influence_conversation: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = _src()
    source_line: int | None = _src()


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
    source_file: str | None = _src()
    source_line: int | None = _src()


@dataclass
class Button:
    title: str
    payload: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResponseVariation:
    """One variation of a response.

    `condition` is either the legacy list ``[{type: slot, name, value}]`` or a condition string.
    """

    text: str | None = None
    buttons: list[Button] | None = None
    image: str | None = None
    custom: dict[str, Any] | None = None
    channel: str | None = None
    condition: list[dict[str, Any]] | str | None = None
    metadata: dict[str, Any] | None = None
    id: str | None = None
    translation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_line: int | None = _src()


@dataclass
class Response:
    name: str
    variations: list[ResponseVariation] = field(default_factory=list)
    source_file: str | None = _src()
    source_line: int | None = _src()


@dataclass
class Action:
    """A custom action; `send_domain` set only for the ``{name: {send_domain: ...}}`` form."""

    name: str
    send_domain: bool | None = None
    source_file: str | None = _src()
    source_line: int | None = _src()


@dataclass
class Domain:
    version: str | None = None
    intents: list[Intent] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    forms: dict[str, Any] | None = None
    session_config: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.slots if s.name == name), None)

    def response(self, name: str) -> Response | None:
        return next((r for r in self.responses if r.name == name), None)


DOMAIN_KEYS = (
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "session_config",
    "config",
)
# Keys Rasa reads in a domain file that Studio keeps as they are.
_TOLERATED_TOP_KEYS = ("e2e_actions",)

_INTENT_KEYS = ("use_entities", "ignore_entities", "is_retrieval_intent", "triggers")
_ENTITY_KEYS = ("roles", "groups", "influence_conversation")
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
_VARIATION_KEYS = (
    "text",
    "buttons",
    "image",
    "custom",
    "channel",
    "condition",
    "metadata",
    "id",
    "translation",
    "button_type",
    "quick_replies",
    "attachment",
    "elements",
    "allow_interruptions",
)
_BUTTON_KEYS = ("title", "payload", "translation", "url", "type")


# --------------------------------------------------------------------------------------------
# Parsing


def parse_domain(data: Any, collector: ProblemCollector, base: str = "") -> Domain:
    """Build a `Domain` from one parsed domain document, reporting schema problems.

    `base` prefixes key paths (empty for a domain file).
    """
    check = Checker(collector)
    domain = Domain()
    if data is None:
        return domain
    top = check.mapping(data, base, "a domain file")
    if top is None:
        return domain
    for key, value in top.items():
        path = join_path(base, str(key))
        if key == "version":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                check.error(path, f'version must be a quoted string such as "3.1", not {value}')
            else:
                domain.version = check.string(value, path, "version")
        elif key == "intents":
            domain.intents = _parse_intents(check, collector, value, path)
        elif key == "entities":
            domain.entities = _parse_entities(check, collector, value, path)
        elif key == "slots":
            domain.slots = _parse_slots(check, collector, value, path)
        elif key == "responses":
            domain.responses = parse_responses(value, collector, path)
        elif key == "actions":
            domain.actions = _parse_actions(check, collector, value, path)
        elif key in ("forms", "session_config", "config"):
            if value is None:
                continue
            parsed = check.mapping(value, path, key)
            if parsed is not None:
                setattr(domain, key, parsed)
        elif key in ("flows", "nlu", "stories", "rules"):
            continue  # data sections in a domain file are read by the project loader
        elif key in _TOLERATED_TOP_KEYS:
            domain.extra[key] = value
        else:
            check.warning(path, f"unknown top-level key '{key}' in the domain; it is kept as is")
            domain.extra[key] = value
    return domain


def _named_items(check: Checker, value: Any, path: str, what: str) -> list[tuple[str, Any, str]]:
    """Items of a list whose entries are ``name`` or ``{name: {...}}``."""
    if value is None:
        return []
    items = check.seq(value, path, what)
    if items is None:
        return []
    out = []
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        if isinstance(item, str) and item.strip():
            out.append((item, None, item_path))
        elif isinstance(item, dict) and len(item) == 1:
            name, body = next(iter(item.items()))
            if not isinstance(name, str):
                check.error(item_path, f"the name in {what} must be a string, not {describe(name)}")
                continue
            out.append((name, body, item_path))
        else:
            check.error(
                item_path,
                f"each entry of {what} must be a name or a mapping of one name to its "
                f"settings, not {describe(item)}",
            )
    return out


def _items_with_settings(
    check: Checker, c: ProblemCollector, value: Any, path: str, kind: str, plural: str, keys, make
) -> tuple[list, list[tuple[Any, dict, str]]]:
    """Read `name` or `{name: {settings}}` items. Returns every item (made by `make`) and, for
    those with valid settings, (item, settings, settings key path)."""
    items, configured = [], []
    for name, body, item_path in _named_items(check, value, path, plural):
        item = make(name=name, source_file=c.file, source_line=c.line_for(item_path))
        items.append(item)
        if body is None:
            continue
        body_path = join_path(item_path, name)
        settings = check.mapping(body, body_path, f"the settings of {kind} '{name}'")
        if settings is not None:
            check.keys(settings, body_path, keys, what=f"{kind} '{name}'", unknown="warning")
            configured.append((item, settings, body_path))
    return items, configured


def _parse_intents(check: Checker, c: ProblemCollector, value: Any, path: str) -> list[Intent]:
    intents, configured = _items_with_settings(
        check, c, value, path, "intent", "intents", _INTENT_KEYS, Intent
    )
    for intent, settings, body_path in configured:
        for key, val in settings.items():
            key_path = join_path(body_path, key)
            if key == "use_entities":
                if isinstance(val, bool):
                    intent.use_entities = val
                else:
                    intent.use_entities = check.str_list(val, key_path, "use_entities")
            elif key == "ignore_entities":
                intent.ignore_entities = check.str_list(val, key_path, "ignore_entities")
            else:
                intent.extra[key] = val
    return intents


def _parse_entities(check: Checker, c: ProblemCollector, value: Any, path: str) -> list[Entity]:
    entities, configured = _items_with_settings(
        check, c, value, path, "entity", "entities", _ENTITY_KEYS, Entity
    )
    for entity, settings, body_path in configured:
        for key, val in settings.items():
            key_path = join_path(body_path, key)
            if key == "roles":
                entity.roles = check.str_list(val, key_path, "roles")
            elif key == "groups":
                entity.groups = check.str_list(val, key_path, "groups")
            elif key == "influence_conversation":
                entity.influence_conversation = check.boolean(val, key_path, key)
            else:
                entity.extra[key] = val
    return entities


def _parse_slots(check: Checker, c: ProblemCollector, value: Any, path: str) -> list[Slot]:
    if value is None:
        return []
    body = check.mapping(value, path, "slots")
    if body is None:
        return []
    slots = []
    for name, spec in body.items():
        slot_path = join_path(path, str(name))
        if not isinstance(name, str):
            check.error(slot_path, f"a slot name must be a string, not {describe(name)}")
            continue
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
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        spec = check.mapping(item, item_path, "a slot mapping")
        if spec is None:
            continue
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
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        spec = check.mapping(item, item_path, "a mapping condition")
        if spec is None:
            continue
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
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        spec = check.mapping(item, item_path, "a rejection")
        if spec is None:
            continue
        check.keys(spec, item_path, ("if", "utter"), what="a rejection", required=("if", "utter"))
        cond = spec.get("if")
        utter = spec.get("utter")
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


def parse_responses(
    value: Any, collector: ProblemCollector, path: str = "responses"
) -> list[Response]:
    """Parse a ``responses`` mapping (from the domain or a data file)."""
    check = Checker(collector)
    if value is None:
        return []
    body = check.mapping(value, path, "responses")
    if body is None:
        return []
    responses = []
    for name, variations in body.items():
        resp_path = join_path(path, str(name))
        if not isinstance(name, str):
            check.error(resp_path, f"a response name must be a string, not {describe(name)}")
            continue
        items = check.seq(variations, resp_path, f"response '{name}' (a list of variations)")
        if items is None:
            continue
        response = Response(
            name=name, source_file=collector.file, source_line=collector.line_for(resp_path)
        )
        if not items:
            check.error(resp_path, f"response '{name}' has no variations")
        for index, item in enumerate(items):
            var_path = join_path(resp_path, index)
            variation = _parse_variation(check, item, var_path, name)
            if variation is not None:
                variation.source_line = collector.line_for(var_path)
                response.variations.append(variation)
        responses.append(response)
    return responses


def _parse_variation(check: Checker, item: Any, path: str, name: str) -> ResponseVariation | None:
    spec = check.mapping(item, path, f"a variation of response '{name}'")
    if spec is None:
        return None
    check.keys(
        spec, path, _VARIATION_KEYS, what=f"a variation of response '{name}'", unknown="warning"
    )
    var = ResponseVariation()
    for key, val in spec.items():
        key_path = join_path(path, key)
        if key in ("text", "image", "channel", "id"):
            if val is None:
                continue
            if key == "text" and isinstance(val, (int, float)) and not isinstance(val, bool):
                check.error(key_path, f'response text must be a string; quote it ("{val}")')
                continue
            text = check.string(val, key_path, key, allow_empty=key == "text")
            if key == "image" and text is not None and not _url_allowed(text, IMAGE_SCHEMES):
                check.error(key_path, _url_message("image", text, IMAGE_SCHEMES))
                continue
            setattr(var, key, text)
        elif key == "buttons":
            var.buttons = _parse_buttons(check, val, key_path)
        elif key in ("custom", "metadata", "translation"):
            if val is not None:
                setattr(var, key, check.mapping(val, key_path, key))
        elif key == "condition":
            var.condition = _parse_response_condition(check, val, key_path)
        else:
            var.extra[key] = val
    if (
        var.text is None
        and var.image is None
        and var.custom is None
        and var.buttons is None
        and not any(k in var.extra for k in ("attachment", "elements", "quick_replies"))
    ):
        check.error(
            path, f"a variation of response '{name}' needs 'text', 'image', 'custom' or 'buttons'"
        )
    return var


#: The URL schemes a response's image and a link button may use (anything else, such as
#: `javascript:` or `data:`, is refused).
IMAGE_SCHEMES = ("http", "https")
LINK_SCHEMES = ("http", "https", "mailto", "tel")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")
_PLACEHOLDER = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")


def _url_allowed(value: str, schemes: tuple[str, ...]) -> bool:
    """An absolute URL with one of `schemes`, or a whole `{slot}` placeholder filled in at
    run time (checked then by the channel)."""
    if _PLACEHOLDER.match(value.strip()):
        return True
    match = _SCHEME.match(value)
    if not match or match.group(1).lower() not in schemes:
        return False
    if match.group(1).lower() in ("http", "https"):
        rest = value.strip()[len(match.group(0).strip()) :]
        return rest.startswith("//") and len(rest) > 2
    return len(value.strip()) > len(match.group(0).strip())


def _url_message(what: str, value: Any, schemes: tuple[str, ...]) -> str:
    allowed = ", ".join(f"{s}:" for s in schemes)
    return f"{what} {str(value)[:80]!r} is not allowed: use an absolute URL starting with {allowed}"


def _parse_buttons(check: Checker, value: Any, path: str) -> list[Button] | None:
    items = check.seq(value, path, "buttons")
    if items is None:
        return None
    out = []
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        spec = check.mapping(item, item_path, "a button")
        if spec is None:
            continue
        check.keys(
            spec, item_path, _BUTTON_KEYS, what="a button", required=("title",), unknown="warning"
        )
        title = (
            check.string(
                spec.get("title"), join_path(item_path, "title"), "button title", allow_empty=True
            )
            if "title" in spec
            else None
        )
        if title is None:
            continue
        button = Button(title=title)
        for key, val in spec.items():
            if key == "title":
                continue
            if key == "payload":
                button.payload = check.string(
                    val, join_path(item_path, key), "button payload", allow_empty=True
                )
            else:
                if key == "url" and not (isinstance(val, str) and _url_allowed(val, LINK_SCHEMES)):
                    check.error(
                        join_path(item_path, key), _url_message("button url", val, LINK_SCHEMES)
                    )
                    continue
                button.extra[key] = val
        out.append(button)
    return out


def _parse_response_condition(
    check: Checker, value: Any, path: str
) -> list[dict[str, Any]] | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    items = check.seq(value, path, "a response condition (a condition string or a list)")
    if items is None:
        return None
    out = []
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        spec = check.mapping(item, item_path, "a response condition")
        if spec is None:
            continue
        check.keys(
            spec,
            item_path,
            ("type", "name", "value"),
            what="a response condition",
            required=("type", "name", "value"),
        )
        if spec.get("type", "slot") != "slot":
            check.error(
                join_path(item_path, "type"),
                f"response condition type must be 'slot', not {describe(spec.get('type'))}",
            )
        out.append(spec)
    return out


def _parse_actions(check: Checker, c: ProblemCollector, value: Any, path: str) -> list[Action]:
    actions = []
    for name, body, item_path in _named_items(check, value, path, "actions"):
        action = Action(name=name, source_file=c.file, source_line=c.line_for(item_path))
        actions.append(action)
        if body is None:
            continue
        body_path = join_path(item_path, name)
        settings = check.mapping(body, body_path, f"the settings of action '{name}'")
        if settings is None:
            continue
        check.keys(settings, body_path, ("send_domain",), what=f"action '{name}'")
        if "send_domain" in settings:
            action.send_domain = check.boolean(
                settings["send_domain"], join_path(body_path, "send_domain"), "send_domain"
            )
    return actions


def merge_domains(parts: list[Domain]) -> Domain:
    """Concatenate domains read from several files (duplicates are left for validation)."""
    merged = Domain()
    for part in parts:
        merged.version = merged.version or part.version
        merged.intents.extend(part.intents)
        merged.entities.extend(part.entities)
        merged.slots.extend(part.slots)
        merged.responses.extend(part.responses)
        merged.actions.extend(part.actions)
        for key in ("forms", "session_config", "config"):
            value = getattr(part, key)
            if value is not None:
                setattr(merged, key, {**(getattr(merged, key) or {}), **value})
        merged.extra.update(part.extra)
    return merged


# --------------------------------------------------------------------------------------------
# Dumping


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def intent_to_yaml(intent: Intent) -> Any:
    settings = _drop_none(
        {"use_entities": intent.use_entities, "ignore_entities": intent.ignore_entities}
    )
    settings.update(intent.extra)
    return {intent.name: settings} if settings else intent.name


def entity_to_yaml(entity: Entity) -> Any:
    settings = _drop_none(
        {
            "roles": entity.roles,
            "groups": entity.groups,
            "influence_conversation": entity.influence_conversation,
        }
    )
    settings.update(entity.extra)
    return {entity.name: settings} if settings else entity.name


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


def variation_to_yaml(var: ResponseVariation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("id", "text", "image"):
        value = getattr(var, key)
        if value is not None:
            out[key] = value
    if var.buttons is not None:
        out["buttons"] = [
            {
                "title": b.title,
                **({"payload": b.payload} if b.payload is not None else {}),
                **b.extra,
            }
            for b in var.buttons
        ]
    for key in ("custom", "channel", "condition", "metadata", "translation"):
        value = getattr(var, key)
        if value is not None:
            out[key] = value
    out.update(var.extra)
    return out


def responses_to_yaml(responses: list[Response]) -> dict[str, Any]:
    return {r.name: [variation_to_yaml(v) for v in r.variations] for r in responses}


def action_to_yaml(action: Action) -> Any:
    if action.send_domain is None:
        return action.name
    return {action.name: {"send_domain": action.send_domain}}


def domain_to_dict(domain: Domain) -> dict[str, Any]:
    """The domain as plain data in Rasa's layout (empty sections omitted)."""
    out: dict[str, Any] = {}
    if domain.version is not None:
        out["version"] = double_quoted(domain.version)
    if domain.intents:
        out["intents"] = [intent_to_yaml(i) for i in domain.intents]
    if domain.entities:
        out["entities"] = [entity_to_yaml(e) for e in domain.entities]
    if domain.slots:
        out["slots"] = {s.name: slot_to_yaml(s) for s in domain.slots}
    if domain.responses:
        out["responses"] = responses_to_yaml(domain.responses)
    if domain.actions:
        out["actions"] = [action_to_yaml(a) for a in domain.actions]
    for key in ("forms", "session_config", "config"):
        value = getattr(domain, key)
        if value is not None:
            out[key] = value
    out.update(domain.extra)
    return out
