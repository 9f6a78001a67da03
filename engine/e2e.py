"""Run Rasa Pro end-to-end test cases against the built-in dialogue.

The test files are read by `engine.formats.load_test_files` (see `engine.formats.e2e`). A case
(``tests/e2e/*.yml``)::

    fixtures:                       # optional: named slot presets
      - premium:
          - customer_tier: premium
    metadata: [...]                 # accepted and ignored
    test_cases:
      - test_case: greet_premium
        fixtures: [premium]
        steps:
          - user: "hello"
          - utter: utter_greet              # a response action ran
          - bot: "Hello Dana!"              # a bot message with exactly this text
          - slot_was_set:                   # slots set in this turn ("name" or {name: value})
              - customer_tier: premium
          - slot_was_not_set: [name, ...]   # not set (to that value, with {name: value})

Matching: after each ``user`` step, the bot's messages of that turn must match the ``utter``/
``bot`` steps that follow, in order and completely (a missing or an extra bot message fails the
case). ``slot_was_set``/``slot_was_not_set`` are checked against the slot events of the turn.
Steps before the first ``user`` step check the turn that starts the conversation. Fixtures are
set (as slot events) right after the session starts.

The cases run in process against a `Processor`, or over HTTP against a served bot (Rasa's
REST channel and tracker API: fixtures are posted to ``/conversations/{id}/tracker/events`` as
slot events, each user message goes to ``/webhooks/rest/webhook`` and the turn's events are read
back from ``/conversations/{id}/tracker?include_events=ALL``). Both drivers run the same checks.

Usage::

    results = run_test_files(paths, make_processor)
    results = run_test_cases(formats.load_test_cases(text), processor_factory)
    results = run_test_cases_http(formats.load_test_files(paths), "http://localhost:5005")
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from engine.dialogue import Processor, Tracker, UserMessage
from engine.formats import E2ETestCase, load_test_files

__all__ = [
    "CaseResult",
    "Conversation",
    "ConversationError",
    "HttpConversation",
    "ProcessorConversation",
    "run_conversation",
    "run_test_case",
    "run_test_case_http",
    "run_test_cases",
    "run_test_cases_http",
    "run_test_files",
]


@dataclass
class CaseResult:
    name: str
    passed: bool
    file: str | None = None
    #: The first mismatch: ``{"step": index, "expected": ..., "actual": ..., "message": ...}``
    #: (``"step": None`` when the case failed before its steps: fixtures, an unreachable bot).
    failure: dict[str, Any] | None = None
    transcript: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "file": self.file,
            "failure": self.failure,
        }


def _values_equal(expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return not isinstance(expected, bool) and math.isclose(expected, actual)
    if expected is not None and actual is not None and not isinstance(actual, (list, dict)):
        return str(expected) == str(actual)
    return False


def _slot_items(raw: Any) -> list[tuple[str, Any, bool]]:
    """``(name, value, has_value)`` for a slot_was_set / slot_was_not_set list."""
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, None, False))
        elif isinstance(item, dict):
            out.extend((str(k), v, True) for k, v in item.items())
    return out


class _Turn:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.bot = [e for e in events if e.get("event") == "bot"]
        self.slots = [e for e in events if e.get("event") == "slot"]


def _describe_bot(event: dict[str, Any]) -> str:
    name = (event.get("metadata") or {}).get("utter_action")
    return f"{name}: {event.get('text')!r}" if name else repr(event.get("text"))


# --------------------------------------------------------------------------------------------
# Conversations: where the messages of a case go


class ConversationError(Exception):
    """The bot could not be talked to (an HTTP error...); the case fails with this message."""


class Conversation(Protocol):
    """One fresh conversation with the bot under test."""

    def preset(self, slots: dict[str, Any]) -> None:
        """Set slots with slot events (the session is started first)."""
        ...

    def send(self, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Send one user message; returns the tracker events this turn added."""
        ...


class ProcessorConversation:
    """A conversation held in process by a `Processor`."""

    def __init__(self, processor: Processor, sender_id: str) -> None:
        self.processor = processor
        self.tracker = Tracker(sender_id, processor.model.initial_slots())

    def preset(self, slots: dict[str, Any]) -> None:
        self.processor.apply_events(
            self.tracker,
            [{"event": "slot", "name": k, "value": v} for k, v in slots.items()],
            run=False,
        )

    def send(self, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
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

    def _events(self) -> list[dict[str, Any]]:
        params = {**self.params, "include_events": "ALL"}
        state = self._request("GET", self._tracker_url(), params=params)
        return list(state.get("events") or [])

    def preset(self, slots: dict[str, Any]) -> None:
        state = self._request(
            "POST",
            self._tracker_url() + "/events",
            params={**self.params, "include_events": "ALL"},
            json=[{"event": "slot", "name": k, "value": v} for k, v in slots.items()],
        )
        self.seen = len(state.get("events") or [])

    def send(self, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": self.sender_id, "message": text}
        if metadata:
            body["metadata"] = metadata
        self._request("POST", "/webhooks/rest/webhook", json=body)
        events = self._events()
        turn, self.seen = events[self.seen :], len(events)
        return turn


# --------------------------------------------------------------------------------------------
# Running cases


def run_test_case(
    processor: Processor, case: E2ETestCase, sender_id: str | None = None
) -> CaseResult:
    """Run one case on a fresh conversation; the result carries the first mismatch."""
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
    sender = sender_id or f"e2e-{case.name}-{uuid.uuid4().hex[:8]}"
    try:
        conversation = HttpConversation(client, sender, token=token)
    except ConversationError as exc:
        result = CaseResult(case.name, False, case.file)
        result.failure = {"step": None, "expected": None, "actual": None, "message": str(exc)}
        return result
    return run_conversation(conversation, case)


def run_conversation(conversation: Conversation, case: E2ETestCase) -> CaseResult:
    """Run `case` on `conversation`; the result carries the first mismatch."""
    result = CaseResult(case.name, True, case.file)
    turn = _Turn([])
    bot_index = 0

    def fail(index: int, step: dict[str, Any], message: str, actual: Any = None) -> CaseResult:
        result.passed = False
        result.failure = {"step": index, "expected": step, "actual": actual, "message": message}
        return result

    def close_turn(index: int, step: dict[str, Any]) -> CaseResult | None:
        if bot_index < len(turn.bot):
            extra = [_describe_bot(e) for e in turn.bot[bot_index:]]
            return fail(index, step, f"unexpected bot message(s): {', '.join(extra)}", extra)
        return None

    if case.fixtures:
        try:
            conversation.preset(case.fixtures)
        except ConversationError as exc:
            result.passed = False
            result.failure = {
                "step": None,
                "expected": {"fixtures": case.fixtures},
                "actual": None,
                "message": f"cannot set the fixtures: {exc}",
            }
            return result

    for index, step in enumerate(case.steps):
        if not isinstance(step, dict):
            continue
        if "user" in step:
            failed = close_turn(index, step)
            if failed is not None:
                return failed
            text = str(step["user"])
            metadata = step.get("metadata")
            try:
                events = conversation.send(text, metadata if isinstance(metadata, dict) else None)
            except ConversationError as exc:
                return fail(index, step, str(exc))
            turn = _Turn(events)
            bot_index = 0
            result.transcript.append({"user": text})
            for event in turn.bot:
                result.transcript.append({"bot": event.get("text"), **event.get("metadata", {})})
        elif "utter" in step or "bot" in step:
            if bot_index >= len(turn.bot):
                return fail(index, step, "the bot said nothing more in this turn")
            event = turn.bot[bot_index]
            bot_index += 1
            if "utter" in step:
                actual = (event.get("metadata") or {}).get("utter_action")
                if actual != step["utter"]:
                    return fail(
                        index, step, f"expected {step['utter']}, got {_describe_bot(event)}", actual
                    )
            elif (event.get("text") or "") != str(step["bot"]):
                return fail(
                    index,
                    step,
                    f"expected text {step['bot']!r}, got {_describe_bot(event)}",
                    event.get("text"),
                )
        elif "slot_was_set" in step:
            for name, value, has_value in _slot_items(step["slot_was_set"]):
                matches = [e for e in turn.slots if e.get("name") == name]
                if not matches:
                    return fail(index, step, f"slot {name!r} was not set in this turn")
                if has_value and not any(_values_equal(value, e.get("value")) for e in matches):
                    actual = [e.get("value") for e in matches]
                    return fail(
                        index, step, f"slot {name!r} was set to {actual}, not {value!r}", actual
                    )
        elif "slot_was_not_set" in step:
            for name, value, has_value in _slot_items(step["slot_was_not_set"]):
                matches = [e for e in turn.slots if e.get("name") == name]
                if has_value:
                    matches = [e for e in matches if _values_equal(value, e.get("value"))]
                if matches:
                    return fail(
                        index,
                        step,
                        f"slot {name!r} was set in this turn",
                        [e.get("value") for e in matches],
                    )
    failed = close_turn(len(case.steps), {})
    return failed if failed is not None else result


def run_test_cases(
    cases: Iterable[E2ETestCase], make_processor: Callable[[], Processor] | Processor
) -> list[CaseResult]:
    """Run `cases`; `make_processor` is a processor or a factory (called once per case)."""
    results = []
    for case in cases:
        processor = make_processor() if callable(make_processor) else make_processor
        results.append(run_test_case(processor, case))
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
) -> list[CaseResult]:
    """Run `cases` against a served bot, each on a new conversation.

    `bot` is the server's base URL (``http://localhost:5005``) or a client for it.
    """
    if isinstance(bot, httpx.Client):
        return [run_test_case_http(bot, case, token=token) for case in cases]
    with httpx.Client(base_url=bot, timeout=timeout) as client:
        return [run_test_case_http(client, case, token=token) for case in cases]
