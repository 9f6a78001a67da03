"""Problems found in assistant files, and the exception that carries them.

Every parser and validator in `engine.formats` reports through `Problem`, so the UI, the API and
the CLI can show the same precise message: which file, which line (when YAML gave us one), which
key path inside the document, and what is wrong in words a person understands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One error or warning.

    `path` is a key path such as ``flows.transfer_money.steps[2].collect``; it is ``""`` for a
    problem about a whole file. `line` is 1-based.
    """

    file: str | None
    line: int | None
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file or "<project>"
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            where += f" ({self.path})"
        return f"{where}: {self.severity}: {self.message}"


class FormatError(Exception):
    """Raised when files cannot be parsed; `problems` holds every error that was found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid assistant files")


def join_path(base: str, *parts: str | int) -> str:
    """Append keys (``.key``) and indexes (``[i]``) to a key path."""
    out = base
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = part
    return out


@dataclass
class ProblemCollector:
    """Accumulates problems for one file and finds their line numbers.

    `lines` maps key paths (as built by `join_path`) to 1-based lines; a path that has no line of
    its own takes the line of its nearest ancestor that has one.
    """

    file: str | None
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_for(self, path: str) -> int | None:
        return find_line(self.lines, path)

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.line_for(path), path, message, "error"))

    def warning(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.line_for(path), path, message, "warning"))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def parent_path(path: str) -> str:
    """The key path one level up (``a.b[2]`` -> ``a.b``, ``a.b`` -> ``a``, ``a`` -> ``""``)."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    if "." in path:
        return path[: path.rindex(".")]
    return ""


def find_line(lines: dict[str, int], path: str) -> int | None:
    """The line of `path`, or of its nearest ancestor that has one."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = parent_path(path)
