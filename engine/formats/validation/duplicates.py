"""Duplicates: intents, entities, actions, slots, responses and flows defined twice."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.formats.errors import join_path
from engine.formats.project import Project
from engine.formats.validation.context import Report

__all__ = ["check_duplicates"]


def check_duplicates(report: Report, project: Project) -> None:
    ctx_index: dict[tuple[str | None, str], int] = defaultdict(int)

    def local_path(kind: str, item: Any) -> str:
        key = (item.source_file, kind)
        index = ctx_index[key]
        ctx_index[key] += 1
        return join_path(kind, index)

    domain = project.domain
    groups: list[tuple[str, str, list[Any], Any]] = [
        ("intent", "intents", domain.intents, None),
        ("entity", "entities", domain.entities, None),
        ("action", "actions", domain.actions, None),
    ]
    for label, kind, items, _ in groups:
        seen: dict[str, Any] = {}
        for item in items:
            path = local_path(kind, item)
            if item.name in seen:
                first = seen[item.name]
                report.add(
                    item.source_file,
                    path,
                    f"duplicate {label} '{item.name}' (first declared "
                    f"{_where(first.source_file, first.source_line)})",
                    line=item.source_line,
                )
            else:
                seen[item.name] = item
    for label, kind, named in (
        ("slot", "slots", domain.slots),
        ("response", "responses", domain.responses),
    ):
        seen = {}
        for item in named:
            if item.name in seen:
                first = seen[item.name]
                report.add(
                    item.source_file,
                    join_path(kind, item.name),
                    f"duplicate {label} '{item.name}' (first defined "
                    f"{_where(first.source_file, first.source_line)})",
                    line=item.source_line,
                )
            else:
                seen[item.name] = item
    seen = {}
    for flow in project.flows:
        if flow.id in seen:
            first = seen[flow.id]
            report.add(
                flow.source_file,
                join_path("flows", flow.id),
                f"duplicate flow '{flow.id}' (first defined "
                f"{_where(first.source_file, first.source_line)})",
                line=flow.source_line,
            )
        else:
            seen[flow.id] = flow


def _where(file: str | None, line: int | None) -> str:
    if file is None:
        return "earlier"
    return f"in {file}" + (f" line {line}" if line else "")
