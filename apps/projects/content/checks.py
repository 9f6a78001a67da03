"""The gate every content change goes through: apply it to the assistant's project, validate,
and refuse it with `ContentInvalid` when it would store invalid content.

A change is refused when the changed item has an error, or when it introduces an error anywhere
else (a deleted slot that a flow still collects, a renamed flow that another flow links to).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apps.projects.content.export import export_project
from apps.projects.models import Assistant
from engine import formats


class ContentInvalid(Exception):
    """The change would store invalid content; `problems` says why (errors only)."""

    def __init__(self, problems: list[formats.Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


@dataclass(frozen=True)
class ShownProblem:
    """A problem as a page shows it: `path` relative to the item (``steps[1].collect``)."""

    path: str
    message: str
    severity: str


def relative_problems(problems, base: str) -> list[ShownProblem]:
    """Problems about `base` (e.g. ``flows.order_pizza``), with paths relative to it."""
    out = []
    for p in problems:
        if p.path == base:
            out.append(ShownProblem("", p.message, p.severity))
        elif p.path.startswith(base + ".") or p.path.startswith(base + "["):
            out.append(ShownProblem(p.path[len(base) :].lstrip("."), p.message, p.severity))
    return out


def _key(problem: formats.Problem) -> tuple[str, str]:
    return (problem.path, problem.message)


def check_change(
    assistant: Assistant, change: Callable[[formats.Project], None], focus: str
) -> tuple[formats.Project, list[formats.Problem]]:
    """Apply `change` to the assistant's project and validate it.

    Returns the changed project and its problems about `focus` (errors and warnings). Raises
    ContentInvalid with the errors about `focus` plus any error the change adds elsewhere.
    """
    project = export_project(assistant)
    before = {_key(p) for p in formats.validate_project(project) if p.severity == "error"}
    change(project)
    problems = formats.validate_project(project)
    errors = [
        p for p in problems if p.severity == "error" and (_about(p, focus) or _key(p) not in before)
    ]
    if errors:
        raise ContentInvalid(errors)
    return project, [p for p in problems if _about(p, focus)]


def _about(problem: formats.Problem, focus: str) -> bool:
    return problem.path == focus or problem.path.startswith((focus + ".", focus + "["))
