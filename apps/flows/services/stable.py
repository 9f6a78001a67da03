"""Stable versions of flows (issue 19), and which definition of each flow a training takes.

"Save stable version" marks the flow's current state in its history (a `FlowVersion`) as
stable, with a comment saying why. The flow's draft goes on changing; training can take, per
flow, the draft (its current definition), its last stable version or its last published
definition (apps.flows.services.status). Reverting to a stable version is an edit like any
other: checked, revision-checked, recorded in the history ("Reverted to stable version of
<date>: <comment>") and undoable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apps.flows.models import Flow, FlowVersion
from apps.flows.services.flows import StaleFlow, check_revision, restore_version
from apps.projects.models import Assistant
from engine import formats

DRAFT, STABLE, PUBLISHED = "draft", "stable", "published"

#: The definitions a training can take of a flow, as the train page names them.
SOURCES = {
    DRAFT: "Draft (as it is now)",
    STABLE: "Last stable version",
    PUBLISHED: "Last published",
}


class StableRefused(Exception):
    """A stable version cannot be saved or reverted to (the reason is the message)."""


def _user(user):
    return user if user is not None and user.is_authenticated else None


def stable_versions(assistant: Assistant, flow_name: str):
    """The flow's stable versions, newest first."""
    return FlowVersion.objects.filter(
        assistant=assistant, flow_name=flow_name, stable=True
    ).order_by("-stable_at", "-id")


def last_stable(flow: Flow) -> FlowVersion | None:
    return stable_versions(flow.assistant, flow.name).select_related("stable_by").first()


def last_stables(assistant: Assistant) -> dict[str, FlowVersion]:
    """{flow id: its last stable version} for every flow of the assistant that has one."""
    found: dict[str, FlowVersion] = {}
    rows = FlowVersion.objects.filter(assistant=assistant, stable=True).order_by(
        "flow_name", "-stable_at", "-id"
    )
    for version in rows.select_related("stable_by"):
        found.setdefault(version.flow_name, version)
    return found


def when(version: FlowVersion) -> str:
    """When a stable version was saved, as the history and the train page say it."""
    moment = version.stable_at or version.created_at
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


@transaction.atomic
def save_stable(flow: Flow, *, user, comment: str, revision: int | None = None) -> FlowVersion:
    """Mark the flow's current state as its newest stable version, with `comment`.

    The history's latest entry is the current state (every change records one), so that
    entry is marked, and the flow's undo stack is untouched; a flow whose history lacks its
    current state gets an entry for it. `revision`: the revision the page was drawn at
    (StaleFlow when the flow changed since, so what is marked is what the person saw)."""
    locked = Flow.objects.select_for_update().get(pk=flow.pk)
    check_revision(locked, revision)
    comment = comment.strip()
    if not comment:
        raise StableRefused("Say what this stable version is (a comment), then save it.")
    if len(comment) > formats.limits.DESCRIPTION:
        raise StableRefused(
            f"The comment is {len(comment)} characters long; at most "
            f"{formats.limits.DESCRIPTION} are allowed."
        )
    latest = (
        FlowVersion.objects.filter(assistant_id=flow.assistant_id, flow_name=locked.name)
        .order_by("-id")
        .first()
    )
    newest = last_stable(locked)
    if newest is not None and newest.definition == locked.definition:
        raise StableRefused(
            f"Flow {locked.name} is unchanged since its stable version of {when(newest)}: "
            "there is nothing new to save."
        )
    now = timezone.now()
    marks = {"stable": True, "stable_comment": comment, "stable_at": now}
    if latest is not None and latest.definition == locked.definition and not latest.stable:
        for name, value in marks.items():
            setattr(latest, name, value)
        latest.stable_by = _user(user)
        latest.save(update_fields=[*marks, "stable_by"])
        return latest
    return FlowVersion.objects.create(
        assistant_id=flow.assistant_id,
        flow_name=locked.name,
        definition=locked.definition,
        summary="Saved as a stable version",
        created_by=_user(user),
        stable_by=_user(user),
        **marks,
    )


def revert_summary(version: FlowVersion) -> str:
    return f"Reverted to stable version of {when(version)}: {version.stable_comment}"


def revert_to_stable(
    flow: Flow, version: FlowVersion, *, user, revision: int | None = None
) -> Flow:
    """Make the stable `version` the flow's current definition again, through the normal
    edit path (checked against the assistant as it is now, revision-checked, recorded)."""
    if not version.stable or version.flow_name != flow.name:
        raise StableRefused("That entry of the history is not a stable version of this flow.")
    check_revision(flow, revision)
    if version.definition == flow.definition:
        raise StableRefused(
            f"Flow {flow.name} is already as its stable version of {when(version)}."
        )
    return restore_version(
        flow, version, user=user, summary=revert_summary(version), revision=revision
    )


# --------------------------------------------------------------------------------------------
# What a training takes of each flow


@dataclass
class FlowChoice:
    """One flow's definition for a training, and where it came from."""

    source: str
    definition: dict
    at: str = ""  # when the stable version was saved, or the flow published (ISO 8601)
    comment: str = ""  # the stable version's comment

    def as_record(self) -> dict:
        return {"source": self.source, "at": self.at, "comment": self.comment}


@dataclass
class TrainingFlows:
    """The flows a training takes: {flow id: choice}, or the problems (each naming its flow)
    that refuse the choices."""

    flows: dict[str, FlowChoice] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def definitions(self) -> dict[str, dict]:
        return {name: choice.definition for name, choice in self.flows.items()}

    @property
    def records(self) -> dict[str, dict]:
        return {name: choice.as_record() for name, choice in self.flows.items()}


def _iso(moment) -> str:
    return moment.isoformat() if moment is not None else ""


def training_flows(
    assistant: Assistant,
    choices: Mapping[str, str] | None = None,
    *,
    default: str = DRAFT,
) -> TrainingFlows:
    """The definition of each flow a training takes: `choices` maps flow ids to DRAFT, STABLE
    or PUBLISHED; the flows it does not name take `default`. With the default PUBLISHED, a flow
    that was never published is left out (the "only published flows" training); a flow chosen
    explicitly must have what was chosen, else the problem names it. A choice naming a flow
    that does not exist is a problem too."""
    choices = dict(choices or {})
    result = TrainingFlows()
    rows = list(Flow.objects.filter(assistant=assistant))  # in the export's order
    known = {flow.name for flow in rows}
    for name in sorted(set(choices) - known):
        result.problems.append(f"There is no flow {name} to train.")
    for name, source in sorted(choices.items()):
        if source not in SOURCES:
            result.problems.append(
                f"Flow {name}: {source!r} is not a choice (draft, stable or published)."
            )
    stables = last_stables(assistant) if STABLE in (default, *choices.values()) else {}
    for flow in rows:
        explicit = flow.name in choices
        source = choices.get(flow.name, default)
        if source == DRAFT:
            result.flows[flow.name] = FlowChoice(DRAFT, flow.definition)
        elif source == STABLE:
            version = stables.get(flow.name)
            if version is None:
                result.problems.append(
                    f"Flow {flow.name} has no stable version: save one on its canvas or its "
                    "history page, or train its draft."
                )
                continue
            result.flows[flow.name] = FlowChoice(
                STABLE, version.definition, _iso(version.stable_at), version.stable_comment
            )
        elif source == PUBLISHED:
            if flow.published_definition is None:
                if explicit:
                    result.problems.append(
                        f"Flow {flow.name} was never published: publish it, or train its "
                        "draft or a stable version."
                    )
                continue
            result.flows[flow.name] = FlowChoice(
                PUBLISHED, flow.published_definition, _iso(flow.published_at)
            )
    return result


__all__ = [
    "DRAFT",
    "PUBLISHED",
    "SOURCES",
    "STABLE",
    "FlowChoice",
    "StableRefused",
    "StaleFlow",
    "TrainingFlows",
    "last_stable",
    "last_stables",
    "revert_summary",
    "revert_to_stable",
    "save_stable",
    "stable_versions",
    "training_flows",
    "when",
]
