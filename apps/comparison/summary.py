"""The few lines that sum up a comparison (its page's head, and the "Make live" confirmation)."""

from __future__ import annotations

from typing import Any

from apps.comparison.diff import KINDS


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _content_line(content: dict[str, Any]) -> str:
    if content.get("error"):
        return f"Content changes could not be computed: {content['error']}"
    if not content.get("total"):
        return "Content: no flow, response, slot, action or intent differs."
    parts = []
    for kind in KINDS:
        entry = content.get(kind) or {}
        counts = [
            f"{len(entry.get(what) or [])} {what}"
            for what in ("added", "removed", "changed")
            if entry.get(what)
        ]
        if counts:
            parts.append(f"{kind} {', '.join(counts)}")
    return "Content: " + "; ".join(parts) + "."


def _e2e_line(e2e: dict[str, Any]) -> str:
    if e2e.get("error"):
        return f"E2E tests could not run: {e2e['error']}"
    if not e2e.get("cases"):
        return f"E2E tests: {e2e.get('note') or 'none'}"
    broke, fixed = len(e2e.get("passed_to_failed") or []), len(e2e.get("failed_to_passed") or [])
    counts = e2e.get("counts", {}).get("candidate", {})
    return (
        f"E2E tests: {_plural(broke, 'case')} passed on the live version and fail on the "
        f"candidate, {fixed} fixed; the candidate passes {counts.get('passed', 0)} of "
        f"{e2e['cases']}."
    )


def _nlu_line(nlu: dict[str, Any]) -> str:
    if nlu.get("error"):
        return f"NLU scores could not be computed: {nlu['error']}"
    held = nlu.get("held_out") or {}
    if not held.get("count"):
        return f"NLU: {held.get('note') or 'no held-out examples.'}"
    worse = [row["intent"] for row in held.get("rows", []) if (row.get("f1_delta") or 0) < 0]
    better = [row["intent"] for row in held.get("rows", []) if (row.get("f1_delta") or 0) > 0]
    accuracy = held.get("accuracy", {})
    line = (
        f"NLU on {_plural(held['count'], 'held-out example')}: accuracy "
        f"{_percent(accuracy.get('base'))} live, {_percent(accuracy.get('candidate'))} candidate"
    )
    if worse:
        line += f"; F1 lower for {', '.join(worse)}"
    if better:
        line += f"; F1 higher for {', '.join(better)}"
    return line + "."


def _triggers_line(triggers: dict[str, Any]) -> str:
    if triggers.get("error"):
        return f"Flow triggers could not be compared: {triggers['error']}"
    if not triggers.get("messages"):
        return f"Flow triggers: {triggers.get('note') or 'no messages to replay.'}"
    flows = [row["flow"] for row in triggers.get("flows", [])]
    line = (
        f"Flow triggers: {triggers['changed']} of {_plural(triggers['messages'], 'real message')} "
        "start a different flow"
    )
    return line + (f" ({', '.join(flows)})." if flows else ".")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def summary_lines(result: dict[str, Any]) -> list[str]:
    """One line per section of a finished comparison's result."""
    if not result:
        return []
    return [
        _content_line(result.get("content") or {}),
        _e2e_line(result.get("e2e") or {}),
        _nlu_line(result.get("nlu") or {}),
        _triggers_line(result.get("triggers") or {}),
    ]


def content_kinds(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The kinds of item with changes, each ``{"kind", "added", "removed", "changed"}``."""
    content = (result or {}).get("content") or {}
    rows = []
    for kind in KINDS:
        entry = content.get(kind) or {}
        if entry.get("added") or entry.get("removed") or entry.get("changed"):
            rows.append({"kind": kind, **entry})
    return rows
