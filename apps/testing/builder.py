"""A conversation's events as a Rasa e2e test case in the assertion format.

One pure function, `build_test_case`, used for a Try session's tracker and for a conversation
in review alike: every user message becomes a ``user`` step whose ``assertions`` say what the
bot did in that turn, as Rasa names them:

* ``flow_started`` for each flow the turn started (patterns too, but not
  ``pattern_collect_information``, which every ``collect`` step starts);
* ``slot_was_set`` with the name and value of each slot the turn set (not to null: a flow's end
  resets its slots; not Rasa's internal slots);
* ``bot_uttered`` for each bot message: its response (``utter_name``), its text as an anchored
  ``text_matches`` when the response has one text only (or when the message came from no
  response), and its buttons.

Slots set before the first user message (a flow started with preset slots) become a fixture of
the case. A ``restart`` event starts the conversation over: only what follows it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from engine import formats

#: Slots Rasa sets for itself (never worth asserting).
INTERNAL_SLOTS = frozenset(
    {"requested_slot", "session_started_metadata", "flow_hashes", "dialogue_stack", "return_value"}
)
#: Flows started on every collect step: asserting them says nothing.
NOISE_FLOWS = frozenset({"pattern_collect_information"})
PLAIN = (str, int, float, bool, list, dict)


_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")


def exact_pattern(text: str) -> str:
    """A regular expression matching exactly `text` (only its special characters escaped,
    so it stays readable in the file)."""
    return "^" + _SPECIAL.sub(r"\\\1", text) + "$"


class NothingToTest(ValueError):
    """The conversation has no user message."""


def _since_last_restart(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("event") == "restart":
            kept = []
            continue
        kept.append(event)
    return kept


def _is_user_message(event: dict[str, Any]) -> bool:
    text = event.get("text")
    return (
        event.get("event") == "user"
        and isinstance(text, str)
        and bool(text.strip())
        and not text.startswith("/session_start")
    )


def _turns(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[list[dict]]]:
    """(the events before the first user message, [[user event, its turn's events...], ...])."""
    before: list[dict[str, Any]] = []
    turns: list[list[dict[str, Any]]] = []
    for event in events:
        if _is_user_message(event):
            turns.append([event])
        elif turns:
            turns[-1].append(event)
        else:
            before.append(event)
    return before, turns


def _slot_pairs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = []
    for event in events:
        name, value = event.get("name"), event.get("value")
        if event.get("event") != "slot" or not isinstance(name, str) or name in INTERNAL_SLOTS:
            continue
        if value is None or not isinstance(value, PLAIN):
            continue
        pair = {"name": name, "value": value}
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def _bot_assertion(
    event: dict[str, Any], responses: Mapping[str, list[str]] | None
) -> dict[str, Any] | None:
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    utter = metadata.get("utter_action") if isinstance(metadata, dict) else None
    text = event.get("text") if isinstance(event.get("text"), str) else ""
    assertion: dict[str, Any] = {}
    if isinstance(utter, str) and utter:
        assertion["utter_name"] = utter
        texts = (responses or {}).get(utter)
        if text and texts is not None and len(set(texts)) == 1:
            assertion["text_matches"] = exact_pattern(text)
    elif text:
        assertion["text_matches"] = exact_pattern(text)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    buttons = data.get("buttons") if isinstance(data, dict) else None
    if isinstance(buttons, list) and buttons:
        assertion["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons
            if isinstance(b, dict)
        ]
    return assertion or None


def _assertions(
    turn: list[dict[str, Any]], responses: Mapping[str, list[str]] | None
) -> list[dict[str, Any]]:
    assertions: list[dict[str, Any]] = []
    flows: list[str] = []
    for event in turn:
        flow = event.get("flow_id")
        if event.get("event") != "flow_started" or not isinstance(flow, str) or not flow:
            continue
        if flow not in NOISE_FLOWS and flow not in flows:
            flows.append(flow)
    assertions.extend({"flow_started": flow} for flow in flows)
    slots = _slot_pairs(turn)
    if slots:
        assertions.append({"slot_was_set": slots})
    for event in turn:
        if event.get("event") == "bot":
            bot = _bot_assertion(event, responses)
            if bot is not None:
                assertions.append({"bot_uttered": bot})
    return assertions


def case_name(text: str) -> str:
    """A test case name made of `text`: letters, digits and underscores."""
    name = re.sub(r"[^a-zA-Z0-9_]+", "_", text).strip("_").lower()
    return name or "conversation"


def build_test_case(
    events: Iterable[dict[str, Any]],
    name: str,
    *,
    responses: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The e2e test file (``fixtures`` when there are preset slots, and ``test_cases`` with one
    case called `name`) that replays `events` and asserts what the bot did. `responses` maps a
    response name to the texts of its variations. Raises NothingToTest when there is no user
    message."""
    before, turns = _turns(_since_last_restart(events))
    if not turns:
        raise NothingToTest("The conversation has no user message to make a test case of.")
    steps: list[dict[str, Any]] = []
    for turn in turns:
        step: dict[str, Any] = {"user": str(turn[0]["text"])}
        assertions = _assertions(turn[1:], responses)
        if assertions:
            step["assertions"] = assertions
        steps.append(step)
    case: dict[str, Any] = {"test_case": name}
    document: dict[str, Any] = {}
    preset = _slot_pairs(before)
    if preset:
        fixture = f"{name}_slots"
        document["fixtures"] = [{fixture: [{p["name"]: p["value"]} for p in preset]}]
        case["fixtures"] = [fixture]
    if not any("assertions" in step for step in steps):
        # An assertion case needs one assertion: the bot said nothing, so say that.
        steps[-1]["assertions"] = [{"bot_did_not_utter": {"text_matches": ".+"}}]
    case["steps"] = steps
    document["test_cases"] = [case]
    return document


def test_case_yaml(
    events: Iterable[dict[str, Any]],
    name: str,
    *,
    responses: Mapping[str, list[str]] | None = None,
) -> str:
    """`build_test_case` as YAML text, as it is saved under tests/."""
    return formats.dump_yaml(build_test_case(events, name, responses=responses))


test_case_yaml.__test__ = False  # type: ignore[attr-defined]
