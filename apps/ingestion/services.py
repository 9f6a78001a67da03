"""Ingestion and the review workflows: each public function is one transaction.

`ingest(batch)` is the heart: it takes raw broker messages from any transport (Kafka, the file
spool, a test) and stores them.

Idempotency (why a redelivered message never creates a second event)
----------------------------------------------------------------------
Every event is identified by its *fingerprint*, a hash of its canonical JSON (sender, type,
timestamp to the microsecond, metadata, content; `apps.ingestion.parsing.fingerprint`), and
`Event.fingerprint` / `UnroutedEvent.fingerprint` are unique. A batch first drops the events whose
fingerprint is already stored, and the insert itself ignores conflicts on the fingerprint, so
even two consumers racing on the same message store it once. Dead letters are unique on their
source position (topic/partition/offset or file/byte offset).

The Kafka consumer commits offsets only after the batch's transaction has committed. A crash
between the two redelivers the batch: every event is then found by its fingerprint and nothing
is stored twice (the DLQ topic may see a poison message twice; the table does not). The file
source stores its byte offset in the same transaction as the events, so it never re-reads a
committed line; the fingerprints guard against a rotated or copied file.

Sessions are not decided by arrival order but by time: an event belongs to the session whose
`session_started` is the latest one at or before the event's timestamp (an
`action_session_start` logged just before its `session_started` belongs to that new session, as
Rasa splits trackers). A `session_started` that arrives late moves the already-stored events it
now covers. So what is stored depends only on the set of events received, not on their order,
on batch boundaries or on redeliveries.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Lower
from django.utils import timezone

from apps.ingestion.models import (
    Conversation,
    DeadLetter,
    Event,
    FileSpoolPosition,
    Tag,
    UnroutedEvent,
)
from apps.ingestion.parsing import SESSION_START_TEXT, ParsedEvent, ParseError, parse_message
from apps.projects.models import Assistant

log = logging.getLogger(__name__)

#: An `action_session_start` this close before a `session_started` opens that session.
SESSION_START_GRACE = timedelta(seconds=5)
#: Rows per IN (...) list.
CHUNK = 1000
#: A dead letter keeps this much of its message.
MAX_DEAD_LETTER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class RawMessage:
    """One message as a transport delivers it. `source` says where it came from
    ("kafka:<topic>/<partition>/<offset>", "file:<path>:<offset>"); it names dead letters."""

    value: bytes | str | None
    source: str = ""


@dataclass
class IngestReport:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unrouted: int = 0
    dead: int = 0
    conversations_created: int = 0
    # Dead letters first recorded by this batch (the Kafka source forwards them to the DLQ).
    new_dead_letters: list[DeadLetter] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Ingestion


def ingest(
    batch: Sequence[RawMessage], *, in_transaction: Callable[[IngestReport], None] | None = None
) -> IngestReport:
    """Store a batch of broker messages in one transaction (see the module docstring).

    Unparseable messages become dead letters and the rest of the batch goes on. Events of an
    unknown assistant are kept as `UnroutedEvent`s. `in_transaction` runs inside the same
    transaction after the events are written, with the report (the file source records its
    position there; the Kafka source forwards new dead letters to the DLQ topic there, so a
    failure to forward rolls the batch back and it is retried).
    """
    report = IngestReport(received=len(batch))
    parsed: list[tuple[ParsedEvent, str]] = []
    dead: list[tuple[bytes, str, str]] = []
    seen: set[str] = set()
    for message in batch:
        value = message.value
        try:
            if value is None:
                raise ParseError("empty message (no value)")
            event = parse_message(value)
        except ParseError as exc:
            raw = value.encode("utf-8", "replace") if isinstance(value, str) else (value or b"")
            dead.append((bytes(raw), message.source, str(exc)))
            continue
        if event.fingerprint in seen:
            report.duplicates += 1
            continue
        seen.add(event.fingerprint)
        parsed.append((event, message.source))

    with transaction.atomic():
        report.new_dead_letters = _store_dead_letters(dead)
        report.dead = len(dead)
        fresh = _drop_stored(parsed)
        report.duplicates += len(parsed) - len(fresh)
        routed, unrouted = _route(fresh)
        report.unrouted = _store_unrouted(unrouted)
        report.stored, report.conversations_created = _store_routed(routed)
        if in_transaction is not None:
            in_transaction(report)
    return report


def _store_dead_letters(dead: list[tuple[bytes, str, str]]) -> list[DeadLetter]:
    if not dead:
        return []
    sources = [source for _, source, _ in dead if source]
    known = set(DeadLetter.objects.filter(source__in=sources).values_list("source", flat=True))
    rows, seen = [], set()
    for raw, source, reason in dead:
        if source and (source in known or source in seen):
            continue
        seen.add(source)
        rows.append(
            DeadLetter(
                raw=raw[:MAX_DEAD_LETTER_BYTES], source=(source or None), reason=reason[:2000]
            )
        )
    for row in rows:
        log.warning("dead letter from %s: %s", row.source or "a message", row.reason)
    DeadLetter.objects.bulk_create(rows, ignore_conflicts=True)
    return rows


def _drop_stored(parsed: list[tuple[ParsedEvent, str]]) -> list[tuple[ParsedEvent, str]]:
    prints = [event.fingerprint for event, _ in parsed]
    stored: set[str] = set()
    for start in range(0, len(prints), CHUNK):
        chunk = prints[start : start + CHUNK]
        stored.update(
            Event.objects.filter(fingerprint__in=chunk).values_list("fingerprint", flat=True)
        )
        stored.update(
            UnroutedEvent.objects.filter(fingerprint__in=chunk).values_list(
                "fingerprint", flat=True
            )
        )
    return [(event, source) for event, source in parsed if event.fingerprint not in stored]


def _route(parsed):
    """Split events into those of a known assistant ({assistant_id: [...]}) and the rest.
    Rasa's `assistant_id` is the assistant's name here (matched regardless of case, as names
    are unique regardless of case)."""
    names = {event.assistant_name.lower() for event, _ in parsed if event.assistant_name}
    by_name = dict(
        Assistant.objects.annotate(lname=Lower("name"))
        .filter(lname__in=names)
        .values_list("lname", "pk")
    )
    routed: dict[int, list[ParsedEvent]] = defaultdict(list)
    unrouted: list[tuple[ParsedEvent, str]] = []
    for event, source in parsed:
        assistant_pk = by_name.get(event.assistant_name.lower()) if event.assistant_name else None
        if assistant_pk is None:
            unrouted.append((event, source))
        else:
            routed[assistant_pk].append(event)
    return routed, unrouted


def _store_unrouted(unrouted) -> int:
    if not unrouted:
        return 0
    UnroutedEvent.objects.bulk_create(
        [
            UnroutedEvent(
                assistant_id=event.assistant_name,
                sender_id=event.sender_id,
                type=event.type,
                timestamp=event.timestamp,
                fingerprint=event.fingerprint,
                data=event.data,
                source=source[:512],
            )
            for event, source in unrouted
        ],
        ignore_conflicts=True,
    )
    return len(unrouted)


@dataclass(eq=False)
class _Session:
    """A conversation as the router sees it; `pk` is None until it is created."""

    assistant_id: int
    sender_id: str
    start: datetime
    has_start: bool
    pk: int | None = None
    number: int = 0
    last_event_at: datetime | None = None
    next_position: int = 0
    events: list[ParsedEvent] = field(default_factory=list)
    # Planned to receive stored events from another session (see _plan_sender).
    receives_stored: bool = False
    absorbed: bool = False
    dirty_number: bool = False


@dataclass
class _Move:
    """Move the stored events of `source` from `since` on (and its `action_session_start`s
    from `since - grace`) into `target`, bounded by `until` (the next session's start)."""

    source: _Session
    target: _Session
    since: datetime
    until: datetime | None
    whole: bool = False  # a headless session absorbed entirely


def _load_sessions(routed: dict[int, list[ParsedEvent]]) -> dict[tuple[int, str], list[_Session]]:
    sessions: dict[tuple[int, str], list[_Session]] = defaultdict(list)
    for assistant_pk, events in routed.items():
        senders = sorted({event.sender_id for event in events})
        for start in range(0, len(senders), CHUNK):
            rows = Conversation.objects.filter(
                assistant_id=assistant_pk, sender_id__in=senders[start : start + CHUNK]
            ).values_list(
                "pk",
                "sender_id",
                "started_at",
                "has_session_start",
                "session_number",
                "last_event_at",
                "event_count",
            )
            for pk, sender, started, has_start, number, last, count in rows:
                sessions[(assistant_pk, sender)].append(
                    _Session(assistant_pk, sender, started, has_start, pk, number, last, count)
                )
    for group in sessions.values():
        group.sort(key=lambda s: s.start)
    return sessions


def _covering(group: list[_Session], when: datetime) -> _Session | None:
    """The session whose start is the latest at or before `when`."""
    found = None
    for session in group:
        if session.start <= when:
            found = session
        else:
            break
    return found


def _plan_sender(
    assistant_pk: int, sender: str, group: list[_Session], events: list[ParsedEvent]
) -> tuple[list[_Session], list[_Move]]:
    """Assign the new events of one sender to sessions, creating sessions as needed.
    Returns the new sessions and the moves of stored events they imply. Mutates `group`."""
    created: list[_Session] = []
    moves: list[_Move] = []
    events.sort(key=lambda e: e.timestamp)
    # Phase 1: every new session_started opens a session (unless one opened by the same
    # event's twin is already there, which the fingerprint check makes impossible).
    for event in events:
        if event.type != "session_started":
            continue
        session = _Session(assistant_pk, sender, event.timestamp, True)
        covering = _covering(group, event.timestamp)
        group.append(session)
        group.sort(key=lambda s: s.start)
        created.append(session)
        following = group[group.index(session) + 1 :]
        until = following[0].start if following else None
        # Only a stored session with events this late (or that received stored events in
        # this batch) can hold events that now belong to the new one: skip the UPDATE else.
        if covering is not None and (
            covering.receives_stored
            or (
                covering.pk is not None
                and covering.last_event_at is not None
                and covering.last_event_at >= event.timestamp - SESSION_START_GRACE
            )
        ):
            moves.append(_Move(covering, session, event.timestamp, until))
            session.receives_stored = True
        # Headless sessions now inside this one's time span belong to it.
        for other in following:
            if other.has_start:
                break
            moves.append(_Move(other, session, event.timestamp, None, whole=True))
            session.receives_stored = True
            other.absorbed = True
            group.remove(other)
        session.events.append(event)
    # Phase 2: the other events go to the session that covers their time.
    for event in events:
        if event.type == "session_started":
            continue
        target = None
        if event.is_session_marker:
            target = next(
                (
                    s
                    for s in group
                    if s.has_start
                    and event.timestamp < s.start <= event.timestamp + SESSION_START_GRACE
                ),
                None,
            )
        if target is None:
            target = _covering(group, event.timestamp)
        if target is None:
            first = group[0] if group else None
            if first is not None and not first.has_start:
                first.start = event.timestamp
                target = first
            else:
                target = _Session(assistant_pk, sender, event.timestamp, False)
                group.insert(0, target)
                created.append(target)
        target.events.append(event)
    return created, moves


def _store_routed(routed: dict[int, list[ParsedEvent]]) -> tuple[int, int]:
    if not routed:
        return 0, 0
    sessions = _load_sessions(routed)
    by_sender: dict[tuple[int, str], list[ParsedEvent]] = defaultdict(list)
    for assistant_pk, events in routed.items():
        for event in events:
            by_sender[(assistant_pk, event.sender_id)].append(event)
    created: list[_Session] = []
    moves: list[_Move] = []
    for key, events in by_sender.items():
        new, planned = _plan_sender(key[0], key[1], sessions[key], events)
        created.extend(new)
        moves.extend(planned)
        _number(sessions[key])

    # New conversations, with their counters computed from their new events.
    new_rows = []
    for session in created:
        row = Conversation(
            assistant_id=session.assistant_id,
            sender_id=session.sender_id,
            session_number=session.number,
            has_session_start=session.has_start,
            started_at=session.start,
            last_event_at=session.start,
        )
        _apply_new_events(row, session)
        new_rows.append(row)
    Conversation.objects.bulk_create(new_rows, batch_size=500)
    for session, row in zip(created, new_rows, strict=True):
        session.pk = row.pk

    recount: set[int] = set()
    emptied: set[int] = set()  # sessions that may have lost all their events
    for move in moves:
        if move.source.pk is None:
            continue
        moved = Event.objects.filter(conversation_id=move.source.pk)
        if not move.whole:
            moved = moved.filter(
                Q(timestamp__gte=move.since)
                | Q(
                    type="action",
                    action_name="action_session_start",
                    timestamp__gte=move.since - SESSION_START_GRACE,
                )
            )
            if move.until is not None:
                moved = moved.filter(timestamp__lt=move.until)
        if moved.update(conversation_id=move.target.pk):
            recount.update({move.source.pk, move.target.pk})
            emptied.add(move.source.pk)

    stored = _insert_events(
        [
            (session.pk, event, session.next_position + i)
            for group in sessions.values()
            for session in group
            for i, event in enumerate(session.events)
        ]
    )

    # Existing conversations that got new events or a new session number.
    created_pks = {session.pk for session in created}
    _update_existing(
        [
            session
            for group in sessions.values()
            for session in group
            if session.pk not in created_pks and (session.events or session.dirty_number)
        ]
    )
    if recount:
        _recount(recount)
    if emptied:
        _delete_empty(emptied)
    return stored, len(created)


def _delete_empty(pks: set[int]) -> None:
    """Delete sessions left without events by moves, and renumber their senders' sessions."""
    empty = set(pks) - set(
        Event.objects.filter(conversation_id__in=pks)
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    if not empty:
        return
    senders = set(
        Conversation.objects.filter(pk__in=empty).values_list("assistant_id", "sender_id")
    )
    Conversation.objects.filter(pk__in=empty).delete()
    rows = []
    for assistant_pk, sender in senders:
        group = Conversation.objects.filter(assistant_id=assistant_pk, sender_id=sender).order_by(
            "started_at", "pk"
        )
        for number, row in enumerate(group.only("pk", "session_number"), start=1):
            if row.session_number != number:
                row.session_number = number
                rows.append(row)
    Conversation.objects.bulk_update(rows, ["session_number"])


def _number(group: list[_Session]) -> None:
    for number, session in enumerate(sorted(group, key=lambda s: s.start), start=1):
        if session.number != number:
            session.number = number
            session.dirty_number = True


def _event_stats(events: Iterable[ParsedEvent]) -> dict:
    stats = {"count": 0, "users": 0, "first": None, "last": None}
    extra = {"channel": "", "model_id": "", "language": "", "user_id": ""}
    for event in events:
        stats["count"] += 1
        if event.is_user_message:
            stats["users"] += 1
        if stats["first"] is None or event.timestamp < stats["first"]:
            stats["first"] = event.timestamp
        if stats["last"] is None or event.timestamp > stats["last"]:
            stats["last"] = event.timestamp
        for key in extra:
            value = getattr(event, key)
            if value:
                extra[key] = value
    return {**stats, **extra}


def _apply_new_events(row: Conversation, session: _Session) -> None:
    stats = _event_stats(session.events)
    row.event_count = stats["count"]
    row.user_message_count = stats["users"]
    row.started_at = min(session.start, stats["first"] or session.start)
    row.last_event_at = stats["last"] or session.start
    for key in ("channel", "model_id", "language", "user_id"):
        if stats[key]:
            setattr(row, key, stats[key])


def _update_existing(updates: list[_Session]) -> None:
    if not updates:
        return
    pks = [session.pk for session in updates]
    current = {
        row.pk: row
        for start in range(0, len(pks), CHUNK)
        for row in Conversation.objects.filter(pk__in=pks[start : start + CHUNK]).only(
            "event_count",
            "user_message_count",
            "started_at",
            "last_event_at",
            "channel",
            "model_id",
            "language",
            "user_id",
        )
    }
    rows = []
    for session in updates:
        stored = current.get(session.pk)
        if stored is None:
            continue
        stored.session_number = session.number
        if session.events:
            stats = _event_stats(session.events)
            stored.event_count += stats["count"]
            stored.user_message_count += stats["users"]
            stored.started_at = min(stored.started_at, stats["first"])
            stored.last_event_at = max(stored.last_event_at, stats["last"])
            for key in ("channel", "model_id", "language", "user_id"):
                if stats[key]:
                    setattr(stored, key, stats[key])
        rows.append(stored)
    Conversation.objects.bulk_update(
        rows,
        [
            "session_number",
            "event_count",
            "user_message_count",
            "started_at",
            "last_event_at",
            "channel",
            "model_id",
            "language",
            "user_id",
        ],
        batch_size=500,
    )


def _recount(pks: set[int]) -> None:
    """Recompute counters from the stored events (after events moved between sessions)."""
    stats = (
        Event.objects.filter(conversation_id__in=pks)
        .values("conversation_id")
        .annotate(
            n=Count("id"),
            users=Count("id", filter=Q(type="user") & ~Q(text=SESSION_START_TEXT)),
            first=Min("timestamp"),
            last=Max("timestamp"),
        )
    )
    rows = []
    for item in stats:
        rows.append(
            Conversation(
                pk=item["conversation_id"],
                event_count=item["n"],
                user_message_count=item["users"],
                started_at=item["first"],
                last_event_at=item["last"],
            )
        )
    Conversation.objects.bulk_update(
        rows, ["event_count", "user_message_count", "started_at", "last_event_at"]
    )


_EVENT_COLUMNS = (
    "conversation_id",
    "position",
    "type",
    "timestamp",
    "fingerprint",
    "data",
    "text",
    "intent",
    "confidence",
    "action_name",
    "flow_id",
    "slot_name",
    "slot_value",
)


def event_row(conversation_pk: int, event: ParsedEvent, position: int) -> tuple:
    """The values of one Event row, in `_EVENT_COLUMNS` order (`data` as JSON text)."""
    return (
        conversation_pk,
        position,
        event.type,
        event.timestamp,
        event.fingerprint,
        event.json_text,
        event.text,
        event.intent,
        event.confidence,
        event.action_name,
        event.flow_id,
        event.slot_name,
        event.slot_value,
    )


def _insert_events(items: list[tuple[int, ParsedEvent, int]]) -> int:
    if not items:
        return 0
    if connection.vendor == "postgresql":
        return _copy_events([event_row(pk, event, position) for pk, event, position in items])
    rows = [
        Event(
            conversation_id=pk,
            position=position,
            type=event.type,
            timestamp=event.timestamp,
            fingerprint=event.fingerprint,
            data=event.data,
            text=event.text,
            intent=event.intent,
            confidence=event.confidence,
            action_name=event.action_name,
            flow_id=event.flow_id,
            slot_name=event.slot_name,
            slot_value=event.slot_value,
        )
        for pk, event, position in items
    ]
    Event.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


def _copy_events(rows: list[tuple]) -> int:
    """PostgreSQL: COPY straight into the table, the fastest way in. The batch's fingerprints
    were checked in this transaction, so a conflict can only come from another consumer
    storing the same event at this moment: the unique index then fails the whole batch, which
    is rolled back and read again (and this time finds those events stored)."""
    table = connection.ops.quote_name(Event._meta.db_table)
    columns = ", ".join(_EVENT_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Unrouted events


def reroute_unrouted(limit: int = 5000) -> tuple[int, int]:
    """Ingest again the unrouted events whose assistant now exists; returns (routed, left)."""
    names = {name.lower() for name in Assistant.objects.values_list("name", flat=True)}
    candidates = [
        row
        for row in UnroutedEvent.objects.exclude(assistant_id="").order_by("timestamp")[:limit]
        if row.assistant_id.lower() in names
    ]
    routed = 0
    with transaction.atomic():
        if candidates:
            ids = [row.pk for row in candidates]
            messages = [RawMessage(json.dumps(row.data), row.source) for row in candidates]
            UnroutedEvent.objects.filter(pk__in=ids).delete()
            report = ingest(messages)
            routed = report.stored + report.duplicates
    return routed, UnroutedEvent.objects.count()


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
        events = 0
        for start in range(0, len(pks), CHUNK):
            chunk = pks[start : start + CHUNK]
            events += Event.objects.filter(conversation_id__in=chunk).delete()[0]
            Conversation.objects.filter(pk__in=chunk).delete()
    return len(pks), events


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
        example, _ = Example.objects.update_or_create(
            intent=intent,
            text=annotated.text,
            defaults={
                "entities": entities,
                "position": (last or 0) + 1 if last is not None else 0,
            },
        )
    return example


# ---------------------------------------------------------------------------------------------
# The file spool's positions


def record_file_position(path: str, offset: int, inode: int) -> None:
    FileSpoolPosition.objects.update_or_create(
        path=path, defaults={"offset": offset, "inode": inode}
    )


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
            report.events += Event.objects.filter(conversation_id__in=pks).delete()[0]
            Conversation.objects.filter(pk__in=pks).delete()
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
