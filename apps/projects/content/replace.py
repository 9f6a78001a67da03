"""Importing Rasa files into an assistant: parse, merge, validate, replace the rows.

Import = parse (engine.formats) -> merge with what is stored (partial uploads) -> validate ->
replace the rows in one transaction. Any problem raises FormatError before anything is written,
so the assistant stays exactly as it was. (The background import jobs that call this are
apps.projects.imports.)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.flows.models import CustomAction, Flow, FlowVersion, Response, Slot
from apps.nlu.models import Entity, Example, Intent, LookupTable, Regex, Synonym
from apps.projects.content.export import export_project
from apps.projects.models import Assistant, AssistantFiles
from apps.projects.secrets import allowed_env_names
from engine import formats


@dataclass
class ImportReport:
    counts: dict[str, int]
    warnings: list[formats.Problem] = field(default_factory=list)


def import_files(
    assistant: Assistant,
    files: Mapping[str, bytes | str],
    *,
    partial: bool = False,
    progress=None,
    uploaded: formats.Project | None = None,
) -> ImportReport:
    """Replace the assistant's content with `files` (or, when `partial`, update only the items
    and files given). Raises FormatError with every problem found; writes nothing then.
    `progress(percent, message)`, when given, is called before each stage. `uploaded` is
    `files` already read by `formats.load_project_files`, when the caller has it."""
    progress = progress or (lambda percent, message: None)
    progress(5, f"reading {len(files)} files")
    if uploaded is None:
        uploaded = formats.load_project_files(files)
    if not uploaded.rasa_files:
        raise formats.FormatError([no_rasa_files_problem(uploaded)])
    if partial:
        # Merging goes by name, so an item given twice in the upload would silently win once.
        duplicates = formats.duplicate_problems(uploaded)
        if duplicates:
            raise formats.FormatError(duplicates)
    project = merge_projects(export_project(assistant), uploaded) if partial else uploaded
    progress(30, "checking the project")
    problems = formats.validate_project(project)
    problems += formats.check_project_env(project, allowed_env_names(assistant))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise formats.FormatError(errors)
    warnings = [p for p in [*uploaded.load_warnings, *problems] if p.severity != "error"]
    progress(60, "writing the content")
    counts = replace_content(assistant, project)
    return ImportReport(counts=counts, warnings=warnings)


def no_rasa_files_problem(uploaded: formats.Project) -> formats.Problem:
    """The error for an upload that holds nothing Studio imports (which, as a full replace,
    would otherwise empty the assistant)."""
    message = (
        "the upload holds no Rasa project file (domain.yml, flows, NLU data, config.yml or "
        "endpoints.yml), so nothing was imported"
    )
    if uploaded.kept_files:
        message += "; it holds only files Studio keeps without reading them: " + ", ".join(
            sorted(uploaded.kept_files)
        )
    if uploaded.ignored_files:
        message += f"; {formats.ignored_summary(uploaded.ignored_files)}"
    return formats.Problem(None, None, "", message)


def merge_projects(stored: formats.Project, given: formats.Project) -> formats.Project:
    """`stored` with every item of `given` put in place of the stored item of the same name
    (or added). Files given whole (config.yml, endpoints.yml, prompts, kept files such as
    documents, tests and code) replace the stored ones of the same path."""
    merged = copy.deepcopy(stored)
    d, g = merged.domain, given.domain
    d.intents = _merge_named(d.intents, g.intents)
    d.entities = _merge_named(d.entities, g.entities)
    d.slots = _merge_named(d.slots, g.slots)
    d.responses = _merge_named(d.responses, g.responses)
    d.actions = _merge_named(d.actions, g.actions)
    for key in ("version", "forms", "session_config", "config"):
        if getattr(g, key) is not None:
            setattr(d, key, getattr(g, key))
    d.extra.update(g.extra)
    merged.flows = _merge_named(merged.flows, given.flows, key="id")
    merged.nlu.intents = _merge_named(merged.nlu.intents, given.nlu.intents, key="intent")
    merged.nlu.synonyms = _merge_named(merged.nlu.synonyms, given.nlu.synonyms)
    merged.nlu.regexes = _merge_named(merged.nlu.regexes, given.nlu.regexes)
    merged.nlu.lookups = _merge_named(merged.nlu.lookups, given.nlu.lookups)
    if given.config is not None:
        merged.config = given.config
    if given.endpoints is not None:
        merged.endpoints = given.endpoints
    merged.prompts.update(given.prompts)
    # Kept files go by path, like items by name: a file given replaces the stored one, text or
    # binary (a document saved again as a PDF is no longer text).
    for path in given.other_files:
        merged.binary_files.pop(path, None)
    for path in given.binary_files:
        merged.other_files.pop(path, None)
    merged.other_files.update(given.other_files)
    merged.binary_files.update(given.binary_files)
    merged.source_lines.update(given.source_lines)  # so problems in the upload name their line
    return merged


def _merge_named(stored: list, given: list, key: str = "name") -> list:
    index = {getattr(item, key): i for i, item in enumerate(stored)}
    result = list(stored)
    for item in given:
        name = getattr(item, key)
        if name in index:
            result[index[name]] = item
        else:
            index[name] = len(result)
            result.append(item)
    return result


@transaction.atomic
def replace_content(assistant: Assistant, project: formats.Project) -> dict[str, int]:
    """Replace every content row of the assistant with `project` (validated by the caller)."""
    flows_before = dict(Flow.objects.filter(assistant=assistant).values_list("name", "definition"))
    # A flow's published definition outlives an import of it, as its history does (issue 17).
    published = {
        name: {"published_definition": d, "published_at": at, "published_by_id": by}
        for name, d, at, by in Flow.objects.filter(
            assistant=assistant, published_definition__isnull=False
        ).values_list("name", "published_definition", "published_at", "published_by")
    }
    # The rows are made anew, but each flow's revision goes on from where it was, so an edit
    # made on a page drawn before the import is refused (apps.flows.services.flows).
    revisions = dict(Flow.objects.filter(assistant=assistant).values_list("name", "revision"))
    for model in (Flow, Response, Slot, CustomAction, Intent, Entity, Synonym, Regex, LookupTable):
        model.objects.filter(assistant=assistant).delete()

    domain = project.domain
    now = timezone.now()
    Flow.objects.bulk_create(
        Flow(
            assistant=assistant,
            name=flow.id,
            title=flow.name or "",
            description=flow.description or "",
            definition=formats.flow_to_dict(flow),
            position=i,
            updated_at=now,
            **published.get(flow.id, {}),
            revision=revisions.get(flow.id, 0) + 1,
        )
        for i, flow in enumerate(project.flows)
    )
    Response.objects.bulk_create(
        Response(
            assistant=assistant,
            name=r.name,
            variations=[formats.variation_to_yaml(v) for v in r.variations],
            position=i,
        )
        for i, r in enumerate(domain.responses)
    )
    Slot.objects.bulk_create(
        Slot(
            assistant=assistant,
            name=s.name,
            type=s.type,
            definition=formats.slot_to_yaml(s),
            position=i,
        )
        for i, s in enumerate(domain.slots)
    )
    CustomAction.objects.bulk_create(
        CustomAction(
            assistant=assistant,
            name=a.name,
            definition=_definition(formats.action_to_yaml(a)),
            position=i,
        )
        for i, a in enumerate(domain.actions)
    )
    Entity.objects.bulk_create(
        Entity(
            assistant=assistant,
            name=e.name,
            definition=_definition(formats.entity_to_yaml(e)),
            position=i,
        )
        for i, e in enumerate(domain.entities)
    )

    intents: dict[str, Intent] = {}
    for i, intent in enumerate(domain.intents):
        intents[intent.name] = Intent(
            assistant=assistant,
            name=intent.name,
            definition=_definition(formats.intent_to_yaml(intent)),
            position=i,
        )
    examples: dict[str, list[formats.Example]] = {}
    block_metadata: dict[str, Any] = {}
    for block in project.nlu.intents:
        if block.intent not in intents:
            intents[block.intent] = Intent(
                assistant=assistant, name=block.intent, in_domain=False, position=len(intents)
            )
        examples.setdefault(block.intent, []).extend(block.examples)
        if block.metadata is not None:
            block_metadata[block.intent] = block.metadata
    for name, metadata in block_metadata.items():
        intents[name].nlu_metadata = metadata
    Intent.objects.bulk_create(intents.values())

    rows = []
    for name, items in examples.items():
        seen: set[tuple] = set()
        for position, example in enumerate(items):
            entities = [_annotation(e) for e in example.entities]
            # Rasa warns about duplicates and keeps one; the same text annotated differently
            # is another example, and Rasa keeps both.
            key = (example.text, json.dumps(entities, sort_keys=True))
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                Example(
                    intent=intents[name],
                    text=example.text,
                    entities=entities,
                    metadata=example.metadata,
                    position=position,
                )
            )
    Example.objects.bulk_create(rows, batch_size=1000)

    for model, items in (
        (Synonym, _merge_lists(project.nlu.synonyms)),
        (Regex, _merge_lists(project.nlu.regexes)),
        (LookupTable, _merge_lists(project.nlu.lookups)),
    ):
        model.objects.bulk_create(
            model(assistant=assistant, name=name, examples=values, position=i)
            for i, (name, values) in enumerate(items.items())
        )

    extras = {
        "version": domain.version,
        "forms": domain.forms,
        "session_config": domain.session_config,
        "config": domain.config,
        "extra": domain.extra,
    }
    AssistantFiles.objects.update_or_create(
        assistant=assistant,
        defaults={
            "config_yml": project.config.text if project.config else "",
            "endpoints_yml": project.endpoints.text if project.endpoints else "",
            "prompts": project.prompts,
            "other_files": project.other_files,
            "binary_files": AssistantFiles.encode_binary(project.binary_files),
            "domain_extras": {k: v for k, v in extras.items() if v},
        },
    )
    # Flow history (issue 7): a version for every flow the import added or changed.
    FlowVersion.objects.record_import(assistant, flows_before)
    return {
        "flows": len(project.flows),
        "responses": len(domain.responses),
        "slots": len(domain.slots),
        "actions": len(domain.actions),
        "intents": len(intents),
        "entities": len(domain.entities),
        "examples": len(rows),
        "synonyms": len(project.nlu.synonyms),
        "regexes": len(project.nlu.regexes),
        "lookups": len(project.nlu.lookups),
        **formats.story_counts(project.other_files),
        "documents": len(project.knowledge_files),
        "test files": len(project.test_files),
        "code files": len(project.code_files),
    }


def _definition(yaml_value: Any) -> dict:
    """`name` or `{name: {...}}` as the YAML has it -> the mapping part ({} for a bare name)."""
    if isinstance(yaml_value, dict) and len(yaml_value) == 1:
        return dict(next(iter(yaml_value.values())) or {})
    return {}


def _annotation(entity: formats.EntityAnnotation) -> dict[str, Any]:
    data = {
        "start": entity.start,
        "end": entity.end,
        "value": entity.value,
        "entity": entity.entity,
    }
    if entity.role is not None:
        data["role"] = entity.role
    if entity.group is not None:
        data["group"] = entity.group
    return data


def _merge_lists(items) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for item in items:
        values = merged.setdefault(item.name, [])
        values.extend(v for v in item.examples if v not in values)
    return merged
