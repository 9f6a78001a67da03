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
    current = {"user": None, "bot": [], "events": []}
    for event in tracker.get("events", []):
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
        parse = (turn["user"] or {}).get("parse_data") or {}
        turn["intent"] = parse.get("intent") or {}
        turn["ranking"] = (parse.get("intent_ranking") or [])[:5]
        turn["entities"] = parse.get("entities") or []
        turn["commands"] = [
            command_row(c) for c in parse.get("commands") or [] if isinstance(c, dict)
        ]
        turn["prompts"] = [p for p in parse.get("prompts") or [] if isinstance(p, dict)]
    return turns


def command_row(command: dict) -> dict:
    """One command of a turn as the inspector lists it: what it does and who produced it."""
    kind = str(command.get("command") or "?")
    if kind == "set slot":
        text = f"set slot {command.get('name')} = {show_value(command.get('value'))}"
    elif kind == "start flow":
        text = f"start flow {command.get('flow')}"
    elif kind == "clarify":
        text = "clarify: " + ", ".join(str(o) for o in command.get("options") or [])
    elif kind == "error":
        text = f"error ({command.get('error_type') or 'internal'})"
    elif kind == "cannot handle" and command.get("reason"):
        text = f"cannot handle ({command['reason']})"
    else:
        text = kind
    return {"text": text, "generator": str(command.get("generator") or "")}


def describe_event(event: dict) -> dict | None:
    """One event as a line of the inspector ({"kind", "text"}), or None for bookkeeping."""
    kind = event.get("event") or ""
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
        for name, value in (tracker.get("slots") or {}).items()
        if name not in INTERNAL_SLOTS
    ]
    return sorted(rows, key=lambda row: not row["is_set"])


def stack_frames(tracker: dict) -> list[dict]:
    """The dialogue stack, top (the flow that runs now) first."""
    frames = []
    for frame in reversed(tracker.get("stack") or []):
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
