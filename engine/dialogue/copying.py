"""Copying event and stack values fast.

Slot values, parse data and stack frames are JSON-like: dicts, lists, strings, numbers, booleans
and None. `json_copy` copies those with one call per container, several times faster than
`copy.deepcopy` (which keeps a memo of every object it visits); anything else in them (a tuple,
a date an action returned...) is copied by `copy.deepcopy`. `json_plain` gives what a JSON round
trip (``json.loads(json.dumps(value, default=str))``) gives, without the text in between.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

__all__ = ["json_copy", "json_plain"]

T = TypeVar("T")

#: The types `json_copy` returns as they are (immutable).
ATOMIC = frozenset({str, int, float, bool, type(None)})


def json_copy(value: T) -> T:
    """A deep copy of `value`: equal to it, sharing no dict or list with it."""
    kind = type(value)
    if kind is dict:
        return {key: json_copy(item) for key, item in value.items()}  # type: ignore[attr-defined,return-value]
    if kind is list:
        return [json_copy(item) for item in value]  # type: ignore[attr-defined,return-value]
    if kind in ATOMIC:
        return value
    return copy.deepcopy(value)


def json_plain(value: Any) -> Any:
    """``json.loads(json.dumps(value, default=str))``: dicts with string keys, lists, strings,
    numbers, booleans and None; tuples become lists, anything else its ``str()``."""
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is str or kind is int or kind is float:
        return value
    if isinstance(value, dict):
        return {_json_key(key): json_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_plain(item) for item in value]
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return json_plain(str(value))


def _json_key(key: Any) -> str:
    """A dict key as JSON writes it; a key JSON cannot write raises TypeError, as there."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return float.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
