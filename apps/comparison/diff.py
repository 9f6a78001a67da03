"""Content changes between two versions: a pure function over their exported projects.

`content_changes(base_files, candidate_files)` reads both sets of files (as `ModelVersion`
stores them: ``{relative path: text}``) with the Rasa format reader and lists, for flows,
responses, slots, actions and intents, what was added, removed and changed. A changed item
carries a unified diff of its YAML (as the exporter writes it), so the page shows exactly what
changed; an intent is its domain settings and its examples.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from engine import formats

#: The kinds of item compared, in the order the page shows them.
KINDS = ("flows", "responses", "slots", "actions", "intents")


class UnreadableVersion(Exception):
    """A version's files cannot be read: `label` names the version, `problems` the lines."""

    def __init__(self, label: str, problems: list[str]):
        super().__init__(f"{label}: " + "; ".join(problems))
        self.label = label
        self.problems = problems


def load_project(files: Mapping[str, str | bytes], label: str) -> formats.Project:
    """The project of a version's files, or UnreadableVersion naming each file and line."""
    try:
        return formats.load_project_files(files)
    except formats.FormatError as exc:
        problems = [str(problem) for problem in exc.problems] or [str(exc)]
        raise UnreadableVersion(label, problems) from exc


def _flows(project: formats.Project) -> dict[str, Any]:
    return {flow.id: formats.flow_to_dict(flow) for flow in project.flows}


def _responses(project: formats.Project) -> dict[str, Any]:
    return formats.responses_to_yaml(project.domain.responses)


def _slots(project: formats.Project) -> dict[str, Any]:
    return {slot.name: formats.slot_to_yaml(slot) for slot in project.domain.slots}


def _actions(project: formats.Project) -> dict[str, Any]:
    return {action.name: formats.action_to_yaml(action) for action in project.domain.actions}


def _intents(project: formats.Project) -> dict[str, Any]:
    examples: dict[str, list[str]] = {}
    for block in project.nlu.intents:
        examples.setdefault(block.intent, []).extend(
            formats.example_to_text(example) for example in block.examples
        )
    items: dict[str, Any] = {}
    for intent in project.domain.intents:
        items[intent.name] = {"domain": formats.intent_to_yaml(intent)}
    for name, texts in examples.items():
        items.setdefault(name, {})["examples"] = sorted(texts)
    return items


READERS: dict[str, Callable[[formats.Project], dict[str, Any]]] = {
    "flows": _flows,
    "responses": _responses,
    "slots": _slots,
    "actions": _actions,
    "intents": _intents,
}


def _yaml(name: str, value: Any) -> list[str]:
    return formats.dump_yaml({name: value}).splitlines()


def _item_diff(name: str, before: Any, after: Any) -> str:
    lines = difflib.unified_diff(
        _yaml(name, before), _yaml(name, after), "live", "candidate", lineterm="", n=2
    )
    return "\n".join(list(lines)[2:])  # without the ---/+++ header


def compare_items(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """Added, removed and changed names of two ``{name: plain data}`` maps (sorted); each
    changed entry is ``{"name", "diff"}``."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = [
        {"name": name, "diff": _item_diff(name, before[name], after[name])}
        for name in sorted(set(before) & set(after))
        if before[name] != after[name]
    ]
    return {"added": added, "removed": removed, "changed": changed}


def content_changes(
    base_files: Mapping[str, str | bytes], candidate_files: Mapping[str, str | bytes]
) -> dict[str, Any]:
    """``{kind: {"added": [...], "removed": [...], "changed": [{"name", "diff"}]}}`` for each
    of KINDS, and ``"total"``: the number of items that differ. Raises UnreadableVersion."""
    base = load_project(base_files, "the live version")
    candidate = load_project(candidate_files, "the candidate")
    result: dict[str, Any] = {}
    total = 0
    for kind in KINDS:
        read = READERS[kind]
        entry = compare_items(read(base), read(candidate))
        total += len(entry["added"]) + len(entry["removed"]) + len(entry["changed"])
        result[kind] = entry
    result["total"] = total
    return result
