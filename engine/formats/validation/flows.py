"""Flow checks: ids, guards, triggers, each step by kind (collect, action, link and call,
set_slots), where steps go next, persisted slots, and flows that call each other in a cycle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

from engine.formats._check import Checker
from engine.formats.agents import check_sub_agents, mcp_server_names, sub_agents
from engine.formats.conditions import referenced_slots
from engine.formats.defaults import DEFAULT_PATTERN_SLOTS, DEFAULT_PATTERNS
from engine.formats.errors import ProblemCollector, join_path
from engine.formats.flows import FLOW_ID_RE, Flow
from engine.formats.project import Project
from engine.formats.steps import END, StepView, check_steps, iter_step_views, step_views
from engine.formats.validation.context import Context, Report, check_condition, value_problem

__all__ = ["check_flows"]


def _flow_lines(project: Project, flow: Flow) -> dict[str, int]:
    lines = dict(project.source_lines.get(flow.source_file or "", {}))
    base = join_path("flows", flow.id)
    for rel, line in flow.source_lines.items():
        lines.setdefault(f"{base}.{rel}", line)
    if flow.source_line is not None:
        lines.setdefault(base, flow.source_line)
    return lines


def _kept_files(project: Project) -> dict[str, str]:
    return {**project.prompts, **project.other_files}


def check_flows(report: Report, ctx: Context) -> None:
    project = ctx.project
    kept = _kept_files(project)
    targets = _CallTargets(
        agents=set(sub_agents(kept)),
        mcp_servers=mcp_server_names(project.endpoints.data if project.endpoints else None),
    )
    report.problems.extend(
        check_sub_agents(
            kept,
            {f.id for f in project.flows},
            targets.mcp_servers,
        )
    )
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
        if flow.id.startswith("pattern_") and flow.id not in DEFAULT_PATTERNS:
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
            check_condition(report, file, join_path(base, "if"), flow.guard, ctx, "flow guard")
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
        touched[flow.id] = _check_steps(report, ctx, flow, views, calls, targets)
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


def _filled_without_asking(ctx: Context, slot: str, data: dict[str, Any]) -> bool:
    """As Rasa: a collect of a slot with an initial value is not asked (so needs no ask
    response) unless the step says `ask_before_filling: true`."""
    domain_slot = ctx.slots.get(slot)
    has_initial = domain_slot is not None and domain_slot.initial_value is not None
    return has_initial and not data.get("ask_before_filling", False)


class _CallTargets:
    """What a call step may name besides a flow: the project's sub-agents (by agent name) and
    the MCP servers endpoints.yml defines (None: the project has no endpoints.yml)."""

    def __init__(self, agents: set[str], mcp_servers: set[str] | None) -> None:
        self.agents = agents
        self.mcp_servers = mcp_servers


class _FlowSteps:
    """What the checks of one flow's steps share: where to report, the flow's step ids, and
    what they collect: the slots the steps touch and the flows they call."""

    def __init__(
        self,
        report: Report,
        ctx: Context,
        flow: Flow,
        calls: dict[str, list[tuple[str, str]]],
        targets: _CallTargets,
    ) -> None:
        self.report = report
        self.ctx = ctx
        self.targets = targets
        self.flow = flow
        self.file = flow.source_file
        self.base = join_path("flows", flow.id)
        self.calls = calls
        self.ids: dict[str, StepView] = {}
        self.touched: set[str] = set()

    def add(self, path: str, message: str, severity: str = "error") -> None:
        self.report.add(self.file, path, message, severity)

    def condition(self, path: str, text: Any, what: str) -> None:
        if isinstance(text, str) and "{{" in text and self.flow.id.startswith("pattern_"):
            return  # filled in from the pattern's context before it is evaluated
        check_condition(self.report, self.file, path, text, self.ctx, what)


def _check_steps(
    report: Report,
    ctx: Context,
    flow: Flow,
    views: list[StepView],
    calls: dict[str, list[tuple[str, str]]],
    targets: _CallTargets,
) -> set[str]:
    """Check every step of `flow`; returns the slots the steps collect or set."""
    steps = _FlowSteps(report, ctx, flow, calls, targets)
    all_views = list(iter_step_views(views))
    for view in all_views:
        if view.id in steps.ids:
            steps.add(
                join_path(steps.base, view.path, "id"),
                f"duplicate step id '{view.id}' in flow '{flow.id}' (also used at "
                f"{steps.ids[view.id].path})",
            )
        else:
            steps.ids[view.id] = view
    for view in all_views:
        path = join_path(steps.base, view.path)
        check_kind = _STEP_CHECKS.get(view.kind)
        if check_kind is not None:
            check_kind(steps, view, path)
        _check_transitions(steps, view, path)
    _check_reachable(steps, views)
    return steps.touched


def _following(views: list[StepView]) -> dict[str, StepView]:
    """Each step id -> the step after it in its list (where it goes when it says nothing)."""
    out: dict[str, StepView] = {}
    for earlier, later in pairwise(views):
        out[earlier.id] = later
    for view in views:
        for branch in view.branches or []:
            out.update(_following(branch.steps or []))
    return out


def _successors(
    view: StepView, following: dict[str, StepView], ids: dict[str, StepView]
) -> Iterator[StepView]:
    if view.kind == "link":
        return
    if view.branches:
        for branch in view.branches:
            if branch.steps:
                yield branch.steps[0]
            elif branch.target in ids:
                yield ids[branch.target]
    elif view.next is not None:
        if view.next in ids:
            yield ids[view.next]
    elif view.id in following:
        yield following[view.id]


def _check_reachable(steps: _FlowSteps, views: list[StepView]) -> None:
    """A step the flow can never get to (after a step that jumps or ends the flow, and no
    step's target) is an error: it was most likely meant to run (added after an END)."""
    if not views:
        return
    following = _following(views)
    reached: set[str] = set()
    pending = [views[0]]
    while pending:
        view = pending.pop()
        if view.id in reached:
            continue
        reached.add(view.id)
        pending.extend(_successors(view, following, steps.ids))
    for view in iter_step_views(views):
        if view.id not in reached and steps.ids.get(view.id) is view:
            steps.add(
                join_path(steps.base, view.path),
                "this step is never reached: the step before it ends the flow or jumps "
                "elsewhere, and no step goes to it (connect it, or delete it)",
            )


def _check_collect(steps: _FlowSteps, view: StepView, path: str) -> None:
    ctx, flow, data = steps.ctx, steps.flow, view.data
    kind_path = join_path(path, view.kind)
    slot = view.target or ""
    steps.touched.add(slot)
    if slot not in ctx.slots and not (
        flow.id in DEFAULT_PATTERNS and slot in DEFAULT_PATTERN_SLOTS
    ):
        steps.add(kind_path, f"collected slot '{slot}' is not defined in the domain")
    utter = data.get("utter")
    if utter is not None:
        if not ctx.response_exists(utter):
            steps.add(join_path(path, "utter"), f"response '{utter}' is not defined in the domain")
    elif not (
        ctx.response_exists(f"utter_ask_{slot}") or ctx.action_exists(f"action_ask_{slot}")
    ) and not _filled_without_asking(ctx, slot, data):
        steps.add(
            kind_path,
            f"flow '{flow.id}' collects '{slot}' but there is no response "
            f"'utter_ask_{slot}' or action 'action_ask_{slot}' to ask for it",
        )
    for index, rejection in enumerate(data.get("rejections") or []):
        rpath = join_path(path, "rejections", index)
        steps.condition(join_path(rpath, "if"), rejection.get("if"), "rejection condition")
        if not ctx.response_exists(rejection.get("utter", "")):
            steps.add(
                join_path(rpath, "utter"),
                f"response '{rejection.get('utter')}' is not defined in the domain",
            )


def _check_action(steps: _FlowSteps, view: StepView, path: str) -> None:
    name = view.target or ""
    if "{{" in name and steps.flow.id.startswith("pattern_"):
        return  # a pattern's action named from its frame's context, e.g. {{context.utter}}
    if not steps.ctx.action_exists(name):
        hint = (
            "define the response" if name.startswith("utter_") else "add it to the domain's actions"
        )
        steps.add(join_path(path, view.kind), f"action '{name}' is not defined: {hint}")


def _check_link(steps: _FlowSteps, view: StepView, path: str) -> None:
    kind_path = join_path(path, view.kind)
    target = view.target or ""
    if target not in steps.ctx.flows and target not in DEFAULT_PATTERNS:
        steps.add(kind_path, f"linked flow '{target}' does not exist")
    if not view.is_last:
        # Rasa accepts it (a link step has no next step), so only the steps after it that
        # nothing jumps to are dead; Studio says so without refusing.
        steps.add(
            kind_path,
            "a link step ends the flow: the steps after it run only when a 'next' jumps to them",
            "warning",
        )


def _check_call(steps: _FlowSteps, view: StepView, path: str) -> None:
    """A call of a flow, of a sub-agent (``sub_agents/<name>/``), or of an MCP tool
    (``mcp_server`` and ``mapping``), as Rasa resolves it: a flow first, then a sub-agent."""
    flow, data = steps.flow, view.data
    kind_path = join_path(path, view.kind)
    target = view.target or ""
    is_flow = target in steps.ctx.flows or target in DEFAULT_PATTERNS
    if "mcp_server" in data:
        _check_mcp_call(steps, view, path)
    elif is_flow:
        if target == flow.id:
            steps.add(kind_path, f"flow '{flow.id}' calls itself")
        steps.calls[flow.id].append((target, path))
    elif target not in steps.targets.agents:
        steps.add(
            kind_path,
            f"called flow '{target}' does not exist, and no sub-agent has that name "
            "(a sub-agent is a folder sub_agents/<folder>/ whose config.yml says agent.name)",
        )
    if "exit_if" in data:
        _check_exit_if(steps, view, path, calls_agent=not is_flow and "mcp_server" not in data)


def _check_mcp_call(steps: _FlowSteps, view: StepView, path: str) -> None:
    server = view.data.get("mcp_server")
    defined = steps.targets.mcp_servers
    if defined is None or server not in defined:
        where = (
            "the project has no endpoints.yml"
            if defined is None
            else f"endpoints.yml defines {', '.join(sorted(defined)) or 'none'}"
        )
        steps.add(
            join_path(path, "mcp_server"),
            f"MCP server '{server}' is not defined in endpoints.yml's mcp_servers ({where})",
        )
    mapping = view.data.get("mapping")
    if not isinstance(mapping, dict):
        return
    for key in ("input", "output"):
        for index, item in enumerate(mapping.get(key) or []):
            slot = item.get("slot") if isinstance(item, dict) else None
            if isinstance(slot, str) and slot not in steps.ctx.slots:
                steps.add(
                    join_path(path, "mapping", key, index, "slot"),
                    f"the MCP tool mapping uses the slot '{slot}', which is not defined in "
                    "the domain",
                )


def _check_exit_if(steps: _FlowSteps, view: StepView, path: str, *, calls_agent: bool) -> None:
    exit_path = join_path(path, "exit_if")
    if not calls_agent:
        steps.add(
            exit_path,
            "'exit_if' is only allowed on a call step that calls a sub-agent, "
            f"and '{view.target}' is not one",
        )
        return
    for index, condition in enumerate(view.data.get("exit_if") or []):
        cpath = join_path(exit_path, index)
        node = check_condition(
            steps.report, steps.file, cpath, condition, steps.ctx, "exit_if condition"
        )
        if node is not None and not referenced_slots(node):
            steps.add(
                cpath,
                f"exit_if condition {condition!r} must use at least one slot "
                "(for example 'slots.order_id is not null')",
            )


def _check_set_slots(steps: _FlowSteps, view: StepView, path: str) -> None:
    for index, (slot_name, value) in enumerate(view.set_slots):
        spath = join_path(path, "set_slots", index)
        steps.touched.add(slot_name)
        slot = steps.ctx.slots.get(slot_name)
        if slot is None:
            steps.add(spath, f"set_slots sets '{slot_name}', which is not a slot in the domain")
        else:
            problem = value_problem(slot, value)
            if problem:
                steps.add(spath, f"set_slots: {problem}")


_STEP_CHECKS: dict[str, Callable[[_FlowSteps, StepView, str], None]] = {
    "collect": _check_collect,
    "action": _check_action,
    "link": _check_link,
    "call": _check_call,
    "set_slots": _check_set_slots,
}


def _check_transitions(steps: _FlowSteps, view: StepView, path: str) -> None:
    """Where the step goes next: ``next`` ids, branch conditions and targets, and the last
    step of a branch, which must say where to go."""
    flow_id, base = steps.flow.id, steps.base
    if view.next is not None and view.next != END and view.next not in steps.ids:
        steps.add(
            join_path(path, "next"), f"next step '{view.next}' does not exist in flow '{flow_id}'"
        )
    for branch in view.branches or []:
        if branch.condition is not None and not isinstance(branch.condition, bool):
            steps.condition(
                join_path(base, branch.path, "if"), branch.condition, "branch condition"
            )
        if branch.target is not None and branch.target != END and branch.target not in steps.ids:
            key = "else" if branch.condition is None else "then"
            steps.add(
                join_path(base, branch.path, key),
                f"next step '{branch.target}' does not exist in flow '{flow_id}'",
            )
    if (
        not view.is_root
        and view.is_last
        and view.kind != "link"
        and view.next is None
        and not view.branches
    ):
        steps.add(
            path,
            "the last step of a branch must say where to go next: add 'next' with a step id or END",
        )


def _check_call_cycles(
    report: Report, project: Project, calls: dict[str, list[tuple[str, str]]]
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
