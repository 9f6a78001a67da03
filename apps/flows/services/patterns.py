"""System flows (issue 17): Rasa's conversation patterns, customised and reset.

Every assistant runs Rasa's default patterns (`pattern_*`) unless it has a user flow of the same
id, which replaces the pattern. Customising a pattern creates that flow from the pattern's
default steps; resetting it deletes the flow again (its history stays, as for any deleted
flow), so the default runs once more.

The default steps are the built-in engine's (`engine.formats.default_pattern_definitions`),
which are Rasa Pro 3.21's default patterns (ids, names, triggers and steps, every one of them),
run with Rasa's semantics, so a customised pattern behaves the same with the built-in engine and
with Rasa Pro. A name of `engine.formats.defaults.DEFAULT_PATTERNS` without default steps would
be listed without them, and customising it would start from an empty step.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.db import transaction

from apps.flows import steps as step_ops
from apps.flows.models import Flow
from apps.flows.services.domain import next_position
from apps.flows.services.flows import check_flow_name, delete_flow, record_version, validate_flow
from apps.projects.content.checks import ContentInvalid, ShownProblem
from apps.projects.models import Assistant
from engine import formats

PREFIX = "pattern_"


class NotAPattern(Exception):
    """The name is not one of Rasa's patterns nor a flow named like one."""


@dataclass
class Pattern:
    name: str
    title: str
    description: str
    default: dict | None  # the default definition; None for a pattern without default steps
    flow: Flow | None = None  # the assistant's flow that customises it

    @property
    def customised(self) -> bool:
        return self.flow is not None

    @property
    def is_rasa_pattern(self) -> bool:
        """One of Rasa's patterns (not a flow that is only named like one)."""
        return self.default is not None or self.name in formats.defaults.DEFAULT_PATTERNS


def is_pattern_name(name: str) -> bool:
    return name.startswith(PREFIX)


def _default_pattern(name: str, definition: dict | None) -> Pattern:
    definition = definition or {}
    return Pattern(
        name=name,
        title=str(definition.get("name") or name.removeprefix(PREFIX).replace("_", " ")),
        description=str(definition.get("description") or ""),
        default=definition or None,
    )


def catalogue() -> dict[str, Pattern]:
    """Rasa's patterns by id, sorted, without the assistant's flows."""
    defaults = formats.default_pattern_definitions()
    names = sorted(set(defaults) | set(formats.defaults.DEFAULT_PATTERNS))
    return {name: _default_pattern(name, defaults.get(name)) for name in names}


def patterns(assistant: Assistant) -> list[Pattern]:
    """Rasa's patterns with the assistant's customisations, and the assistant's other flows
    named `pattern_*`; sorted by id."""
    found = catalogue()
    flows = Flow.objects.filter(assistant=assistant, name__startswith=PREFIX).select_related(
        "updated_by"
    )
    for flow in flows:
        pattern = found.get(flow.name)
        if pattern is None:
            pattern = found[flow.name] = Pattern(
                name=flow.name, title=flow.title, description=flow.description, default=None
            )
        pattern.flow = flow
    return [found[name] for name in sorted(found)]


def get_pattern(assistant: Assistant, name: str) -> Pattern:
    for pattern in patterns(assistant):
        if pattern.name == name:
            return pattern
    raise NotAPattern(name)


def default_definition(pattern: Pattern) -> dict:
    """What customising the pattern starts from: its default steps, or an empty step."""
    if pattern.default is not None:
        return copy.deepcopy(pattern.default)
    return {
        "name": pattern.title,
        "description": pattern.description or f"Replaces Rasa's {pattern.name}.",
        "steps": [dict(step_ops.PLACEHOLDER_STEP)],
    }


@transaction.atomic
def customise(assistant: Assistant, name: str, *, user=None) -> tuple[Flow, list[ShownProblem]]:
    """The assistant's flow for pattern `name`, created from the default steps if it has none
    yet; with the new flow's warnings (none for an existing one)."""
    pattern = get_pattern(assistant, name)
    if pattern.flow is not None:
        return pattern.flow, []
    problem = check_flow_name(assistant, name)
    if problem is not None:
        raise ContentInvalid([formats.Problem(None, None, "", problem)])
    canonical, warnings = validate_flow(assistant, name, default_definition(pattern))
    flow = Flow.objects.create(
        assistant=assistant,
        name=name,
        position=next_position(Flow, assistant),
        title=canonical.get("name") or "",
        description=canonical.get("description") or "",
        definition=canonical,
        updated_by=user if user is not None and user.is_authenticated else None,
    )
    record_version(flow, user, "Customised from the default pattern")
    return flow, warnings


@transaction.atomic
def reset(flow: Flow, *, user=None) -> None:
    """Delete the flow that customises a pattern, so the default runs again. Its history is
    kept, with a last entry of the default steps."""
    pattern = catalogue().get(flow.name)
    delete_flow(flow)
    if pattern is not None:
        flow.definition = default_definition(pattern)
        record_version(flow, user, "Reset to the default pattern")
