"""Review actions on stored conversations (reviewed marks, tags, deletes, an NLU example from a
user message) and retention. Each public function is one transaction; the write path that
stores incoming events is `apps.ingestion.store`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from apps.ingestion import postgres
from apps.ingestion.models import (
    Conversation,
    DeadLetter,
    Event,
    SenderLock,
    Tag,
    UnroutedEvent,
)
from apps.ingestion.store import CHUNK

# ---------------------------------------------------------------------------------------------
# Review


def mark_reviewed(conversations, user, reviewed: bool = True) -> int:
    """Mark conversations (a queryset) reviewed by `user`, or not reviewed."""
    with transaction.atomic():
        if reviewed:
            return conversations.filter(reviewed_at__isnull=True).update(
                reviewed_at=timezone.now(), reviewed_by=user
            )
        return conversations.update(reviewed_at=None, reviewed_by=None)


def add_tag(conversations, tag: Tag) -> int:
    through = Conversation.tags.through
    pks = list(conversations.values_list("pk", flat=True))
    with transaction.atomic():
        have = set(
            through.objects.filter(tag=tag, conversation_id__in=pks).values_list(
                "conversation_id", flat=True
            )
        )
        through.objects.bulk_create(
            [through(conversation_id=pk, tag=tag) for pk in pks if pk not in have],
            ignore_conflicts=True,
        )
    return len(pks) - len(have)


def remove_tag(conversations, tag: Tag) -> int:
    through = Conversation.tags.through
    with transaction.atomic():
        deleted, _ = through.objects.filter(
            tag=tag, conversation_id__in=conversations.values("pk")
        ).delete()
    return deleted


def delete_conversations(conversations) -> tuple[int, int]:
    """Delete conversations and their events; returns (conversations, events) deleted."""
    with transaction.atomic():
        pks = list(conversations.values_list("pk", flat=True))
        senders = _senders_of(pks)
        events = 0
        for start in range(0, len(pks), CHUNK):
            chunk = pks[start : start + CHUNK]
            events += Event.objects.filter(conversation_id__in=chunk).delete()[0]
            Conversation.objects.filter(pk__in=chunk).delete()
        _forget_senders(senders)
    return len(pks), events


def _senders_of(pks: list[int]) -> set[tuple[int, str]]:
    """The senders of conversations `pks`, their ingestion lock rows locked (PostgreSQL: see
    `postgres.lock_sender_rows`). In the transaction that deletes the conversations, first."""
    senders: set[tuple[int, str]] = set()
    for start in range(0, len(pks), CHUNK):
        senders.update(
            Conversation.objects.filter(pk__in=pks[start : start + CHUNK]).values_list(
                "assistant_id", "sender_id"
            )
        )
    if connection.vendor == "postgresql":
        postgres.lock_sender_rows(sorted(senders))
    return senders


def _forget_senders(senders: set[tuple[int, str]]) -> None:
    """Delete the ingesters' lock rows (`SenderLock`) of those of `senders` that have no
    conversation left: a deleted sender's id is not kept anywhere."""
    by_assistant: dict[int, list[str]] = {}
    for assistant_pk, sender in senders:
        by_assistant.setdefault(assistant_pk, []).append(sender)
    for assistant_pk, ids in by_assistant.items():
        for start in range(0, len(ids), CHUNK):
            _forget(assistant_pk, ids[start : start + CHUNK])


def _forget(assistant_pk: int, ids: list[str]) -> None:
    SenderLock.objects.filter(assistant_id=assistant_pk, sender_id__in=ids).exclude(
        Exists(
            Conversation.objects.filter(
                assistant_id=OuterRef("assistant_id"), sender_id=OuterRef("sender_id")
            )
        )
    ).delete()


def delete_sender(assistant, sender_id: str) -> tuple[int, int]:
    """Every session of one sender, for a data-deletion request."""
    return delete_conversations(
        Conversation.objects.filter(assistant=assistant, sender_id=sender_id)
    )


def add_example_from_event(event: Event, intent, annotated) -> object:
    """Turn a user message into an NLU example of `intent` (an apps.nlu Intent).
    `annotated` is an engine.formats.nlu.Example (text and entities)."""
    from apps.nlu.models import Example

    entities = []
    for ent in annotated.entities:
        item = {"start": ent.start, "end": ent.end, "value": ent.value, "entity": ent.entity}
        if ent.role is not None:
            item["role"] = ent.role
        if ent.group is not None:
            item["group"] = ent.group
        entities.append(item)
    with transaction.atomic():
        last = intent.examples.aggregate(last=Max("position"))["last"]
        # The same text with other annotations is another example (Rasa keeps both).
        example, _ = Example.objects.get_or_create(
            intent=intent,
            text=annotated.text,
            entities=entities,
            defaults={"position": (last or 0) + 1 if last is not None else 0},
        )
    return example


# ---------------------------------------------------------------------------------------------
# Retention


@dataclass
class RetentionReport:
    conversations: int = 0
    events: int = 0
    unrouted: int = 0
    dead_letters: int = 0
    batches: int = 0
    finished: bool = True


def delete_old_conversations(
    hours: int | None,
    *,
    batch_size: int = 500,
    max_batches: int = 200,
    now: datetime | None = None,
) -> RetentionReport:
    """Delete conversations whose last event is older than `hours`, in batches of
    `batch_size` conversations, each batch its own transaction: a restart loses at most one
    batch and the next run goes on where this one stopped (the cut-off is a predicate, not a
    cursor). Unrouted events and dead letters older than the cut-off go too. `None`: keep all."""
    report = RetentionReport()
    if hours is None:
        return report
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    for _ in range(max_batches):
        pks = list(
            Conversation.objects.filter(last_event_at__lt=cutoff)
            .order_by("last_event_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not pks:
            break
        with transaction.atomic():
            senders = _senders_of(pks)
            report.events += Event.objects.filter(conversation_id__in=pks).delete()[0]
            Conversation.objects.filter(pk__in=pks).delete()
            _forget_senders(senders)
            report.conversations += len(pks)
        report.batches += 1
    else:
        report.finished = False
    for model, attr, column in (
        (UnroutedEvent, "unrouted", "received_at"),
        (DeadLetter, "dead_letters", "created_at"),
    ):
        while True:
            pks = list(
                model.objects.filter(**{f"{column}__lt": cutoff}).values_list("pk", flat=True)[
                    :batch_size
                ]
            )
            if not pks:
                break
            with transaction.atomic():
                setattr(
                    report,
                    attr,
                    getattr(report, attr) + model.objects.filter(pk__in=pks).delete()[0],
                )
    return report
