"""Conditions at run time: flow guards, branch conditions and slot rejections, with
``{{context.x}}`` filled from the frame, each text parsed once."""

from __future__ import annotations

from typing import Any

from engine.dialogue.responses import fill
from engine.formats import ConditionError, evaluate, parse_condition

__all__ = ["Conditions", "frame_context", "render_context"]

_CONTEXT = "{{"


def frame_context(stack: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``context`` of the top frame, as Rasa gives it: the frame itself, and for
    pattern_collect_information that frame with the context of the frame below over it (so
    a question asked for a pattern, e.g. pattern_continue_interrupted's, fills in that
    pattern's context)."""
    if not stack:
        return {}
    top = stack[-1]
    if top.get("type") == "pattern_collect_information" and len(stack) > 1:
        return {**top, **frame_context(stack[:-1])}
    return top


def render_context(text: str, frame: dict[str, Any]) -> str:
    """Replace ``{{context.x}}`` in action names and conditions with the frame's values."""
    if _CONTEXT not in text:
        return text
    return str(fill(text, {}, frame))


class Conditions:
    """Evaluates conditions; a condition that does not parse is false."""

    def __init__(self) -> None:
        self._parsed: dict[str, Any] = {}

    def holds(self, condition: Any, slots: dict[str, Any], context: dict[str, Any]) -> bool:
        if isinstance(condition, bool):
            return condition
        text = render_context(str(condition), context)
        node = self._parsed.get(text)
        if node is None:
            try:
                node = parse_condition(text)
            except ConditionError:
                node = False
            self._parsed[text] = node
        if node is False:
            return False
        return evaluate(node, slots, context)
