"""Named reads for the flow builder and the CMS pages: problem counts, a flow's problems, slot
types as people read them, what a step form picks from. (Where each item is used:
apps.projects.content.usages.)"""

from __future__ import annotations

from apps.flows import canvas
from apps.flows import steps as step_ops
from apps.flows.models import CustomAction, Flow, Response, Slot
from apps.projects.content.checks import ShownProblem, relative_problems
from apps.projects.content.export import export_project
from apps.projects.content.usages import usages
from apps.projects.models import Assistant, AssistantFiles
from engine import formats


def flow_problems(assistant: Assistant, flow: Flow) -> list[ShownProblem]:
    """The stored flow's errors and warnings, relative to the flow."""
    problems = formats.validate_project(export_project(assistant))
    return relative_problems(problems, f"flows.{flow.name}")


def problem_counts(assistant: Assistant) -> dict[str, tuple[int, int]]:
    """{flow id: (errors, warnings)} for every flow of the assistant."""
    counts: dict[str, list[int]] = {}
    for p in formats.validate_project(export_project(assistant)):
        if not p.path.startswith("flows."):
            continue
        name = p.path[6:].split(".", 1)[0].split("[", 1)[0]
        pair = counts.setdefault(name, [0, 0])
        pair[0 if p.severity == "error" else 1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def slot_type_summary(slot_type: str, definition: dict) -> str:
    """A slot's type as a person reads it: "float (min -50000, max 10000000)",
    "categorical: small, medium, large", "text"."""
    definition = definition if isinstance(definition, dict) else {}
    if slot_type in ("categorical", "strict_categorical"):
        values = definition.get("values")
        if isinstance(values, list) and values:
            shown = ", ".join(
                "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for v in values
            )
            return f"{slot_type}: {shown}"
        return slot_type
    if slot_type == "float":
        bounds = [
            f"{label} {_number(definition[key])}"
            for key, label in (("min_value", "min"), ("max_value", "max"))
            if isinstance(definition.get(key), (int, float))
            and not isinstance(definition.get(key), bool)
        ]
        return f"float ({', '.join(bounds)})" if bounds else "float"
    return slot_type


def response_variations(assistant) -> dict[str, list]:
    """{response name: its variations}."""
    return dict(Response.objects.filter(assistant=assistant).values_list("name", "variations"))


def sub_agents(assistant) -> dict[str, formats.SubAgent]:
    """The assistant's sub-agents (``sub_agents/<folder>/config.yml``), by agent name."""
    files = AssistantFiles.objects.filter(assistant=assistant).first()
    if files is None:
        return {}
    return formats.sub_agents({**files.prompts, **files.other_files})


def step_context(assistant, flow) -> dict:
    """The names a step form of `flow` picks from: slots with their types, responses (with
    their variations), custom actions, the other flows, the steps to jump to, the step ids."""
    steps = flow.definition.get("steps") or []
    responses = response_variations(assistant)
    return {
        "slots": dict(Slot.objects.filter(assistant=assistant).values_list("name", "type")),
        "responses": sorted(responses),
        "response_variations": responses,
        "actions": list(
            CustomAction.objects.filter(assistant=assistant).values_list("name", flat=True)
        ),
        "flows": list(
            Flow.objects.filter(assistant=assistant)
            .exclude(pk=flow.pk)
            .values_list("name", flat=True)
        ),
        "sub_agents": sorted(sub_agents(assistant)),
        "step_choices": canvas.step_choices(steps, flow.name),
        "explicit_ids": step_ops.step_ids(steps),
        "slot_values": categorical_values(assistant),
        # How many places use each response: the panel says when a change reaches others.
        "response_uses": {
            name: len(found)
            for (kind, name), found in usages(assistant).items()
            if kind == "response"
        },
        "flow_titles": dict(
            Flow.objects.filter(assistant=assistant)
            .exclude(pk=flow.pk)
            .values_list("name", "title")
        ),
    }


def categorical_values(assistant) -> dict[str, list]:
    """{slot name: its values} for the slots a condition's value is picked from a list for:
    the categorical slots (their values) and the bool slots (true and false)."""
    out: dict[str, list] = {}
    for name, kind, definition in Slot.objects.filter(
        assistant=assistant, type__in=("categorical", "strict_categorical", "bool")
    ).values_list("name", "type", "definition"):
        if kind == "bool":
            out[name] = [True, False]
            continue
        values = definition.get("values") if isinstance(definition, dict) else None
        if isinstance(values, list) and values:
            out[name] = values
    return out
