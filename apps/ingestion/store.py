"""The write path: messages from the brokers stored as events, conversations and sessions.

Each public function is one transaction.

`ingest(batch)` is the heart: it takes raw broker messages from any transport (Kafka, the file
spool, a test) and stores them.

Idempotency (why a redelivered message never creates a second event)
----------------------------------------------------------------------
Every event is identified by its *fingerprint*, a 128-bit hash of the message's bytes as the
broker delivered them (`apps.ingestion.parsing.fingerprint` says why the bytes, not a canonical
form: every redelivery carries the same bytes), and `Event.fingerprint` /
`UnroutedEvent.fingerprint` are unique. A batch drops the events whose fingerprint is already
stored (one query for the whole batch), and the unique index rejects whatever a second consumer
racing on the same message stored meanwhile, so it is stored once. On PostgreSQL the common
batch, all new, skips the lookup: it is inserted in a savepoint, where the unique index does
the check, and on a conflict it is rolled back and stored the careful way
(`_store_new_events`). Dead letters are unique on their source position
(topic/partition/offset or file/byte offset).

The Kafka consumer commits offsets only after the batch's transaction has committed. A crash
between the two redelivers the batch: every event is then found by its fingerprint and nothing
is stored twice (the DLQ topic may see a poison message twice; the table does not). The file
source stores its byte offset in the same transaction as the events, so it never re-reads a
committed line; the fingerprints guard against a rotated or copied file.

Referential integrity
---------------------
`Event.conversation` has no foreign-key constraint in the database: checking one costs a lookup
per inserted row at commit, which made the COPY of a batch about 1.7 times slower (measured,
issue 6). What the constraint guaranteed, no event without its conversation, holds by two
cheaper means. The batch locks the stored conversations it may add events to (`FOR KEY SHARE`,
one statement), so a concurrent delete of one waits for the batch to commit, or has committed
and the batch does not see the conversation (and opens a new one). And on PostgreSQL a trigger
deletes the events of deleted conversations (migration 0002), after Django's own cascade: a
delete that waited for a batch takes that batch's events too.

Two ingesters
-------------
Ingesters in one consumer group read different partitions, but Rasa puts a message key on its
events only with `partition_by_sender: true`: by default one sender's events are spread over
every partition, so two ingesters may store events of the same sender at the same moment, and
both would plan its sessions from what is stored (no session yet: both open one). So on
PostgreSQL every batch first locks its senders, a row each in `SenderLock`
(`postgres.lock_senders`), before it reads anything of theirs: the batch that comes second
waits until the first has committed, then plans from what that one stored. Batches of
different senders (a keyed topic, where each sender has one partition) never wait for each
other: nothing else they write is shared (the conversations they update are their senders',
the event table's unique index checks fingerprints without a table lock, ids come from
sequences). SQLite has one writer at a time, which serialises batches already.

Sessions are not decided by arrival order but by time: an event belongs to the session whose
`session_started` is the latest one at or before the event's timestamp (an
`action_session_start` logged just before its `session_started` belongs to that new session, as
Rasa splits trackers). A `session_started` that arrives late moves the already-stored events it
now covers. So what is stored depends only on the set of events received, not on their order,
on batch boundaries or on redeliveries.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import psycopg
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Lower

from apps.ingestion import postgres
from apps.ingestion.models import (
    Conversation,
    DeadLetter,
    Event,
    FileSpoolPosition,
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


class RawMessage(NamedTuple):
    """One message as a transport delivers it. `source` says where it came from
    ("kafka:<topic>/<partition>/<offset>", "file:<path>:<offset>"); it names dead letters.
    `fingerprint` is only given when an event already stored once is ingested again
    (`reroute_unrouted`), to keep its identity. (A tuple: one is built per message.)"""

    value: bytes | str | None
    source: str = ""
    fingerprint: bytes | None = None


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


def without_cyclic_gc(function):
    """Run `function` with Python's cyclic garbage collector paused.

    A batch allocates hundreds of thousands of small objects (parsed JSON, events, rows)
    that all live until it is stored, then are freed by reference counting: they form no
    cycles. While they live, the collector, triggered every 700 allocations, scans them
    again and again and promotes them to older generations, whose full scans then cover the
    whole process as well: measured, that was about a third of ingestion's time (issue 6).
    Cycles made meanwhile, if any, are collected after."""

    @functools.wraps(function)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused


@without_cyclic_gc
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
    return store(prepare(batch), in_transaction=in_transaction)


@dataclass
class PreparedBatch:
    """A batch parsed and ready to store: `prepare()`'s result, `store()`'s input."""

    received: int
    events: list[tuple[ParsedEvent, str]]  # (event, source), one per fingerprint
    dead: list[tuple[bytes, str, str]]  # (raw, source, reason)
    duplicates: int  # repeats within the batch


@without_cyclic_gc
def prepare(batch: Iterable[RawMessage]) -> PreparedBatch:
    """Parse a batch. Pure Python without the database (the Kafka source prepares its next
    batch while PostgreSQL writes the current one: see `store`)."""
    events: list[tuple[ParsedEvent, str]] = []
    dead: list[tuple[bytes, str, str]] = []
    seen: set[str] = set()
    duplicates = received = 0
    for value, source, known_fingerprint in batch:
        received += 1
        try:
            if value is None:
                raise ParseError("empty message (no value)")
            event = parse_message(value, known_fingerprint)
        except ParseError as exc:
            raw = value.encode("utf-8", "replace") if isinstance(value, str) else (value or b"")
            dead.append((bytes(raw), source, str(exc)))
            continue
        if event.fingerprint in seen:
            duplicates += 1
            continue
        seen.add(event.fingerprint)
        events.append((event, source))
    return PreparedBatch(received, events, dead, duplicates)


@without_cyclic_gc
def store(
    batch: PreparedBatch,
    *,
    in_transaction: Callable[[IngestReport], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> IngestReport:
    """Store a prepared batch in one transaction (see `ingest`).

    `meanwhile` is called at most once, when the batch's events have been handed to
    PostgreSQL and it is still writing them: the Kafka source reads and prepares its next
    batch there, so that work costs no time (issue 6). Not called if no event is written.

    A message that parses but fails to store (a value the database refuses, an error in the
    session arithmetic) must not stop ingestion, which would read the same batch again and
    fail again for ever: when storing the batch fails, it is stored again in one transaction
    with a savepoint per part, halving the parts that fail until the messages that fail on
    their own are found; those become dead letters ("could not be stored: ...") and the rest
    is stored (`_store_isolating`). Errors of the connection itself, and those raised by
    `in_transaction`, are not the messages' fault: they are raised, and the batch is retried.
    """
    meanwhile = _Once(meanwhile)
    callback = _Callback(in_transaction)
    try:
        with transaction.atomic():
            _lock_senders(batch.events)
            report = _store_dead_and_parsed(batch)
            _store_events(batch.events, report, meanwhile)
            callback(report)
        return report
    except Exception as exc:
        if callback.started or not batch.events or not _may_be_the_data(exc):
            raise
        log.warning(
            "a batch of %s events failed to store (%s: %s): storing it in parts to find the "
            "messages that fail",
            len(batch.events),
            type(exc).__name__,
            exc,
        )
    with transaction.atomic():
        _lock_senders(batch.events)
        report = _store_dead_and_parsed(batch)
        failed = _store_isolating(batch.events, report, meanwhile)
        if failed:
            letters = _store_dead_letters(
                [
                    (event.json, source, f"could not be stored: {reason}")
                    for event, source, reason in failed
                ]
            )
            report.new_dead_letters.extend(letters)
            report.dead += len(failed)
        callback(report)
    return report


def _lock_senders(events: list[tuple[ParsedEvent, str]]) -> None:
    """PostgreSQL: lock the senders of `events` until the transaction ends (see "Two
    ingesters" in the module docstring). Before anything of theirs is read."""
    if connection.vendor != "postgresql":
        return
    senders = sorted(
        {
            (event.assistant_name.lower(), event.sender_id)
            for event, _ in events
            if event.assistant_name
        }
    )
    postgres.lock_senders(senders)


def _store_dead_and_parsed(batch: PreparedBatch) -> IngestReport:
    """The batch's report, after storing its unparseable messages as dead letters."""
    report = IngestReport(received=batch.received, duplicates=batch.duplicates)
    report.new_dead_letters = _store_dead_letters(batch.dead)
    report.dead = len(batch.dead)
    return report


def _store_events(
    events: list[tuple[ParsedEvent, str]], report: IngestReport, meanwhile: _Once
) -> None:
    """Store parsed events (new ones, of known assistants; the others are counted as
    duplicates or kept as unrouted events), adding to `report`'s counters."""
    if _store_new_events(events, report, meanwhile):
        return
    fresh = _drop_stored(events)
    report.duplicates += len(events) - len(fresh)
    routed, unrouted = _route(fresh)
    report.unrouted += _store_unrouted(unrouted)
    stored, created = _store_routed(routed, meanwhile)
    report.stored += stored
    report.conversations_created += created


def _store_isolating(
    events: list[tuple[ParsedEvent, str]], report: IngestReport, meanwhile: _Once
) -> list[tuple[ParsedEvent, str, str]]:
    """Store `events` in a savepoint; if that fails, each half in its own, and so on down to
    single events. Returns the events that fail on their own, with the error."""
    if not events:
        return []
    part = IngestReport()
    try:
        with transaction.atomic():
            _store_events(events, part, meanwhile)
    except Exception as exc:
        if not _may_be_the_data(exc):
            raise
        if len(events) == 1:
            event, source = events[0]
            return [(event, source, f"{type(exc).__name__}: {exc}"[:1900])]
        middle = len(events) // 2
        return _store_isolating(events[:middle], report, meanwhile) + _store_isolating(
            events[middle:], report, meanwhile
        )
    for name in ("stored", "duplicates", "unrouted", "conversations_created"):
        setattr(report, name, getattr(report, name) + getattr(part, name))
    return []


def _may_be_the_data(exc: Exception) -> bool:
    """False for errors of the database connection (retrying the batch later is the cure)."""
    return not isinstance(
        exc,
        OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError,
    )


class _Callback:
    """Runs `in_transaction` (if any), remembering whether it was called."""

    def __init__(self, function: Callable[[IngestReport], None] | None):
        self.function = function
        self.started = False

    def __call__(self, report: IngestReport) -> None:
        if self.function is not None:
            self.started = True
            self.function(report)


class _Once:
    """Calls a function (if any) the first time it is called."""

    def __init__(self, function: Callable[[], None] | None):
        self.function = function

    def __call__(self) -> None:
        function, self.function = self.function, None
        if function is not None:
            function()


def _store_new_events(
    events: list[tuple[ParsedEvent, str]], report: IngestReport, meanwhile: _Once
) -> bool:
    """PostgreSQL, the common case: store the batch as if none of its events were stored
    yet, letting the unique index on the fingerprint check that as it inserts, rather than
    looking every fingerprint up first. If one was stored (a redelivery), the insert fails,
    everything this did is rolled back to a savepoint and the caller takes the careful path
    (False). Only for batches whose events all go to known assistants while no unrouted
    event is waiting: an event's first copy may be an unrouted event, which that index does
    not cover."""
    if not events or connection.vendor != "postgresql":
        return False
    routed, unrouted = _route(events)
    if unrouted or UnroutedEvent.objects.exists():
        return False
    try:
        with transaction.atomic():
            report.stored, report.conversations_created = _store_routed(routed, meanwhile)
    except IntegrityError:
        return False
    return True


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
    if not parsed:
        return parsed
    prints = [event.fingerprint for event, _ in parsed]
    stored = _stored_fingerprints(prints)
    if not stored:
        return parsed
    return [(event, source) for event, source in parsed if event.fingerprint not in stored]


def _stored_fingerprints(prints: list[bytes]) -> set[bytes]:
    """The fingerprints of `prints` that are stored already, as events or as unrouted
    events."""
    if connection.vendor == "postgresql":
        return postgres.stored_fingerprints(prints)
    stored: set[bytes] = set()
    for start in range(0, len(prints), CHUNK):
        chunk = [uuid.UUID(bytes=value) for value in prints[start : start + CHUNK]]
        for model in (Event, UnroutedEvent):
            stored.update(
                value.bytes
                for value in model.objects.filter(fingerprint__in=chunk).values_list(
                    "fingerprint", flat=True
                )
            )
    return stored


def _route(parsed):
    """Split events into those of a known assistant ({assistant_id: [...]}) and the rest.
    Rasa's `assistant_id` is the assistant's name here (matched regardless of case, as names
    are unique regardless of case)."""
    names = {event.assistant_name for event, _ in parsed}
    names.discard("")
    by_lower_name = dict(
        Assistant.objects.annotate(lname=Lower("name"))
        .filter(lname__in={name.lower() for name in names})
        .values_list("lname", "pk")
    )
    by_name = {name: by_lower_name.get(name.lower()) for name in names}
    routed: dict[int, list[ParsedEvent]] = defaultdict(list)
    unrouted: list[tuple[ParsedEvent, str]] = []
    for event, source in parsed:
        assistant_pk = by_name.get(event.assistant_name)
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
                fingerprint=uuid.UUID(bytes=event.fingerprint),
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


_SESSION_COLUMNS = (
    "id",
    "sender_id",
    "started_at",
    "has_session_start",
    "session_number",
    "last_event_at",
    "event_count",
)


def _load_sessions(routed: dict[int, list[ParsedEvent]]) -> dict[tuple[int, str], list[_Session]]:
    """The stored sessions of the batch's senders. On PostgreSQL they are locked against
    deletion until the batch commits (see "Referential integrity" in the module docstring)."""
    sessions: dict[tuple[int, str], list[_Session]] = defaultdict(list)
    table = Conversation._meta.db_table
    for assistant_pk, events in routed.items():
        senders = sorted({event.sender_id for event in events})
        for start in range(0, len(senders), CHUNK):
            chunk = senders[start : start + CHUNK]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {', '.join(_SESSION_COLUMNS)} FROM {table} "
                        "WHERE assistant_id = %s AND sender_id = ANY(%s) FOR KEY SHARE",
                        [assistant_pk, chunk],
                    )
                    rows = cursor.fetchall()
            else:
                rows = Conversation.objects.filter(
                    assistant_id=assistant_pk, sender_id__in=chunk
                ).values_list(*_SESSION_COLUMNS)
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


def _before(when: datetime, delta: timedelta) -> datetime:
    """`when - delta`, or the earliest datetime rather than an OverflowError (parsing keeps
    timestamps inside a window, but this arithmetic must not depend on that)."""
    try:
        return when - delta
    except OverflowError:
        return datetime.min.replace(tzinfo=when.tzinfo)


def _after(when: datetime, delta: timedelta) -> datetime:
    """`when + delta`, or the latest datetime rather than an OverflowError."""
    try:
        return when + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=when.tzinfo)


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
                and covering.last_event_at >= _before(event.timestamp, SESSION_START_GRACE)
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
                    and event.timestamp < s.start <= _after(event.timestamp, SESSION_START_GRACE)
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


def _store_routed(
    routed: dict[int, list[ParsedEvent]], meanwhile: _Once | None = None
) -> tuple[int, int]:
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

    _create_conversations(created)

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
                    timestamp__gte=_before(move.since, SESSION_START_GRACE),
                )
            )
            if move.until is not None:
                moved = moved.filter(timestamp__lt=move.until)
        if moved.update(conversation_id=move.target.pk):
            recount.update({move.source.pk, move.target.pk})
            emptied.add(move.source.pk)

    stored = _insert_events(
        [session for group in sessions.values() for session in group if session.events],
        meanwhile,
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


def _event_stats(events: list[ParsedEvent]) -> dict:
    """Counters of new events, and the latest non-empty channel, model... (the last event in
    `events` order that has one)."""
    if not events:
        return {
            "count": 0,
            "users": 0,
            "first": None,
            "last": None,
            **dict.fromkeys(("channel", "model_id", "language", "user_id"), ""),
        }
    stamps = [event.timestamp for event in events]
    stats = {
        "count": len(events),
        "users": sum(1 for event in events if event.type == "user" and event.is_user_message),
        "first": min(stamps),
        "last": max(stamps),
        "channel": next((e.channel for e in reversed(events) if e.channel), ""),
        "model_id": next((e.model_id for e in reversed(events) if e.model_id), ""),
        "language": next((e.language for e in reversed(events) if e.language), ""),
        "user_id": next((e.user_id for e in reversed(events) if e.user_id), ""),
    }
    return stats


#: The columns of a new conversation, in `_new_conversation_row` order.
_CONVERSATION_COLUMNS = (
    "assistant_id",
    "sender_id",
    "session_number",
    "has_session_start",
    "started_at",
    "last_event_at",
    "event_count",
    "user_message_count",
    "channel",
    "model_id",
    "language",
    "user_id",
)


def _new_conversation_row(session: _Session) -> tuple:
    """A new session's row, its counters computed from its new events."""
    stats = _event_stats(session.events)
    return (
        session.assistant_id,
        session.sender_id,
        session.number,
        session.has_start,
        min(session.start, stats["first"] or session.start),
        stats["last"] or session.start,
        stats["count"],
        stats["users"],
        stats["channel"],
        stats["model_id"],
        stats["language"],
        stats["user_id"],
    )


def _create_conversations(created: list[_Session]) -> None:
    """Insert the new sessions and set their `pk`."""
    if not created:
        return
    rows = [_new_conversation_row(session) for session in created]
    if connection.vendor == "postgresql":
        pks = postgres.copy_conversations(_CONVERSATION_COLUMNS, rows)
        for session, pk in zip(created, pks, strict=True):
            session.pk = pk
        return
    objects = [Conversation(**dict(zip(_CONVERSATION_COLUMNS, row, strict=True))) for row in rows]
    Conversation.objects.bulk_create(objects, batch_size=500)
    for session, row in zip(created, objects, strict=True):
        session.pk = row.pk


def _update_existing(updates: list[_Session]) -> None:
    if not updates:
        return
    if connection.vendor == "postgresql":
        _update_existing_postgresql(updates)
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


def _update_existing_postgresql(updates: list[_Session]) -> None:
    """One UPDATE for all the existing conversations of the batch (`postgres`)."""
    values = []
    for session in updates:
        stats = _event_stats(session.events)
        values.append(
            (
                session.pk,
                session.number,
                stats["count"],
                stats["users"],
                stats["first"],
                stats["last"],
                stats["channel"],
                stats["model_id"],
                stats["language"],
                stats["user_id"],
            )
        )
    postgres.update_conversations(values)


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


def _insert_events(sessions: list[_Session], meanwhile: _Once | None = None) -> int:
    """Insert the new events of `sessions` (whose `pk` is set)."""
    if connection.vendor == "postgresql":
        return postgres.copy_events(
            [
                postgres.event_row(session.pk, event, position)
                for session in sessions
                for position, event in enumerate(session.events, start=session.next_position)
            ],
            meanwhile,
        )
    items = [
        (session.pk, event, position)
        for session in sessions
        for position, event in enumerate(session.events, start=session.next_position)
    ]
    if not items:
        return 0
    rows = [
        Event(
            conversation_id=pk,
            position=position,
            type=event.type,
            timestamp=event.timestamp,
            fingerprint=uuid.UUID(bytes=event.fingerprint),
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
            messages = [
                RawMessage(json.dumps(row.data), row.source, row.fingerprint.bytes)
                for row in candidates
            ]
            UnroutedEvent.objects.filter(pk__in=ids).delete()
            report = ingest(messages)
            routed = report.stored + report.duplicates
    return routed, UnroutedEvent.objects.count()


# ---------------------------------------------------------------------------------------------
# The file spool's positions (recorded in the batch's transaction)


def record_file_position(path: str, offset: int, inode: int) -> None:
    FileSpoolPosition.objects.update_or_create(
        path=path, defaults={"offset": offset, "inode": inode}
    )
