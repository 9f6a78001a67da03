"""Run Rasa's test stories against the built-in dialogue, as ``rasa test core`` does.

Test stories are story files (``stories:``, Rasa's story YAML, read by
`engine.formats.stories`) whose name starts with ``test_``, in a project's ``tests/`` folder by
convention. Each story is one fresh conversation, played live:

* a **user step** is sent as a message: its ``user`` text (entity annotations such as
  ``[204](room_number)`` removed), or, when the step gives only an ``intent`` (and
  ``entities``), the payload ``/intent{"entity": "value"}``, which the NLU takes as it is;
* the **actions** the bot takes after that message are compared, in order, with the story's
  ``action`` steps (and ``bot`` steps, matched by the text the action sent) up to the next user
  step, followed by ``action_listen``, as Rasa compares every action of the story's tracker
  (the listen that ends each turn included). An action the bot ran and then had rejected
  (``action_execution_rejected``, a form that could not use the message) is not one of its
  predictions, as in Rasa's trackers;
* for a user step with ``user`` text, the **intent** the NLU predicted is compared with the
  step's ``intent`` (a full retrieval intent such as ``faq/parking`` with the response
  selector's choice), and its **entities** (start, end, entity and value) with the annotations
  of the text, as Rasa's ``_collect_user_uttered_predictions`` does;
* ``slot_was_set`` steps before the first user step preset those slots (Rasa starts the
  story's tracker with them); later ``slot_was_set`` and ``active_loop`` steps describe what the
  bot's own actions do and are not checked, as Rasa does not check them either. With a
  coexistence router, the session starts with ``route_session_to_calm`` set to false, so that
  the classic policies answer, as in Rasa's story evaluation.

A story passes when every prediction is right. Its first wrong prediction (the step and its
file line, what was expected and what the bot predicted, with the policy and its confidence)
is `StoryResult.failure`; the conversation goes on to the end, so that `StoryResult.actions`
and `StoryResult.correct_actions` give the story's action accuracy. A story using what a live
conversation cannot replay (checkpoints, ``stack`` updates) is skipped with the reason, as is
an ``or`` with more alternatives than `MAX_VARIANTS` stories would cover (each alternative of
an ``or`` is a story of its own, as Rasa's story graph makes it).

The stories run in process against a `Processor`, or over HTTP against a served bot, through
the conversations of `engine.e2e` (`ProcessorConversation`, `HttpConversation`).

Usage::

    stories = load_test_stories(["tests/"])
    results = run_test_stories(stories, make_processor)
    results = run_test_stories_http(stories, "http://localhost:5005")
    summary = story_summary(results)
"""

from __future__ import annotations

import json
import posixpath
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from engine.dialogue import Processor
from engine.e2e import (
    CaseResult,
    Conversation,
    ConversationError,
    HttpConversation,
    ProcessorConversation,
)
from engine.formats import FormatError, Problem
from engine.formats.nlu import AnnotationError, parse_example
from engine.formats.stories import Story, StoryStep, parse_story_file

__all__ = [
    "ACTION_LISTEN",
    "MAX_VARIANTS",
    "ROUTE_TO_CALM_SLOT",
    "ExpectedAction",
    "ExpectedUser",
    "StoryResult",
    "StoryTurn",
    "TestStory",
    "is_test_story_file",
    "load_test_stories",
    "parse_test_stories",
    "run_story",
    "run_test_stories",
    "run_test_stories_http",
    "run_test_story",
    "run_test_story_http",
    "story_summary",
]

#: Not a test module, though its name starts with ``test_``: pytest collects nothing here.
__test__ = False

ACTION_LISTEN = "action_listen"
#: Actions the runtime runs by itself, never predicted by the policies.
UNPREDICTED_ACTIONS = frozenset({"action_session_start"})
#: The coexistence router's slot; Rasa sets it to false when it evaluates stories.
ROUTE_TO_CALM_SLOT = "route_session_to_calm"
#: The most stories one test story's ``or`` steps may expand to.
MAX_VARIANTS = 64
Event = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Test stories, as read from their files


@dataclass
class ExpectedUser:
    """A user step: what is sent, and what the NLU should make of it."""

    step: int
    line: int | None
    #: the message sent: the plain text, or the ``/intent{...}`` payload
    message: str
    #: the ``user`` text without annotations (None when the step gives only the intent)
    text: str | None
    intent: str | None
    #: the annotated entities of the text: ``{start, end, entity, value}`` (text steps only)
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ExpectedAction:
    """An ``action`` step (`name`), a ``bot`` step (`text`), or the listen that ends a turn."""

    step: int | None
    line: int | None
    name: str | None = None
    text: str | None = None

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"bot says {self.text!r}"


@dataclass
class StoryTurn:
    """A user step (None for the turn before the first one) and the actions that follow it."""

    user: ExpectedUser | None
    actions: list[ExpectedAction] = field(default_factory=list)


@dataclass
class TestStory:
    """One test story (one alternative of its ``or`` steps), ready to be played."""

    name: str
    file: str
    line: int | None
    turns: list[StoryTurn] = field(default_factory=list)
    #: slots the story's tracker starts with (``slot_was_set`` before the first user step)
    slots: dict[str, Any] = field(default_factory=dict)
    #: why the story cannot be played live (it is then skipped)
    unsupported: list[str] = field(default_factory=list)


@dataclass
class StoryResult(CaseResult):
    """The outcome of one story: `CaseResult`'s fields, plus every action prediction."""

    #: ``{"step", "line", "expected", "predicted", "policy", "confidence", "correct"}`` per
    #: expected action, in order
    predictions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def actions(self) -> int:
        return len(self.predictions)

    @property
    def correct_actions(self) -> int:
        return sum(1 for p in self.predictions if p["correct"])

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out["actions"] = self.actions
        out["correct_actions"] = self.correct_actions
        return out


def is_test_story_file(path: str | Path) -> bool:
    """A YAML file whose name starts with ``test_`` (Rasa's convention for test stories)."""
    name = posixpath.basename(str(path).replace("\\", "/"))
    return name.startswith("test_") and name.endswith((".yml", ".yaml"))


def _holds_stories(raw: bytes) -> bool:
    """A top-level ``stories`` key (test story files in a folder are found by it)."""
    return re.search(rb"(?m)^stories\s*:", raw) is not None


def load_test_stories(paths: Iterable[Path | str]) -> list[TestStory]:
    """The test stories of the given files, and of the test story files (``test_*.yml``
    holding ``stories:``) in the given directories (sorted). ``path::name`` keeps the stories
    called `name`. Raises `FormatError` with the errors of every file, `OSError` for a path
    that is not there."""
    stories: list[TestStory] = []
    problems: list[Problem] = []
    for raw_path in paths:
        path_text, _, wanted = str(raw_path).partition("::")
        path = Path(path_text)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and is_test_story_file(p))
        else:
            files = [path]
        for file in files:
            raw = file.read_bytes()
            if path.is_dir() and not _holds_stories(raw):
                continue
            try:
                found = parse_test_stories(raw, str(file))
            except FormatError as exc:
                problems.extend(exc.problems)
                continue
            stories.extend(s for s in found if not wanted or s.name == wanted)
    if problems:
        raise FormatError(problems)
    return stories


def parse_test_stories(raw: bytes | str, file: str) -> list[TestStory]:
    """The test stories of one file; raises `FormatError` when the file has errors (rules in
    a test file are not tests: Rasa evaluates stories only, so they are left out)."""
    stories, _rules, problems = parse_story_file(raw, file)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FormatError(errors)
    out: list[TestStory] = []
    for story in stories:
        out.extend(_variants(story))
    return out


def _variants(story: Story) -> list[TestStory]:
    """The stories one story stands for: one per combination of its ``or`` alternatives."""
    choices: list[list[StoryStep]] = []
    for step in story.steps:
        if step.kind == "or":
            choices.append(_alternatives(step))
        else:
            choices.append([step])
    count = 1
    for options in choices:
        count *= max(1, len(options))
    if count > MAX_VARIANTS:
        skipped = TestStory(story.name, story.file, story.line)
        skipped.unsupported.append(
            f"its 'or' steps make {count} stories, more than the {MAX_VARIANTS} played"
        )
        return [skipped]
    combos = list(product(*[options or [] for options in choices]))
    out = []
    for number, combo in enumerate(combos, 1):
        name = story.name if len(combos) == 1 else f"{story.name} ({number}/{len(combos)})"
        out.append(_build(name, story, list(combo)))
    return out


def _alternatives(step: StoryStep) -> list[StoryStep]:
    items = step.data.get("or")
    out = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item:
            kind = "intent" if "intent" in item else "user" if "user" in item else "slot_was_set"
            out.append(StoryStep(kind, item, f"{step.path}[{index}]", step.line))
    return out


def _build(name: str, story: Story, steps: list[StoryStep]) -> TestStory:
    test = TestStory(name, story.file, story.line)
    turn = StoryTurn(None)
    test.turns.append(turn)
    for index, step in enumerate(steps):
        data = step.data
        if "intent" in data or "user" in data:
            turn = StoryTurn(_user_step(index, step, test))
            test.turns.append(turn)
        elif "action" in data:
            turn.actions.append(ExpectedAction(index, step.line, name=str(data["action"])))
        elif "bot" in data:
            turn.actions.append(ExpectedAction(index, step.line, text=str(data["bot"]).strip()))
        elif step.kind == "checkpoint":
            test.unsupported.append(
                f"checkpoint '{data.get('checkpoint')}' (line {step.line}): a live conversation "
                "cannot join story parts; write the test story out in full"
            )
        elif step.kind == "stack":
            test.unsupported.append(f"a 'stack' update (line {step.line}) cannot be replayed")
        elif step.kind == "slot_was_set" and len(test.turns) == 1:
            test.slots.update(_slot_values(data.get("slot_was_set")))
    return test


def _slot_values(raw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            out.update({str(k): v for k, v in item.items()})
        elif isinstance(item, str):
            out[item] = True  # Rasa reads `- slot_name` as the slot set to true
    return out


def _user_step(index: int, step: StoryStep, test: TestStory) -> ExpectedUser:
    data = step.data
    intent = str(data["intent"]).strip() if data.get("intent") is not None else None
    if data.get("user") is not None:
        raw = str(data["user"]).strip()
        try:
            example = parse_example(raw)
        except AnnotationError as exc:
            test.unsupported.append(f"line {step.line}: cannot read the user text ({exc})")
            return ExpectedUser(index, step.line, raw, raw, intent)
        entities = [
            {"start": e.start, "end": e.end, "entity": e.entity, "value": str(e.value)}
            for e in example.entities
        ]
        return ExpectedUser(index, step.line, example.text, example.text, intent, entities)
    payload = _payload_entities(data.get("entities"))
    message = f"/{intent}" + (json.dumps(payload) if payload else "")
    return ExpectedUser(index, step.line, message, None, intent)


def _payload_entities(raw: Any) -> dict[str, Any]:
    """A story step's ``entities`` as the JSON of an intent payload."""
    out: dict[str, Any] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            out[item] = None
        elif isinstance(item, dict):
            for key, value in item.items():
                if key not in ("role", "group"):
                    out[str(key)] = value
    return out


# --------------------------------------------------------------------------------------------
# What the bot did


@dataclass
class _Predicted:
    name: str
    policy: str | None = None
    confidence: float | None = None
    texts: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.policy is None:
            return self.name
        confidence = f", {self.confidence:.2f}" if isinstance(self.confidence, float) else ""
        return f"{self.name} ({self.policy}{confidence})"


def _turn_actions(events: list[Event]) -> tuple[Event | None, list[_Predicted]]:
    """The user event of a turn's events and the actions predicted after it (an action that
    was then rejected is not one; the turn ends with a listen)."""
    user = next((e for e in events if e.get("event") == "user"), None)
    after = events[events.index(user) + 1 :] if user is not None else events
    actions: list[_Predicted] = []
    for event in after:
        kind = event.get("event")
        if kind == "action" and event.get("name") not in UNPREDICTED_ACTIONS:
            confidence = event.get("confidence")
            actions.append(
                _Predicted(
                    str(event.get("name")),
                    event.get("policy") if isinstance(event.get("policy"), str) else None,
                    float(confidence) if isinstance(confidence, (int, float)) else None,
                )
            )
        elif kind == "action_execution_rejected" and actions:
            if actions[-1].name == event.get("name"):
                actions.pop()
        elif kind == "bot" and actions:
            actions[-1].texts.append(str(event.get("text") or ""))
    if not actions or actions[-1].name != ACTION_LISTEN:
        actions.append(_Predicted(ACTION_LISTEN))
    return user, actions


def _full_retrieval_intent(parse: dict[str, Any]) -> str | None:
    """The retrieval intent with its response key (``faq/parking``) when the intent is a
    retrieval intent, else the intent."""
    intent = (parse.get("intent") or {}).get("name")
    selector = parse.get("response_selector") or {}
    if not isinstance(selector, dict) or intent not in (
        selector.get("all_retrieval_intents") or []
    ):
        return intent if isinstance(intent, str) else None
    chosen = selector.get(intent) or selector.get("default") or {}
    key = ((chosen.get("response") or {}) if isinstance(chosen, dict) else {}).get(
        "intent_response_key"
    )
    return str(key) if key else intent


def _clean_entities(entities: Any) -> set[tuple[Any, ...]]:
    out = set()
    for entity in entities if isinstance(entities, list) else []:
        if isinstance(entity, dict):
            out.add(
                (
                    entity.get("start"),
                    entity.get("end"),
                    entity.get("entity"),
                    str(entity.get("value")),
                )
            )
    return out


def _entity_list(entities: set[tuple[Any, ...]]) -> list[str]:
    return [f"{e[2]}={e[3]!r}" for e in sorted(entities, key=lambda e: (e[0] or 0, e[1] or 0))]


# --------------------------------------------------------------------------------------------
# Playing a story


class _Checker:
    """Compares one story's turns with what the bot did; keeps the first wrong prediction."""

    def __init__(self, story: TestStory, result: StoryResult) -> None:
        self.story = story
        self.result = result

    def fail(self, step: int | None, line: int | None, message: str, **info: Any) -> None:
        if self.result.failure is not None:
            return
        self.result.passed = False
        self.result.failure = {"step": step, "line": line, "message": message, **info}

    def user(self, expected: ExpectedUser, event: Event | None) -> None:
        if event is None:
            self.fail(expected.step, expected.line, "the message left no user event")
            return
        raw = event.get("parse_data")
        parse: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if expected.intent is not None:
            self.intent(expected, parse)
        if expected.text is not None:
            self.entities(expected, parse)

    def intent(self, expected: ExpectedUser, parse: dict[str, Any]) -> None:
        predicted = (parse.get("intent") or {}).get("name")
        if predicted != expected.intent:
            predicted = _full_retrieval_intent(parse)
        if predicted == expected.intent:
            return
        confidence = (parse.get("intent") or {}).get("confidence")
        shown = f" ({confidence:.2f})" if isinstance(confidence, (int, float)) else ""
        self.fail(
            expected.step,
            expected.line,
            f"wrong intent for {expected.message!r}: expected {expected.intent}, "
            f"predicted {predicted}{shown}",
            expected={"intent": expected.intent},
            actual={"intent": predicted, "confidence": confidence},
        )

    def entities(self, expected: ExpectedUser, parse: dict[str, Any]) -> None:
        gold = _clean_entities(expected.entities)
        predicted = _clean_entities(parse.get("entities"))
        if gold == predicted:
            return
        self.fail(
            expected.step,
            expected.line,
            f"wrong entities for {expected.message!r}: expected "
            f"{', '.join(_entity_list(gold)) or 'none'}, predicted "
            f"{', '.join(_entity_list(predicted)) or 'none'}",
            expected={"entities": _entity_list(gold)},
            actual={"entities": _entity_list(predicted)},
        )

    def actions(self, turn: StoryTurn, predicted: list[_Predicted], line: int | None) -> None:
        expected = [*turn.actions, ExpectedAction(None, line, name=ACTION_LISTEN)]
        for position, want in enumerate(expected):
            got = predicted[position] if position < len(predicted) else None
            correct = got is not None and (
                got.name == want.name if want.name is not None else want.text in got.texts
            )
            self.result.predictions.append(
                {
                    "step": want.step,
                    "line": want.line,
                    "expected": want.label,
                    "predicted": got.name if got else None,
                    "policy": got.policy if got else None,
                    "confidence": got.confidence if got else None,
                    "correct": correct,
                }
            )
            if not correct:
                shown = got.describe() if got else "nothing (the bot stopped)"
                what = "action" if want.name is not None else "bot message"
                self.fail(
                    want.step,
                    want.line,
                    f"wrong {what}: expected {want.label}, predicted {shown}",
                    expected={"action": want.label},
                    actual={"action": got.name if got else None, "policy": got and got.policy},
                )


def _line_after(story: TestStory, index: int) -> int | None:
    """The line of the listen that ends turn `index`: the next user step's, or the last step's."""
    if index + 1 < len(story.turns) and story.turns[index + 1].user is not None:
        return story.turns[index + 1].user.line  # type: ignore[union-attr]
    turn = story.turns[index]
    if turn.actions:
        return turn.actions[-1].line
    return turn.user.line if turn.user is not None else story.line


def run_story(
    conversation: Conversation, story: TestStory, *, route_slot: bool = False
) -> StoryResult:
    """Play `story` on `conversation` (a fresh one); `route_slot`: the assistant has the
    coexistence router's slot, which starts as false."""
    result = StoryResult(story.name, True, story.file, line=story.line)
    if story.unsupported:
        result.skipped.extend(story.unsupported)
        return result
    checker = _Checker(story, result)
    _check_opening_actions(story, checker)
    slots = dict(story.slots)
    if route_slot:
        slots.setdefault(ROUTE_TO_CALM_SLOT, False)
    try:
        if slots:
            conversation.preset(slots)
        for index, turn in enumerate(story.turns):
            if turn.user is None:
                continue  # actions before the first message: nothing to send them after
            events = conversation.send(turn.user.message)
            user, predicted = _turn_actions(events)
            result.transcript.append({"user": turn.user.message})
            result.transcript.extend(
                {"action": p.name, **({"bot": p.texts} if p.texts else {})} for p in predicted
            )
            checker.user(turn.user, user)
            checker.actions(turn, predicted, _line_after(story, index))
    except ConversationError as exc:
        result.passed = False
        result.failure = result.failure or {
            "step": None,
            "line": story.line,
            "message": str(exc),
            "expected": None,
            "actual": None,
        }
    return result


def _check_opening_actions(story: TestStory, checker: _Checker) -> None:
    """Actions before the first user step cannot be predicted by a conversation that starts
    with a message: such a story is wrong for a live run, and says so."""
    first = story.turns[0]
    if first.actions:
        action = first.actions[0]
        checker.fail(
            action.step,
            action.line,
            f"the story expects {action.label} before the user's first message; a test story "
            "starts with a user step",
            expected={"action": action.label},
            actual=None,
        )


def run_test_story(
    processor: Processor, story: TestStory, sender_id: str | None = None
) -> StoryResult:
    """Play one story in process, on a new conversation."""
    conversation = ProcessorConversation(processor, sender_id or f"story-{uuid.uuid4().hex[:8]}")
    route_slot = ROUTE_TO_CALM_SLOT in processor.model.initial_slots()
    return run_story(conversation, story, route_slot=route_slot)


def run_test_stories(
    stories: Iterable[TestStory], make_processor: Callable[[], Processor] | Processor
) -> list[StoryResult]:
    """Play `stories`; `make_processor` is a processor or a factory (called once per story)."""
    results = []
    for story in stories:
        processor = make_processor() if callable(make_processor) else make_processor
        results.append(run_test_story(processor, story))
    return results


def _served_slots(client: httpx.Client, sender: str, token: str | None) -> set[str]:
    """The slots a served bot's new conversation has (empty when it cannot be asked)."""
    params = {"token": token} if token else {}
    try:
        response = client.get(f"/conversations/{quote(sender, safe='')}/tracker", params=params)
        slots = response.json().get("slots") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return set()
    return set(slots) if isinstance(slots, dict) else set()


def run_test_story_http(
    client: httpx.Client,
    story: TestStory,
    sender_id: str | None = None,
    *,
    token: str | None = None,
) -> StoryResult:
    """Play one story over HTTP on a new conversation (by default ``story-<random>``)."""
    sender = sender_id or f"story-{uuid.uuid4().hex[:12]}"
    try:
        conversation = HttpConversation(client, sender, token=token)
    except ConversationError as exc:
        result = StoryResult(story.name, False, story.file, line=story.line)
        result.failure = {
            "step": None,
            "line": story.line,
            "message": str(exc),
            "expected": None,
            "actual": None,
        }
        return result
    route_slot = ROUTE_TO_CALM_SLOT in _served_slots(client, sender, token)
    return run_story(conversation, story, route_slot=route_slot)


def run_test_stories_http(
    stories: Iterable[TestStory],
    bot: str | httpx.Client,
    *,
    token: str | None = None,
    timeout: float = 30.0,
) -> list[StoryResult]:
    """Play `stories` against a served bot (its base URL or a client), each on a new
    conversation."""
    if isinstance(bot, httpx.Client):
        return [run_test_story_http(bot, story, token=token) for story in stories]
    with httpx.Client(base_url=bot, timeout=timeout) as client:
        return [run_test_story_http(client, story, token=token) for story in stories]


def story_summary(results: Iterable[StoryResult]) -> dict[str, Any]:
    """Counts of a run: stories passed/failed/skipped, and the action accuracy (correct
    predictions / expected actions of the stories played)."""
    results = list(results)
    actions = sum(r.actions for r in results)
    correct = sum(r.correct_actions for r in results)
    played = [r for r in results if r.status != "skipped"]
    return {
        "stories": len(results),
        "passed": sum(r.status == "passed" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "story_accuracy": (sum(r.passed for r in played) / len(played)) if played else 0.0,
        "actions": actions,
        "correct_actions": correct,
        "action_accuracy": correct / actions if actions else 0.0,
    }
