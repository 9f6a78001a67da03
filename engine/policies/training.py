"""Training data for the policies: stories and rules -> training trackers (event lists), as
Rasa's ``TrainingDataGenerator`` makes them.

A story is cut into parts at its checkpoints; a part that starts with no checkpoint starts a
conversation, a part that ends with one continues into every part that starts with it (a start
checkpoint's ``slot_was_set`` keeps only the trackers whose slots have those values). ``or``
steps fork the part into one tracker per alternative. The events of each step are made
explicit as Rasa's ``StoryStep.explicit_events`` does: an ``action_listen`` before each user
turn and at the end of a story, and the slots that the user's entities fill through
``from_entity`` mappings without an active loop condition.

A rule becomes one tracker per ``or`` alternative: its ``condition`` (slots and active loop,
where ``null`` means "must not be set"), then ``...`` (any conversation before) unless it has
``conversation_start: true``, its steps, and ``...`` again with ``wait_for_user_input: false``.

Augmentation (for the machine-learned policy only, as Rasa's ``augmentation_factor``): pairs
of finished stories are glued, the first without its final ``action_listen``, so that the
learned policy sees stories following each other. Rasa runs this through the story graph for
three rounds; here one round of seeded random pairs gives the same kind of data at a fraction
of the cost.

Test stories (``tests/``) are not training data (`engine.formats.load_stories` skips them).
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.formats import Story, StoryData
from engine.formats.nlu import AnnotationError, parse_example
from engine.formats.stories import StoryStep
from engine.policies.states import (
    ACTION_LISTEN,
    RULE_SNIPPET_ACTION,
    SHOULD_NOT_BE_SET,
    StateSpec,
)

__all__ = [
    "STORY_START",
    "TrainingTracker",
    "augment",
    "generate_trackers",
    "listen",
    "rule_trackers",
    "story_trackers",
]

STORY_START = "STORY_START"
#: Most trackers one story part forks into through its ``or`` steps, and most trackers in all.
MAX_ALTERNATIVES = 256
MAX_TRACKERS = 20_000
DEFAULT_VALUE_TEXT_SLOTS = "filled"
#: ``/intent`` or ``/intent{"entity": "value"}`` as a story's user text.
_SHORTCUT_PREFIX = "/"

Warn = Callable[[str], None]


@dataclass
class TrainingTracker:
    """One training conversation: `events` are Rasa event dicts; an action event may carry
    ``unpredictable: true`` (the first action of a conversation, never a training label)."""

    name: str
    events: list[dict[str, Any]]
    is_rule: bool = False
    is_augmented: bool = False
    #: ``file:line`` of the story or rule it starts with.
    source: str = ""


def listen() -> dict[str, Any]:
    return {"event": "action", "name": ACTION_LISTEN}


def _is_listen(event: dict[str, Any]) -> bool:
    return event.get("event") == "action" and event.get("name") == ACTION_LISTEN


# --------------------------------------------------------------------------------------------
# Steps -> events


def _entities_of_step(raw: Any) -> list[dict[str, Any]]:
    """A step's ``entities`` as NLU entities (Rasa's ``_parse_raw_entities``)."""
    out: list[dict[str, Any]] = []
    for item in raw or []:
        if isinstance(item, dict):
            entity: dict[str, Any] = {}
            for key, value in item.items():
                if key in ("role", "group"):
                    entity[key] = value
                else:
                    entity["entity"], entity["value"] = key, value
            if "entity" in entity:
                out.append({k: v for k, v in entity.items() if v is not None})
        elif isinstance(item, str):
            out.append({"entity": item, "value": ""})
    return out


def _shortcut(text: str) -> tuple[str, list[dict[str, Any]]] | None:
    """``/intent{"city": "Paris"}`` -> ``("intent", [city entity])``."""
    if not text.startswith(_SHORTCUT_PREFIX):
        return None
    body = text[1:]
    brace = body.find("{")
    name, rest = (body, "") if brace < 0 else (body[:brace], body[brace:])
    name = name.split("@", 1)[0].strip()
    if not name:
        return None
    entities: list[dict[str, Any]] = []
    if rest:
        try:
            given = json.loads(rest)
        except ValueError:
            given = {}
        if isinstance(given, dict):
            for key, value in given.items():
                values = value if isinstance(value, list) else [value]
                entities.extend({"entity": key, "value": v} for v in values)
    return name, entities


def user_event(data: dict[str, Any]) -> dict[str, Any]:
    """The ``user`` event of a story's user step (intent and/or text, entities)."""
    intent = data.get("intent")
    intent = intent.strip().removeprefix("/") if isinstance(intent, str) else None
    if intent:
        intent = intent.split("/", 1)[0]  # a full retrieval intent trains as its base intent
    text = data.get("user")
    entities = _entities_of_step(data.get("entities"))
    plain: str | None = None
    if isinstance(text, str) and text.strip():
        plain = text.strip()
        shortcut = _shortcut(plain)
        if shortcut is not None and not intent:
            intent, entities = shortcut
        else:
            try:
                example = parse_example(plain)
                plain = example.text
                entities = [{"entity": e.entity, "value": e.value} for e in example.entities]
            except AnnotationError:
                pass
    return {
        "event": "user",
        "text": plain,
        "parse_data": {
            "intent": {"name": intent or None, "confidence": 1.0},
            "entities": entities,
        },
    }


def _slot_events(items: Any, spec: StateSpec, rule: bool) -> list[dict[str, Any]]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            pairs = list(item.items())
        elif isinstance(item, str):
            slot = spec.slot(item)
            default: Any = None
            if slot is not None and slot.type == "text":
                default = DEFAULT_VALUE_TEXT_SLOTS
            elif slot is not None and slot.type == "list":
                default = [DEFAULT_VALUE_TEXT_SLOTS]
            pairs = [(item, default)]
        else:
            return []  # Rasa skips the rest of such a step
        for name, value in pairs:
            if rule and value is None:
                value = SHOULD_NOT_BE_SET
            out.append({"event": "slot", "name": str(name), "value": copy.deepcopy(value)})
    return out


def step_alternatives(step: StoryStep, spec: StateSpec, rule: bool) -> list[list[dict[str, Any]]]:
    """The events of one step, as alternatives (several for ``or``)."""
    data = step.data
    kind = step.kind
    if kind in ("intent", "user", "entities", "commands"):
        return [[user_event(data)]]
    if kind == "action":
        return [[{"event": "action", "name": str(data["action"])}]]
    if kind == "bot":
        return [[{"event": "action", "name": None, "action_text": str(data["bot"])}]]
    if kind == "active_loop":
        name = data.get("active_loop")
        if rule and name is None:
            name = SHOULD_NOT_BE_SET
        return [[{"event": "active_loop", "name": name}]]
    if kind == "slot_was_set":
        return [_slot_events(data.get("slot_was_set"), spec, rule)]
    if kind == "or":
        alternatives = []
        for item in data.get("or") or []:
            if not isinstance(item, dict):
                continue
            if "slot_was_set" in item:
                alternatives.append(_slot_events(item["slot_was_set"], spec, rule))
            elif "intent" in item or "user" in item:
                alternatives.append([user_event(item)])
        return alternatives or [[]]
    return [[]]  # ``stack`` steps belong to CALM


def slots_for_entities(entities: Iterable[dict[str, Any]], spec: StateSpec) -> list[dict[str, Any]]:
    """Slot events for the entities of a story's user turn (Rasa's ``slots_for_entities``)."""
    if not spec.store_entities_as_slots:
        return []
    entities = list(entities)
    out = []
    for slot in spec.slots:
        values = [
            e.get("value")
            for mapping in slot.entity_mappings
            for e in entities
            if (e.get("entity"), e.get("role"), e.get("group")) == mapping
        ]
        if values:
            value = values if slot.type == "list" else values[-1]
            out.append({"event": "slot", "name": slot.name, "value": value})
    return out


def explicit_events(
    raw: list[dict[str, Any]], spec: StateSpec, *, final_listen: bool
) -> list[dict[str, Any]]:
    """`raw` with the implicit events: ``action_listen`` before user turns (and at the end),
    the slots set from entities after them."""
    events: list[dict[str, Any]] = []
    for event in raw:
        if event.get("event") == "user":
            if not events or not _is_listen(events[-1]):
                events.append(listen())
            events.append(event)
            events.extend(slots_for_entities(event["parse_data"]["entities"], spec))
        else:
            events.append(event)
    if final_listen and (not events or not _is_listen(events[-1])):
        events.append(listen())
    return events


def _mark_unpredictable(raw: list[dict[str, Any]]) -> None:
    """The first action of a conversation, before any user turn, has no history to be
    predicted from (Rasa's ``_mark_first_action_in_story_steps_as_unpredictable``)."""
    for event in raw:
        if event.get("event") == "user":
            return
        if event.get("event") == "action":
            event["unpredictable"] = True
            return


def _expand(
    alternatives: list[list[list[dict[str, Any]]]], block: str, warn: Warn
) -> list[list[dict[str, Any]]]:
    """Every combination of the steps' alternatives (each path with its own event dicts;
    the values are shared and never changed)."""
    out = []
    for combo in itertools.product(*alternatives):
        out.append([dict(e) for events in combo for e in events])
        if len(out) >= MAX_ALTERNATIVES:
            warn(
                f"{block}: its 'or' steps make more than {MAX_ALTERNATIVES} paths; skipped the rest"
            )
            break
    return out


def _where(story: Story, step: StoryStep | None = None) -> str:
    line = step.line if step is not None and step.line is not None else story.line
    return f"{story.file}:{line}" if line is not None else story.file


# --------------------------------------------------------------------------------------------
# Stories: parts joined at checkpoints


@dataclass
class _Part:
    block: str
    source: str
    starts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    steps: list[list[list[dict[str, Any]]]] = field(default_factory=list)
    paths: list[list[dict[str, Any]]] = field(default_factory=list)


def _story_parts(story: Story, spec: StateSpec, warn: Warn) -> list[_Part]:
    parts: list[_Part] = []
    current = _Part(story.name, _where(story))
    for step in story.steps:
        if step.kind == "checkpoint":
            name = str(step.data.get("checkpoint") or "")
            conditions = _checkpoint_conditions(step.data.get("slot_was_set"))
            if not current.steps:
                current.starts.append((name, conditions))
            else:
                current.ends.append(name)
            continue
        if current.ends:  # the part ended at a checkpoint; the next continues from there
            parts.append(current)
            current = _Part(story.name, _where(story, step), [(e, {}) for e in current.ends])
        current.steps.append(step_alternatives(step, spec, rule=False))
    parts.append(current)
    for part in parts:
        if not part.starts:
            part.starts = [(STORY_START, {})]
        part.paths = _expand(part.steps, f"story '{story.name}'", warn)
        if any(name == STORY_START for name, _ in part.starts):
            for path in part.paths:
                _mark_unpredictable(path)
    return parts


def _checkpoint_conditions(items: Any) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict):
            conditions.update(item)
    return conditions


@dataclass
class _Partial:
    name: str
    source: str
    events: list[dict[str, Any]]
    used: frozenset[int]

    def key(self) -> str:
        return json.dumps(self.events, sort_keys=True, default=str)

    def slots(self, spec: StateSpec) -> dict[str, Any]:
        values = spec.initial_slots()
        for event in self.events:
            if event.get("event") == "slot":
                values[str(event.get("name"))] = event.get("value")
            elif event.get("event") in ("restart", "session_started"):
                values = spec.initial_slots()
        return values


def story_trackers(
    stories: Iterable[Story], spec: StateSpec, warn: Warn | None = None
) -> list[TrainingTracker]:
    """The training trackers of the stories, checkpoints joined and ``or`` steps expanded."""
    report: Warn = warn or (lambda _line: None)
    parts = [part for story in stories for part in _story_parts(story, spec, report)]
    consumed = {name for part in parts for name, _ in part.starts}
    active: dict[str, list[_Partial]] = {STORY_START: [_Partial("", "", [], frozenset())]}
    seen: dict[str, set[str]] = {STORY_START: set()}
    finished: dict[str, TrainingTracker] = {}
    processed: set[tuple[int, str]] = set()
    progress = True
    while progress:
        progress = False
        for index, part in enumerate(parts):
            for name, conditions in part.starts:
                for partial in list(active.get(name, [])):
                    if index in partial.used or (index, partial.key()) in processed:
                        continue
                    processed.add((index, partial.key()))
                    if conditions and not _slots_match(partial.slots(spec), conditions):
                        continue
                    progress = True
                    _continue(part, index, partial, spec, active, seen, finished)
                    if len(finished) + sum(map(len, active.values())) > MAX_TRACKERS:
                        report(
                            f"the stories make more than {MAX_TRACKERS} trackers; skipped the rest"
                        )
                        return list(finished.values())
    for name, partials in active.items():
        if name not in consumed:  # an end checkpoint nothing continues from
            for partial in partials:
                _finish(
                    finished, TrainingTracker(partial.name, partial.events, source=partial.source)
                )
    return list(finished.values())


def _slots_match(values: dict[str, Any], conditions: dict[str, Any]) -> bool:
    return all(values.get(name) == value for name, value in conditions.items())


def _continue(
    part: _Part,
    index: int,
    partial: _Partial,
    spec: StateSpec,
    active: dict[str, list[_Partial]],
    seen: dict[str, set[str]],
    finished: dict[str, TrainingTracker],
) -> None:
    name = partial.name if not partial.name else f"{partial.name} > {part.block}"
    if partial.name and part.block in partial.name.split(" > "):
        name = partial.name
    name = name or part.block
    source = partial.source or part.source
    for path in part.paths:
        events = partial.events + explicit_events(path, spec, final_listen=not part.ends)
        if not part.ends:
            _finish(finished, TrainingTracker(name, events, source=source))
            continue
        for end in part.ends:
            new = _Partial(name, source, events, partial.used | {index})
            key = new.key()
            if key not in seen.setdefault(end, set()):
                seen[end].add(key)
                active.setdefault(end, []).append(new)


def _finish(finished: dict[str, TrainingTracker], tracker: TrainingTracker) -> None:
    key = json.dumps([tracker.is_rule, tracker.events], sort_keys=True, default=str)
    finished.setdefault(key, tracker)


# --------------------------------------------------------------------------------------------
# Rules


def rule_trackers(
    rules: Iterable[Story], spec: StateSpec, warn: Warn | None = None
) -> list[TrainingTracker]:
    """One tracker per rule and ``or`` alternative."""
    report: Warn = warn or (lambda _line: None)
    finished: dict[str, TrainingTracker] = {}
    for rule in rules:
        head: list[list[list[dict[str, Any]]]] = [
            step_alternatives(c, spec, rule=True) for c in rule.conditions
        ]
        if not rule.conversation_start:
            head.append([[{"event": "action", "name": RULE_SNIPPET_ACTION}]])
        steps = [step_alternatives(s, spec, rule=True) for s in rule.steps]
        tail = (
            []
            if rule.wait_for_user_input
            else [[[{"event": "action", "name": RULE_SNIPPET_ACTION}]]]
        )
        for path in _expand(head + steps + tail, f"rule '{rule.name}'", report):
            _mark_unpredictable(path)
            events = explicit_events(path, spec, final_listen=True)
            _finish(finished, TrainingTracker(rule.name, events, is_rule=True, source=_where(rule)))
    return list(finished.values())


# --------------------------------------------------------------------------------------------
# Augmentation


def augment(trackers: list[TrainingTracker], count: int, seed: int = 42) -> list[TrainingTracker]:
    """Up to `count` trackers, each one story followed by another (seeded)."""
    stories = [t for t in trackers if not t.is_rule and not t.is_augmented]
    if len(stories) < 2 or count <= 0:
        return []
    rand = random.Random(seed)
    out: list[TrainingTracker] = []
    for _ in range(count):
        first, second = rand.choice(stories), rand.choice(stories)
        head = first.events[:-1] if first.events and _is_listen(first.events[-1]) else first.events
        out.append(
            TrainingTracker(
                f"{first.name} + {second.name}",
                head + second.events,
                is_augmented=True,
                source=first.source,
            )
        )
    return out


def generate_trackers(
    data: StoryData, spec: StateSpec, *, augmentation: int = 50, warn: Warn | None = None
) -> list[TrainingTracker]:
    """Story trackers, rule trackers, then `augmentation` x 10 augmented story trackers at
    most (Rasa's default factor of 50 gives at most 500)."""
    stories = story_trackers(data.stories, spec, warn)
    rules = rule_trackers(data.rules, spec, warn)
    return stories + rules + augment(stories, min(augmentation * 10, 10 * len(stories)))
