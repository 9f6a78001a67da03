"""The PostgreSQL fast path of the write path: the batch's sender locks, binary COPY of events and
conversations, one UPDATE for a batch's conversation counters, the fingerprint lookup as one
array, and the psycopg dumpers the COPY uses. `apps.ingestion.store` calls these when the
database is PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import connection
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.string import BytesBinaryDumper

from apps.ingestion.models import Conversation, Event, SenderLock, UnroutedEvent
from apps.ingestion.parsing import ParsedEvent
from apps.projects.models import Assistant


def lock_senders(senders: list[tuple[str, str]]) -> None:
    """Lock the batch's senders, given as (lower-case assistant name, sender id), until the
    batch commits: a second ingester storing events of one of them waits here (see "Two
    ingesters" in `apps.ingestion.store`). Senders of unknown assistants are left out.

    One statement: `ON CONFLICT DO UPDATE ... WHERE false` inserts the senders seen for the
    first time and locks every row, new or not, without writing a new version of the old
    ones. The rows are taken in one order (assistant, then sender byte by byte) by every batch
    and by `lock_sender_rows`, so two transactions never wait for each other in a cycle. Row
    locks live in the rows, not in PostgreSQL's shared lock table, so a batch of thousands of
    senders needs no setting."""
    if not senders:
        return
    names = [name for name, _ in senders]
    ids = [sender for _, sender in senders]
    table = SenderLock._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (assistant_id, sender_id)
            SELECT a.id, v.sender
            FROM unnest(%s::text[], %s::text[]) AS v(name, sender)
            JOIN {Assistant._meta.db_table} AS a ON lower(a.name) = v.name
            ORDER BY a.id, v.sender COLLATE "C"
            ON CONFLICT (assistant_id, sender_id)
            DO UPDATE SET sender_id = EXCLUDED.sender_id WHERE false
            """,
            [names, ids],
        )


def lock_sender_rows(senders: list[tuple[int, str]]) -> None:
    """Lock the `SenderLock` rows of `senders` (assistant id, sender id) that exist, in
    `lock_senders`' order: a delete of conversations does it before it deletes them, so that
    it and a batch of the same senders wait for each other in that order, never in a cycle
    (the batch locks its senders, then their conversations)."""
    if not senders:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.id FROM {SenderLock._meta.db_table} AS s
            JOIN unnest(%s::bigint[], %s::text[]) AS v(assistant_id, sender_id)
            ON s.assistant_id = v.assistant_id AND s.sender_id = v.sender_id
            ORDER BY s.assistant_id, s.sender_id COLLATE "C"
            FOR UPDATE OF s
            """,
            [[a for a, _ in senders], [sender for _, sender in senders]],
        )


def stored_fingerprints(prints: list[bytes]) -> set[bytes]:
    """The fingerprints of `prints` that are stored already, as events or as unrouted
    events.

    One statement with one array for the whole batch: an IN list of thousands of
    placeholders costs more to build and parse than the lookups. The array is written as a
    literal (hex digits need no quoting), which is much cheaper than adapting a list of
    thousands of strings one by one."""
    array = "{" + ",".join(value.hex() for value in prints) + "}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT fingerprint FROM {Event._meta.db_table} "
            "WHERE fingerprint = ANY(%s::uuid[]) "
            f"UNION ALL SELECT fingerprint FROM {UnroutedEvent._meta.db_table} "
            "WHERE fingerprint = ANY(%s::uuid[])",
            [array, array],
        )
        return {row[0].bytes for row in cursor.fetchall()}


def copy_conversations(columns: Sequence[str], rows: list[tuple]) -> list[int]:
    """Insert new conversations (`rows` in `columns` order); returns their ids, in order.
    Ids are taken from the sequence first, then one COPY: no per-object work in Django, and no
    reliance on the order of RETURNING rows."""
    table = Conversation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        pks = [row[0] for row in cursor.fetchall()]
        names = ", ".join(("id", *columns))
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for pk, row in zip(pks, rows, strict=True):
                copy.write_row((pk, *row))
    return pks


def update_conversations(values: list[tuple]) -> None:
    """One UPDATE for all the existing conversations of a batch: the counters grow by the new
    events' (no need to read the rows first). Each of `values` is (id, session number, event
    count, user message count, first, last, channel, model_id, language, user_id) of the new
    events."""
    columns: list[list] = [[] for _ in range(10)]
    for row in values:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    table = Conversation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS c SET
                session_number = v.number,
                event_count = c.event_count + v.count,
                user_message_count = c.user_message_count + v.users,
                started_at = LEAST(c.started_at, COALESCE(v.first, c.started_at)),
                last_event_at = GREATEST(c.last_event_at, COALESCE(v.last, c.last_event_at)),
                channel = CASE WHEN v.channel <> '' THEN v.channel ELSE c.channel END,
                model_id = CASE WHEN v.model_id <> '' THEN v.model_id ELSE c.model_id END,
                language = CASE WHEN v.language <> '' THEN v.language ELSE c.language END,
                user_id = CASE WHEN v.user_id <> '' THEN v.user_id ELSE c.user_id END
            FROM unnest(
                %s::bigint[], %s::integer[], %s::integer[], %s::integer[],
                %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[], %s::text[],
                %s::text[]
            ) AS v(id, number, count, users, first, last, channel, model_id, language, user_id)
            WHERE c.id = v.id
            """,
            columns,
        )


EVENT_COLUMNS = (
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


#: Their PostgreSQL types, for the binary COPY.
EVENT_TYPES = (
    "int8",
    "int4",
    "varchar",
    "timestamptz",
    "uuid",
    "jsonb",
    "text",
    "varchar",
    "float8",
    "varchar",
    "varchar",
    "varchar",
    "text",
)


def event_row(conversation_pk: int, event: ParsedEvent, position: int) -> tuple:
    """The values of one Event row, in `EVENT_COLUMNS` order (the fingerprint's 16 bytes,
    `data` as UTF-8 JSON)."""
    return (
        conversation_pk,
        position,
        event.type,
        event.timestamp,
        event.fingerprint,
        event.json,
        event.text,
        event.intent,
        event.confidence,
        event.action_name,
        event.flow_id,
        event.slot_name,
        event.slot_value,
    )


def copy_events(rows: list[tuple], meanwhile: Callable[[], None] | None = None) -> int:
    """PostgreSQL: COPY straight into the table, the fastest way in. A fingerprint stored
    already fails it with an IntegrityError: in `store._store_new_events` that means "take
    the careful path"; after `store._drop_stored` it can only come from another consumer storing the
    same event at this moment, and the batch is stored again in parts (`store.store`), which this
    time finds those events stored.

    In COPY's binary format: PostgreSQL then parses no numbers, timestamps or UUIDs, and
    psycopg escapes no text; measured, about half the client's time and a tenth of the
    server's per row (issue 6)."""
    if not rows:
        return 0
    table = connection.ops.quote_name(Event._meta.db_table)
    columns = ", ".join(EVENT_COLUMNS)
    with connection.wrap_database_errors, connection.cursor() as cursor:
        raw = cursor.cursor
        # This cursor's own adapters: found by type name only (`set_types` below).
        raw.adapters.register_dumper(None, _UuidBytesDumper)
        raw.adapters.register_dumper(None, _JsonbBytesDumper)
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(EVENT_TYPES)
            for row in rows:
                copy.write_row(row)
            # The rows are sent (the socket buffers hold a batch) but PostgreSQL is still
            # writing them: `meanwhile` runs now, and only then do we wait for it to finish.
            if meanwhile is not None:
                meanwhile()
    return len(rows)


class _UuidBytesDumper(BytesBinaryDumper):
    """A UUID given as its 16 bytes."""

    oid = postgres.types["uuid"].oid


class _JsonbBytesDumper(Dumper):
    """jsonb given as UTF-8 JSON: its binary form is a version number (1), then that text."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: bytes) -> bytes:
        return b"\x01" + obj
