"""Pure helpers of conversation replay: a conversation's turns from its events, and the first
turn where two runs of it diverge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def turns_of_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa events -> ``[{"user": text, "bot": [texts], "flows": [flow ids started]}]``: a
    turn starts at each user message; what the bot says before the first one is dropped (the
    replay starts with the user's first message, as the conversation did for the model)."""
    turns: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            turns.append({"user": str(event.get("text") or ""), "bot": [], "flows": []})
        elif not turns:
            continue
        elif kind == "bot":
            turns[-1]["bot"].append(_bot_text(event))
        elif kind == "flow_started" and event.get("flow_id"):
            flow = str(event["flow_id"])
            if not flow.startswith("pattern_"):
                turns[-1]["flows"].append(flow)
    return turns


def _bot_text(event: dict[str, Any]) -> str:
    text = event.get("text")
    if text:
        return str(text)
    data = event.get("data") or {}
    if data.get("image"):
        return f"[image {data['image']}]"
    if data.get("custom"):
        return "[custom payload]"
    return "[message without text]"


def turn_differences(original: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    """What differs between two runs of one turn: ``"bot"`` (different utterances) and
    ``"flow"`` (a different flow started)."""
    found = []
    if [t.strip() for t in original.get("bot", [])] != [t.strip() for t in replayed.get("bot", [])]:
        found.append("bot")
    if original.get("flows", []) != replayed.get("flows", []):
        found.append("flow")
    return found


def compare_runs(original: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> dict[str, Any]:
    """Side-by-side rows ``{"index", "user", "original", "replayed", "differences"}`` and
    ``first_divergence`` (the 1-based turn, or None when every turn matches)."""
    rows = []
    first = None
    for index, before in enumerate(original, start=1):
        after = replayed[index - 1] if index - 1 < len(replayed) else {"bot": [], "flows": []}
        differences = turn_differences(before, after)
        if differences and first is None:
            first = index
        rows.append(
            {
                "index": index,
                "user": before.get("user", ""),
                "original": {"bot": before.get("bot", []), "flows": before.get("flows", [])},
                "replayed": {"bot": after.get("bot", []), "flows": after.get("flows", [])},
                "differences": differences,
            }
        )
    return {"turns": rows, "first_divergence": first}
