"""The CLI's base64 YAML blobs, both ways: decoding an upload into an `engine.formats` Project
(each part under the path Studio keeps it at) and encoding an assistant's content for export.

Rasa's 3.21 client sends flows in the expanded form (`get_flows_as_json`: every step with an
id and a next, collect defaults spelled out, `run_pattern_completed`, `file_path`). Parsing
already keeps steps compact (`engine.formats.compact_steps` drops generated ids and nexts that
restate the default order); here the flow-level values that merely restate Rasa's defaults
are dropped too, so a flow pushed from the CLI is stored as it was authored.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from apps.projects import content
from engine import formats

#: Upload field -> the path its YAML is read as (and problems name).
PART_PATHS = {
    "domain": "domain.yml",
    "flows": "data/flows.yml",
    "nlu": "data/nlu.yml",
    "config": "config.yml",
    "endpoints": "endpoints.yml",
}

#: The names Rasa gives its LLM command generators (the classes whose `prompt_template` the
#: client sends as `command_generator`).
COMMAND_GENERATORS = (
    "LLMCommandGenerator",
    "SingleStepLLMCommandGenerator",
    "CompactLLMCommandGenerator",
    "SearchReadyLLMCommandGenerator",
    "MultiStepLLMCommandGenerator",
)
PROMPT_NAMES = ("command_generator", "contextual_response_rephraser", "enterprise_search")


class BlobError(ValueError):
    """A field the caller sent that cannot be read; the message names the field."""


def decode(field: str, value: str) -> str:
    """The UTF-8 text of a standard (padded) base64 field, or BlobError naming it."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise BlobError(f"{field}: not valid base64 (standard alphabet, with padding)") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BlobError(f"{field}: the decoded bytes are not UTF-8 text") from None


def encode(text: str | None) -> str | None:
    return base64.b64encode(text.encode("utf-8")).decode("ascii") if text else None


def decode_parts(given: dict[str, str | None]) -> dict[str, str]:
    """{path: YAML text} for every field that was given (None or "" means left out)."""
    files: dict[str, str] = {}
    for field, path in PART_PATHS.items():
        value = given.get(field)
        if value:
            files[path] = decode(field, value)
    return files


def drop_flow_defaults(flows: list[formats.Flow]) -> None:
    """Flow values equal to Rasa's defaults, as `as_json` spells them out, are not kept."""
    for flow in flows:
        # Rasa keeps a guard as a string, so an authored `if: False` comes as "False".
        if isinstance(flow.guard, str) and flow.guard.strip() in ("False", "True"):
            flow.guard = flow.guard.strip() == "True"
        if flow.run_pattern_completed is True:
            flow.run_pattern_completed = None
        for trigger in flow.nlu_trigger or []:
            if trigger.confidence_threshold == 0.0 and not trigger.intent_extra:
                trigger.confidence_threshold = None
        flow.steps = [content.authored_key_order(step) for step in flow.steps]


def prompt_paths(
    config: formats.ConfigFile | None, endpoints: formats.EndpointsFile | None
) -> dict[str, str]:
    """{prompt name: file path} for the custom prompts config.yml and endpoints.yml name, as
    Rasa's client collects them."""
    paths: dict[str, str] = {}
    if endpoints is not None:
        nlg = endpoints.nlg
        if isinstance(nlg, dict) and isinstance(nlg.get("prompt"), str):
            paths["contextual_response_rephraser"] = nlg["prompt"]
    if config is not None:
        for component in config.pipeline:
            template = component.get("prompt_template") if isinstance(component, dict) else None
            if component.get("name") in COMMAND_GENERATORS and isinstance(template, str):
                paths["command_generator"] = template
                break
        for policy in config.policies:
            if isinstance(policy, dict) and policy.get("name") == "EnterpriseSearchPolicy":
                if isinstance(policy.get("prompt"), str):
                    paths["enterprise_search"] = policy["prompt"]
                break
    return {name: path.removeprefix("./") for name, path in paths.items()}


def export_prompts(project: formats.Project) -> dict[str, str | None]:
    paths = prompt_paths(project.config, project.endpoints)
    return {name: project.prompts.get(paths.get(name, "")) for name in PROMPT_NAMES}


def filter_objects(project: formats.Project, objects: list[dict[str, Any]]) -> None:
    """Keep only the intents and entities `objects` names (`studio train --intents ...`)."""
    for item in objects:
        names = set(item["name"])
        if item["type"] == "Intent":
            project.domain.intents = [i for i in project.domain.intents if i.name in names]
            project.nlu.intents = [b for b in project.nlu.intents if b.intent in names]
        elif item["type"] == "Entity":
            project.domain.entities = [e for e in project.domain.entities if e.name in names]
