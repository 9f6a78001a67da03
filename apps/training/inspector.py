"""What the inspector of Try your assistant shows, read from a bot's tracker (Rasa's shape)."""

from __future__ import annotations

import json
from typing import Any

from apps.projects.quick_replies import shown_user_text

# Slots Rasa keeps for itself: their values are internal state, shown in the tracker JSON only.
INTERNAL_SLOTS = frozenset({"dialogue_stack", "flow_hashes", "session_started_metadata"})

# Events that only move the dialogue stack or wait for the user: the stack and the turn's other
# events already say what happened.
QUIET_EVENTS = frozenset({"stack", "user", "user_featurization"})
QUIET_ACTIONS = frozenset({"action_listen"})

FLOW_EVENTS = {
    "flow_started": "flow started",
    "flow_completed": "flow completed",
    "flow_interrupted": "flow interrupted",
    "flow_resumed": "flow resumed",
    "flow_cancelled": "flow cancelled",
}


def show_value(value: Any) -> str:
    """A slot value as a person reads it: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def turns_of(tracker: dict) -> list[dict]:
    """The conversation as turns: each user message with what the bot said and did after it."""
    turns: list[dict] = []
    current: dict[str, Any] = {"user": None, "bot": [], "events": []}
    for event in _sequence(_mapping(tracker).get("events")):
        if not isinstance(event, dict):
            continue
        if event.get("event") == "user":
            if current["user"] or current["bot"] or current["events"]:
                turns.append(current)
            current = {"user": event, "bot": [], "events": [event]}
            continue
        current["events"].append(event)
        if event.get("event") == "bot":
            current["bot"].append(event)
    if current["user"] or current["bot"]:
        turns.append(current)
    previous_bot: list[dict] = []
    for turn in turns:
        turn["shown"] = shown_user_text(turn["user"], previous_bot) if turn["user"] else ""
        previous_bot = turn["bot"]
        turn["lines"] = [line for line in map(describe_event, turn["events"]) if line]
        parse = _mapping((turn["user"] or {}).get("parse_data"))
        turn["intent"] = _mapping(parse.get("intent"))
        turn["ranking"] = [r for r in _sequence(parse.get("intent_ranking")) if _is_map(r)][:5]
        turn["entities"] = [e for e in _sequence(parse.get("entities")) if _is_map(e)]
        turn["commands"] = command_lines(parse.get("commands"))
        turn["prompts"] = [p for p in _sequence(parse.get("prompts")) if _is_map(p)]
    return turns


def _is_map(value: Any) -> bool:
    return isinstance(value, dict)


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list:
    return value if isinstance(value, list) else []


#: Keys of a command that are shown as its subject, in this order, before any other keys.
_COMMAND_SUBJECTS = ("flow", "name")
_COMMAND_SKIPPED = frozenset({"command", "generator"})


def command_lines(commands: Any) -> list[dict]:
    """The commands a turn's message was understood as (``parse_data["commands"]``: a list of
    {"command": "set slot", "name": ..., "value": ..., "generator": ...}), each as
    {"text": "set slot amount = 50", "generator": "CompactLLMCommandGenerator"}. Anything of
    another shape is shown as it is, never an error."""
    lines = []
    for command in _sequence(commands):
        if not isinstance(command, dict):
            lines.append({"text": show_value(command), "generator": ""})
            continue
        generator = command.get("generator")
        lines.append(
            {
                "text": describe_command(command),
                "generator": generator if isinstance(generator, str) else "",
            }
        )
    return lines


def describe_command(command: dict) -> str:
    """``start flow transfer_money``, ``set slot amount = 50``, ``clarify options: a, b``..."""
    name = command.get("command")
    parts = [name if isinstance(name, str) and name else "command"]
    for key in _COMMAND_SUBJECTS:
        if key in command and command[key] not in (None, ""):
            parts.append(show_value(command[key]))
    if "value" in command:
        parts.append(f"= {show_value(command['value'])}")
    for key, value in command.items():
        if key in _COMMAND_SKIPPED or key in _COMMAND_SUBJECTS or key == "value":
            continue
        parts.append(f"{key}: {_show_argument(value)}")
    return " ".join(parts)


def _show_argument(value: Any) -> str:
    """A command's other argument: a list of names as ``a, b``; slot pairs as ``a = 1``."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value) or "none"
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return ", ".join(f"{v['name']} = {show_value(v.get('value'))}" for v in value)
    return show_value(value)


def describe_event(event: dict) -> dict | None:
    """One event as a line of the inspector ({"kind", "text"}), or None for bookkeeping."""
    kind = event.get("event")
    kind = kind if isinstance(kind, str) else ""
    if kind == "stack":
        reason = pattern_reason(event)
        return {"kind": "reason", "text": reason} if reason else None
    if kind in QUIET_EVENTS:
        return None
    if kind == "action":
        name = event.get("name") or ""
        if name in QUIET_ACTIONS:
            return None
        return {"kind": "action", "text": name}
    if kind == "bot":
        return {"kind": "bot", "text": event.get("text") or "(no text)"}
    if kind == "slot":
        return {
            "kind": "slot",
            "text": f"{event.get('name')} = {show_value(event.get('value'))}",
        }
    if kind in FLOW_EVENTS:
        return {"kind": FLOW_EVENTS[kind], "text": event.get("flow_id") or ""}
    if kind == "active_loop":
        return {"kind": "active loop", "text": event.get("name") or "none"}
    return {"kind": kind.replace("_", " "), "text": event.get("name") or ""}


def pattern_reason(event: dict) -> str | None:
    """The reason a ``stack`` event gives for the pattern it pushes (pattern_internal_error
    says why a step could not run), as "pattern: reason"; None when it gives none."""
    try:
        ops = json.loads(event.get("update") or "[]")
    except (TypeError, ValueError):
        return None
    for op in ops if isinstance(ops, list) else []:
        value = op.get("value") if isinstance(op, dict) and op.get("op") == "add" else None
        if isinstance(value, dict) and isinstance(value.get("reason"), str):
            return f"{value.get('flow_id')}: {value['reason']}"
    return None


def slot_rows(tracker: dict) -> list[dict]:
    """The assistant's slots with their values: set ones first, in the tracker's order."""
    rows = [
        {"name": name, "value": show_value(value), "is_set": value is not None}
        for name, value in _mapping(_mapping(tracker).get("slots")).items()
        if name not in INTERNAL_SLOTS
    ]
    return sorted(rows, key=lambda row: not row["is_set"])


def stack_frames(tracker: dict) -> list[dict]:
    """The dialogue stack, top (the flow that runs now) first."""
    frames = []
    for frame in reversed(_sequence(_mapping(tracker).get("stack"))):
        if not isinstance(frame, dict):
            continue
        flow = frame.get("flow_id") or frame.get("type") or "?"
        detail = ""
        if frame.get("collect"):
            detail = f"asking for {frame['collect']}"
        frames.append(
            {
                "flow": flow,
                "step": frame.get("step_id") or "",
                "is_pattern": str(flow).startswith("pattern_"),
                "detail": detail,
            }
        )
    return frames
