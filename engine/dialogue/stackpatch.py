"""The small subset of JSON Patch (RFC 6902) that dialogue stack events use.

Rasa Pro records every change of the dialogue stack as a ``stack`` event whose ``update`` is a
JSON string of patch operations over the list of frames. `diff` produces such operations for two
stacks and `apply_patch` applies them (``add``, ``remove``, ``replace``; paths ``""``, ``/i``
and ``/i/key``; ``-`` appends).
"""

from __future__ import annotations

from typing import Any, cast

from engine.dialogue.copying import json_copy

__all__ = ["apply_patch", "diff"]


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def apply_patch(stack: list[dict[str, Any]], ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new stack with `ops` applied. Unknown or inapplicable operations are skipped."""
    result = json_copy(stack)
    for op in ops:
        kind = op.get("op")
        path = op.get("path", "")
        if path == "":
            if kind in ("add", "replace") and isinstance(op.get("value"), list):
                result = json_copy(op["value"])
            elif kind == "remove":
                result = []
            continue
        parts = [_unescape(p) for p in path.lstrip("/").split("/")]
        index_token = parts[0]
        if len(parts) == 1:
            # A patch of the frame list adds or replaces whole frames (objects).
            if kind == "add":
                value = cast("dict[str, Any]", json_copy(op.get("value")))
                if index_token == "-":
                    result.append(value)
                elif index_token.isdigit() and int(index_token) <= len(result):
                    result.insert(int(index_token), value)
            elif kind == "remove":
                if index_token.isdigit() and int(index_token) < len(result):
                    del result[int(index_token)]
            elif kind == "replace" and index_token.isdigit() and int(index_token) < len(result):
                result[int(index_token)] = cast("dict[str, Any]", json_copy(op.get("value")))
            continue
        if not index_token.isdigit() or int(index_token) >= len(result):
            continue
        target: Any = result[int(index_token)]
        for part in parts[1:-1]:
            if isinstance(target, dict) and part in target:
                target = target[part]
            else:
                target = None
                break
        if not isinstance(target, dict):
            continue
        key = parts[-1]
        if kind in ("add", "replace"):
            target[key] = json_copy(op.get("value"))
        elif kind == "remove":
            target.pop(key, None)
    return result


def diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Patch operations turning `old` into `new` (frames compared by position)."""
    ops: list[dict[str, Any]] = []
    common = min(len(old), len(new))
    for index in range(common):
        before, after = old[index], new[index]
        if before is after or before == after:
            continue
        if before.get("frame_id") != after.get("frame_id"):
            ops.append({"op": "replace", "path": f"/{index}", "value": json_copy(after)})
            continue
        for key in before:
            if key not in after:
                ops.append({"op": "remove", "path": f"/{index}/{_escape(key)}"})
        for key, value in after.items():
            if key not in before:
                ops.append(
                    {"op": "add", "path": f"/{index}/{_escape(key)}", "value": json_copy(value)}
                )
            elif before[key] != value:
                ops.append(
                    {
                        "op": "replace",
                        "path": f"/{index}/{_escape(key)}",
                        "value": json_copy(value),
                    }
                )
    for index in range(len(old) - 1, common - 1, -1):
        ops.append({"op": "remove", "path": f"/{index}"})
    for index in range(common, len(new)):
        ops.append({"op": "add", "path": f"/{index}", "value": json_copy(new[index])})
    return ops
