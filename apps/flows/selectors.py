"""Named reads for the flow builder and the CMS pages: where each item is used."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.urls import reverse

from apps.flows import canvas
from apps.flows import steps as step_ops
from apps.flows.models import CustomAction, Flow, Response, Slot
from engine import formats
from engine.formats.conditions import ConditionError, parse_condition, referenced_slots


@dataclass(frozen=True)
class Usage:
    flow: str
    step_id: str
    path: str  # the step's path in the flow, "" for the flow itself
    what: str  # e.g. "collect step", "branch condition"

    @property
    def label(self) -> str:
        if not self.flow:
            return f"response {self.path}"
        return f"{self.flow} · {self.step_id}" if self.step_id else self.flow

    def url(self, assistant_name: str) -> str:
        if not self.flow:  # a response's condition; `path` is the response name
            return reverse("flows:response_edit", args=[assistant_name, self.path])
        base = reverse("flows:detail", args=[assistant_name, self.flow])
        return f"{base}#step-{self.step_id}" if self.step_id else base


def distinct_flows(found: list[Usage]) -> list[Usage]:
    """One usage per flow (its first), for chips in lists: a flow that uses a slot in three
    steps is one chip."""
    seen: set[str] = set()
    out = []
    for usage in found:
        key = usage.flow or usage.label
        if key not in seen:
            seen.add(key)
            out.append(usage)
    return out


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


def _slots_in(condition) -> set[str]:
    if condition is None or isinstance(condition, bool):
        return set()
    try:
        return referenced_slots(parse_condition(condition))
    except ConditionError:
        return set()


def usages(assistant) -> dict[tuple[str, str], list[Usage]]:
    """{(kind, name): [Usage]} for kind in response, slot, action, flow, intent."""
    found: dict[tuple[str, str], list[Usage]] = defaultdict(list)
    flows = Flow.objects.filter(assistant=assistant).only("name", "definition")
    for flow in flows:
        definition = flow.definition or {}
        for slot in _slots_in(definition.get("if")):
            found[("slot", slot)].append(Usage(flow.name, "", "", "flow guard"))
        for trigger in definition.get("nlu_trigger") or []:
            intent = trigger.get("intent") if isinstance(trigger, dict) else trigger
            if isinstance(intent, dict):
                intent = intent.get("name")
            if intent:
                found[("intent", intent)].append(Usage(flow.name, "", "", "NLU trigger"))
        for slot in definition.get("persisted_slots") or []:
            found[("slot", slot)].append(Usage(flow.name, "", "", "persisted slot"))
        views = formats.step_views(definition.get("steps") or [], flow.name)
        for view in formats.iter_step_views(views):
            use = lambda kind, name, what, f=flow.name, v=view: found[(kind, name)].append(  # noqa: E731
                Usage(f, v.id, v.path, what)
            )
            data = view.data
            if view.kind == "action" and view.target:
                kind = "response" if view.target.startswith("utter_") else "action"
                use(kind, view.target, "message step" if kind == "response" else "action step")
            elif view.kind == "collect" and view.target:
                use("slot", view.target, "collect step")
                use("response", data.get("utter") or f"utter_ask_{view.target}", "collect question")
                for rejection in data.get("rejections") or []:
                    if isinstance(rejection, dict):
                        if rejection.get("utter"):
                            use("response", rejection["utter"], "collect rejection")
                        for slot in _slots_in(rejection.get("if")):
                            use("slot", slot, "rejection condition")
            elif view.kind in ("link", "call") and view.target:
                use("flow", view.target, f"{view.kind} step")
            elif view.kind == "set_slots":
                for slot, _ in view.set_slots:
                    use("slot", slot, "set slots step")
            for branch in view.branches or []:
                for slot in _slots_in(branch.condition):
                    use("slot", slot, "branch condition")
    for response in Response.objects.filter(assistant=assistant).only("name", "variations"):
        for variation in response.variations or []:
            condition = variation.get("condition")
            if isinstance(condition, str):
                for slot in _slots_in(condition):
                    found[("slot", slot)].append(Usage("", "", response.name, "response condition"))
    return found


def response_variations(assistant) -> dict[str, list]:
    """{response name: its variations}."""
    return dict(Response.objects.filter(assistant=assistant).values_list("name", "variations"))


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
        "step_choices": canvas.step_choices(steps, flow.name),
        "explicit_ids": step_ops.step_ids(steps),
    }
