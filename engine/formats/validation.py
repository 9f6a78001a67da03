"""Cross-file validation of a `Project`: references, duplicates, names, conditions, values.

`validate_project` never raises; it returns every `Problem` it finds, errors and warnings, in a
stable order (domain, flows, NLU, config). `check_project_files` runs loading and validation
together and is what an importer calls: it returns the project (None when loading failed) and
all problems.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from engine.formats import limits
from engine.formats._check import Checker
from engine.formats.conditions import (
    ConditionError,
    Node,
    parse_condition,
    referenced_slots,
    slot_comparisons,
)
from engine.formats.config import check_config, check_endpoints
from engine.formats.defaults import (
    DEFAULT_ACTIONS,
    DEFAULT_INTENTS,
    DEFAULT_PATTERN_SLOTS,
    DEFAULT_PATTERNS,
    DEFAULT_RESPONSES,
    retrieval_base,
)
from engine.formats.domain import Slot
from engine.formats.errors import FormatError, Problem, ProblemCollector, find_line, join_path
from engine.formats.flows import (
    END,
    FLOW_ID_RE,
    Flow,
    StepView,
    check_steps,
    iter_step_views,
    step_views,
)
from engine.formats.project import Project, load_project_files

# Rasa's built-in names (kept under these names for the modules that import them).
BUILTIN_ACTIONS = DEFAULT_ACTIONS
BUILTIN_RESPONSES = DEFAULT_RESPONSES
BUILTIN_PATTERNS = DEFAULT_PATTERNS
_SET_SLOTS_PAYLOAD_RE = re.compile(r"^/SetSlots\((?P<args>.*)\)\s*$")
_INTENT_PAYLOAD_RE = re.compile(r"^/(?P<intent>[^{(\s]+)(?P<rest>.*)$", re.DOTALL)
_TEXT_SLOT_RE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


class _Report:
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


def check_project_files(files: dict[str, bytes | str]) -> tuple[Project | None, list[Problem]]:
    """Load and validate; returns ``(project or None, all problems)``. Never raises FormatError."""
    try:
        project = load_project_files(files)
    except FormatError as exc:
        return None, exc.problems
    return project, [*project.load_warnings, *validate_project(project)]


def duplicate_problems(project: Project) -> list[Problem]:
    """Items defined twice (flows, slots, responses, intents...), e.g. in two files of one
    upload: checked on its own where an upload is merged into stored content by name."""
    report = _Report(project)
    _check_duplicates(report, project)
    return report.problems


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def validate_project(project: Project) -> list[Problem]:
    """Every problem in the project beyond what parsing checks: see the module docstring."""
    report = _Report(project)
    ctx = _Context(project)
    _check_duplicates(report, project)
    _check_domain(report, ctx)
    _check_flows(report, ctx)
    _check_nlu(report, ctx)
    _check_lengths(report, project)
    if project.config is not None:
        report.problems.extend(check_config(project.config))
        for prompt, key_path in project.config.prompt_refs():
            if prompt not in project.prompts:
                report.add(
                    project.config.file or "config.yml",
                    key_path,
                    f"prompt file '{prompt}' named in config.yml is not in the project",
                )
    if project.endpoints is not None:
        report.problems.extend(check_endpoints(project.endpoints))
        for prompt in project.endpoints.prompt_paths():
            if prompt not in project.prompts:
                report.add(
                    project.endpoints.file or "endpoints.yml",
                    "nlg.prompt",
                    f"prompt file '{prompt}' named in endpoints.yml is not in the project",
                )
    return report.problems


def _check_lengths(report: _Report, project: Project) -> None:
    """Text longer than the forms accept (engine.formats.limits): names, descriptions, texts."""

    def check(file, path: str, value: object, limit: int, what: str, line=None) -> None:
        problem = limits.too_long(value, limit)
        if problem:
            report.add(file, path, f"{what} {problem}", line=line)

    domain = project.domain
    for kind, key, items in (
        ("intent", "intents", domain.intents),
        ("entity", "entities", domain.entities),
        ("slot", "slots", domain.slots),
        ("action", "actions", domain.actions),
        ("response", "responses", domain.responses),
    ):
        for item in items:
            path = join_path(key, item.name) if key in ("slots", "responses") else key
            check(
                item.source_file,
                path,
                item.name,
                limits.NAME,
                f"the {kind} name '{item.name[:50]}…'",
                line=item.source_line,
            )
    for response in domain.responses:
        for index, variation in enumerate(response.variations):
            check(
                response.source_file,
                join_path("responses", response.name, index, "text"),
                variation.text,
                limits.TEXT,
                f"the text of response '{response.name[:50]}'",
                line=variation.source_line,
            )
    for flow in project.flows:
        base = join_path("flows", flow.id)
        check(flow.source_file, base, flow.id, limits.NAME, "the flow id")
        check(flow.source_file, join_path(base, "name"), flow.name, limits.TITLE, "the flow name")
        check(
            flow.source_file,
            join_path(base, "description"),
            flow.description,
            limits.DESCRIPTION,
            f"the description of flow '{flow.id[:50]}'",
        )


class _Context:
    def __init__(self, project: Project) -> None:
        domain = project.domain
        self.project = project
        self.slots: dict[str, Slot] = {}
        for slot in domain.slots:
            self.slots.setdefault(slot.name, slot)
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
        ):  # type: ignore[operator]
            key = (block.source_file, "nlu")
            self.local_index[id(block)] = counters[key]
            counters[key] += 1

    def index(self, obj: Any) -> int:
        return self.local_index.get(id(obj), 0)

    def action_exists(self, name: str) -> bool:
        return (
            name in self.actions
            or name in self.responses
            or name in BUILTIN_ACTIONS
            or name in BUILTIN_RESPONSES
            or name in self.forms
        )

    def response_exists(self, name: str) -> bool:
        return name in self.responses or name in BUILTIN_RESPONSES


def _where(file: str | None, line: int | None) -> str:
    if file is None:
        return "earlier"
    return f"in {file}" + (f" line {line}" if line else "")


# --------------------------------------------------------------------------------------------
# Duplicates


def _check_duplicates(report: _Report, project: Project) -> None:
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


# --------------------------------------------------------------------------------------------
# Domain


def _condition(
    report: _Report, file: str | None, path: str, text: Any, ctx: _Context, what: str
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
        slot = ctx.slots.get(slot_name)
        if slot is None or op in ("matches", "<", "<=", ">", ">="):
            continue
        for value in values:
            problem = _value_problem(slot, value)
            if problem:
                report.add(file, path, f"{what}: {problem}")
    return node


def _value_problem(slot: Slot, value: Any) -> str | None:
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


def _check_domain(report: _Report, ctx: _Context) -> None:
    domain = ctx.project.domain
    for intent in domain.intents:
        path = join_path("intents", ctx.index(intent))
        if not intent.name.strip() or any(ch.isspace() for ch in intent.name):
            report.add(
                intent.source_file,
                path,
                f"invalid intent name {intent.name!r}: intent names cannot contain spaces",
                line=intent.source_line,
            )
        listed = (intent.use_entities if isinstance(intent.use_entities, list) else []) + (
            intent.ignore_entities or []
        )
        for entity in listed:
            if entity not in ctx.entities:
                report.add(
                    intent.source_file,
                    path,
                    f"intent '{intent.name}' lists the entity '{entity}', which "
                    "is not in the domain's entities",
                    line=intent.source_line,
                )
        if isinstance(intent.use_entities, list) and intent.ignore_entities:
            report.add(
                intent.source_file,
                path,
                f"intent '{intent.name}' cannot have both use_entities and ignore_entities",
                line=intent.source_line,
            )

    for slot in domain.slots:
        _check_slot(report, ctx, slot)

    for response in domain.responses:
        base = join_path("responses", response.name)
        file = response.source_file
        if not response.name.startswith("utter_"):
            report.add(
                file,
                base,
                f"response name '{response.name}' should start with 'utter_'",
                "warning",
                line=response.source_line,
            )
        for index, var in enumerate(response.variations):
            vpath = join_path(base, index)
            if isinstance(var.condition, str):
                _condition(
                    report,
                    file,
                    join_path(vpath, "condition"),
                    var.condition,
                    ctx,
                    "response condition",
                )
            elif isinstance(var.condition, list):
                for c_index, cond in enumerate(var.condition):
                    cpath = join_path(vpath, "condition", c_index)
                    slot = ctx.slots.get(str(cond.get("name")))
                    if slot is None:
                        report.add(
                            file,
                            cpath,
                            "response condition uses the slot "
                            f"'{cond.get('name')}', which is not defined in the domain",
                        )
                    else:
                        problem = _value_problem(slot, cond.get("value"))
                        if problem:
                            report.add(file, cpath, f"response condition: {problem}")
            for b_index, button in enumerate(var.buttons or []):
                if button.payload:
                    _check_payload(
                        report,
                        ctx,
                        file,
                        join_path(vpath, "buttons", b_index, "payload"),
                        button.payload,
                    )
            if var.text:
                for name in sorted(set(_TEXT_SLOT_RE.findall(var.text))):
                    if name not in ctx.slots:
                        report.add(
                            file,
                            join_path(vpath, "text"),
                            f"the text uses {{{name}}}, but there is no slot '{name}'",
                            "warning",
                        )

    for action in domain.actions:
        if action.name in ctx.responses:
            report.add(
                action.source_file,
                join_path("actions", ctx.index(action)),
                f"'{action.name}' is both a custom action and a response",
                "warning",
                line=action.source_line,
            )


def _check_slot(report: _Report, ctx: _Context, slot: Slot) -> None:
    file = slot.source_file
    base = join_path("slots", slot.name)
    if slot.type in ("categorical", "strict_categorical") and not slot.values:
        report.add(
            file,
            base,
            f"categorical slot '{slot.name}' needs a list of 'values'",
            line=slot.source_line,
        )
    if slot.values is not None and slot.type not in ("categorical", "strict_categorical"):
        report.add(
            file,
            join_path(base, "values"),
            f"'values' only applies to categorical slots, and '{slot.name}' is {slot.type}",
            "warning",
        )
    if (slot.min_value is not None or slot.max_value is not None) and slot.type != "float":
        report.add(
            file,
            base,
            f"min_value/max_value only apply to float slots, and '{slot.name}' is {slot.type}",
            "warning",
            line=slot.source_line,
        )
    if (
        slot.min_value is not None
        and slot.max_value is not None
        and slot.min_value > slot.max_value
    ):
        report.add(
            file,
            join_path(base, "min_value"),
            f"min_value ({slot.min_value}) is larger than max_value ({slot.max_value})",
        )
    if slot.initial_value is not None:
        problem = _value_problem(slot, slot.initial_value)
        if problem:
            report.add(file, join_path(base, "initial_value"), f"initial_value: {problem}")
    for index, mapping in enumerate(slot.mappings or []):
        mpath = join_path(base, "mappings", index)
        if mapping.type == "from_entity" and mapping.entity:
            entity = ctx.entities.get(mapping.entity)
            if entity is None:
                report.add(
                    file,
                    join_path(mpath, "entity"),
                    f"slot '{slot.name}' is mapped from the entity "
                    f"'{mapping.entity}', which is not in the domain's entities",
                )
            else:
                if mapping.role and mapping.role not in (entity.roles or []):
                    report.add(
                        file,
                        join_path(mpath, "role"),
                        f"entity '{entity.name}' has no role '{mapping.role}'",
                    )
                if mapping.group and mapping.group not in (entity.groups or []):
                    report.add(
                        file,
                        join_path(mpath, "group"),
                        f"entity '{entity.name}' has no group '{mapping.group}'",
                    )
        if mapping.type == "from_intent" and mapping.value is None:
            report.add(file, mpath, "a from_intent mapping needs a 'value'")
        if mapping.type in ("from_intent", "from_trigger_intent") and mapping.value is not None:
            problem = _value_problem(slot, mapping.value)
            if problem:
                report.add(file, join_path(mpath, "value"), problem)
        for key in ("intent", "not_intent"):
            if mapping.type == "from_text":
                break  # Rasa does not check these lists for from_text mappings
            names = getattr(mapping, key)
            for name in [names] if isinstance(names, str) else names or []:
                if name not in ctx.known_intents:
                    # As Rasa: a warning, the mapping simply never applies to that intent.
                    report.add(
                        file,
                        join_path(mpath, key),
                        f"slot '{slot.name}' mapping refers to the intent "
                        f"'{name}', which is not in the domain's intents",
                        "warning",
                    )
        for c_index, cond in enumerate(mapping.conditions or []):
            cpath = join_path(mpath, "conditions", c_index)
            if cond.requested_slot and cond.requested_slot not in ctx.slots:
                report.add(
                    file,
                    join_path(cpath, "requested_slot"),
                    f"requested_slot '{cond.requested_slot}' is not a slot in the domain",
                )
            if (
                cond.active_loop
                and cond.active_loop != "null"
                and cond.active_loop not in ctx.forms
            ):
                report.add(
                    file,
                    join_path(cpath, "active_loop"),
                    f"active_loop '{cond.active_loop}' is not a form in the domain",
                    "warning",
                )
            if cond.active_flow and cond.active_flow not in ctx.flows:
                report.add(
                    file,
                    join_path(cpath, "active_flow"),
                    f"active_flow '{cond.active_flow}' is not a flow in the project",
                )
    if slot.validation is not None:
        vpath = join_path(base, "validation")
        for index, rejection in enumerate(slot.validation.rejections):
            rpath = join_path(vpath, "rejections", index)
            _condition(
                report,
                file,
                join_path(rpath, "if"),
                rejection.condition,
                ctx,
                "rejection condition",
            )
            if not ctx.response_exists(rejection.utter):
                report.add(
                    file, join_path(rpath, "utter"), f"response '{rejection.utter}' is not defined"
                )
        if slot.validation.refill_utter and not ctx.response_exists(slot.validation.refill_utter):
            report.add(
                file,
                join_path(vpath, "refill_utter"),
                f"response '{slot.validation.refill_utter}' is not defined",
            )


def _check_payload(
    report: _Report, ctx: _Context, file: str | None, path: str, payload: str
) -> None:
    match = _SET_SLOTS_PAYLOAD_RE.match(payload.strip())
    if match:
        for part in filter(None, (p.strip() for p in match.group("args").split(","))):
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip().strip("'\"")
            slot = ctx.slots.get(name)
            if not sep:
                report.add(
                    file, path, f"button payload {payload!r}: expected slot=value in /SetSlots(...)"
                )
            elif slot is None:
                report.add(
                    file,
                    path,
                    f"button payload sets the slot '{name}', which is not defined in the domain",
                )
            else:
                problem = _value_problem(slot, value)
                if problem:
                    report.add(file, path, f"button payload: {problem}")
        return
    match = _INTENT_PAYLOAD_RE.match(payload.strip())
    if match and ctx.intents and match.group("intent") not in ctx.known_intents:
        report.add(
            file,
            path,
            f"button payload triggers the intent '{match.group('intent')}', which "
            "is not in the domain's intents",
        )


# --------------------------------------------------------------------------------------------
# Flows


def _flow_lines(project: Project, flow: Flow) -> dict[str, int]:
    lines = dict(project.source_lines.get(flow.source_file or "", {}))
    base = join_path("flows", flow.id)
    for rel, line in flow.source_lines.items():
        lines.setdefault(f"{base}.{rel}", line)
    if flow.source_line is not None:
        lines.setdefault(base, flow.source_line)
    return lines


def _check_flows(report: _Report, ctx: _Context) -> None:
    project = ctx.project
    calls: dict[str, list[tuple[str, str]]] = defaultdict(list)
    touched: dict[str, set[str]] = {}
    checked: list[Flow] = []
    for flow in project.flows:
        base = join_path("flows", flow.id)
        file = flow.source_file
        if not FLOW_ID_RE.match(flow.id):
            report.add(
                file,
                base,
                f"invalid flow id '{flow.id}': use only letters, digits, "
                "underscores and hyphens (no spaces)",
                line=flow.source_line,
            )
        if flow.id.startswith("pattern_") and flow.id not in BUILTIN_PATTERNS:
            report.add(
                file,
                base,
                f"'{flow.id}' is not one of Rasa's patterns; only patterns should "
                "start with 'pattern_'",
                "warning",
                line=flow.source_line,
            )
        # Steps may come from the database, so their schema is checked again here.
        collector = ProblemCollector(file, _flow_lines(project, flow))
        check_steps(flow.steps, Checker(collector), join_path(base, "steps"))
        report.problems.extend(collector.problems)
        if collector.has_errors:
            continue
        if flow.guard is not None and not isinstance(flow.guard, bool):
            _condition(report, file, join_path(base, "if"), flow.guard, ctx, "flow guard")
        for index, trigger in enumerate(flow.nlu_trigger or []):
            if trigger.intent not in ctx.known_intents:
                # Rasa only warns: the trigger can never fire, the flow is still valid.
                report.add(
                    file,
                    join_path(base, "nlu_trigger", index),
                    f"nlu_trigger intent '{trigger.intent}' is not in the domain's intents",
                    "warning",
                )
        views = step_views(flow.steps, flow.id)
        touched[flow.id] = _check_steps(report, ctx, flow, views, calls)
        checked.append(flow)
    for flow in checked:
        base = join_path("flows", flow.id)
        # As Rasa (steps_with_calls_resolved): slots of the flows this flow calls count too.
        reached = _touched_through_calls(flow.id, touched, calls)
        for index, slot in enumerate(flow.persisted_slots or []):
            ppath = join_path(base, "persisted_slots", index)
            if slot not in ctx.slots:
                report.add(
                    flow.source_file, ppath, f"persisted slot '{slot}' is not defined in the domain"
                )
            elif slot not in reached:
                report.add(
                    flow.source_file,
                    ppath,
                    f"persisted slot '{slot}' is neither collected nor set in flow '{flow.id}' "
                    "or the flows it calls",
                )
    _check_call_cycles(report, project, calls)


def _touched_through_calls(
    flow_id: str, touched: dict[str, set[str]], calls: dict[str, list[tuple[str, str]]]
) -> set[str]:
    slots: set[str] = set()
    seen: set[str] = set()
    pending = [flow_id]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        slots |= touched.get(current, set())
        pending.extend(target for target, _ in calls.get(current, []))
    return slots


def _filled_without_asking(ctx: _Context, slot: str, data: dict) -> bool:
    """As Rasa: a collect of a slot with an initial value is not asked (so needs no ask
    response) unless the step says `ask_before_filling: true`."""
    domain_slot = ctx.slots.get(slot)
    has_initial = domain_slot is not None and domain_slot.initial_value is not None
    return has_initial and not data.get("ask_before_filling", False)


def _check_steps(
    report: _Report,
    ctx: _Context,
    flow: Flow,
    views: list[StepView],
    calls: dict[str, list[tuple[str, str]]],
) -> set[str]:
    file = flow.source_file
    base = join_path("flows", flow.id)
    all_views = list(iter_step_views(views))
    ids: dict[str, StepView] = {}
    touched: set[str] = set()
    for view in all_views:
        if view.id in ids:
            report.add(
                file,
                join_path(base, view.path, "id"),
                f"duplicate step id '{view.id}' in flow '{flow.id}' (also used at "
                f"{ids[view.id].path})",
            )
        else:
            ids[view.id] = view
    for view in all_views:
        path = join_path(base, view.path)
        kind_path = join_path(path, view.kind)
        data = view.data
        if view.kind == "collect":
            slot = view.target or ""
            touched.add(slot)
            if slot not in ctx.slots and not (
                flow.id in DEFAULT_PATTERNS and slot in DEFAULT_PATTERN_SLOTS
            ):
                report.add(file, kind_path, f"collected slot '{slot}' is not defined in the domain")
            utter = data.get("utter")
            if utter is not None:
                if not ctx.response_exists(utter):
                    report.add(
                        file,
                        join_path(path, "utter"),
                        f"response '{utter}' is not defined in the domain",
                    )
            elif not (
                ctx.response_exists(f"utter_ask_{slot}") or ctx.action_exists(f"action_ask_{slot}")
            ) and not _filled_without_asking(ctx, slot, data):
                report.add(
                    file,
                    kind_path,
                    f"flow '{flow.id}' collects '{slot}' but there is no response "
                    f"'utter_ask_{slot}' or action 'action_ask_{slot}' to ask for it",
                )
            for index, rejection in enumerate(data.get("rejections") or []):
                rpath = join_path(path, "rejections", index)
                _condition(
                    report,
                    file,
                    join_path(rpath, "if"),
                    rejection.get("if"),
                    ctx,
                    "rejection condition",
                )
                if not ctx.response_exists(rejection.get("utter", "")):
                    report.add(
                        file,
                        join_path(rpath, "utter"),
                        f"response '{rejection.get('utter')}' is not defined in the domain",
                    )
        elif view.kind == "action":
            name = view.target or ""
            if not ctx.action_exists(name):
                hint = (
                    "define the response"
                    if name.startswith("utter_")
                    else "add it to the domain's actions"
                )
                report.add(file, kind_path, f"action '{name}' is not defined: {hint}")
        elif view.kind in ("link", "call"):
            target = view.target or ""
            if view.kind == "call" and "mcp_server" in data:
                pass  # a tool call, not a flow
            elif target not in ctx.flows and target not in BUILTIN_PATTERNS:
                report.add(file, kind_path, f"{view.kind}ed flow '{target}' does not exist")
            elif target == flow.id and view.kind == "call":
                report.add(file, kind_path, f"flow '{flow.id}' calls itself")
            if view.kind == "call" and "mcp_server" not in data:
                calls[flow.id].append((target, path))
            if view.kind == "link" and not view.is_last:
                report.add(
                    file,
                    kind_path,
                    "a link step must be the last step of its branch: the flow "
                    "ends when it hands over",
                )
        elif view.kind == "set_slots":
            for index, (slot_name, value) in enumerate(view.set_slots):
                spath = join_path(path, "set_slots", index)
                touched.add(slot_name)
                slot = ctx.slots.get(slot_name)
                if slot is None:
                    report.add(
                        file,
                        spath,
                        f"set_slots sets '{slot_name}', which is not a slot in the domain",
                    )
                else:
                    problem = _value_problem(slot, value)
                    if problem:
                        report.add(file, spath, f"set_slots: {problem}")
        # Where the step goes next.
        if view.next is not None and view.next != END and view.next not in ids:
            report.add(
                file,
                join_path(path, "next"),
                f"next step '{view.next}' does not exist in flow '{flow.id}'",
            )
        for branch in view.branches or []:
            if branch.condition is not None and not isinstance(branch.condition, bool):
                _condition(
                    report,
                    file,
                    join_path(base, branch.path, "if"),
                    branch.condition,
                    ctx,
                    "branch condition",
                )
            if branch.target is not None and branch.target != END and branch.target not in ids:
                key = "else" if branch.condition is None else "then"
                report.add(
                    file,
                    join_path(base, branch.path, key),
                    f"next step '{branch.target}' does not exist in flow '{flow.id}'",
                )
        if (
            not view.is_root
            and view.is_last
            and view.kind != "link"
            and view.next is None
            and not view.branches
        ):
            report.add(
                file,
                path,
                "the last step of a branch must say where to go next: add 'next' "
                "with a step id or END",
            )
    return touched


def _check_call_cycles(
    report: _Report, project: Project, calls: dict[str, list[tuple[str, str]]]
) -> None:
    flows = {f.id: f for f in project.flows}
    reported: set[frozenset[str]] = set()

    def visit(start: str, node: str, trail: list[str], first_path: str | None) -> None:
        for target, path in calls.get(node, []):
            edge_path = first_path or path
            if target == start and len(trail) > 1:
                cycle = frozenset(trail)
                if cycle not in reported:
                    reported.add(cycle)
                    chain = " -> ".join([*trail, start])
                    report.add(
                        flows[start].source_file,
                        edge_path,
                        f"flows call each other in a cycle: {chain}",
                    )
            elif target not in trail and target in calls:
                visit(start, target, [*trail, target], edge_path)

    for flow_id in sorted(calls):
        visit(flow_id, flow_id, [flow_id], None)


# --------------------------------------------------------------------------------------------
# NLU


def _annotation_signature(example: Any) -> tuple:
    return tuple(
        sorted((e.start, e.end, e.entity, e.role or "", e.group or "") for e in example.entities)
    )


def _check_nlu(report: _Report, ctx: _Context) -> None:
    nlu = ctx.project.nlu
    with_examples: set[str] = set()
    seen_texts: dict[str, str] = {}
    seen_examples: set[tuple] = set()
    for block in nlu.intents:
        base = join_path("nlu", ctx.index(block))
        file = block.source_file
        with_examples.add(block.intent)
        # A retrieval intent's examples (`chitchat/ask_name`) belong to its parent intent.
        with_examples.add(retrieval_base(block.intent))
        if retrieval_base(block.intent) not in ctx.intents:
            report.add(
                file,
                join_path(base, "intent"),
                f"intent '{block.intent}' has examples but is not in the domain's intents",
            )
        for index, example in enumerate(block.examples):
            epath = join_path(base, "examples")
            previous = seen_texts.get(example.text)
            if previous is not None and previous != block.intent:
                report.add(
                    file,
                    epath,
                    f"example {example.text!r} is used for both '{previous}' and '{block.intent}'",
                    "warning",
                )
            seen_texts.setdefault(example.text, block.intent)
            # The same text with the same annotations twice (Rasa warns and keeps one); the same
            # text annotated differently is two examples, and Rasa keeps both.
            signature = (block.intent, example.text, _annotation_signature(example))
            if signature in seen_examples:
                report.add(
                    file,
                    epath,
                    f"example {example.text!r} is given twice for '{block.intent}'",
                    "warning",
                )
            seen_examples.add(signature)
            spans: list[tuple[int, int]] = []
            for ent in example.entities:
                if not (0 <= ent.start < ent.end <= len(example.text)):
                    report.add(
                        file,
                        epath,
                        f"example {index + 1} ({example.text!r}): entity "
                        f"'{ent.entity}' has offsets {ent.start}:{ent.end} outside the text",
                    )
                    continue
                for start, end in spans:
                    if ent.start < end and start < ent.end and (start, end) != (ent.start, ent.end):
                        report.add(
                            file, epath, f"example {example.text!r}: entity annotations overlap"
                        )
                spans.append((ent.start, ent.end))
                entity = ctx.entities.get(ent.entity)
                if entity is None:
                    report.add(
                        file,
                        epath,
                        f"example {example.text!r} annotates the entity "
                        f"'{ent.entity}', which is not in the domain's entities",
                    )
                    continue
                if ent.role is not None and ent.role not in (entity.roles or []):
                    report.add(
                        file,
                        epath,
                        f"example {example.text!r}: entity '{ent.entity}' has no role '{ent.role}'",
                    )
                if ent.group is not None and ent.group not in (entity.groups or []):
                    report.add(
                        file,
                        epath,
                        f"example {example.text!r}: entity '{ent.entity}' has no "
                        f"group '{ent.group}'",
                    )
    for intent in ctx.project.domain.intents:
        if intent.name not in with_examples and nlu.intents:
            report.add(
                intent.source_file,
                join_path("intents", ctx.index(intent)),
                f"intent '{intent.name}' has no training examples",
                "warning",
                line=intent.source_line,
            )
    for kind, items in (("regex", nlu.regexes), ("lookup", nlu.lookups), ("synonym", nlu.synonyms)):
        for item in items:
            if not item.examples:
                report.add(
                    item.source_file,
                    join_path("nlu", ctx.index(item), "examples"),
                    f"{kind} '{item.name}' has no examples",
                    "warning",
                )
