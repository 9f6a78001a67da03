"""Messages that must become dead letters without stopping ingestion: timestamps outside the
accepted window, values that fail while being stored, spool files that fail, a last line
without a newline."""

import dataclasses
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from apps.ingestion import store
from apps.ingestion.models import Conversation, DeadLetter, Event, FileSpoolPosition
from apps.ingestion.parsing import EARLIEST_TIMESTAMP, MAX_FUTURE_SECONDS, parse_message
from apps.ingestion.sources import FileSpoolSource
from apps.ingestion.store import RawMessage
from demo.conversations import transfer_conversation

#: 9999-12-31 23:59:59 UTC: the audit's poison pair (a session marker one second before it).
END_OF_TIME = 253402300799.0
#: 0001-01-01 00:00:00 UTC.
START_OF_TIME = -62135596800.0


def body(sender, kind, stamp, assistant="alpha", **fields):
    return {
        "sender_id": sender,
        "event": kind,
        "timestamp": stamp,
        "metadata": {"assistant_id": assistant},
        **fields,
    }


def poison_pair(sender="poison-sender", assistant="alpha"):
    return [
        json.dumps(body(sender, "session_started", END_OF_TIME, assistant)).encode(),
        json.dumps(
            body(sender, "action", END_OF_TIME - 1, assistant, name="action_session_start")
        ).encode(),
    ]


def good_lines(sender, count, start=1_700_000_000.0, assistant="alpha"):
    return [
        json.dumps(body(sender, "user", start + i, assistant, text=f"hello {i}")).encode()
        for i in range(count)
    ]


def drain(source):
    while source.step():
        pass


def test_timestamps_outside_the_window_are_dead_letters(assistant):
    now = time.time()
    outside = {
        "year 1": START_OF_TIME,
        "year 9999": END_OF_TIME,
        "1999": EARLIEST_TIMESTAMP.timestamp() - 1,
        "two days ahead": now + 2 * 24 * 3600,
        "epoch": 0,
    }
    inside = {
        "2000": EARLIEST_TIMESTAMP.timestamp(),
        "an hour ahead": now + 3600,
        "now": now,
    }
    batch = [
        RawMessage(json.dumps(body(f"s-{name}", "user", stamp, text="hi")), f"t:{name}")
        for name, stamp in {**outside, **inside}.items()
    ]
    report = store.ingest(batch)
    assert report.dead == len(outside) and report.stored == len(inside)
    reasons = dict(DeadLetter.objects.values_list("source", "reason"))
    assert set(reasons) == {f"t:{name}" for name in outside}
    assert "9999-12-31 23:59:59 UTC" in reasons["t:year 9999"]
    assert "0001-01-01 00:00:00 UTC" in reasons["t:year 1"]
    for reason in reasons.values():
        assert "outside the accepted window: from 2000-01-01 to 24 hours after now" in reason
    assert MAX_FUTURE_SECONDS == 24 * 3600
    # Stored conversations stay inside the window, so retention and pages can handle them.
    assert (
        Conversation.objects.filter(last_event_at__gt=datetime(9000, 1, 1, tzinfo=UTC)).count() == 0
    )
    assert Conversation.objects.filter(started_at__lt=EARLIEST_TIMESTAMP).count() == 0


def test_the_poison_pair_in_the_spool_is_dead_lettered_and_the_rest_is_stored(assistant, tmp_path):
    spool = tmp_path / "events"
    spool.mkdir()
    lines = good_lines("ok-sender", 5) + poison_pair() + good_lines("ok-sender", 5, 1_700_000_005.0)
    (spool / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (spool / "b-healthy.jsonl").write_bytes(b"\n".join(good_lines("healthy", 5)) + b"\n")
    source = FileSpoolSource(spool)
    drain(source)
    assert Event.objects.filter(conversation__sender_id="ok-sender").count() == 10
    assert Event.objects.filter(conversation__sender_id="healthy").count() == 5
    assert not Conversation.objects.filter(sender_id="poison-sender").exists()
    letters = DeadLetter.objects.all()
    assert sorted(bytes(letter.raw) for letter in letters) == sorted(poison_pair())
    assert all("outside the accepted window" in letter.reason for letter in letters)
    # Read again from the start: nothing new.
    FileSpoolPosition.objects.all().delete()
    drain(source)
    assert Event.objects.count() == 15 and DeadLetter.objects.count() == 2


def test_a_session_start_at_the_start_of_time_then_another_a_second_later(assistant, tmp_path):
    spool = tmp_path / "events"
    spool.mkdir()
    log = spool / "a.jsonl"
    log.write_bytes(json.dumps(body("old", "session_started", START_OF_TIME)).encode() + b"\n")
    source = FileSpoolSource(spool)
    drain(source)
    with log.open("ab") as handle:
        handle.write(json.dumps(body("old", "session_started", START_OF_TIME + 1)).encode())
        handle.write(b"\n" + b"\n".join(good_lines("ok2", 5)) + b"\n")
    drain(source)
    assert Event.objects.count() == 5 and DeadLetter.objects.count() == 2


def _parsed(raw, source):
    return parse_message(raw), source


@pytest.fixture(params=["fast", "careful"])
def store_path(request, make_assistant):
    """On PostgreSQL, a batch is first COPied as if all new ("fast"); with an unrouted event
    waiting it takes the path that looks the stored fingerprints up first ("careful")."""
    if request.param == "careful":
        if connection.vendor != "postgresql":
            pytest.skip("SQLite has one path")
        store.ingest([RawMessage(json.dumps(body("u", "user", 1_700_000_000.0, "later")))])
    return request.param


def test_an_event_that_fails_to_store_is_a_dead_letter_and_its_batch_is_stored(
    assistant, store_path
):
    good = [_parsed(raw, f"g:{i}") for i, raw in enumerate(transfer_conversation("s1").messages())]
    template, _ = good[3]
    # Parses, but the database cannot take it: its JSON is neither serialisable (the ORM
    # path) nor valid jsonb (PostgreSQL's COPY).
    bad = dataclasses.replace(
        template, fingerprint=b"\x01" * 16, data={"value": object()}, json=b"{"
    )
    events = [*good[:10], (bad, "bad:1"), *good[10:]]
    seen = []
    report = store.store(
        store.PreparedBatch(len(events), events, [], 0), in_transaction=seen.append
    )
    assert seen == [report]  # the caller's step ran once, in the transaction that stored
    assert report.stored == len(good) and report.dead == 1
    assert Event.objects.count() == len(good)
    letter = DeadLetter.objects.get()
    assert letter.source == "bad:1" and letter.reason.startswith("could not be stored: ")
    assert [new.source for new in report.new_dead_letters] == ["bad:1"]
    assert Conversation.objects.filter(sender_id="s1").count() == 2


def test_session_arithmetic_at_the_ends_of_time_does_not_overflow(assistant):
    """Parsing keeps such timestamps out; storing must not depend on it."""
    template = parse_message(json.dumps(body("edge", "session_started", 1_700_000_000.0)))
    marker = parse_message(
        json.dumps(body("edge", "action", 1_700_000_000.0, name="action_session_start"))
    )
    latest = datetime.max.replace(tzinfo=UTC)
    earliest = datetime.min.replace(tzinfo=UTC)
    events = [
        dataclasses.replace(template, timestamp=latest, fingerprint=b"\x02" * 16),
        dataclasses.replace(
            marker, timestamp=latest - timedelta(seconds=1), fingerprint=b"\x03" * 16
        ),
        dataclasses.replace(template, timestamp=earliest, fingerprint=b"\x04" * 16),
        dataclasses.replace(marker, timestamp=earliest, fingerprint=b"\x05" * 16),
    ]
    batch = [(event, f"e:{i}") for i, event in enumerate(events)]
    report = store.store(store.PreparedBatch(len(batch), batch, [], 0))
    assert report.stored == 4 and report.dead == 0
    sessions = Conversation.objects.order_by("started_at")
    assert [s.event_count for s in sessions] == [2, 2]


def test_a_spool_file_that_fails_does_not_starve_the_files_after_it(assistant, tmp_path):
    spool = tmp_path / "events"
    spool.mkdir()
    # A name that is not UTF-8: its position cannot be recorded, so storing it fails.
    failing = os.fsencode(spool) + b"/a-\xff.jsonl"
    with open(failing, "wb") as handle:
        handle.write(b"\n".join(good_lines("first", 3)) + b"\n")
    (spool / "b.jsonl").write_bytes(b"\n".join(good_lines("second", 3)) + b"\n")
    source = FileSpoolSource(spool)
    assert source.step()
    assert Event.objects.filter(conversation__sender_id="second").count() == 3
    # Nothing else to read: the failing file's error is raised for the worker to count.
    with pytest.raises(UnicodeEncodeError):
        source.step()
    assert not Event.objects.filter(conversation__sender_id="first").exists()


def test_a_last_line_without_a_newline_is_read_once_the_file_is_quiet(assistant, tmp_path):
    spool = tmp_path / "events"
    spool.mkdir()
    complete, partial = good_lines("tail", 4)[:3], good_lines("tail", 4)[3]
    ends_good = spool / "a.jsonl"
    ends_good.write_bytes(b"\n".join(complete) + b"\n" + partial)
    ends_bad = spool / "b.jsonl"
    ends_bad.write_bytes(b"\n".join(good_lines("other", 2)) + b'\n{"sender_id": "cut')
    source = FileSpoolSource(spool)
    drain(source)
    # Written just now: the writer may be finishing the line.
    assert Event.objects.count() == 5 and not DeadLetter.objects.exists()
    for path in (ends_good, ends_bad):
        quiet = path.stat().st_mtime - 3600  # an hour ago
        os.utime(path, (quiet, quiet))
    drain(source)
    assert Event.objects.filter(conversation__sender_id="tail").count() == 4
    letter = DeadLetter.objects.get()
    assert bytes(letter.raw) == b'{"sender_id": "cut'
    assert letter.source == f"file:{ends_bad}:{len(ends_bad.read_bytes()) - 18}"
    assert {p.path: p.offset for p in FileSpoolPosition.objects.all()} == {
        str(ends_good): ends_good.stat().st_size,
        str(ends_bad): ends_bad.stat().st_size,
    }
    assert not any(f.behind for f in source.status())
    # A writer that comes back appends whole lines after it.
    with ends_good.open("ab") as handle:
        handle.write(good_lines("tail", 5, 1_700_000_100.0)[4] + b"\n")
    drain(source)
    assert Event.objects.filter(conversation__sender_id="tail").count() == 5
    assert DeadLetter.objects.count() == 1
