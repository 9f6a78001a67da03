"""Stories and rules (Rasa 3 YAML): parsing for checks and counts.

Studio keeps story and rule files verbatim in `Project.other_files` and exports them unchanged;
this module reads them so that their structure and the names they use can be checked (see
`engine.formats.validation.stories`) and so that imports can count them.

The structure follows Rasa's own schema for these files: a ``stories`` list of items with
``story``, ``steps`` and ``metadata``; a ``rules`` list of items with ``rule``, ``steps``,
``metadata``, ``condition``, ``conversation_start`` and ``wait_for_user_input``. A step is one of:

* a user turn: ``intent`` and/or ``user`` text, with ``entities`` and ``commands``;
* ``action``, ``bot`` (stories only), ``active_loop``, ``slot_was_set``;
* ``checkpoint`` (stories only, optionally with ``slot_was_set``), ``stack`` (stories only);
* ``or``: a list of user turns or ``slot_was_set`` steps.

A rule's ``condition`` holds ``active_loop`` and ``slot_was_set`` steps. What Rasa's schema
refuses (an unknown key, keys of two kinds in one step, a value of the wrong type) is an error
naming file, line and key; what Rasa reads but skips with a warning (a story without steps, an
empty step) is a warning.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.formats._check import Checker, describe
from engine.formats.errors import FormatError, Problem, ProblemCollector, join_path
from engine.formats.nlu import AnnotationError, parse_example
from engine.formats.project import KEPT_DIRS
from engine.formats.yamlio import load_yaml

__all__ = [
    "Reference",
    "Story",
    "StoryData",
    "StoryStep",
    "all_blocks",
    "is_test_stories_path",
    "load_stories",
    "parse_story_file",
    "story_counts",
]

#: Keys of a user turn; any of them may appear together.
USER_KEYS = frozenset({"intent", "user", "entities", "commands"})
#: The kinds of step Rasa's schema allows, each as the set of keys one step of it may have.
STORY_STEP_KINDS: tuple[frozenset[str], ...] = (
    USER_KEYS,
    frozenset({"action"}),
    frozenset({"bot"}),
    frozenset({"active_loop"}),
    frozenset({"slot_was_set"}),
    frozenset({"checkpoint", "slot_was_set"}),
    frozenset({"stack"}),
    frozenset({"or"}),
)
RULE_STEP_KINDS: tuple[frozenset[str], ...] = (
    USER_KEYS,
    frozenset({"action"}),
    frozenset({"active_loop"}),
    frozenset({"slot_was_set"}),
    frozenset({"or"}),
)
CONDITION_KINDS: tuple[frozenset[str], ...] = (
    frozenset({"active_loop"}),
    frozenset({"slot_was_set"}),
)
OR_KINDS: tuple[frozenset[str], ...] = (USER_KEYS, frozenset({"slot_was_set"}))

STORY_KEYS = ("story", "steps", "metadata")
RULE_KEYS = ("rule", "steps", "metadata", "condition", "conversation_start", "wait_for_user_input")
#: A user text that names its intent directly: ``/intent``, ``/intent@0.9``,
#: ``/intent{"entity": "value"}``.
_INTENT_SHORTCUT = re.compile(r"^/(?P<intent>[^{@]+)(?:@[0-9.]+)?(?P<entities>\{.*\})?$", re.S)
#: Entity keys of a step's ``entities`` item that are not entity names.
ENTITY_OPTION_KEYS = ("role", "group")


@dataclass(frozen=True)
class Reference:
    """A name a story or rule uses: `kind` is intent, entity, action, slot or form."""

    kind: str
    name: str
    path: str
    line: int | None


@dataclass
class StoryStep:
    """One step: `kind` is its main key (intent, user, action, bot, active_loop,
    slot_was_set, checkpoint, stack, or); `data` is the step's mapping as written."""

    kind: str
    data: dict[str, Any]
    path: str
    line: int | None


@dataclass
class Story:
    """A story or a rule (`is_rule`), with every name it uses in `references`."""

    name: str
    is_rule: bool
    file: str
    path: str
    line: int | None
    steps: list[StoryStep] = field(default_factory=list)
    conditions: list[StoryStep] = field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True
    references: list[Reference] = field(default_factory=list)

    @property
    def block(self) -> str:
        """How messages name it: ``story 'greet'`` or ``rule 'say goodbye'``."""
        return f"{'rule' if self.is_rule else 'story'} '{self.name}'"


@dataclass
class StoryData:
    """The stories and rules of a project, and the problems found reading them."""

    stories: list[Story] = field(default_factory=list)
    rules: list[Story] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: The files that hold stories or rules.
    files: list[str] = field(default_factory=list)


def is_test_stories_path(path: str) -> bool:
    """Not training data: files in the folders the project keeps without reading them as data
    (``tests/``, ``e2e_tests/``, ``docs/``... see `KEPT_DIRS`), and ``test_*`` files outside
    ``data/`` (Rasa reads stories from its data paths, ``data/`` by default, test-prefixed
    files there included)."""
    parts = path.split("/")
    if parts[0] in KEPT_DIRS:
        return True
    return parts[0] != "data" and posixpath.basename(path).startswith("test_")


def load_stories(files: Mapping[str, str]) -> StoryData:
    """Every story and rule in `files` (``{path: text}``, e.g. `Project.other_files`).

    Files that are not YAML, hold no ``stories``/``rules`` section, or are test stories (see
    `is_test_stories_path`) are skipped. Never raises: problems are in `StoryData.problems`.
    """
    data = StoryData()
    for path in sorted(files):
        text = files[path]
        if not path.endswith((".yml", ".yaml")) or is_test_stories_path(path):
            continue
        if "stories" not in text and "rules" not in text:
            continue
        stories, rules, problems = _parse_cached(path, text)
        if stories or rules or problems:
            data.files.append(path)
        data.stories.extend(stories)
        data.rules.extend(rules)
        data.problems.extend(problems)
    return data


def story_counts(files: Mapping[str, str]) -> dict[str, int]:
    """``{"stories": n, "rules": m}`` for the files (see `load_stories`)."""
    data = load_stories(files)
    return {"stories": len(data.stories), "rules": len(data.rules)}


_Parsed = tuple[list[Story], list[Story], list[Problem]]
#: Parsed files by (path, digest of the text): validation runs on every edit, and the stored
#: story files rarely change. Only results are kept, never the texts themselves.
_CACHE: OrderedDict[tuple[str, str], _Parsed] = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def _parse_cached(path: str, text: str) -> _Parsed:
    key = (path, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    parsed = parse_story_file(text, path)
    with _CACHE_LOCK:
        _CACHE[key] = parsed
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return parsed


def parse_story_file(raw: bytes | str, file: str) -> tuple[list[Story], list[Story], list[Problem]]:
    """``(stories, rules, problems)`` of one file; a file that is not a mapping with a
    ``stories`` or ``rules`` section gives nothing."""
    try:
        doc = load_yaml(raw, file, fast=True)
    except FormatError as exc:
        return [], [], exc.problems
    if not isinstance(doc.data, dict) or not ({"stories", "rules"} & set(doc.data)):
        return [], [], []
    if not file.startswith("data/") and not _holds_story_items(doc.data):
        # Outside Rasa's data path, a `rules:` list of sentences (an agent's instructions, for
        # example) is another tool's file, kept unchanged, not training data.
        return [], [], []
    reader = _Reader(ProblemCollector(file, doc.lines))
    stories = reader.blocks(doc.data.get("stories"), "stories", is_rule=False)
    rules = reader.blocks(doc.data.get("rules"), "rules", is_rule=True)
    return stories, rules, reader.collector.problems


def _holds_story_items(data: dict[Any, Any]) -> bool:
    sections = [data.get("stories"), data.get("rules")]
    items = [item for section in sections if isinstance(section, list) for item in section]
    return all(isinstance(item, dict) for item in items)


class _Reader:
    def __init__(self, collector: ProblemCollector) -> None:
        self.collector = collector
        self.check = Checker(collector)
        self.story: Story | None = None

    @property
    def file(self) -> str:
        return self.collector.file or ""

    def blocks(self, value: Any, section: str, *, is_rule: bool) -> list[Story]:
        if value is None:
            return []
        items = self.check.seq(value, section, f"'{section}'")
        if items is None:
            return []
        what = "a rule" if is_rule else "a story"
        out = []
        for spec, path in self.check.mappings(items, section, what):
            story = self.block(spec, path, is_rule=is_rule)
            if story is not None:
                out.append(story)
        return out

    def block(self, spec: dict[Any, Any], path: str, *, is_rule: bool) -> Story | None:
        title, section = ("rule", "rules") if is_rule else ("story", "stories")
        self.check.keys(spec, path, RULE_KEYS if is_rule else STORY_KEYS, what=f"a {title}")
        if title not in spec:
            self.check.warning(
                path, f"this item of '{section}' has no '{title}' name; Rasa skips it"
            )
            return None
        name_path = join_path(path, title)
        name = self.check.string(spec[title], name_path, f"the {title} name", allow_empty=True)
        if name is None:
            return None
        if not name.strip():  # Rasa warns and reads it all the same
            self.check.warning(name_path, f"the {title} has an empty name; give it one")
        story = Story(name, is_rule, self.file, path, self.collector.line_for(path))
        self.story = story
        steps = spec.get("steps")
        if not steps:
            self.check.warning(
                path if "steps" not in spec else join_path(path, "steps"),
                f"the {story.block} has no steps; Rasa skips it",
            )
        else:
            kinds = RULE_STEP_KINDS if is_rule else STORY_STEP_KINDS
            story.steps = self.steps(steps, join_path(path, "steps"), kinds, f"a {title} step")
        if is_rule:
            self.rule_options(story, spec, path)
        return story

    def rule_options(self, story: Story, spec: dict[Any, Any], path: str) -> None:
        if spec.get("condition") is not None:
            story.conditions = self.steps(
                spec["condition"], join_path(path, "condition"), CONDITION_KINDS, "a condition"
            )
        for key in ("conversation_start", "wait_for_user_input"):
            if key in spec:
                value = self.check.boolean(spec[key], join_path(path, key), f"'{key}'")
                if value is not None:
                    setattr(story, key, value)

    def steps(
        self, value: Any, path: str, kinds: tuple[frozenset[str], ...], what: str
    ) -> list[StoryStep]:
        items = self.check.seq(value, path, f"'{path.rpartition('.')[2]}'")
        if items is None:
            return []
        out = []
        for index, item in enumerate(items):
            step_path = join_path(path, index)
            if not isinstance(item, dict):
                self.check.error(
                    step_path,
                    f"{what} must be a mapping such as 'intent: greet' or 'action: utter_greet',"
                    f" not {describe(item)}",
                )
                continue
            step = self.step(item, step_path, kinds, what)
            if step is not None:
                out.append(step)
        return out

    def step(
        self, item: dict[Any, Any], path: str, kinds: tuple[frozenset[str], ...], what: str
    ) -> StoryStep | None:
        line = self.collector.line_for(path)
        if not item:
            self.check.warning(path, f"{what} is empty; Rasa skips it")
            return None
        known = frozenset().union(*kinds)
        unknown = [str(k) for k in item if k not in known]
        for key in unknown:
            self.check.error(
                join_path(path, key),
                f"unknown key '{key}' in {what} (expected one of: {', '.join(sorted(known))})",
            )
        if unknown:
            return None
        keys = set(item)
        if not any(keys <= kind for kind in kinds):
            shown = " and ".join(f"'{k}'" for k in sorted(keys))
            self.check.error(path, f"{what} cannot have {shown} together: write one step each")
            return None
        kind = next(k for k in _KIND_ORDER if k in keys)
        step = StoryStep(kind, item, path, line)
        self.values(item, path)
        return step

    def values(self, item: dict[str, Any], path: str) -> None:
        """Type checks of a step's values, and the names it uses."""
        for key, value in item.items():
            key_path = join_path(path, key)
            handler = _VALUE_HANDLERS.get(key)
            if handler is not None:
                handler(self, value, key_path)

    # -- values -------------------------------------------------------------------------

    def ref(self, kind: str, name: str, path: str) -> None:
        if self.story is not None:
            self.story.references.append(Reference(kind, name, path, self.collector.line_for(path)))

    def intent(self, value: Any, path: str) -> None:
        name = self.check.string(value, path, "the intent")
        if name is not None:
            self.ref("intent", name.strip().removeprefix("/"), path)

    def user(self, value: Any, path: str) -> None:
        text = self.check.string(value, path, "the user text")
        if text is None:
            return
        text = text.strip()
        shortcut = _INTENT_SHORTCUT.match(text)
        if shortcut:  # `/inform{"city": "Paris"}`: an intent (and entities) given directly
            self.ref("intent", shortcut["intent"].strip(), path)
            try:
                given = json.loads(shortcut["entities"] or "{}")
            except ValueError:
                given = None
            if not isinstance(given, dict):
                self.check.warning(
                    path,
                    "the entities after the intent are not a JSON object such as "
                    '{"city": "Paris"}; Rasa reads the message without them',
                )
                return
            for name in given:
                self.ref("entity", str(name), path)
            return
        try:
            example = parse_example(text)
        except AnnotationError as exc:
            self.check.warning(
                path, f"the user text has an entity annotation Studio cannot read: {exc.reason}"
            )
            return
        for entity in example.entities:
            self.ref("entity", entity.entity, path)

    def entities(self, value: Any, path: str) -> None:
        items = self.check.seq(value, path, "'entities'")
        for index, item in enumerate(items or []):
            item_path = join_path(path, index)
            if isinstance(item, str) and item.strip():
                self.ref("entity", item, item_path)
            elif isinstance(item, dict) and item:
                self.entity_mapping(item, item_path)
            else:
                self.check.error(
                    item_path,
                    "each entity must be an entity name or a mapping such as "
                    f"'city: Berlin', not {describe(item)}",
                )

    def entity_mapping(self, item: dict[Any, Any], path: str) -> None:
        names = [k for k in item if k not in ENTITY_OPTION_KEYS]
        for key in ENTITY_OPTION_KEYS:
            if key in item:
                self.check.string(item[key], join_path(path, key), f"the entity's {key}")
        if not names:
            self.check.error(path, "the entity mapping names no entity (only role or group)")
        for name in names:
            self.ref("entity", str(name), join_path(path, str(name)))

    def commands(self, value: Any, path: str) -> None:
        items = self.check.seq(value, path, "'commands'")
        if items is not None:
            list(self.check.mappings(items, path, "a command"))

    def action(self, value: Any, path: str) -> None:
        name = self.check.string(value, path, "the action name")
        if name is not None:
            self.ref("action", name, path)

    def bot(self, value: Any, path: str) -> None:
        self.check.string(value, path, "the bot text")

    def active_loop(self, value: Any, path: str) -> None:
        if value is None:  # `active_loop: null`: no form is active
            return
        name = self.check.string(value, path, "the active loop (a form name or null)")
        if name is not None:
            self.ref("form", name, path)

    def checkpoint(self, value: Any, path: str) -> None:
        self.check.string(value, path, "the checkpoint name")

    def slot_was_set(self, value: Any, path: str) -> None:
        items = self.check.seq(value, path, "'slot_was_set'")
        for index, item in enumerate(items or []):
            item_path = join_path(path, index)
            if isinstance(item, str) and item.strip():
                self.ref("slot", item, item_path)
            elif isinstance(item, dict):
                for name in item:
                    self.ref("slot", str(name), join_path(item_path, str(name)))
            else:  # Rasa's schema lets it through; its reader skips the rest of the step
                self.check.warning(
                    item_path,
                    "each item of 'slot_was_set' should be a slot name or a mapping such as "
                    f"'city: Berlin', not {describe(item)}; Rasa skips this step",
                )

    def stack(self, value: Any, path: str) -> None:
        items = self.check.seq(value, path, "'stack'")
        for spec, item_path in self.check.mappings(items or [], path, "a stack update"):
            self.check.keys(
                spec, item_path, ("op", "path", "value"), what="a stack update", required=()
            )

    def or_(self, value: Any, path: str) -> None:
        items = self.check.seq(value, path, "'or'")
        if not items:
            if items is not None:
                self.check.warning(path, "'or' lists no alternative; Rasa skips it")
            return
        self.steps(items, path, OR_KINDS, "an 'or' alternative")


#: A step's kind is its first key in this order (``intent`` before ``entities``...).
_KIND_ORDER = (
    "intent",
    "user",
    "entities",
    "commands",
    "action",
    "bot",
    "active_loop",
    "checkpoint",
    "slot_was_set",
    "stack",
    "or",
)

_VALUE_HANDLERS: dict[str, Any] = {
    "intent": _Reader.intent,
    "user": _Reader.user,
    "entities": _Reader.entities,
    "commands": _Reader.commands,
    "action": _Reader.action,
    "bot": _Reader.bot,
    "active_loop": _Reader.active_loop,
    "checkpoint": _Reader.checkpoint,
    "slot_was_set": _Reader.slot_was_set,
    "stack": _Reader.stack,
    "or": _Reader.or_,
}


def all_blocks(data: StoryData) -> Iterable[Story]:
    """Stories, then rules."""
    yield from data.stories
    yield from data.rules
