"""Changes to NLU data (issue 7). One transaction each."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from apps.nlu.models import Entity, Example, Intent, Synonym
from apps.projects.content.checks import ContentInvalid, check_change
from apps.projects.content.usages import triggering_flows
from engine import formats


def _next_position(queryset) -> int:
    top = queryset.aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


@transaction.atomic
def create_intent(assistant, *, name: str, description: str = "") -> Intent:
    def change(project):
        project.domain.intents = [*project.domain.intents, formats.Intent(name=name)]

    check_change(assistant, change, f"intents.{name}")
    return Intent.objects.create(
        assistant=assistant,
        name=name,
        description=description,
        position=_next_position(Intent.objects.filter(assistant=assistant)),
    )


@transaction.atomic
def create_sub_intent(parent: Intent, *, name: str, examples) -> Intent:
    """Add the retrieval sub-intent ``<parent>/<name>`` with its first `examples` (engine.formats
    Examples). It lives in the NLU data only, as in Rasa: the domain lists the parent."""
    full = f"{parent.name}/{name}"

    def change(project):
        block = formats.IntentExamples(intent=full, examples=list(examples))
        project.nlu.intents = [*project.nlu.intents, block]

    # The new block comes last in the exported NLU data, whose blocks are the intents that have
    # examples: problems about it have that index.
    index = Intent.objects.filter(assistant=parent.assistant, examples__isnull=False).distinct()
    check_change(parent.assistant, change, f"nlu[{index.count()}]")
    intent = Intent.objects.create(
        assistant=parent.assistant,
        name=full,
        in_domain=False,
        position=_next_position(Intent.objects.filter(assistant=parent.assistant)),
    )
    add_examples(intent, examples)
    return intent


@transaction.atomic
def delete_intent(intent: Intent) -> None:
    """Delete the intent and its examples, unless a flow is triggered by it."""

    def change(project):
        project.domain.intents = [i for i in project.domain.intents if i.name != intent.name]
        project.nlu.intents = [b for b in project.nlu.intents if b.intent != intent.name]

    # A trigger on an unknown intent is only a warning for Rasa (the flow can no longer start
    # that way), so the content check lets it pass; deleting it from Studio is refused.
    triggered = triggering_flows(intent.assistant, intent.name)
    if triggered:
        raise ContentInvalid(
            [
                formats.Problem(
                    None,
                    None,
                    f"flows.{name}.nlu_trigger",
                    f"flow '{name}' starts on the intent '{intent.name}'",
                )
                for name in triggered
            ]
        )
    check_change(intent.assistant, change, f"intents.{intent.name}")
    intent.delete()


@transaction.atomic
def add_examples(intent: Intent, examples) -> list[Example]:
    """`examples` are engine.formats Examples (text plus annotations)."""
    position = _next_position(Example.objects.filter(intent=intent))
    rows = [
        Example(
            intent=intent,
            text=example.text,
            entities=[
                {
                    k: v
                    for k, v in {
                        "start": e.start,
                        "end": e.end,
                        "value": e.value,
                        "entity": e.entity,
                        "role": e.role,
                        "group": e.group,
                    }.items()
                    if v is not None
                }
                for e in example.entities
            ],
            position=position + i,
        )
        for i, example in enumerate(examples)
    ]
    return Example.objects.bulk_create(rows)


@transaction.atomic
def annotate(
    example: Example, *, start: int, end: int, entity: str, role: str = "", synonym: str = ""
) -> Example:
    """Mark example.text[start:end] as `entity` (replacing an annotation of the same span).
    A synonym stores its value on the annotation and adds the text to the synonym's list."""
    span = example.text[start:end]
    annotation = {"start": start, "end": end, "value": synonym or span, "entity": entity}
    if role:
        annotation["role"] = role
    kept = [e for e in example.entities if (e["start"], e["end"]) != (start, end)]
    example.entities = sorted([*kept, annotation], key=lambda e: (e["start"], e["end"]))
    example = _save_entities(example)
    if synonym and synonym != span:
        row, _ = Synonym.objects.get_or_create(
            assistant=example.intent.assistant,
            name=synonym,
            defaults={
                "examples": [],
                "position": _next_position(
                    Synonym.objects.filter(assistant=example.intent.assistant)
                ),
            },
        )
        if span not in row.examples:
            row.examples = [*row.examples, span]
            row.save(update_fields=["examples"])
    return example


@transaction.atomic
def remove_annotation(example: Example, index: int) -> Example:
    if 0 <= index < len(example.entities):
        example.entities = [e for i, e in enumerate(example.entities) if i != index]
        example = _save_entities(example)
    return example


def _save_entities(example: Example) -> Example:
    """Save a changed annotation; when the example now equals another one of its intent (same
    text, same annotations), the two are one example: keep the other."""
    twin = (
        Example.objects.filter(intent=example.intent, text=example.text, entities=example.entities)
        .exclude(pk=example.pk)
        .first()
    )
    if twin is not None:
        example.delete()
        return twin
    example.save(update_fields=["entities"])
    return example


@transaction.atomic
def move_examples(examples, target: Intent) -> int:
    """Move examples to another intent; an example the target already has is dropped."""
    existing = {
        (text, _entities_key(entities))
        for text, entities in Example.objects.filter(intent=target).values_list("text", "entities")
    }
    position = _next_position(Example.objects.filter(intent=target))
    moved = 0
    for example in examples:
        if (example.text, _entities_key(example.entities)) in existing:
            example.delete()
            continue
        example.intent = target
        example.position = position + moved
        example.save(update_fields=["intent", "position"])
        moved += 1
    return moved


@transaction.atomic
def save_entity(assistant, *, name: str, roles: list, groups: list, old: Entity | None) -> Entity:
    definition = dict(old.definition) if old else {}
    for key, value in (("roles", roles), ("groups", groups)):
        if value:
            definition[key] = value
        else:
            definition.pop(key, None)
    if old is None:
        return Entity.objects.create(
            assistant=assistant,
            name=name,
            definition=definition,
            position=_next_position(Entity.objects.filter(assistant=assistant)),
        )
    if old.name != name or definition != old.definition:
        _check_entity_change(old, name, definition)
    old.name, old.definition = name, definition
    old.save(update_fields=["name", "definition"])
    return old


def _check_entity_change(old: Entity, name: str, definition: dict) -> None:
    spec = formats.Entity(name=name, roles=definition.get("roles"), groups=definition.get("groups"))

    def change(project):
        project.domain.entities = [
            spec if e.name == old.name else e for e in project.domain.entities
        ]

    check_change(old.assistant, change, f"entities.{name}")


@transaction.atomic
def delete_entity(entity: Entity) -> None:
    def change(project):
        project.domain.entities = [e for e in project.domain.entities if e.name != entity.name]

    check_change(entity.assistant, change, f"entities.{entity.name}")
    entity.delete()


@transaction.atomic
def save_lexicon(model, assistant, *, item_id, name: str, values: list):
    if item_id:
        item = model.objects.filter(assistant=assistant, pk=item_id).first()
        if item is None:
            raise ContentInvalid([])
        item.name, item.examples = name, values
        item.save(update_fields=["name", "examples"])
        return item
    return model.objects.create(
        assistant=assistant,
        name=name,
        examples=values,
        position=_next_position(model.objects.filter(assistant=assistant)),
    )


def _entities_key(entities) -> str:
    import json

    return json.dumps(entities, sort_keys=True)
