"""The annotation workflow: building and assigning batches of user messages, labelling them,
approving them and adding them to the NLU data. One transaction per public function that
writes; the rules of who may call what are the views' (through the access helpers), the rules
of what may change when are here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from apps.accounts.roles import ROLE_CAPS, Cap
from apps.annotation.models import Annotation, Batch
from apps.ingestion.models import SESSION_START_INTENT_TEXT, Event
from apps.ingestion.presenters import annotated_text
from apps.nlu import services as nlu_services
from apps.nlu.models import Example, Intent
from apps.projects.models import Assistant
from engine import formats

Status = Annotation.Status

#: The largest batch one request builds.
MAX_BATCH_SIZE = 500


class AnnotationRefused(Exception):
    """The change is not allowed in the annotation's or batch's state; the message says why."""


# ---------------------------------------------------------------------------------------------
# What there is to annotate


def unannotated_messages(assistant):
    """The assistant's user messages that are in no batch yet. Button payloads ("/greet",
    "/SetSlots(...)") and session starts are not the user's words and are left out."""
    taken = Annotation.objects.filter(event_id=OuterRef("pk"))
    return (
        Event.objects.filter(type="user", conversation__assistant=assistant)
        .exclude(text="")
        .exclude(text__startswith="/")
        .exclude(text=SESSION_START_INTENT_TEXT)
        .filter(~Exists(taken))
    )


def unannotated_totals(assistant) -> tuple[int, int]:
    """(user messages, conversations) not annotated yet."""
    messages = unannotated_messages(assistant)
    return messages.count(), messages.values("conversation_id").distinct().count()


@dataclass(frozen=True)
class BatchFilters:
    """Which messages a batch takes. `start` and `end` are days (both included), in the
    site's time zone; `keywords` are words of which the message contains at least one."""

    start: date | None = None
    end: date | None = None
    channel: str = ""
    keywords: str = ""
    intent: str = ""
    min_confidence: float | None = None
    max_confidence: float | None = None
    size: int = 50

    def shown(self) -> dict:
        """The filters that are set, for the batch's record."""
        out: dict = {}
        for name in ("start", "end", "channel", "keywords", "intent"):
            value = getattr(self, name)
            if value:
                out[name] = str(value)
        for name in ("min_confidence", "max_confidence"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["size"] = self.size
        return out


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def matching_messages(assistant, filters: BatchFilters):
    """The not yet annotated messages that `filters` select (all of them, not a sample)."""
    messages = unannotated_messages(assistant)
    if filters.start:
        messages = messages.filter(timestamp__gte=_day_start(filters.start))
    if filters.end:
        messages = messages.filter(timestamp__lt=_day_start(filters.end + timedelta(days=1)))
    if filters.channel:
        messages = messages.filter(conversation__channel=filters.channel)
    words = filters.keywords.split()
    if words:
        any_word = Q()
        for word in words:
            any_word |= Q(text__icontains=word)
        messages = messages.filter(any_word)
    if filters.intent:
        messages = messages.filter(intent=filters.intent)
    if filters.min_confidence is not None:
        messages = messages.filter(confidence__gte=filters.min_confidence)
    if filters.max_confidence is not None:
        messages = messages.filter(confidence__lte=filters.max_confidence)
    return messages


#: Random windows of event ids one sampling round reads.
SAMPLE_WINDOWS = 64
#: How much more of the id range each round covers than the one before.
SAMPLE_GROWTH = 4
#: The most event ids one round reads; past it (or half the id range) the matches are sparse
#: and the matching messages are sampled whole.
SAMPLE_MAX_IDS = 200_000
SAMPLE_FULL_SHARE = 0.5


def sample_messages(messages, size: int, rng: random.Random | None = None) -> list[int]:
    """The ids of at most `size` messages picked at random from `messages` (a queryset of
    user messages, `Event` rows of type "user"), without sorting the whole set at random
    (`ORDER BY random()` reads and sorts every matching row of a large table).

    It reads random windows of event ids (the primary key's index): each round `SAMPLE_WINDOWS`
    windows at random places, together covering a share of the id range that starts at what
    `size` rows would need if one event in eight matched and grows `SAMPLE_GROWTH`-fold while
    fewer than `size` matching messages were found; then it samples `size` of those found. A
    round first reads the ids of the user messages in its windows (an index range scan,
    whatever the filters), then keeps those that match. Every matching message is as likely
    to fall in a window as any other, so the sample is (close to) uniform. When the matches
    are so sparse that a round would read more than `SAMPLE_MAX_IDS` ids or half the id
    range, the matching messages are few and are sampled whole (`ORDER BY random()` over
    them)."""
    rng = rng or random.Random()
    bounds = Event.objects.aggregate(low=Min("id"), high=Max("id"))
    low, high = bounds["low"], bounds["high"]
    if low is None or size <= 0:
        return []
    span = high - low + 1
    share = min(1.0, size * 8 / span)
    found: set[int] = set()
    while share < SAMPLE_FULL_SHARE and span * share <= SAMPLE_MAX_IDS:
        width = max(int(span * share / SAMPLE_WINDOWS), 1)
        windows = Q()
        for _ in range(SAMPLE_WINDOWS):
            first = rng.randint(low - width + 1, high)
            windows |= Q(id__gte=first, id__lt=first + width)
        ids = list(Event.objects.filter(windows, type="user").values_list("id", flat=True))
        if ids:
            found.update(messages.filter(id__in=ids).values_list("id", flat=True))
        if len(found) >= size:
            return rng.sample(sorted(found), size)
        share *= SAMPLE_GROWTH
    return list(messages.order_by("?").values_list("id", flat=True)[:size])


def annotators(assistant):
    """The active users who may annotate on `assistant`: a role with ANNOTATE held globally
    (a group of the role's name, or a Django superuser) or granted on the assistant."""
    roles = [role for role, caps in ROLE_CAPS.items() if Cap.ANNOTATE in caps]
    labels = [role.label for role in roles]
    granted = Q(assistant_roles__assistant=assistant, assistant_roles__role__in=roles)
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(Q(groups__name__in=labels) | granted | Q(is_superuser=True)).distinct()


def _predicted_entities(event: Event) -> list[dict]:
    """The entities the model found in the message, as NLU examples store them (none when the
    message's own text reads as entity markup and would not survive the round trip)."""
    try:
        parsed = formats.parse_example(annotated_text(event))
    except formats.AnnotationError:
        return []
    if parsed.text != event.text:
        return []
    return [_entity_row(e) for e in parsed.entities]


def _entity_row(entity: formats.EntityAnnotation) -> dict:
    row = {"start": entity.start, "end": entity.end, "value": entity.value}
    row["entity"] = entity.entity
    if entity.role is not None:
        row["role"] = entity.role
    if entity.group is not None:
        row["group"] = entity.group
    return row


@transaction.atomic
def create_batch(assistant, filters: BatchFilters, *, assignee, created_by) -> Batch:
    """A batch of at most `filters.size` messages that `filters` select, picked at random,
    assigned to `assignee` (who must be allowed to annotate on the assistant)."""
    if not annotators(assistant).filter(pk=assignee.pk).exists():
        raise AnnotationRefused(f"{assignee.username} may not annotate on {assistant.name}.")
    if not 1 <= filters.size <= MAX_BATCH_SIZE:
        raise AnnotationRefused(f"A batch has 1 to {MAX_BATCH_SIZE} messages.")
    # One batch is numbered at a time per assistant.
    Assistant.objects.select_for_update().filter(pk=assistant.pk).first()
    chosen = sample_messages(matching_messages(assistant, filters), filters.size)
    picked = list(Event.objects.filter(id__in=chosen).select_related("conversation"))
    if not picked:
        raise AnnotationRefused("No message that is not annotated yet matches these filters.")
    picked.sort(key=lambda e: (e.timestamp, e.position, e.pk))
    number = (assistant.annotation_batches.aggregate(top=Max("number"))["top"] or 0) + 1
    batch = Batch.objects.create(
        assistant=assistant,
        number=number,
        assignee=assignee,
        created_by=created_by,
        filters=filters.shown(),
    )
    known = set(assistant.intents.values_list("name", flat=True))
    Annotation.objects.bulk_create(
        [
            Annotation(
                batch=batch,
                assistant=assistant,
                event=event,
                conversation_id=event.conversation_id,
                position=i,
                text=event.text,
                predicted_intent=event.intent,
                confidence=event.confidence,
                message_at=event.timestamp,
                channel=event.conversation.channel,
                intent=event.intent if event.intent in known else "",
                entities=_predicted_entities(event),
            )
            for i, event in enumerate(picked)
        ]
    )
    return batch


# ---------------------------------------------------------------------------------------------
# Labelling (the annotator, and the lead annotator correcting)


def _check_open(annotation: Annotation) -> None:
    if annotation.batch.reviewed:
        raise AnnotationRefused(f"{annotation.batch} is reviewed: its annotations are final.")
    if annotation.added_at is not None:
        raise AnnotationRefused("This annotation is in the training data already.")


@transaction.atomic
def relabel(annotation: Annotation, *, intent: str) -> Annotation:
    """Give the message another intent (one that may not exist yet: it is created when the
    annotation is added to the training data)."""
    _check_open(annotation)
    annotation.intent = intent
    annotation.save(update_fields=["intent"])
    return annotation


@transaction.atomic
def mark_entity(annotation: Annotation, *, start: int, end: int, entity: str, role: str = ""):
    """Mark text[start:end] as `entity`, replacing an annotation of the same span (the span
    is checked by the form, as for NLU examples)."""
    _check_open(annotation)
    row = {"start": start, "end": end, "value": annotation.text[start:end], "entity": entity}
    if role:
        row["role"] = role
    kept = [e for e in annotation.entities if (e["start"], e["end"]) != (start, end)]
    annotation.entities = sorted([*kept, row], key=lambda e: (e["start"], e["end"]))
    annotation.save(update_fields=["entities"])
    return annotation


@transaction.atomic
def remove_entity(annotation: Annotation, index: int) -> Annotation:
    _check_open(annotation)
    if 0 <= index < len(annotation.entities):
        annotation.entities = [e for i, e in enumerate(annotation.entities) if i != index]
        annotation.save(update_fields=["entities"])
    return annotation


@dataclass
class Outcome:
    changed: int = 0
    notes: list[str] = field(default_factory=list)


def _open_ones(annotations):
    return annotations.filter(batch__reviewed_at__isnull=True, added_at__isnull=True)


@transaction.atomic
def save(annotations, user) -> Outcome:
    """Save annotations (a queryset) as labelled: each needs an intent. An approved one
    stays approved."""
    outcome = Outcome()
    rows = _open_ones(annotations).exclude(status=Status.APPROVED)
    missing = rows.filter(intent="").count()
    if missing:
        outcome.notes.append(f"{missing} message(s) without an intent were not saved.")
    outcome.changed = rows.exclude(intent="").update(
        status=Status.SAVED, annotated_by=user, annotated_at=timezone.now()
    )
    return outcome


@transaction.atomic
def discard(annotations, user) -> Outcome:
    """Discard annotations: the message is not training data (and is not offered again)."""
    changed = _open_ones(annotations).update(
        status=Status.DISCARDED,
        annotated_by=user,
        annotated_at=timezone.now(),
        approved_by=None,
        approved_at=None,
    )
    return Outcome(changed)


@transaction.atomic
def approve(annotations, user) -> Outcome:
    """The lead annotator approves saved annotations (the others are left as they are)."""
    changed = (
        _open_ones(annotations)
        .filter(status=Status.SAVED)
        .update(status=Status.APPROVED, approved_by=user, approved_at=timezone.now())
    )
    return Outcome(changed)


# ---------------------------------------------------------------------------------------------
# Review: into the training data


@dataclass
class Added:
    examples: list[Example] = field(default_factory=list)
    created_intents: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@transaction.atomic
def add_to_training_data(batch: Batch, user) -> Added:
    """Mark the batch reviewed and turn its approved annotations into NLU examples, all in one
    transaction. Idempotent: a reviewed batch adds nothing, and an annotation is added once
    (`added_at`). An example text its intent already has is skipped, with a note."""
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    added = Added()
    if batch.reviewed:
        return added
    pending = batch.annotations.filter(status=Status.PENDING).count()
    if pending:
        raise AnnotationRefused(
            f"{pending} message(s) of {batch} are still in the inbox: save or discard them first."
        )
    now = timezone.now()
    rows = batch.annotations.filter(status=Status.APPROVED, added_at__isnull=True)
    for annotation in rows.select_for_update().order_by("position", "id"):
        _add_one(batch.assistant, annotation, added)
        annotation.added_at = now
        annotation.save(update_fields=["added_at", "example", "note"])
    batch.reviewed_at, batch.reviewed_by = now, user
    batch.save(update_fields=["reviewed_at", "reviewed_by"])
    return added


def _add_one(assistant, annotation: Annotation, added: Added) -> None:
    intent = Intent.objects.filter(assistant=assistant, name=annotation.intent).first()
    if intent is None:
        # ContentInvalid (an intent name Rasa refuses) rolls the whole review back.
        intent = nlu_services.create_intent(assistant, name=annotation.intent)
        added.created_intents.append(intent.name)
    if Example.objects.filter(intent=intent, text=annotation.text).exists():
        annotation.note = (
            f"Skipped: {intent.name} already has the example \u201c{annotation.text}\u201d."
        )
        added.notes.append(annotation.note)
        return
    entities = [
        formats.EntityAnnotation(
            e["start"], e["end"], e["value"], e["entity"], e.get("role"), e.get("group")
        )
        for e in annotation.entities
    ]
    [example] = nlu_services.add_examples(
        intent, [formats.Example(text=annotation.text, entities=entities)]
    )
    annotation.example = example
    added.examples.append(example)


# ---------------------------------------------------------------------------------------------
# History


@dataclass(frozen=True)
class HistoryFilters:
    status: str = ""
    intent: str = ""
    min_confidence: float | None = None
    max_confidence: float | None = None


def history(assistant, filters: HistoryFilters):
    rows = Annotation.objects.filter(assistant=assistant).select_related(
        "batch", "annotated_by", "approved_by", "batch__assignee"
    )
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.intent:
        rows = rows.filter(intent=filters.intent)
    if filters.min_confidence is not None:
        rows = rows.filter(confidence__gte=filters.min_confidence)
    if filters.max_confidence is not None:
        rows = rows.filter(confidence__lte=filters.max_confidence)
    return rows.order_by("-message_at", "-id")
