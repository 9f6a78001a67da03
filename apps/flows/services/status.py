"""Flow status (issue 17): Draft, Published, or Changed since published, as Rasa Studio has it.

A flow keeps the definition it had when it was last published (`Flow.published_definition`);
None means it was never published (a draft). Its status is worked out from that and its
current definition, so every edit of a published flow makes it "changed since published"
without the edit knowing about status, and restoring the published version makes it published
again. Training with only published flows trains each one's published definition
(apps.projects.content.export_project(published_only=True)).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from apps.flows.models import Flow

DRAFT = "draft"
PUBLISHED = "published"
CHANGED = "changed"

LABELS = {DRAFT: "Draft", PUBLISHED: "Published", CHANGED: "Changed since published"}


def status_of(flow: Flow) -> str:
    if flow.published_definition is None:
        return DRAFT
    current = getattr(flow, "is_published_current", None)
    if current is None:
        current = flow.published_definition == flow.definition
    return PUBLISHED if current else CHANGED


def annotate_status(flows: QuerySet) -> QuerySet:
    """The flows with `is_published_current` worked out by the database, so a list need not
    load the definitions to show each flow's status."""
    return flows.annotate(
        is_published_current=ExpressionWrapper(
            Q(published_definition__isnull=False, definition=F("published_definition")),
            output_field=BooleanField(),
        )
    )


def filter_status(flows: QuerySet, status: str) -> QuerySet:
    """Only the flows of `status` (draft, published or changed); any other value: all."""
    if status == DRAFT:
        return flows.filter(published_definition__isnull=True)
    same = Q(definition=F("published_definition"))
    if status == PUBLISHED:
        return flows.filter(Q(published_definition__isnull=False) & same)
    if status == CHANGED:
        return flows.filter(published_definition__isnull=False).exclude(same)
    return flows


@transaction.atomic
def publish(flows: Iterable[Flow], *, user=None) -> list[Flow]:
    """Make each flow's current definition its published one; returns those that changed
    status (drafts and changed flows)."""
    now = timezone.now()
    by = user if user is not None and user.is_authenticated else None
    done = []
    for flow in flows:
        if flow.published_definition is not None and flow.published_definition == flow.definition:
            continue
        flow.published_definition = flow.definition
        flow.published_at, flow.published_by = now, by
        flow.save(update_fields=["published_definition", "published_at", "published_by"])
        done.append(flow)
    return done


@transaction.atomic
def unpublish(flows: Iterable[Flow]) -> list[Flow]:
    """Make the flows drafts again; returns those that were published."""
    done = []
    for flow in flows:
        if flow.published_definition is None:
            continue
        flow.published_definition, flow.published_at, flow.published_by = None, None, None
        flow.save(update_fields=["published_definition", "published_at", "published_by"])
        done.append(flow)
    return done
