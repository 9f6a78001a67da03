"""Changes to the domain items the flows use: responses, slots and custom actions.

Each change goes through apps.projects.content.checks.check_change (the domain with the item in
place must validate, and no other item may break) and is one transaction.
"""

from __future__ import annotations

import copy

from django.db import models, transaction
from django.db.models import Max

from apps.flows.models import CustomAction, Response, Slot
from apps.projects.content.checks import ContentInvalid, check_change
from apps.projects.models import Assistant
from engine import formats


def next_position(model, assistant: Assistant) -> int:
    """The position after the assistant's last item of `model` (new items go last)."""
    top = model.objects.filter(assistant=assistant).aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


def replace_named(items: list, item, old_name: str | None, key: str = "name") -> list:
    """`items` with `item` in place of the one named `old_name` (or its own name), else added."""
    target = old_name or getattr(item, key)
    for index, existing in enumerate(items):
        if getattr(existing, key) == target:
            return [*items[:index], item, *items[index + 1 :]]
    return [*items, item]


def _drop_named(items: list, name: str) -> list:
    return [i for i in items if i.name != name]


def parse_response(name: str, variations: list) -> formats.Response:
    """The engine's view of a response; raises ContentInvalid on a schema problem."""
    collector = formats.ProblemCollector(file=None)
    parsed = formats.parse_responses({name: copy.deepcopy(variations)}, collector)
    if collector.has_errors or not parsed:
        raise ContentInvalid([p for p in collector.problems if p.severity == "error"])
    return parsed[0]


def slot_spec(name: str, definition: dict) -> formats.Slot:
    """The engine's view of a slot definition; raises ContentInvalid on a schema problem."""
    collector = formats.ProblemCollector(file=None)
    domain = formats.parse_domain({"slots": {name: copy.deepcopy(definition)}}, collector)
    if collector.has_errors or not domain.slots:
        raise ContentInvalid([p for p in collector.problems if p.severity == "error"])
    return domain.slots[0]


def _save_domain_item(
    assistant: Assistant,
    section: str,
    spec,
    *,
    model: type[models.Model],
    old: models.Model | None,
    fields: dict,
):
    """Check the domain with `spec` in the `section` list (in place of `old`, or added), then
    store `fields` on `old`, or on a new row of `model` placed last."""
    old_name = old.name if old else None
    check_change(
        assistant,
        lambda project: setattr(
            project.domain,
            section,
            replace_named(getattr(project.domain, section), spec, old_name),
        ),
        f"{section}.{spec.name}",
    )
    if old is None:
        return model.objects.create(
            assistant=assistant, position=next_position(model, assistant), **fields
        )
    for key, value in fields.items():
        setattr(old, key, value)
    old.save(update_fields=list(fields))
    return old


def _delete_domain_item(item, section: str, focus: str | None = None) -> None:
    """Delete `item` unless the domain without it breaks another item."""
    check_change(
        item.assistant,
        lambda project: setattr(
            project.domain, section, _drop_named(getattr(project.domain, section), item.name)
        ),
        focus or f"{section}.{item.name}",
    )
    item.delete()


@transaction.atomic
def save_response(
    assistant: Assistant, *, name: str, variations: list, old: Response | None = None
) -> Response:
    """Create or update a response (renaming it when `old` has another name)."""
    response = parse_response(name, variations)
    return _save_domain_item(
        assistant,
        "responses",
        response,
        model=Response,
        old=old,
        fields={"name": name, "variations": variations},
    )


@transaction.atomic
def delete_response(response: Response) -> None:
    _delete_domain_item(response, "responses")


@transaction.atomic
def save_slot(
    assistant: Assistant, *, name: str, definition: dict, old: Slot | None = None
) -> Slot:
    spec = slot_spec(name, definition)
    return _save_domain_item(
        assistant,
        "slots",
        spec,
        model=Slot,
        old=old,
        fields={"name": name, "type": spec.type, "definition": definition},
    )


@transaction.atomic
def delete_slot(slot: Slot) -> None:
    _delete_domain_item(slot, "slots")


@transaction.atomic
def save_action(
    assistant: Assistant, *, name: str, description: str, old: CustomAction | None = None
) -> CustomAction:
    send_domain = (old.definition or {}).get("send_domain") if old else None
    action = formats.Action(name=name, send_domain=send_domain)
    return _save_domain_item(
        assistant,
        "actions",
        action,
        model=CustomAction,
        old=old,
        fields={"name": name, "description": description},
    )


@transaction.atomic
def delete_action(action: CustomAction) -> None:
    # A focus that is no action's path: only errors the deletion adds elsewhere refuse it.
    _delete_domain_item(action, "actions", "actions.__none__")
