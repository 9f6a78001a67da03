"""``${NAME}`` references in an assistant's files, checked against the names a bot may use."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from engine.formats.errors import Problem

if TYPE_CHECKING:
    from engine.formats.project import Project

ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def _line_of(text: str, reference: str) -> int | None:
    """The first line holding `reference` outside a comment (None when not found)."""
    for number, line in enumerate(text.splitlines(), start=1):
        at = line.find(reference)
        if at >= 0 and "#" not in line[:at].replace("'#", "").replace('"#', ""):
            return number
    return None


def env_references(text: str, data: Any) -> list[tuple[int | None, str]]:
    """Every ``${NAME}`` in the string values of `data` (what gets expanded; comments do not
    count), as (1-based line in `text` where known, NAME), in order, once each."""
    found: dict[str, int | None] = {}
    for value in _strings(data):
        for match in ENV_REFERENCE.finditer(value):
            if match.group(1) not in found:
                found[match.group(1)] = _line_of(text, match.group(0))
    return [(line, name) for name, line in found.items()]


def check_env_references(text: str, data: Any, file: str, allowed: Iterable[str]) -> list[Problem]:
    """An error naming the file, line and variable for each ``${NAME}`` not in `allowed`."""
    names = set(allowed)
    return [
        Problem(
            file,
            line,
            "",
            f"${{{name}}} is not a variable this assistant may use: add it on the assistant's "
            "Secrets page, or ask the operator to allow it (STUDIO_BOT_ENV)",
        )
        for line, name in env_references(text or "", data)
        if name not in names
    ]


def check_project_env(project: Project, allowed: Iterable[str]) -> list[Problem]:
    """`check_env_references` on a project's config.yml and endpoints.yml."""
    allowed = set(allowed)
    problems: list[Problem] = []
    for part, default in ((project.config, "config.yml"), (project.endpoints, "endpoints.yml")):
        if part is not None and part.text:
            problems.extend(
                check_env_references(part.text, part.data, part.file or default, allowed)
            )
    return problems
