"""The domain: intents, entities, actions, forms and session settings; slots and responses
have modules of their own (`engine.formats.slots`, `engine.formats.responses`).

`parse_domain` reads one domain document (a project may split its domain over many files;
`merge_domains` joins them in file order) and `domain_to_dict` writes one back. Values Studio does
not model (forms, session_config, unknown keys Rasa tolerates) are kept as plain data in the
`extra`/raw fields so that they round-trip unchanged.

An attribute left as ``None`` means "the key is absent"; dumping omits it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from engine.formats._check import Checker, describe, source_field
from engine.formats.errors import ProblemCollector, join_path
from engine.formats.responses import Response, parse_responses, responses_to_yaml
from engine.formats.slots import Slot, parse_slots, slot_to_yaml
from engine.formats.yamlio import double_quoted

DEFAULT_DOMAIN_VERSION = "3.1"


@dataclass
class Intent:
    """An intent. `use_entities` is True/False or a list of entity names."""

    name: str
    use_entities: bool | list[str] | None = None
    ignore_entities: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = source_field()
    source_line: int | None = source_field()


@dataclass
class Entity:
    name: str
    roles: list[str] | None = None
    groups: list[str] | None = None
    influence_conversation: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = source_field()
    source_line: int | None = source_field()


@dataclass
class Action:
    """A custom action; `send_domain` set only for the ``{name: {send_domain: ...}}`` form."""

    name: str
    send_domain: bool | None = None
    source_file: str | None = source_field()
    source_line: int | None = source_field()


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
            domain.slots = parse_slots(check, collector, value, path)
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
    check: Checker,
    c: ProblemCollector,
    value: Any,
    path: str,
    kind: str,
    plural: str,
    keys: Iterable[str],
    make: Callable[..., Any],
) -> tuple[list[Any], list[tuple[Any, dict[Any, Any], str]]]:
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


def served_domain_yaml(data: dict[str, Any]) -> str:
    """A domain as plain data (``DialogueModel.domain_dict()``) in YAML, as the bot's
    ``GET /domain`` answers ``Accept: application/yaml``: the safe dumper, block style."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
