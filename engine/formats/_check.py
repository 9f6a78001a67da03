"""Small type-checking helpers shared by the parsers (internal)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import field
from typing import Any

from engine.formats.errors import ProblemCollector, join_path

_TYPE_NAMES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
}


def source_field() -> Any:
    """A dataclass field for where an item was read (file, line): not compared, not shown."""
    return field(default=None, compare=False, repr=False)


def describe(value: Any) -> str:
    """A short human description of a YAML value, for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Checker:
    """Type checks that report into a `ProblemCollector` and return None on failure."""

    def __init__(self, collector: ProblemCollector) -> None:
        self.c = collector

    def error(self, path: str, message: str) -> None:
        self.c.error(path, message)

    def warning(self, path: str, message: str) -> None:
        self.c.warning(path, message)

    def mapping(self, value: Any, path: str, what: str = "") -> dict[Any, Any] | None:
        if isinstance(value, dict):
            return value
        self.error(path, f"{what or 'this'} must be a mapping, not {describe(value)}")
        return None

    def mappings(
        self, items: list[Any], path: str, what: str
    ) -> Iterator[tuple[dict[Any, Any], str]]:
        """``(spec, path)`` for each item of a checked list that is a mapping; each item that is
        not one is reported as `what` (``"a button"``, ...) and skipped."""
        for index, item in enumerate(items):
            item_path = join_path(path, index)
            spec = self.mapping(item, item_path, what)
            if spec is not None:
                yield spec, item_path

    def named_items(
        self, value: Any, path: str, what: str, *, noun: str
    ) -> Iterator[tuple[str, Any, str]]:
        """``(name, spec, path)`` for each entry of a mapping of named items (``slots``,
        ``responses``, ``flows``). A missing section (null) has none; one that is not a mapping
        is reported, as is each `noun` (``"slot name"``, ...) that is not a string."""
        if value is None:
            return
        body = self.mapping(value, path, what)
        if body is None:
            return
        for name, spec in body.items():
            item_path = join_path(path, str(name))
            if not isinstance(name, str):
                self.error(item_path, f"a {noun} must be a string, not {describe(name)}")
                continue
            yield name, spec, item_path

    def seq(self, value: Any, path: str, what: str = "") -> list[Any] | None:
        if isinstance(value, list):
            return value
        self.error(path, f"{what or 'this'} must be a list, not {describe(value)}")
        return None

    def string(
        self, value: Any, path: str, what: str = "", *, allow_empty: bool = False
    ) -> str | None:
        if isinstance(value, str) and (allow_empty or value.strip()):
            return value
        if isinstance(value, str):
            self.error(path, f"{what or 'this'} must not be empty")
            return None
        self.error(path, f"{what or 'this'} must be a string, not {describe(value)}")
        return None

    def boolean(self, value: Any, path: str, what: str = "") -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(path, f"{what or 'this'} must be true or false, not {describe(value)}")
        return None

    def number(self, value: Any, path: str, what: str = "") -> float | int | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        self.error(path, f"{what or 'this'} must be a number, not {describe(value)}")
        return None

    def str_list(self, value: Any, path: str, what: str = "") -> list[str] | None:
        items = self.seq(value, path, what)
        if items is None:
            return None
        out: list[str] = []
        ok = True
        for index, item in enumerate(items):
            text = self.string(item, join_path(path, index), f"each item of {what or 'the list'}")
            if text is None:
                ok = False
            else:
                out.append(text)
        return out if ok else None

    def str_or_list(self, value: Any, path: str, what: str = "") -> str | list[str] | None:
        if isinstance(value, str):
            return self.string(value, path, what)
        if isinstance(value, list):
            return self.str_list(value, path, what)
        self.error(
            path, f"{what or 'this'} must be a string or a list of strings, not {describe(value)}"
        )
        return None

    def keys(
        self,
        data: dict[Any, Any],
        path: str,
        allowed: Iterable[str],
        *,
        what: str,
        required: Iterable[str] = (),
        unknown: str = "error",
    ) -> bool:
        """Check required and unknown keys; `unknown` is "error", "warning" or "ignore"."""
        ok = True
        allowed_set = set(allowed)
        for key in required:
            if key not in data:
                self.error(path, f"{what} is missing the required key '{key}'")
                ok = False
        if unknown != "ignore":
            for key in data:
                if key not in allowed_set:
                    known = ", ".join(sorted(allowed_set))
                    message = f"unknown key '{key}' in {what} (expected one of: {known})"
                    if unknown == "error":
                        self.error(join_path(path, str(key)), message)
                        ok = False
                    else:
                        self.warning(join_path(path, str(key)), message)
        return ok
