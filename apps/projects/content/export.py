"""An assistant's content rows as an `engine.formats` Project, and as Rasa files.

Rows keep each item's definition in the YAML shape (see apps.flows.models), so this module only
moves values from rows into the `engine.formats` dataclasses; it knows nothing of YAML.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from typing import Any

from apps.flows.models import CustomAction, Flow, Response, Slot
from apps.nlu.models import Entity, Example, Intent, LookupTable, Regex, Synonym
from apps.projects.models import Assistant, AssistantFiles
from engine import formats

STORED = "(stored content)"


def export_project(
    assistant: Assistant,
    *,
    published_only: bool = False,
    flow_definitions: Mapping[str, Any] | None = None,
) -> formats.Project:
    """The assistant's content as an engine.formats Project. `published_only`: only the flows
    that were published, each with its published definition (drafts are left out), as a
    training of only published flows has them. `flow_definitions` ({flow id: definition},
    which are not changed) are the flows instead of the stored ones: a training's choice of
    draft, stable or published definitions."""
    files = AssistantFiles.objects.filter(assistant=assistant).first()
    extras = dict(files.domain_extras) if files else {}
    domain_data: dict[str, Any] = {}
    if extras.get("version"):
        domain_data["version"] = extras["version"]
    domain_data["intents"] = [
        _named(i.name, i.definition)
        for i in Intent.objects.filter(assistant=assistant, in_domain=True)
    ]
    domain_data["entities"] = [
        _named(e.name, e.definition) for e in Entity.objects.filter(assistant=assistant)
    ]
    domain_data["slots"] = {s.name: s.definition for s in Slot.objects.filter(assistant=assistant)}
    domain_data["responses"] = {
        r.name: r.variations for r in Response.objects.filter(assistant=assistant)
    }
    domain_data["actions"] = [
        _named(a.name, a.definition) for a in CustomAction.objects.filter(assistant=assistant)
    ]
    for key in ("forms", "session_config", "config"):
        if extras.get(key) is not None:
            domain_data[key] = extras[key]
    domain_data.update(extras.get("extra") or {})

    # The values were just read from the database: nothing else holds them, so they are parsed
    # as they are (the request for a training exports the project, issue 20).
    collector = formats.ProblemCollector(file=STORED)
    domain = formats.parse_domain(domain_data, collector)
    if flow_definitions is None:
        definitions = _flow_definitions(assistant, published_only)
    else:
        definitions = copy.deepcopy(dict(flow_definitions))
    flows = formats.parse_flows(definitions, collector)
    if collector.has_errors:
        # Stored content is validated on the way in; this means a bug, not user input.
        raise formats.FormatError(collector.problems)
    for flow in flows:
        flow.steps = [authored_key_order(step) for step in flow.steps]

    project = formats.Project(domain=domain, flows=flows, nlu=_export_nlu(assistant))
    if files:
        if files.config_yml:
            project.config = formats.ConfigFile.parse(files.config_yml, "config.yml")
        if files.endpoints_yml:
            project.endpoints = formats.EndpointsFile.parse(files.endpoints_yml, "endpoints.yml")
        project.prompts = dict(files.prompts)
        project.other_files = dict(files.other_files)
        project.binary_files = files.binary_contents()
    return project


def _flow_definitions(assistant: Assistant, published_only: bool) -> dict[str, Any]:
    if not published_only:
        rows = Flow.objects.filter(assistant=assistant).values_list("name", "definition")
    else:
        rows = Flow.objects.filter(
            assistant=assistant, published_definition__isnull=False
        ).values_list("name", "published_definition")
    return dict(rows)


def _named(name: str, definition: Any) -> Any:
    return {name: definition} if definition else name


def _export_nlu(assistant: Assistant) -> formats.NluData:
    by_intent: dict[int, list[formats.Example]] = {}
    # Values, not model instances: an assistant has thousands of examples.
    rows = (
        Example.objects.filter(intent__assistant=assistant)
        .order_by("intent_id", "position", "id")
        .values_list("intent_id", "text", "entities", "metadata")
    )
    for intent_id, text, entities, metadata in rows:
        by_intent.setdefault(intent_id, []).append(
            formats.Example(
                text=text,
                entities=[formats.EntityAnnotation(**e) for e in entities],
                metadata=metadata,
            )
        )
    intents = [
        formats.IntentExamples(intent=i.name, examples=by_intent[i.pk], metadata=i.nlu_metadata)
        for i in Intent.objects.filter(assistant=assistant)
        if i.pk in by_intent
    ]
    return formats.NluData(
        intents=intents,
        synonyms=[
            formats.Synonym(s.name, list(s.examples))
            for s in Synonym.objects.filter(assistant=assistant)
        ],
        regexes=[
            formats.Regex(r.name, list(r.examples))
            for r in Regex.objects.filter(assistant=assistant)
        ],
        lookups=[
            formats.Lookup(lk.name, list(lk.examples))
            for lk in LookupTable.objects.filter(assistant=assistant)
        ],
    )


def export_files(assistant: Assistant, *, published_only: bool = False) -> dict[str, str]:
    """The assistant's Rasa project files that are text: {relative path: text} (everything but
    binary documents such as PDFs; `export_archive_files` has those too). `published_only` as
    for `export_project`."""
    return formats.dump_project(export_project(assistant, published_only=published_only))


def export_archive_files(assistant: Assistant) -> dict[str, bytes]:
    """Every file of the assistant, text and binary: {relative path: bytes}, what an export
    archive holds."""
    return formats.dump_project_bytes(export_project(assistant))


def binary_files_base64(assistant: Assistant) -> dict[str, str]:
    """The assistant's files that are not text, {relative path: base64}, as stored."""
    files = AssistantFiles.objects.filter(assistant=assistant).first()
    return dict(files.binary_files) if files else {}


def _kept_files_project(assistant: Assistant) -> formats.Project:
    """A Project holding only the assistant's config.yml and kept files."""
    files = AssistantFiles.objects.filter(assistant=assistant).first()
    if files is None:
        return formats.Project()
    project = formats.Project(
        other_files=dict(files.other_files), binary_files=files.binary_contents()
    )
    # A config.yml that does not parse is the settings page's to report; docs/ holds them then.
    with contextlib.suppress(formats.FormatError):
        if files.config_yml:
            project.config = formats.ConfigFile.parse(files.config_yml, "config.yml")
    return project


def knowledge_documents(assistant: Assistant) -> dict[str, str | bytes]:
    """The assistant's knowledge-base documents (text, or bytes for binary ones) by path."""
    return _kept_files_project(assistant).knowledge_files


def knowledge_folders(assistant: Assistant) -> list[str]:
    """The folders the assistant's knowledge-base documents are in (docs, and the vector store
    sources config.yml names)."""
    return _kept_files_project(assistant).knowledge_dirs


def authored_key_order(step: Any) -> Any:
    """A step with its keys in the order authors write them (id, the step's own key, the
    rest): not `as_json`'s order (id, options, description, next) for an upload from Rasa's
    CLI, nor PostgreSQL's (jsonb keeps keys shortest first), so the YAML reads as written."""
    if not isinstance(step, dict):
        return step
    kind = formats.step_type(step)
    first = [key for key in ("id", kind) if key in step]
    ordered = {key: step[key] for key in first}
    ordered.update((key, value) for key, value in step.items() if key not in ordered)
    branches = ordered.get("next")
    if isinstance(branches, list):
        ordered["next"] = [
            {
                key: [authored_key_order(s) for s in value] if isinstance(value, list) else value
                for key, value in branch.items()
            }
            if isinstance(branch, dict)
            else branch
            for branch in branches
        ]
    return ordered
