"""Run Rasa Pro end-to-end test cases against the built-in dialogue, as ``rasa test e2e`` does.

The test files are read and checked by `engine.formats.load_test_files` (see
`engine.formats.e2e` for the format). A case is one fresh conversation: its fixtures are set
(as slot events) first, then every ``user`` step is sent with its metadata, and the tracker's
events are split into turns at the user messages (the events before the first one are the
turn that starts the conversation). Then the case is checked, the way Rasa 3.21 checks it:

* **Step cases** (no ``assertions``): each ``bot``/``utter``/``slot_was_set``/
  ``slot_was_not_set`` step is checked against the turn of the ``user`` step before it (or
  the starting turn): ``bot`` is a bot message with exactly that text, ``utter`` a message of
  that response, ``slot_was_set: [name]`` a slot event for it in the turn, ``[{name: value}]``
  one with that value, ``slot_was_not_set`` the opposite. Messages the case does not mention
  are allowed, as in Rasa.
* **Assertion cases** (a ``user`` step has ``assertions``): only the assertions are checked,
  each against the events of its user turn: ``flow_started`` (an id, or ``{flow_ids,
  operator: any|all}``), ``flow_completed``/``flow_cancelled`` (``flow_id``, optional
  ``flow_step_id``), ``pattern_clarification_contains`` (the options offered),
  ``action_executed``, ``slot_was_set``/``slot_was_not_set`` (``[{name, value?}]``),
  ``bot_uttered``/``bot_did_not_utter`` (``utter_name``, ``text_matches`` as a regular
  expression, ``buttons``). The first user step's assertions also see the starting turn. With
  ``assertion_order_enabled``, each assertion is checked on the events after the one the
  previous assertion matched. ``generative_response_is_relevant``/``_is_grounded`` need an
  LLM judge; the built-in runner has none, so they are reported as skipped, with the reason.

The first failing step (or assertion) fails the case: its step index and file line are in
`CaseResult.failure`. A case with nothing failed but something skipped is `skipped`.

Custom actions: when the suite has ``stub_custom_actions``, a stubbed action returns its
stub's events and responses instead of calling the action server (the case's own stub,
``test_case::action``, over the file's); an action without a stub then fails (the flow goes
to ``pattern_internal_error``), as in Rasa.

The cases run in process against a `Processor`, or over HTTP against a served bot (Rasa's
REST channel and tracker API: fixtures are posted to ``/conversations/{id}/tracker/events`` as
slot events, each user message goes to ``/webhooks/rest/webhook`` and the events are read back
from ``/conversations/{id}/tracker?include_events=ALL``). Both drivers run the same checks; a
served bot calls its own action server, so a case with stubs is skipped over HTTP.

Usage::

    results = run_test_files(paths, make_processor)
    results = run_test_cases(formats.load_test_cases(text), processor_factory)
    results = run_test_cases_http(formats.load_test_files(paths), "http://localhost:5005")
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from engine.dialogue import Processor, Tracker, UserMessage
from engine.dialogue.action_client import ActionError, ActionResult
from engine.dialogue.stackpatch import apply_patch
from engine.formats import GENERATIVE_ASSERTIONS, E2ETestCase, load_test_files
from engine.formats import junit_report as formats_junit_report

__all__ = [
    "CaseResult",
    "Conversation",
    "ConversationError",
    "HttpConversation",
    "ProcessorConversation",
    "StubActionClient",
    "junit_report",
    "junit_xml",
    "run_conversation",
    "run_test_case",
    "run_test_case_http",
    "run_test_cases",
    "run_test_cases_http",
    "run_test_files",
]

CLARIFICATION = "pattern_clarification"
Event = dict[str, Any]


@dataclass
class CaseResult:
    """The outcome of one case. `passed` is False only when the case failed; `status` says
    ``passed``, ``failed`` or ``skipped`` (nothing failed, but `skipped` lists what could not
    be checked, with the reasons)."""

    name: str
    passed: bool
    file: str | None = None
    #: The first mismatch: ``{"step": index, "line": line, "expected": ..., "actual": ...,
    #: "message": ...}`` (``"step": None`` when the case failed before its steps: fixtures,
    #: an unreachable bot).
    failure: dict[str, Any] | None = None
    transcript: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    line: int | None = None
    #: Seconds the case took to run, and the conversation's events as the bot held them (one
    #: line each, as in failure messages), for machine-readable reports.
    seconds: float = 0.0
    events: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.passed:
            return "failed"
        return "skipped" if self.skipped else "passed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "status": self.status,
            "file": self.file,
            "failure": self.failure,
            "skipped": list(self.skipped),
        }

    def report(self) -> dict[str, Any]:
        """Everything about the case, for ``python -m engine test --json``: what `as_dict`
        holds, its line, the transcript (user and bot messages), the conversation's events and
        the seconds it took."""
        return {
            **self.as_dict(),
            "line": self.line,
            "transcript": copy.deepcopy(self.transcript),
            "events": list(self.events),
            "seconds": round(self.seconds, 4),
        }


class _Failed(Exception):
    """A check failed: ``message``, with what was expected and what happened."""

    def __init__(self, message: str, expected: Any = None, actual: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual
        #: which assertion of the step failed (index), for assertion cases, and which item of
        #: its list (the slot of a slot_was_set)
        self.number: int | None = None
        self.item: int | None = None


# --------------------------------------------------------------------------------------------
# Events


def _values_equal(expected: Any, actual: Any) -> bool:
    """Rasa compares slot values with ``==``; numbers compare as numbers (50 == 50.0)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or (expected == actual and type(expected) is type(actual))
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual)
    return bool(expected == actual)


def _kind(event: Event, kind: str) -> bool:
    return event.get("event") == kind


def _metadata(event: Event) -> dict[str, Any]:
    metadata = event.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _text(event: Event) -> str:
    text = event.get("text")
    return text if isinstance(text, str) else ""


def _utter(event: Event) -> Any:
    return _metadata(event).get("utter_action")


def _buttons(event: Event) -> list[Any]:
    data = event.get("data") or {}
    buttons = data.get("buttons") if isinstance(data, dict) else None
    return buttons if isinstance(buttons, list) else []


def _describe_bot(event: Event) -> str:
    name = _utter(event)
    return f"{name}: {event.get('text')!r}" if name else repr(event.get("text"))


def _describe(event: Event) -> str:
    """One line of an events transcript, for failure messages."""
    kind = event.get("event")
    if kind == "bot":
        return f"bot {_describe_bot(event)}"
    if kind == "user":
        return f"user {event.get('text')!r}"
    if kind == "slot":
        return f"slot {event.get('name')}={event.get('value')!r}"
    if kind == "action":
        return f"action {event.get('name')}"
    if kind in ("flow_started", "flow_completed", "flow_cancelled"):
        step = f" at {event['step_id']}" if event.get("step_id") else ""
        return f"{kind} {event.get('flow_id')}{step}"
    return str(kind)


def _transcript(events: list[Event]) -> list[str]:
    return [_describe(e) for e in events if e.get("event") not in ("stack", None)]


@dataclass
class _Log:
    """All events of a conversation, and where each user step's turn starts."""

    events: list[Event] = field(default_factory=list)
    #: step index -> index in `events` of that step's user event
    user_at: dict[int, int] = field(default_factory=dict)
    #: step index -> why the message could not be sent
    errors: dict[int, str] = field(default_factory=dict)

    def add_turn(self, index: int, events: list[Event]) -> None:
        start = len(self.events)
        self.events.extend(events)
        for offset, event in enumerate(events):
            if _kind(event, "user"):
                self.user_at[index] = start + offset
                break
        else:
            self.user_at[index] = start

    def _next_user(self, start: int) -> int:
        for position in range(start + 1, len(self.events)):
            if _kind(self.events[position], "user"):
                return position
        return len(self.events)

    def turn(self, index: int | None) -> tuple[list[Event], list[Event], int]:
        """``(turn events, prior events, offset of the turn)`` of user step `index` (None: the
        starting turn, the events before the first user message)."""
        if index is None:
            end = self._next_user(-1)
            return self.events[:end], [], 0
        start = self.user_at[index]
        end = self._next_user(start)
        return self.events[start:end], self.events[:start], start

    def stack_at(self, position: int) -> list[dict[str, Any]]:
        """The dialogue stack after the events before `position` (replaying ``stack`` events)."""
        stack: list[dict[str, Any]] = []
        for event in self.events[:position]:
            if _kind(event, "stack"):
                try:
                    ops = json.loads(event.get("update") or "[]")
                except (TypeError, ValueError):
                    continue
                if isinstance(ops, list):
                    stack = apply_patch(stack, [op for op in ops if isinstance(op, dict)])
        return stack


# --------------------------------------------------------------------------------------------
# Step cases


def _slot_items(raw: Any) -> list[tuple[str, Any, bool]]:
    """``(name, value, has_value)`` for a slot_was_set / slot_was_not_set step list."""
    out = []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, str):
            out.append((item, None, False))
        elif isinstance(item, dict):
            out.extend((str(k), v, True) for k, v in item.items())
    return out


def _check_step(step: dict[str, Any], turn: list[Event]) -> None:
    """Check a bot/utter/slot step against its turn's events; raises `_Failed`."""
    bots = [e for e in turn if _kind(e, "bot")]
    slots = [e for e in turn if _kind(e, "slot")]
    said = [_describe_bot(e) for e in bots]
    if "bot" in step:
        text = str(step["bot"]).strip()
        if not any(_text(e) == text for e in bots):
            raise _Failed(f"the bot did not say {text!r} (it said: {_list(said)})", text, said)
    elif "utter" in step:
        if not any(_utter(e) == step["utter"] for e in bots):
            raise _Failed(
                f"the bot did not utter {step['utter']} (it said: {_list(said)})",
                step["utter"],
                said,
            )
    elif "slot_was_set" in step:
        for name, value, has_value in _slot_items(step["slot_was_set"]):
            values = [e.get("value") for e in slots if e.get("name") == name]
            if not values:
                raise _Failed(f"slot {name!r} was not set in this turn", name, None)
            if has_value and not any(_values_equal(value, v) for v in values):
                raise _Failed(f"slot {name!r} was set to {values}, not {value!r}", value, values)
    elif "slot_was_not_set" in step:
        for name, value, has_value in _slot_items(step["slot_was_not_set"]):
            values = [e.get("value") for e in slots if e.get("name") == name]
            if has_value:
                values = [v for v in values if _values_equal(value, v)]
            if values:
                raise _Failed(f"slot {name!r} was set in this turn (to {values})", None, values)


def _list(items: list[str]) -> str:
    return ", ".join(items) if items else "nothing"


def _check_steps(case: E2ETestCase, log: _Log) -> tuple[int, _Failed] | None:
    """The first failing step of a step case, with why."""
    current: int | None = None
    for index, step in enumerate(case.steps):
        if "user" in step:
            if index in log.errors:
                return index, _Failed(log.errors[index])
            if index in log.user_at:
                current = index
            continue
        turn, _, _ = log.turn(current)
        try:
            _check_step(step, turn)
        except _Failed as failed:
            return index, failed
    return None


# --------------------------------------------------------------------------------------------
# Assertion cases


class _Assertions:
    """Runs the assertions of one user step; each returns the position of the event it matched
    (in the conversation's events), or None."""

    def __init__(
        self,
        log: _Log,
        turn: list[tuple[int, Event]],
        prior: list[tuple[int, Event]],
        first_step: bool,
        flow_names: dict[str, str],
    ) -> None:
        self.log = log
        self.turn = turn
        self.prior = prior
        self.first_step = first_step
        self.flow_names = flow_names

    def events(self, with_prior: bool = False) -> list[tuple[int, Event]]:
        """The turn's events; Rasa lets the first step's action, slot and bot assertions see the
        starting turn's events too."""
        return self.prior + self.turn if with_prior and self.first_step else self.turn

    def find(
        self, kind: str, test: Callable[[Event], bool], with_prior: bool = False
    ) -> int | None:
        for position, event in self.events(with_prior):
            if _kind(event, kind) and test(event):
                return position
        return None

    def flow_started(self, value: Any) -> int | None:
        if isinstance(value, str):
            ids, operator = [value], "all"
        else:
            ids, operator = list(value["flow_ids"]), str(value["operator"]).lower()
        for flow_id in ids:
            found = self.find("flow_started", _flow_is(flow_id))
            if found is not None:
                return found
            if operator == "all":
                raise _Failed(f"flow {flow_id!r} did not start", flow_id, self.started())
        raise _Failed(f"none of the flows {', '.join(ids)} started", ids, self.started())

    def started(self) -> list[Any]:
        return [e.get("flow_id") for _, e in self.turn if _kind(e, "flow_started")]

    def _flow_end(self, value: dict[str, Any], kind: str, verb: str) -> int | None:
        flow_id = value["flow_id"]
        found = self.find(kind, lambda e: e.get("flow_id") == flow_id)
        if found is None:
            ended = [e.get("flow_id") for _, e in self.turn if _kind(e, kind)]
            raise _Failed(f"flow {flow_id!r} was not {verb}", flow_id, ended)
        step_id = self.log.events[found].get("step_id")
        if value.get("flow_step_id") is not None and step_id != value["flow_step_id"]:
            raise _Failed(
                f"flow {flow_id!r} was {verb} at step {step_id!r}, "
                f"not at {value['flow_step_id']!r}",
                value["flow_step_id"],
                step_id,
            )
        return found

    def flow_completed(self, value: dict[str, Any]) -> int | None:
        return self._flow_end(value, "flow_completed", "completed")

    def flow_cancelled(self, value: dict[str, Any]) -> int | None:
        return self._flow_end(value, "flow_cancelled", "cancelled")

    def pattern_clarification_contains(self, value: Any) -> int | None:
        found = self.find("flow_started", lambda e: e.get("flow_id") == CLARIFICATION)
        if found is None:
            raise _Failed(f"'{CLARIFICATION}' did not start", value, self.started())
        ids, names = self._clarification_options(found)
        if isinstance(value, list):  # Rasa's older form: the flow names offered, exactly
            if set(names) != set(value):
                raise _Failed(
                    f"'{CLARIFICATION}' offered {sorted(names)}, not {sorted(value)}",
                    sorted(value),
                    sorted(names),
                )
            return found
        offered = [self._offered(flow_id, ids, names) for flow_id in value["flow_ids"]]
        shown = sorted(ids) if ids is not None else sorted(names)
        if str(value["operator"]).lower() == "all":
            count = len(ids) if ids is not None else len(names)
            if not all(offered) or count != len(set(value["flow_ids"])):
                raise _Failed(
                    f"'{CLARIFICATION}' offered {shown}, not all of {value['flow_ids']} alone",
                    value["flow_ids"],
                    shown,
                )
        elif not any(offered):
            raise _Failed(
                f"'{CLARIFICATION}' offered {shown}, none of {value['flow_ids']}",
                value["flow_ids"],
                shown,
            )
        return found

    def _clarification_options(self, position: int) -> tuple[list[str] | None, list[str]]:
        """``(flow ids or None, flow names)`` the clarification at `position` offered: from the
        flow_started event's metadata (Rasa puts the frame there), else from the stack frame."""
        metadata = _metadata(self.log.events[position])
        frame: dict[str, Any] = metadata if "names" in metadata else {}
        if not frame:
            for candidate in reversed(self.log.stack_at(position + 1)):
                if isinstance(candidate, dict) and candidate.get("flow_id") == CLARIFICATION:
                    frame = candidate
                    break
        ids = frame.get("clarification_ids")
        raw_names = frame.get("names")
        names = [str(n) for n in raw_names] if isinstance(raw_names, list) else []
        return ([str(i) for i in ids] if isinstance(ids, list) and ids else None), names

    def _offered(self, flow_id: str, ids: list[str] | None, names: list[str]) -> bool:
        if ids is not None:
            return flow_id in ids
        return flow_id in names or self.flow_names.get(flow_id) in names

    def action_executed(self, value: str) -> int | None:
        found = self.find("action", lambda e: e.get("name") == value, with_prior=True)
        if found is None:
            ran = [e.get("name") for _, e in self.events(True) if _kind(e, "action")]
            raise _Failed(f"action {value!r} did not run", value, ran)
        return found

    def _slot_events(self, name: str) -> list[tuple[int, Event]]:
        return [(p, e) for p, e in self.events(True) if _kind(e, "slot") and e.get("name") == name]

    def slot_was_set(self, value: list[dict[str, Any]]) -> int | None:
        found = None
        for item, slot in enumerate(value):
            try:
                found = self._slot_set(slot)
            except _Failed as failed:
                failed.item = item
                raise
        return found

    def _slot_set(self, slot: dict[str, Any]) -> int:
        matches = self._slot_events(slot["name"])
        if not matches:
            raise _Failed(f"slot {slot['name']!r} was not set", slot, None)
        if "value" not in slot:
            return matches[0][0]
        hits = [p for p, e in matches if _values_equal(slot["value"], e.get("value"))]
        if not hits:
            # Every value of the turn: a flow's end resets its slots, so the last says little.
            values = [e.get("value") for _, e in matches]
            shown = " then ".join(repr(v) for v in values)
            raise _Failed(
                f"slot {slot['name']!r} was set to {shown}, not {slot['value']!r}",
                slot["value"],
                values[0] if len(values) == 1 else values,
            )
        return hits[0]

    def slot_was_not_set(self, value: list[dict[str, Any]]) -> int | None:
        found = None
        for item, slot in enumerate(value):
            matches = self._slot_events(slot["name"])
            if not matches:
                continue
            found, event = matches[-1]
            actual = event.get("value")
            if ("value" not in slot and actual is not None) or (
                "value" in slot and _values_equal(slot["value"], actual)
            ):
                failed = _Failed(f"slot {slot['name']!r} was set to {actual!r}", None, actual)
                failed.item = item
                raise failed
        return found

    def _bots(self) -> list[tuple[int, Event]]:
        return [(p, e) for p, e in self.events(True) if _kind(e, "bot")]

    def bot_uttered(self, value: dict[str, Any]) -> int | None:
        bots = self._bots()
        found = None
        problems = []
        if value.get("utter_name"):
            hits = [p for p, e in bots if _utter(e) == value["utter_name"]]
            found = hits[0] if hits else found
            if not hits:
                problems.append(f"the bot did not utter {value['utter_name']}")
        if value.get("text_matches"):
            pattern = re.compile(value["text_matches"])
            hits = [p for p, e in bots if pattern.search(_text(e))]
            found = hits[0] if hits else found
            if not hits:
                problems.append(f"no bot message matches {value['text_matches']!r}")
        if value.get("buttons"):
            hits = [p for p, e in bots if _buttons_match(_buttons(e), value["buttons"])]
            found = hits[0] if hits else found
            if not hits:
                problems.append("no bot message has the expected buttons")
        if problems:
            said = [_describe_bot(e) for _, e in bots]
            raise _Failed("; ".join(problems) + f" (it said: {_list(said)})", value, said)
        return found

    def bot_did_not_utter(self, value: dict[str, Any]) -> int | None:
        pattern = re.compile(value["text_matches"]) if value.get("text_matches") else None
        forbidden = value.get("buttons") or []
        for _, event in self._bots():
            problems = []
            if value.get("utter_name") and _utter(event) == value["utter_name"]:
                problems.append(f"the bot uttered {value['utter_name']}")
            if pattern is not None and pattern.search(_text(event)):
                problems.append(f"a bot message matches {value['text_matches']!r}")
            if any(_button_equal(b, f) for b in _buttons(event) for f in forbidden):
                problems.append("a bot message has a forbidden button")
            if problems:
                raise _Failed("; ".join(problems), value, _describe_bot(event))
        return None


def _flow_is(flow_id: str) -> Callable[[Event], bool]:
    def test(event: Event) -> bool:
        return event.get("flow_id") == flow_id

    return test


def _button_equal(actual: Any, expected: dict[str, Any]) -> bool:
    return (
        isinstance(actual, dict)
        and actual.get("title") == expected.get("title")
        and actual.get("payload") == expected.get("payload")
    )


def _buttons_match(actual: list[Any], expected: list[dict[str, Any]]) -> bool:
    """Rasa's rule: the message has buttons, and they start with the expected ones."""
    return bool(actual) and all(_button_equal(a, e) for a, e in zip(actual, expected, strict=False))


def _step_assertions(
    case: E2ETestCase,
    index: int,
    log: _Log,
    flow_names: dict[str, str],
    skipped: list[str],
) -> _Failed | None:
    """Run the assertions of user step `index`; the first failure, or None."""
    step = case.steps[index]
    if index in log.errors:
        return _Failed(log.errors[index])
    if index not in log.user_at:
        return _Failed("the step's user message is empty, so nothing was sent to assert on")
    turn, prior, offset = log.turn(index)
    runner = _Assertions(
        log,
        list(enumerate(turn, start=offset)),
        list(enumerate(prior)),
        index == 0,
        flow_names,
    )
    ordered = bool(step.get("assertion_order_enabled"))
    for number, assertion in enumerate(step.get("assertions") or []):
        kind, value = next(iter(assertion.items()))
        if kind in GENERATIVE_ASSERTIONS:
            skipped.append(
                f"step {index + 1}, assertion {number + 1}: '{kind}' needs an LLM judge, "
                "and the built-in test runner has none"
            )
            continue
        try:
            found = getattr(runner, kind)(value)
        except _Failed as failed:
            failed.expected = {kind: value}
            failed.message = f"{kind}: {failed.message}"
            if ordered:
                failed.message += " (assertion_order_enabled: checked after the previous match)"
            failed.number = number
            return failed
        if ordered and found is not None:
            runner.turn = [(p, e) for p, e in runner.turn if p > found]
            runner.prior = [(p, e) for p, e in runner.prior if p > found]
    return None


def _check_assertions(
    case: E2ETestCase, log: _Log, flow_names: dict[str, str], skipped: list[str]
) -> tuple[int, _Failed] | None:
    for index, step in enumerate(case.steps):
        if "user" not in step:
            continue
        if "assertions" not in step:
            if index in log.errors:
                return index, _Failed(log.errors[index])
            continue
        failed = _step_assertions(case, index, log, flow_names, skipped)
        if failed is not None:
            return index, failed
    return None


# --------------------------------------------------------------------------------------------
# Conversations: where the messages of a case go


class ConversationError(Exception):
    """The bot could not be talked to (an HTTP error...); the case fails with this message."""


class Conversation(Protocol):
    """One fresh conversation with the bot under test."""

    #: flow id -> flow name, when the conversation knows the flows (to read clarifications)
    flow_names: dict[str, str]

    def preset(self, slots: dict[str, Any]) -> list[Event]:
        """Set slots with slot events (the session is started first); the events added."""
        ...

    def send(self, text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
        """Send one user message; returns the tracker events this turn added."""
        ...


class StubActionClient:
    """Custom actions answered from a case's ``stub_custom_actions``.

    A stubbed action returns copies of its stub's events and responses; one without a stub
    raises `ActionError` when `strict` (the suite stubs custom actions, as Rasa requires every
    action to be stubbed then) and does nothing otherwise.
    """

    def __init__(self, stubs: dict[str, dict[str, Any]], *, strict: bool = True) -> None:
        self.stubs = stubs
        self.strict = strict

    def run(
        self, action_name: str, tracker: dict[str, Any], domain: dict[str, Any]
    ) -> ActionResult:
        stub = self.stubs.get(action_name)
        if stub is None:
            if self.strict:
                raise ActionError(
                    f"custom action '{action_name}' has no stub in stub_custom_actions "
                    "(when tests stub custom actions, every action they run needs one)"
                )
            return ActionResult()
        return ActionResult(
            events=copy.deepcopy(list(stub.get("events") or [])),
            responses=copy.deepcopy(list(stub.get("responses") or [])),
        )


class ProcessorConversation:
    """A conversation held in process by a `Processor`."""

    def __init__(self, processor: Processor, sender_id: str) -> None:
        self.processor = processor
        self.tracker = Tracker(sender_id, processor.model.initial_slots())
        self.flow_names = {
            flow_id: str(getattr(flow, "name", "") or flow_id)
            for flow_id, flow in processor.model.flows.items()
        }

    def preset(self, slots: dict[str, Any]) -> list[Event]:
        start = len(self.tracker.events)
        self.processor.apply_events(
            self.tracker,
            [{"event": "slot", "name": k, "value": v} for k, v in slots.items()],
            run=False,
        )
        return self.tracker.events[start:]

    def send(self, text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
        start = len(self.tracker.events)
        self.processor.handle_message(
            self.tracker, UserMessage(text, self.tracker.sender_id, metadata=metadata)
        )
        return self.tracker.events[start:]


class HttpConversation:
    """A conversation with a served bot, through Rasa's REST channel and tracker API.

    `client` is an `httpx.Client` whose base URL is the bot's (a Starlette ``TestClient`` works
    too); `token` is the server's ``--auth-token``, if it has one.
    """

    def __init__(self, client: httpx.Client, sender_id: str, *, token: str | None = None) -> None:
        self.client = client
        self.sender_id = sender_id
        self.params = {"token": token} if token else {}
        self.flow_names: dict[str, str] = {}
        self.seen = len(self._events())

    def _tracker_url(self) -> str:
        return f"/conversations/{quote(self.sender_id, safe='')}/tracker"

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        """The JSON answer; raises `ConversationError` for anything but a 200."""
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ConversationError(f"cannot {method} {url}: {exc}") from exc
        if response.status_code != 200:
            raise ConversationError(
                f"{method} {url} answered HTTP {response.status_code}: {response.text[:500]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ConversationError(f"{method} {url} did not answer JSON") from exc

    def _events(self) -> list[Event]:
        params = {**self.params, "include_events": "ALL"}
        state = self._request("GET", self._tracker_url(), params=params)
        events = state.get("events") if isinstance(state, dict) else None
        return [e for e in events or [] if isinstance(e, dict)]

    def _new_events(self) -> list[Event]:
        events = self._events()
        new, self.seen = events[self.seen :], len(events)
        return new

    def preset(self, slots: dict[str, Any]) -> list[Event]:
        self._request(
            "POST",
            self._tracker_url() + "/events",
            params={**self.params, "include_events": "ALL"},
            json=[{"event": "slot", "name": k, "value": v} for k, v in slots.items()],
        )
        return self._new_events()

    def send(self, text: str, metadata: dict[str, Any] | None = None) -> list[Event]:
        body: dict[str, Any] = {"sender": self.sender_id, "message": text}
        if metadata:
            body["metadata"] = metadata
        self._request("POST", "/webhooks/rest/webhook", json=body)
        return self._new_events()


# --------------------------------------------------------------------------------------------
# Running cases


def _converse(conversation: Conversation, case: E2ETestCase, result: CaseResult, log: _Log) -> None:
    """Send every user step; a message that cannot be sent is recorded, and ends the case."""
    for index, step in enumerate(case.steps):
        if "user" not in step:
            continue
        text = str(step["user"]).strip()
        if not text:  # Rasa skips a user step without text
            continue
        metadata = case.step_metadata[index] if index < len(case.step_metadata) else {}
        try:
            events = conversation.send(text, metadata or None)
        except ConversationError as exc:
            log.errors[index] = str(exc)
            return
        log.add_turn(index, events)
        result.transcript.append({"user": text})
        for event in events:
            if _kind(event, "bot"):
                result.transcript.append({"bot": event.get("text"), **_metadata(event)})


def run_conversation(conversation: Conversation, case: E2ETestCase) -> CaseResult:
    """Run `case` on `conversation`; the result carries the first failure."""
    started = time.monotonic()
    result = _run_conversation(conversation, case)
    result.seconds = time.monotonic() - started
    return result


def _run_conversation(conversation: Conversation, case: E2ETestCase) -> CaseResult:
    result = CaseResult(case.name, True, case.file, line=case.line)
    log = _Log()
    if case.fixtures:
        try:
            log.events.extend(conversation.preset(case.fixtures))
        except ConversationError as exc:
            result.passed = False
            result.failure = {
                "step": None,
                "line": case.line,
                "expected": {"fixtures": case.fixtures},
                "actual": None,
                "message": f"cannot set the fixtures: {exc}",
            }
            return result
    _converse(conversation, case, result, log)
    result.events = _transcript(log.events)
    if case.uses_assertions():
        found = _check_assertions(case, log, conversation.flow_names, result.skipped)
    else:
        found = _check_steps(case, log)
    if found is not None:
        index, failed = found
        line = case.step_line(index)
        if failed.number is not None:
            line = case.assertion_lines.get((index, failed.number), line)
            if failed.item is not None:
                line = case.assertion_lines.get((index, failed.number, failed.item), line)
        turn, _, _ = log.turn(index if index in log.user_at else _user_before(case, index, log))
        result.passed = False
        result.failure = {
            "step": index,
            "line": line,
            "expected": failed.expected if failed.expected is not None else case.steps[index],
            "actual": failed.actual,
            "message": failed.message,
            "events": _transcript(turn),
        }
    return result


def _user_before(case: E2ETestCase, index: int, log: _Log) -> int | None:
    for earlier in range(index - 1, -1, -1):
        if earlier in log.user_at:
            return earlier
    return None


def _install_stubs(processor: Processor, case: E2ETestCase) -> None:
    """Give the processor the case's stubbed custom actions (the suite stubs them)."""
    client = StubActionClient(case.stub_custom_actions, strict=True)
    processor.action_client = client
    processor.executor.action_client = client


def run_test_case(
    processor: Processor, case: E2ETestCase, sender_id: str | None = None
) -> CaseResult:
    """Run one case on a fresh conversation; the result carries the first failure."""
    if case.stubs_in_use:
        _install_stubs(processor, case)
    conversation = ProcessorConversation(processor, sender_id or f"e2e-{case.name}")
    return run_conversation(conversation, case)


def run_test_case_http(
    client: httpx.Client,
    case: E2ETestCase,
    sender_id: str | None = None,
    *,
    token: str | None = None,
) -> CaseResult:
    """Run one case over HTTP on a new conversation (by default ``e2e-<case>-<random>``)."""
    if case.stub_custom_actions:
        result = CaseResult(case.name, True, case.file, line=case.line)
        result.skipped.append(
            "stub_custom_actions are used in process only: a served bot calls its own action server"
        )
        return result
    sender = sender_id or f"e2e-{case.name}-{uuid.uuid4().hex[:8]}"
    try:
        conversation = HttpConversation(client, sender, token=token)
    except ConversationError as exc:
        result = CaseResult(case.name, False, case.file, line=case.line)
        result.failure = {
            "step": None,
            "line": case.line,
            "expected": None,
            "actual": None,
            "message": str(exc),
        }
        return result
    return run_conversation(conversation, case)


def run_test_cases(
    cases: Iterable[E2ETestCase],
    make_processor: Callable[[], Processor] | Processor,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run `cases`; `make_processor` is a processor or a factory (called once per case).
    `on_result` is called with each result as soon as its case has run."""
    results = []
    for case in cases:
        processor = make_processor() if callable(make_processor) else make_processor
        results.append(run_test_case(processor, case))
        if on_result is not None:
            on_result(results[-1])
    return results


def run_test_files(
    paths: Iterable[Path | str], make_processor: Callable[[], Processor] | Processor
) -> list[CaseResult]:
    return run_test_cases(load_test_files(paths), make_processor)


def run_test_cases_http(
    cases: Iterable[E2ETestCase],
    bot: str | httpx.Client,
    *,
    token: str | None = None,
    timeout: float = 30.0,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run `cases` against a served bot, each on a new conversation.

    `bot` is the server's base URL (``http://localhost:5005``) or a client for it.
    `on_result` is called with each result as soon as its case has run.
    """

    def run(client: httpx.Client) -> list[CaseResult]:
        results = []
        for case in cases:
            results.append(run_test_case_http(client, case, token=token))
            if on_result is not None:
                on_result(results[-1])
        return results

    if isinstance(bot, httpx.Client):
        return run(bot)
    with httpx.Client(base_url=bot, timeout=timeout) as client:
        return run(client)


def junit_xml(results: list[CaseResult], suite: str = "e2e") -> bytes:
    """The results as a JUnit XML report (`engine.formats.junit_report`)."""
    return junit_report([(suite, results)])


def junit_report(suites: Sequence[tuple[str, Sequence[CaseResult]]]) -> bytes:
    """Several result lists (e2e cases, test stories...) as one JUnit XML report: a
    ``testsuite`` per ``(name, results)`` (`engine.formats.junit_report`)."""
    return formats_junit_report(
        [(suite, [result.report() for result in results]) for suite, results in suites]
    )
