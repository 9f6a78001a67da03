"""What the checks of every section share: the `Report` problems go into, the `Context` of
the project's names, and the checks of conditions and slot values."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.formats.conditions import (
    ConditionError,
    Node,
    parse_condition,
    referenced_slots,
    slot_comparisons,
)
from engine.formats.defaults import (
    DEFAULT_ACTIONS,
    DEFAULT_INTENTS,
    DEFAULT_PATTERN_SLOTS,
    DEFAULT_RESPONSES,
)
from engine.formats.errors import Problem, find_line
from engine.formats.languages import LANGUAGE_SLOT, language_slot
from engine.formats.project import Project
from engine.formats.slots import Slot

__all__ = ["Context", "Report", "check_condition", "value_problem"]


class Report:
    """The problems found so far; a problem without a line gets it from the file's key paths."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.problems: list[Problem] = []

    def add(
        self,
        file: str | None,
        path: str,
        message: str,
        severity: str = "error",
        line: int | None = None,
    ) -> None:
        if line is None and file is not None:
            line = find_line(self.project.source_lines.get(file, {}), path)
        self.problems.append(Problem(file, line, path, message, severity))  # type: ignore[arg-type]


#: The slots of Rasa Pro's default patterns, typed as those patterns declare them.
_PATTERN_SLOT_TYPES = {
    "confirm_correction": "bool",
    "silence_timeout": "float",
    "consecutive_silence_timeouts": "float",
    "interrupted_flow_to_continue": "text",
    "continue_interrupted_flow_confirmation": "bool",
    "max_clarification_options": "float",
    "continue_conversation": "bool",
    "csat_score": "categorical",
}


def default_pattern_slots() -> list[Slot]:
    """Slots Rasa adds to every domain (its default patterns' own): any flow may use them."""
    return [
        Slot(
            name=name,
            type=_PATTERN_SLOT_TYPES.get(name, "any"),
            values=["satisfied", "unsatisfied"] if name == "csat_score" else None,
        )
        for name in sorted(DEFAULT_PATTERN_SLOTS)
    ]


class Context:
    """The project's names (slots, intents, entities, responses, actions, forms, flows) and the
    position of each domain and NLU item in its file, for key paths."""

    def __init__(self, project: Project) -> None:
        domain = project.domain
        self.project = project
        self.slots: dict[str, Slot] = {}
        for slot in domain.slots:
            self.slots.setdefault(slot.name, slot)
        for default in default_pattern_slots():
            self.slots.setdefault(default.name, default)
        # Rasa Pro's built-in `language` slot, over config.yml's languages.
        config = project.config
        language = config.language if config is not None else None
        self.slots.setdefault(
            LANGUAGE_SLOT,
            language_slot(
                language if isinstance(language, str) else None,
                config.additional_languages if config is not None else [],
            ),
        )
        self.intents = {i.name for i in domain.intents}
        #: what a reference to an intent may name: the domain's and Rasa's default intents
        self.known_intents = self.intents | DEFAULT_INTENTS
        self.entities = {e.name: e for e in domain.entities}
        self.responses = {r.name for r in domain.responses}
        self.actions = {a.name for a in domain.actions}
        self.forms = set((domain.forms or {}).keys())
        self.flows = {f.id for f in project.flows}
        self.local_index: dict[int, int] = {}
        counters: dict[tuple[str | None, str], int] = defaultdict(int)
        for kind, items in (
            ("intents", domain.intents),
            ("entities", domain.entities),
            ("actions", domain.actions),
        ):
            for item in items:
                key = (item.source_file, kind)
                self.local_index[id(item)] = counters[key]
                counters[key] += 1
        for block in (
            project.nlu.intents + project.nlu.synonyms + project.nlu.regexes + project.nlu.lookups
        ):
            key = (block.source_file, "nlu")
            self.local_index[id(block)] = counters[key]
            counters[key] += 1

    def index(self, obj: Any) -> int:
        return self.local_index.get(id(obj), 0)

    def action_exists(self, name: str) -> bool:
        return (
            name in self.actions
            or name in self.responses
            or name in DEFAULT_ACTIONS
            or name in DEFAULT_RESPONSES
            or name in self.forms
        )

    def response_exists(self, name: str) -> bool:
        return name in self.responses or name in DEFAULT_RESPONSES


def check_condition(
    report: Report, file: str | None, path: str, text: Any, ctx: Context, what: str
) -> Node | None:
    """Parse a condition, report syntax errors, unknown slots and categorical values."""
    try:
        node = parse_condition(text)
    except ConditionError as exc:
        report.add(file, path, f"invalid {what} {text!r}: {exc.reason} at position {exc.position}")
        return None
    for slot in sorted(referenced_slots(node)):
        if slot not in ctx.slots:
            report.add(
                file, path, f"{what} uses the slot '{slot}', which is not defined in the domain"
            )
    for slot_name, op, values in slot_comparisons(node, set(ctx.slots)):
        spec = ctx.slots.get(slot_name)
        if spec is None or op in ("matches", "<", "<=", ">", ">="):
            continue
        for value in values:
            problem = value_problem(spec, value)
            if problem:
                report.add(file, path, f"{what}: {problem}")
    return node


def value_problem(slot: Slot, value: Any) -> str | None:
    """Why `value` cannot be a value of `slot`, or None if it can."""
    if value is None or slot.type in ("any", "text", "list") or "." in slot.type:
        return None
    if slot.type in ("categorical", "strict_categorical"):
        allowed = [str(v).lower() for v in slot.values or []]
        if str(value).lower() not in allowed:
            shown = ", ".join(str(v) for v in slot.values or []) or "none"
            return (
                f"'{value}' is not one of the values of the categorical slot "
                f"'{slot.name}' ({shown})"
            )
    elif slot.type == "bool":
        if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
            return f"the bool slot '{slot.name}' cannot hold {value!r}"
    elif slot.type == "float":
        if isinstance(value, bool):
            return f"the float slot '{slot.name}' cannot hold {value!r}"
        try:
            float(value)
        except (TypeError, ValueError):
            return f"the float slot '{slot.name}' cannot hold {value!r}"
    return None
