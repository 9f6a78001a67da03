"""Changes to flows, responses, slots and custom actions (issue 7).

Every change is checked the same way before it is stored: build the assistant's project with the
change applied (`content.export_project`, then replace the item) and run
`engine.formats.validate_project`. A change is refused with `ContentInvalid` when the changed
item has an error, or when it introduces an error anywhere else (a deleted slot that a flow still
collects, a renamed flow that another flow links to). Each change is one transaction; a flow
change also records a `FlowVersion`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.flows import steps as step_ops
from apps.flows.models import CustomAction, Flow, FlowVersion, Response, Slot
from apps.projects import content
from apps.projects.models import Assistant
from engine import formats
from engine.formats import Slot as SlotSpec
from engine.formats import parse_responses
from engine.formats.domain import Action
from engine.formats.errors import ProblemCollector
from engine.formats.flows import FLOW_ID_RE, flow_to_dict, parse_flows


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
    project = content.export_project(assistant)
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


def flow_problems(assistant: Assistant, flow: Flow) -> list[ShownProblem]:
    """The stored flow's errors and warnings, relative to the flow."""
    problems = formats.validate_project(content.export_project(assistant))
    return relative_problems(problems, f"flows.{flow.name}")


def problem_counts(assistant: Assistant) -> dict[str, tuple[int, int]]:
    """{flow id: (errors, warnings)} for every flow of the assistant."""
    counts: dict[str, list[int]] = {}
    for p in formats.validate_project(content.export_project(assistant)):
        if not p.path.startswith("flows."):
            continue
        name = p.path[6:].split(".", 1)[0].split("[", 1)[0]
        pair = counts.setdefault(name, [0, 0])
        pair[0 if p.severity == "error" else 1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


# --------------------------------------------------------------------------------------------
# Flows


def parse_definition(name: str, definition: dict) -> formats.Flow:
    """The flow a definition describes; raises ContentInvalid on a schema problem."""
    collector = ProblemCollector(file=None)
    flows = parse_flows({name: copy.deepcopy(definition)}, collector)
    if collector.has_errors or not flows:
        raise ContentInvalid([p for p in collector.problems if p.severity == "error"])
    return flows[0]


def _replace_flow(project: formats.Project, flow: formats.Flow, old_name: str | None) -> None:
    for index, item in enumerate(project.flows):
        if item.id == (old_name or flow.id):
            project.flows[index] = flow
            return
    project.flows.append(flow)


@dataclass
class Additions:
    """Domain items a flow edit creates or updates with it (the builder's inline "create a
    response / slot / action"): validated with the flow, stored in the same transaction."""

    responses: dict[str, list] = field(default_factory=dict)  # name -> variations
    slots: dict[str, dict] = field(default_factory=dict)  # name -> definition
    actions: list[str] = field(default_factory=list)

    def apply(self, project: formats.Project) -> None:
        domain = project.domain
        for name, variations in self.responses.items():
            collector = ProblemCollector(file=None)
            parsed = parse_responses({name: copy.deepcopy(variations)}, collector)
            if collector.has_errors or not parsed:
                raise ContentInvalid([p for p in collector.problems if p.severity == "error"])
            domain.responses = _replace_named(domain.responses, parsed[0], None)
        for name, definition in self.slots.items():
            domain.slots = _replace_named(domain.slots, slot_spec(name, definition), None)
        for name in self.actions:
            domain.actions = _replace_named(domain.actions, Action(name=name), None)

    def store(self, assistant: Assistant) -> None:
        for name, variations in self.responses.items():
            updated = Response.objects.filter(assistant=assistant, name=name).update(
                variations=variations
            )
            if not updated:
                Response.objects.create(
                    assistant=assistant,
                    name=name,
                    variations=variations,
                    position=_next_position(Response, assistant),
                )
        for name, definition in self.slots.items():
            Slot.objects.update_or_create(
                assistant=assistant,
                name=name,
                defaults={
                    "type": definition.get("type", "any"),
                    "definition": definition,
                    "position": _next_position(Slot, assistant),
                },
            )
        for name in self.actions:
            CustomAction.objects.get_or_create(
                assistant=assistant,
                name=name,
                defaults={"position": _next_position(CustomAction, assistant)},
            )


def validate_flow(
    assistant: Assistant,
    name: str,
    definition: dict,
    *,
    old_name: str | None = None,
    additions: Additions | None = None,
) -> tuple[dict, list[ShownProblem]]:
    """Check a flow as it would be saved. Returns its canonical definition (compact steps) and
    its warnings; raises ContentInvalid when it has errors or breaks another item."""
    flow = parse_definition(name, definition)

    def change(project: formats.Project) -> None:
        if additions is not None:
            additions.apply(project)
        _replace_flow(project, flow, old_name)

    _, problems = check_change(assistant, change, f"flows.{name}")
    return flow_to_dict(flow), relative_problems(problems, f"flows.{name}")


def record_version(flow: Flow, user, summary: str) -> FlowVersion:
    return FlowVersion.objects.create(
        assistant_id=flow.assistant_id,
        flow_name=flow.name,
        definition=flow.definition,
        summary=summary[:255],
        created_by=user if user is not None and user.is_authenticated else None,
    )


def _store(flow: Flow, definition: dict, user, summary: str) -> Flow:
    flow.definition = definition
    flow.title = definition.get("name") or ""
    flow.description = definition.get("description") or ""
    flow.updated_at = timezone.now()
    flow.updated_by = user if user is not None and user.is_authenticated else None
    flow.save(update_fields=["definition", "title", "description", "updated_at", "updated_by"])
    record_version(flow, user, summary)
    return flow


@transaction.atomic
def save_flow(
    flow: Flow,
    definition: dict,
    *,
    user,
    summary: str,
    additions: Additions | None = None,
    dry_run: bool = False,
) -> Flow:
    """Validate and store a new definition for `flow` (with the domain items it creates),
    recording a version. `dry_run` validates only (the builder's live validation)."""
    canonical, _ = validate_flow(flow.assistant, flow.name, definition, additions=additions)
    if dry_run:
        return flow
    if additions is not None:
        additions.store(flow.assistant)
    return _store(flow, canonical, user, summary)


def edit_steps(
    flow: Flow,
    operation: Callable[[list], list],
    *,
    user,
    summary: str,
    additions: Additions | None = None,
    dry_run: bool = False,
) -> Flow:
    """Apply an operation of apps.flows.steps to the flow's steps and save the result."""
    definition = copy.deepcopy(flow.definition)
    definition["steps"] = operation(definition.get("steps") or [])
    return save_flow(
        flow, definition, user=user, summary=summary, additions=additions, dry_run=dry_run
    )


def check_flow_name(assistant: Assistant, name: str, *, exclude: Flow | None = None) -> str | None:
    """Why `name` cannot be a new flow id, or None."""
    if not FLOW_ID_RE.match(name):
        return (
            "Use only letters, digits, underscores and hyphens, with no spaces "
            "(e.g. transfer_money)."
        )
    others = Flow.objects.filter(assistant=assistant, name=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        return f"There is already a flow called {name}."
    return None


def _next_position(model, assistant: Assistant) -> int:
    top = model.objects.filter(assistant=assistant).aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


@transaction.atomic
def create_flow(
    assistant: Assistant,
    *,
    name: str,
    description: str,
    title: str = "",
    steps: list | None = None,
    user=None,
) -> Flow:
    definition: dict = {}
    if title:
        definition["name"] = title
    definition["description"] = description
    definition["steps"] = steps or [dict(step_ops.PLACEHOLDER_STEP)]
    canonical, _ = validate_flow(assistant, name, definition)
    flow = Flow.objects.create(
        assistant=assistant,
        name=name,
        position=_next_position(Flow, assistant),
        title=title,
        description=description,
        definition=canonical,
        updated_by=user if user is not None and user.is_authenticated else None,
    )
    record_version(flow, user, "Created")
    return flow


@transaction.atomic
def duplicate_flow(flow: Flow, *, name: str, user=None) -> Flow:
    definition = copy.deepcopy(flow.definition)
    canonical, _ = validate_flow(flow.assistant, name, definition)
    copy_ = Flow.objects.create(
        assistant=flow.assistant,
        name=name,
        position=_next_position(Flow, flow.assistant),
        title=flow.title,
        description=flow.description,
        definition=canonical,
        updated_by=user if user is not None and user.is_authenticated else None,
    )
    record_version(copy_, user, f"Duplicated from {flow.name}")
    return copy_


def _retarget(steps: list, old: str, new: str) -> bool:
    changed = False
    for view in formats.iter_step_views(formats.step_views(steps)):
        if view.kind in ("link", "call") and view.data.get(view.kind) == old:
            view.data[view.kind] = new
            changed = True
    return changed


@transaction.atomic
def rename_flow(flow: Flow, *, name: str, user=None) -> Flow:
    """Give the flow a new id; links and calls to it in other flows follow, and so does its
    history."""
    old = flow.name
    if name == old:
        return flow
    others = list(Flow.objects.filter(assistant=flow.assistant).exclude(pk=flow.pk))
    changed = []
    for other in others:
        definition = copy.deepcopy(other.definition)
        if _retarget(definition.get("steps") or [], old, name):
            changed.append((other, definition))
    renamed = parse_definition(name, flow.definition)
    replacements = {o.name: parse_definition(o.name, d) for o, d in changed}

    def change(project: formats.Project) -> None:
        project.flows = [
            renamed if f.id == old else replacements.get(f.id, f) for f in project.flows
        ]

    check_change(flow.assistant, change, f"flows.{name}")
    FlowVersion.objects.filter(assistant=flow.assistant, flow_name=old).update(flow_name=name)
    flow.name = name
    flow.updated_at = timezone.now()
    flow.updated_by = user if user is not None and user.is_authenticated else None
    flow.save(update_fields=["name", "updated_at", "updated_by"])
    record_version(flow, user, f"Renamed from {old}")
    for other, _definition in changed:
        _store(other, flow_to_dict(replacements[other.name]), user, f"Follows rename of {old}")
    return flow


@transaction.atomic
def delete_flow(flow: Flow) -> None:
    """Delete the flow unless another flow links to it or calls it."""
    check_change(
        flow.assistant,
        lambda project: setattr(project, "flows", [f for f in project.flows if f.id != flow.name]),
        f"flows.{flow.name}",
    )
    flow.delete()


@transaction.atomic
def restore_version(flow: Flow, version: FlowVersion, *, user=None) -> Flow:
    canonical, _ = validate_flow(flow.assistant, flow.name, version.definition)
    return _store(
        flow, canonical, user, f"Restored the version of {version.created_at:%Y-%m-%d %H:%M}"
    )


def record_import_versions(assistant: Assistant, before: dict[str, dict]) -> None:
    """Called by apps.projects.content.replace_content after an import: a version for every
    flow the import added or changed (`before` maps flow ids to their old definitions)."""
    versions = [
        FlowVersion(
            assistant=assistant, flow_name=flow.name, definition=flow.definition, summary="Imported"
        )
        for flow in Flow.objects.filter(assistant=assistant).only("name", "definition")
        if before.get(flow.name) != flow.definition
    ]
    FlowVersion.objects.bulk_create(versions, batch_size=500)


# --------------------------------------------------------------------------------------------
# Responses, slots, custom actions


def _replace_named(items: list, item, old_name: str | None, key: str = "name") -> list:
    target = old_name or getattr(item, key)
    for index, existing in enumerate(items):
        if getattr(existing, key) == target:
            return [*items[:index], item, *items[index + 1 :]]
    return [*items, item]


def _drop_named(items: list, name: str) -> list:
    return [i for i in items if i.name != name]


@transaction.atomic
def save_response(
    assistant: Assistant, *, name: str, variations: list, old: Response | None = None
) -> Response:
    """Create or update a response (renaming it when `old` has another name)."""
    collector = ProblemCollector(file=None)
    parsed = parse_responses({name: copy.deepcopy(variations)}, collector)
    if collector.has_errors or not parsed:
        raise ContentInvalid([p for p in collector.problems if p.severity == "error"])
    response = parsed[0]
    old_name = old.name if old else None
    check_change(
        assistant,
        lambda project: setattr(
            project.domain,
            "responses",
            _replace_named(project.domain.responses, response, old_name),
        ),
        f"responses.{name}",
    )
    if old is None:
        return Response.objects.create(
            assistant=assistant,
            name=name,
            variations=variations,
            position=_next_position(Response, assistant),
        )
    old.name = name
    old.variations = variations
    old.save(update_fields=["name", "variations"])
    return old


@transaction.atomic
def delete_response(response: Response) -> None:
    check_change(
        response.assistant,
        lambda project: setattr(
            project.domain, "responses", _drop_named(project.domain.responses, response.name)
        ),
        f"responses.{response.name}",
    )
    response.delete()


def slot_spec(name: str, definition: dict) -> SlotSpec:
    """The engine's view of a slot definition; raises ContentInvalid on a schema problem."""
    from engine.formats.domain import parse_domain

    collector = ProblemCollector(file=None)
    domain = parse_domain({"slots": {name: copy.deepcopy(definition)}}, collector)
    if collector.has_errors or not domain.slots:
        raise ContentInvalid([p for p in collector.problems if p.severity == "error"])
    return domain.slots[0]


@transaction.atomic
def save_slot(
    assistant: Assistant, *, name: str, definition: dict, old: Slot | None = None
) -> Slot:
    spec = slot_spec(name, definition)
    old_name = old.name if old else None
    check_change(
        assistant,
        lambda project: setattr(
            project.domain, "slots", _replace_named(project.domain.slots, spec, old_name)
        ),
        f"slots.{name}",
    )
    if old is None:
        return Slot.objects.create(
            assistant=assistant,
            name=name,
            type=spec.type,
            definition=definition,
            position=_next_position(Slot, assistant),
        )
    old.name, old.type, old.definition = name, spec.type, definition
    old.save(update_fields=["name", "type", "definition"])
    return old


@transaction.atomic
def delete_slot(slot: Slot) -> None:
    check_change(
        slot.assistant,
        lambda project: setattr(
            project.domain, "slots", _drop_named(project.domain.slots, slot.name)
        ),
        f"slots.{slot.name}",
    )
    slot.delete()


@transaction.atomic
def save_action(
    assistant: Assistant, *, name: str, description: str, old: CustomAction | None = None
) -> CustomAction:
    send_domain = (old.definition or {}).get("send_domain") if old else None
    action = Action(name=name, send_domain=send_domain)
    old_name = old.name if old else None
    check_change(
        assistant,
        lambda project: setattr(
            project.domain, "actions", _replace_named(project.domain.actions, action, old_name)
        ),
        f"actions.{name}",
    )
    if old is None:
        return CustomAction.objects.create(
            assistant=assistant,
            name=name,
            description=description,
            position=_next_position(CustomAction, assistant),
        )
    old.name, old.description = name, description
    old.save(update_fields=["name", "description"])
    return old


@transaction.atomic
def delete_action(action: CustomAction) -> None:
    check_change(
        action.assistant,
        lambda project: setattr(
            project.domain, "actions", _drop_named(project.domain.actions, action.name)
        ),
        "actions.__none__",
    )
    action.delete()
