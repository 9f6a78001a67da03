"""Messages starting with ``/``: intent shortcuts and Rasa Pro command payloads.

Parsed without any model:

* ``/intent``, ``/intent@0.8``, ``/intent{"entity": "value"}``, ``/intent@0.8{"e": ["a", "b"]}``
  -- as Rasa's RegexMessageHandler: the confidence defaults to 1.0; each JSON key gives one entity
  per value (lists give several) with ``start``/``end`` spanning the JSON object. The intent name
  must not contain whitespace (``/ some text`` is an ordinary message); anything after the JSON is
  ignored, as Rasa does.
* ``/SetSlots(slot_a=value, slot_b=other value)`` -- Rasa Pro's button payload. Produces
  ``parse_data["commands"] = [{"command": "set slot", "name": "slot_a", "value": "value",
  "extractor": "CommandPayloadReader"}, ...]`` (the dict form of Rasa Pro's SetSlotCommand) and
  no intent. Values are strings with surrounding whitespace and matching quotes removed; the
  dialogue layer coerces them to the slot's type. A value may contain commas as long as they are
  not followed by ``name=``.
* ``/StartFlow(flow_id)`` -- produces ``[{"command": "start flow", "flow": "flow_id"}]``.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["COMMAND_PAYLOAD_READER", "parse_payload"]

COMMAND_PAYLOAD_READER = "CommandPayloadReader"

_SET_SLOTS_RE = re.compile(r"^\s*/SetSlots\((?P<args>.*)\)\s*$", re.DOTALL)
_START_FLOW_RE = re.compile(r"^\s*/StartFlow\(\s*(?P<flow>[^()\s,]+)\s*\)\s*$")
_INTENT_RE = re.compile(
    r"^\s*/(?P<intent>[^\s{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.*\})?(?P<rest>.*)$",
    re.DOTALL,
)
_ARG_SPLIT_RE = re.compile(r",(?=\s*[A-Za-z_][\w.-]*\s*=)")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _set_slots(args: str) -> list[dict[str, Any]] | None:
    commands: list[dict[str, Any]] = []
    if not args.strip():
        return commands
    for part in _ARG_SPLIT_RE.split(args):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            return None
        commands.append(
            {
                "command": "set slot",
                "name": name,
                "value": _unquote(value),
                "extractor": COMMAND_PAYLOAD_READER,
            }
        )
    return commands


def _intent_entities(match: re.Match[str]) -> list[dict[str, Any]]:
    raw = match.group("entities")
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    start, end = match.start("entities"), match.end("entities")
    entities: list[dict[str, Any]] = []
    for name, values in parsed.items():
        for value in values if isinstance(values, list) else [values]:
            entities.append({"entity": str(name), "start": start, "end": end, "value": value})
    return entities


def parse_payload(text: str) -> dict[str, Any] | None:
    """Parse a ``/`` message into the parts of parse_data it determines, or None.

    The result has ``intent``, ``intent_ranking`` and ``entities`` and, for command payloads,
    ``commands``.
    """
    if not text.lstrip().startswith("/"):
        return None
    m = _SET_SLOTS_RE.match(text)
    if m:
        commands = _set_slots(m.group("args"))
        if commands is not None:
            return _no_intent(commands)
    m = _START_FLOW_RE.match(text)
    if m:
        return _no_intent([{"command": "start flow", "flow": m.group("flow")}])
    m = _INTENT_RE.match(text)
    if not m:
        return None
    confidence = 1.0
    if m.group("confidence"):
        try:
            confidence = float(m.group("confidence")[1:])
        except ValueError:
            confidence = 1.0
        confidence = min(max(confidence, 0.0), 1.0)
    intent = {"name": m.group("intent"), "confidence": confidence}
    return {
        "intent": intent,
        "entities": _intent_entities(m),
        "intent_ranking": [dict(intent)],
    }


def _no_intent(commands: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": [],
        "commands": commands,
    }
