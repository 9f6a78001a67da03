"""Flows: the `Flow` dataclass, parsing a ``flows`` mapping (`parse_flows`) and dumping it
(`flows_to_dict`), and reading one stored flow's ``nlu_trigger`` (`trigger_intents`). A flow
keeps its steps as one JSON list in the compact form; the step utilities (compact/expand, the
step walk, `StepView`, the schema check) are in `engine.formats.steps`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.formats._check import Checker, describe
from engine.formats.errors import ProblemCollector, join_path
from engine.formats.steps import check_steps, compact_steps

FLOW_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
FLOW_KEYS = (
    "name",
    "description",
    "if",
    "nlu_trigger",
    "persisted_slots",
    "always_include_in_prompt",
    "run_pattern_completed",
    "on_activate",
    "translation",
    "metadata",
    "steps",
    "file_path",
)


@dataclass
class NluTrigger:
    """An intent that starts the flow; `confidence_threshold` None means Rasa's default (0.0).

    Rasa's flows schema allows keys of their own beside ``intent: <name>`` and inside
    ``intent: {name: ...}``; Studio keeps them unchanged in `extra` and `intent_extra`."""

    intent: str
    confidence_threshold: float | None = None
    extra: dict[str, Any] | None = None
    intent_extra: dict[str, Any] | None = None

    def to_yaml(self) -> dict[str, Any]:
        if self.confidence_threshold is None and not self.intent_extra:
            return {"intent": self.intent, **(self.extra or {})}
        intent: dict[str, Any] = {"name": self.intent}
        if self.confidence_threshold is not None:
            intent["confidence_threshold"] = self.confidence_threshold
        return {"intent": {**intent, **(self.intent_extra or {})}}


@dataclass
class Flow:
    """A flow. `steps` is the compact JSON step list; `guard` is the flow's ``if``."""

    id: str
    description: str | None = None
    steps: list[Any] = field(default_factory=list)
    name: str | None = None
    guard: str | bool | None = None
    nlu_trigger: list[NluTrigger] | None = None
    persisted_slots: list[str] | None = None
    always_include_in_prompt: bool | None = None
    run_pattern_completed: bool | None = None
    on_activate: Any = None
    translation: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    source_file: str | None = field(default=None, compare=False, repr=False)
    source_line: int | None = field(default=None, compare=False, repr=False)
    #: Lines of key paths relative to the flow (``steps[2].collect``), from the YAML file.
    source_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


# --------------------------------------------------------------------------------------------
# Parsing and dumping flows


def parse_flows(data: Any, collector: ProblemCollector, base: str = "flows") -> list[Flow]:
    """Build flows from a ``flows`` mapping, reporting schema problems into `collector`."""
    check = Checker(collector)
    flows = []
    lines_by_flow: dict[str, dict[str, int]] | None = None
    for flow_id, spec, path in check.named_items(data, base, "flows", noun="flow id"):
        if not FLOW_ID_RE.match(flow_id):
            check.error(
                path,
                f"invalid flow id '{flow_id}': use only letters, digits, underscores and hyphens "
                "(no spaces)",
            )
        flow = parse_flow(flow_id, spec, check, path)
        if flow is None:
            continue
        flow.source_file = collector.file
        flow.source_line = collector.line_for(path)
        prefix = path + "."
        if lines_by_flow is None:
            lines_by_flow = _lines_by_flow(collector.lines, base + ".")
        if path == base + "." + flow_id:
            flow.source_lines = lines_by_flow.get(flow_id, {})
        else:  # an id that join_path quotes: look its lines up the slow way
            flow.source_lines = {
                k[len(prefix) :]: v for k, v in collector.lines.items() if k.startswith(prefix)
            }
        flows.append(flow)
    return flows


def _lines_by_flow(lines: dict[str, int], start: str) -> dict[str, dict[str, int]]:
    """{flow id: {key path inside the flow: line}}, in one pass over the file's lines (a scan
    per flow made importing thousands of flows quadratic)."""
    grouped: dict[str, dict[str, int]] = {}
    for key, line in lines.items():
        if key.startswith(start):
            flow_id, dot, rest = key[len(start) :].partition(".")
            if dot:
                grouped.setdefault(flow_id, {})[rest] = line
    return grouped


def parse_flow(flow_id: str, spec: Any, check: Checker, path: str) -> Flow | None:
    """Build one flow from its YAML mapping; steps are converted to the compact form."""
    body = check.mapping(spec, path, f"flow '{flow_id}'")
    if body is None:
        return None
    check.keys(body, path, FLOW_KEYS, what=f"flow '{flow_id}'", required=("steps", "description"))
    flow = Flow(id=flow_id)
    for key, value in body.items():
        key_path = join_path(path, key)
        if key == "description":
            flow.description = check.string(value, key_path, "description", allow_empty=True)
        elif key == "name":
            flow.name = check.string(value, key_path, "name")
        elif key == "if":
            if isinstance(value, (str, bool)):
                flow.guard = value
            else:
                check.error(
                    key_path,
                    f"a flow guard must be a condition string or false, not {describe(value)}",
                )
        elif key == "nlu_trigger":
            flow.nlu_trigger = _parse_nlu_trigger(value, check, key_path)
        elif key == "persisted_slots":
            flow.persisted_slots = check.str_list(value, key_path, "persisted_slots")
        elif key in ("always_include_in_prompt", "run_pattern_completed"):
            setattr(flow, key, check.boolean(value, key_path, key))
        elif key == "on_activate":
            if not isinstance(value, (str, dict)):
                check.error(
                    key_path, f"on_activate must be a string or a mapping, not {describe(value)}"
                )
            flow.on_activate = value
        elif key in ("translation", "metadata"):
            if value is not None:
                setattr(flow, key, check.mapping(value, key_path, key))
        elif key == "steps":
            before = len(check.c.problems)
            check_steps(value, check, key_path)
            errors = [p for p in check.c.problems[before:] if p.severity == "error"]
            # The step check's warnings (keys kept unchanged) come again from validation, which
            # checks stored steps too: report them once.
            check.c.problems[before:] = errors
            if not errors and isinstance(value, list):
                flow.steps = compact_steps(value, flow_id)
    return flow


def trigger_intents(value: Any) -> list[NluTrigger]:
    """The triggers of a flow's stored ``nlu_trigger`` value (None when the flow has none), read
    as `parse_flows` reads them: items that name no intent are left out, problems are not
    reported."""
    if value is None:
        return []
    return _parse_nlu_trigger(value, Checker(ProblemCollector(None)), "nlu_trigger") or []


def _parse_nlu_trigger(value: Any, check: Checker, path: str) -> list[NluTrigger] | None:
    items = check.seq(value, path, "nlu_trigger")
    if items is None:
        return None
    if not items:
        check.error(path, "nlu_trigger must list at least one intent")
    out = []
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        if isinstance(item, str):
            out.append(NluTrigger(item))
            continue
        spec = check.mapping(item, item_path, "an nlu_trigger item")
        if spec is None:
            continue
        intent = spec.get("intent")
        if isinstance(intent, str):
            # Rasa's schema allows other keys beside a plain intent name: kept unchanged.
            extra = _kept_trigger_keys(spec, check, item_path, ("intent",), "an nlu_trigger item")
            out.append(NluTrigger(intent, extra=extra))
        elif isinstance(intent, dict):
            # Beside an intent mapping Rasa allows no other key; inside it, it does.
            check.keys(spec, item_path, ("intent",), what="an nlu_trigger item")
            i_path = join_path(item_path, "intent")
            check.keys(
                intent,
                i_path,
                (),
                what="an nlu_trigger intent",
                required=("name",),
                unknown="ignore",
            )
            intent_extra = _kept_trigger_keys(
                intent, check, i_path, ("name", "confidence_threshold"), "an nlu_trigger intent"
            )
            name = (
                check.string(intent.get("name"), join_path(i_path, "name"), "intent name")
                if "name" in intent
                else None
            )
            threshold = intent.get("confidence_threshold")
            if threshold is not None:
                t_path = join_path(i_path, "confidence_threshold")
                threshold = check.number(threshold, t_path, "confidence_threshold")
                if threshold is not None and not 0 <= threshold <= 1:
                    check.error(
                        t_path, f"confidence_threshold must be between 0 and 1, not {threshold}"
                    )
            if name:
                out.append(NluTrigger(name, threshold, intent_extra=intent_extra))
        elif "intent" not in spec:
            check.error(item_path, "an nlu_trigger item is missing the required key 'intent'")
        else:
            check.error(
                join_path(item_path, "intent"),
                f"intent must be a name or a mapping with 'name', not {describe(intent)}",
            )
    return out


def _kept_trigger_keys(
    spec: dict[Any, Any], check: Checker, path: str, known: tuple[str, ...], what: str
) -> dict[str, Any] | None:
    extra = {str(k): v for k, v in spec.items() if k not in known}
    for key in extra:
        check.warning(
            join_path(path, key),
            f"key '{key}' in {what} is kept unchanged: Studio does not use it (known keys: "
            f"{', '.join(known)})",
        )
    return extra or None


def flow_to_dict(flow: Flow) -> dict[str, Any]:
    """One flow as plain data (without its id), steps in the compact form."""
    out: dict[str, Any] = {}
    if flow.name is not None:
        out["name"] = flow.name
    out["description"] = flow.description if flow.description is not None else ""
    if flow.guard is not None:
        out["if"] = flow.guard
    if flow.nlu_trigger is not None:
        out["nlu_trigger"] = [t.to_yaml() for t in flow.nlu_trigger]
    for key in (
        "persisted_slots",
        "always_include_in_prompt",
        "run_pattern_completed",
        "on_activate",
        "translation",
        "metadata",
    ):
        value = getattr(flow, key)
        if value is not None:
            out[key] = value
    out["steps"] = compact_steps(flow.steps, flow.id)
    return out


def flows_to_dict(flows: list[Flow]) -> dict[str, Any]:
    """``{"flows": {id: flow}}``."""
    return {"flows": {flow.id: flow_to_dict(flow) for flow in flows}}
