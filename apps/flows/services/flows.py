"""Changes to flows (issue 7): create, duplicate, rename, delete, edit steps, restore a version.

Every change is checked before it is stored (apps.projects.content.checks.check_change: build
the assistant's project with the change applied and validate it) and refused with
`ContentInvalid` when it has an error or breaks another item. Each change is one transaction
and records a `FlowVersion`.

Every stored change moves the flow's `revision` on by one, as a compare-and-swap (``UPDATE ...
WHERE revision = <the revision read>``): of two requests racing on the same revision only one
is stored, the other raises `StaleFlow`. An edit made on a page drawn at an older revision
passes that revision (`revision=`) and is refused with `StaleFlow` before anything is applied.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.flows import steps as step_ops
from apps.flows.models import CustomAction, Flow, FlowVersion, Response, Slot
from apps.flows.services.domain import next_position, parse_response, replace_named, slot_spec
from apps.projects.content.checks import (
    ContentInvalid,
    ShownProblem,
    check_change,
    relative_problems,
)
from apps.projects.models import Assistant
from engine import formats


class StaleFlow(Exception):
    """The flow changed since the edit's page was drawn (or while the edit was being checked):
    the edit is refused, never applied to what the flow has become."""

    message = "This flow changed since you opened it."


def check_revision(flow: Flow, revision: int | None) -> None:
    """Refuse an edit made on `revision` when the flow is at another one."""
    if revision is not None and revision != flow.revision:
        raise StaleFlow(StaleFlow.message)


def parse_definition(name: str, definition: dict) -> formats.Flow:
    """The flow a definition describes; raises ContentInvalid on a schema problem."""
    collector = formats.ProblemCollector(file=None)
    flows = formats.parse_flows({name: copy.deepcopy(definition)}, collector)
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
    action_descriptions: dict[str, str] = field(default_factory=dict)  # new action -> text

    def apply(self, project: formats.Project) -> None:
        domain = project.domain
        for name, variations in self.responses.items():
            domain.responses = replace_named(
                domain.responses, parse_response(name, variations), None
            )
        for name, definition in self.slots.items():
            domain.slots = replace_named(domain.slots, slot_spec(name, definition), None)
        for name in self.actions:
            domain.actions = replace_named(domain.actions, formats.Action(name=name), None)

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
                    position=next_position(Response, assistant),
                )
        for name, definition in self.slots.items():
            Slot.objects.update_or_create(
                assistant=assistant,
                name=name,
                defaults={
                    "type": definition.get("type", "any"),
                    "definition": definition,
                    "position": next_position(Slot, assistant),
                },
            )
        for name in self.actions:
            CustomAction.objects.get_or_create(
                assistant=assistant,
                name=name,
                defaults={
                    "position": next_position(CustomAction, assistant),
                    "description": self.action_descriptions.get(name, ""),
                },
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
    return formats.flow_to_dict(flow), relative_problems(problems, f"flows.{name}")


def record_version(flow: Flow, user, summary: str) -> FlowVersion:
    return FlowVersion.objects.create(
        assistant_id=flow.assistant_id,
        flow_name=flow.name,
        definition=flow.definition,
        summary=summary[:255],
        created_by=user if user is not None and user.is_authenticated else None,
    )


def _user(user):
    return user if user is not None and user.is_authenticated else None


def _swap(flow: Flow, **fields) -> None:
    """Store `fields` on the flow and move its revision on, if it is still at the revision it
    was read at; StaleFlow (the transaction is rolled back) when another change came first."""
    stored = Flow.objects.filter(pk=flow.pk, revision=flow.revision).update(
        revision=F("revision") + 1, **fields
    )
    if not stored:
        raise StaleFlow(StaleFlow.message)
    for name, value in fields.items():
        setattr(flow, name, value)
    flow.revision += 1


def _store(flow: Flow, definition: dict, user, summary: str) -> Flow:
    _swap(
        flow,
        definition=definition,
        title=definition.get("name") or "",
        description=definition.get("description") or "",
        updated_at=timezone.now(),
        updated_by=_user(user),
    )
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
    revision: int | None = None,
) -> Flow:
    """Validate and store a new definition for `flow` (with the domain items it creates),
    recording a version. `dry_run` validates only (the builder's live validation). `revision`:
    the revision the edit was made on (StaleFlow unless the flow is still there)."""
    check_revision(flow, revision)
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
    revision: int | None = None,
) -> Flow:
    """Apply an operation of apps.flows.steps to the flow's steps and save the result."""
    check_revision(flow, revision)
    definition = copy.deepcopy(flow.definition)
    definition["steps"] = operation(definition.get("steps") or [])
    return save_flow(
        flow,
        definition,
        user=user,
        summary=summary,
        additions=additions,
        dry_run=dry_run,
        revision=revision,
    )


def check_flow_name(assistant: Assistant, name: str, *, exclude: Flow | None = None) -> str | None:
    """Why `name` cannot be a new flow id, or None."""
    if not formats.FLOW_ID_RE.match(name):
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
        position=next_position(Flow, assistant),
        title=title,
        description=description,
        definition=canonical,
        updated_by=user if user is not None and user.is_authenticated else None,
    )
    record_version(flow, user, "Created")
    return flow


def copy_title(flow: Flow) -> str:
    """A display name for a copy of `flow` that no other flow of its assistant has:
    "Transfer money (copy)", then "(copy 2)", ..."""
    base = flow.title or flow.name
    taken = set(Flow.objects.filter(assistant=flow.assistant).values_list("title", flat=True))
    number = 1
    while True:
        suffix = " (copy)" if number == 1 else f" (copy {number})"
        title = base[: formats.limits.TITLE - len(suffix)] + suffix
        if title not in taken:
            return title
        number += 1


@transaction.atomic
def duplicate_flow(flow: Flow, *, name: str, user=None) -> Flow:
    """A copy of `flow` as a new draft flow `name`, with a display name of its own."""
    definition = copy.deepcopy(flow.definition)
    title = copy_title(flow)
    definition = {"name": title, **{k: v for k, v in definition.items() if k != "name"}}
    canonical, _ = validate_flow(flow.assistant, name, definition)
    copy_ = Flow.objects.create(
        assistant=flow.assistant,
        name=name,
        position=next_position(Flow, flow.assistant),
        title=title,
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
def rename_flow(
    flow: Flow,
    *,
    name: str,
    user=None,
    revision: int | None = None,
    summary: str | None = None,
) -> Flow:
    """Give the flow a new id; links and calls to it in other flows follow, and so does its
    history. `summary`: what its version says (default "Renamed from <old id>")."""
    check_revision(flow, revision)
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
    _swap(flow, name=name, updated_at=timezone.now(), updated_by=_user(user))
    record_version(flow, user, summary or f"Renamed from {old}")
    for other, _definition in changed:
        _store(
            other, formats.flow_to_dict(replacements[other.name]), user, f"Follows rename of {old}"
        )
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
def restore_version(
    flow: Flow,
    version: FlowVersion,
    *,
    user=None,
    summary: str | None = None,
    revision: int | None = None,
) -> Flow:
    check_revision(flow, revision)
    canonical, _ = validate_flow(flow.assistant, flow.name, version.definition)
    if summary is None:
        summary = f"Restored the version of {version.created_at:%Y-%m-%d %H:%M}"
    return _store(flow, canonical, user, summary)
