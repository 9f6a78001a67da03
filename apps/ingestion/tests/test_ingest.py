import json
import random

import pytest
from django.db import connection

from apps.ingestion import services, store
from apps.ingestion.models import Conversation, DeadLetter, Event, FileSpoolPosition, UnroutedEvent
from apps.ingestion.sources import FileSpoolSource
from apps.ingestion.store import RawMessage
from demo.conversations import Conversation as Sample
from demo.conversations import transfer_conversation


def messages(sample, prefix="m"):
    return [RawMessage(m, f"{prefix}:{i}") for i, m in enumerate(sample.messages())]


def state():
    return sorted(
        (
            c.sender_id,
            c.session_number,
            c.event_count,
            c.user_message_count,
            c.started_at,
            c.last_event_at,
            tuple(sorted(c.events.values_list("fingerprint", flat=True))),
        )
        for c in Conversation.objects.all()
    )


def test_it_splits_sessions_and_counts_user_messages(assistant):
    report = store.ingest(messages(transfer_conversation("s1")))
    assert report.stored == 34 and report.dead == 0 and report.unrouted == 0
    first, second = Conversation.objects.order_by("started_at")
    assert (first.session_number, second.session_number) == (1, 2)
    assert first.user_message_count == 2 and second.user_message_count == 2
    assert first.event_count == second.event_count == 17
    assert first.has_session_start and second.has_session_start
    assert first.channel == "rest" and first.model_id == "5b7e1c0f"
    # action_session_start opens the new session, as Rasa splits trackers.
    assert second.events.first().action_name == "action_session_start"
    assert list(second.events.exclude(flow_id="").values_list("type", flat=True)) == [
        "flow_started",
        "flow_interrupted",
        "flow_started",
        "flow_completed",
        "flow_resumed",
        "flow_completed",
    ]


def test_a_redelivered_batch_stores_nothing_twice(assistant):
    batch = messages(transfer_conversation("s1"))
    store.ingest(batch)
    before = state()
    again = store.ingest(batch + batch[:3])
    assert again.stored == 0 and again.duplicates == len(batch) + 3
    assert state() == before


@pytest.mark.parametrize("seed", range(12))
def test_the_result_does_not_depend_on_order_or_batching(assistant, seed):
    batch = messages(transfer_conversation("a")) + messages(transfer_conversation("b"), "n")
    store.ingest(batch)
    want = state()
    Event.objects.all().delete()
    Conversation.objects.all().delete()
    rng = random.Random(seed)
    shuffled = batch[:]
    rng.shuffle(shuffled)
    i = 0
    while i < len(shuffled):
        n = rng.randint(1, 9)
        store.ingest(shuffled[i : i + n] + rng.sample(batch, 2))  # with redeliveries
        i += n
    assert state() == want


def test_a_poison_message_is_a_dead_letter_and_the_batch_goes_on(assistant):
    good = messages(transfer_conversation("s1"))
    poison = [
        RawMessage(b"\xff\xfe not utf-8", "k:1"),
        RawMessage(b"{not json", "k:2"),
        RawMessage(b"[1, 2]", "k:3"),
        RawMessage(b'{"event": "user", "timestamp": 1}', "k:4"),
        RawMessage(b'{"event": "user", "sender_id": "x", "timestamp": NaN}', "k:5"),
        RawMessage(None, "k:6"),
        RawMessage(b'{"sender_id": "x", "timestamp": 1.0}', "k:7"),
    ]
    report = store.ingest(good[:5] + poison + good[5:])
    assert report.dead == len(poison) and report.stored == len(good)
    reasons = dict(DeadLetter.objects.values_list("source", "reason"))
    assert reasons["k:1"].startswith("not UTF-8")
    assert reasons["k:2"].startswith("not JSON")
    assert "not a JSON object" in reasons["k:3"]
    assert "sender_id" in reasons["k:4"]
    assert "NaN" in reasons["k:5"]
    assert "no 'event'" in reasons["k:7"]
    # Redelivered poison is recorded once.
    again = store.ingest(poison)
    assert again.new_dead_letters == [] and DeadLetter.objects.count() == len(poison)


def test_events_of_an_unknown_assistant_are_kept_aside_then_routed(assistant, make_assistant):
    sample = transfer_conversation("s9", assistant_id="gamma")
    no_id = Sample("s10")
    no_id.session_start()
    for body in no_id.events:
        del body["metadata"]["assistant_id"]
    report = store.ingest(messages(sample) + [RawMessage(json.dumps(b)) for b in no_id.events])
    assert report.unrouted == 34 + 3 and report.stored == 0
    assert UnroutedEvent.objects.filter(assistant_id="gamma").count() == 34
    assert store.ingest(messages(sample)).unrouted == 0  # not twice
    make_assistant("Gamma")  # names match regardless of case
    routed, left = store.reroute_unrouted()
    assert routed == 34 and left == 3
    assert Conversation.objects.filter(assistant__name="Gamma").count() == 2


def test_rasa_open_source_events_without_sessions(assistant):
    bodies = [
        {
            "sender_id": "oss",
            "event": "action",
            "name": "action_listen",
            "timestamp": 1_700_000_010.0,
            "metadata": {"assistant_id": "alpha"},
        },
        {
            "sender_id": "oss",
            "event": "user",
            "text": "hi",
            "timestamp": 1_700_000_011.0,
            "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []},
            "input_channel": "cmdline",
            "metadata": {"assistant_id": "alpha"},
        },
        {
            "sender_id": "oss",
            "event": "user",
            "text": "/session_start",
            "timestamp": 1_700_000_011.5,
            "metadata": {"assistant_id": "alpha"},
        },
        {
            "sender_id": "oss",
            "event": "some_future_event",
            "timestamp": 1_700_000_012.0,
            "weird": [1],
            "metadata": {"assistant_id": "alpha"},
        },
    ]
    store.ingest([RawMessage(json.dumps(b)) for b in bodies])
    conversation = Conversation.objects.get()
    assert not conversation.has_session_start
    assert conversation.user_message_count == 1  # /session_start is not the user's
    assert conversation.event_count == 4
    assert Event.objects.get(type="some_future_event").data["weird"] == [1]


def test_the_file_source_remembers_its_position_and_waits_for_partial_lines(assistant, tmp_path):
    lines = transfer_conversation("f1").messages()
    spool = tmp_path / "events"
    spool.mkdir()
    log = spool / "alpha.1.jsonl"
    log.write_bytes(b"\n".join(lines[:10]) + b"\n" + lines[10][:20])
    source = FileSpoolSource(spool, max_lines=4)
    while source.step():
        pass
    assert Event.objects.count() == 10
    position = FileSpoolPosition.objects.get()
    assert position.offset == sum(len(line) + 1 for line in lines[:10])
    with log.open("ab") as handle:
        handle.write(lines[10][20:] + b"\n" + b"garbage\n" + b"\n".join(lines[11:]) + b"\n")
    while source.step():
        pass
    assert Event.objects.count() == len(lines)
    assert DeadLetter.objects.get().source == f"file:{log}:{position.offset + len(lines[10]) + 1}"
    assert not source.step()
    # A rotated file (new inode) is read again; nothing is doubled.
    log.rename(spool / "old")
    (spool / "old").unlink()
    log.write_bytes(b"\n".join(lines) + b"\n")
    while source.step():
        pass
    assert Event.objects.count() == len(lines)


def test_a_rerouted_event_keeps_its_fingerprint(assistant, make_assistant):
    batch = messages(transfer_conversation("r1", assistant_id="later"))
    store.ingest(batch)
    stored = set(UnroutedEvent.objects.values_list("fingerprint", flat=True))
    make_assistant("later")
    store.reroute_unrouted()
    assert set(Event.objects.values_list("fingerprint", flat=True)) == stored
    # The messages delivered again are recognised as the events they became.
    again = store.ingest(batch)
    assert again.stored == 0 and again.duplicates == len(batch)


def test_messages_with_nul_characters_are_stored_without_them(assistant):
    body = next(b for b in transfer_conversation("nul").events if b["event"] == "user")
    body["text"] = "a\x00b"
    store.ingest([RawMessage(json.dumps(body))])
    event = Event.objects.get()
    assert event.text == "a\ufffdb" and event.data["text"] == "a\ufffdb"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row locks")
def test_deleting_a_conversation_while_a_batch_adds_to_it_leaves_no_event_behind(
    transactional_db, make_assistant
):
    """Events have no foreign-key constraint (see services, "Referential integrity"): a
    delete that runs while a batch adds events to the conversation must take them too."""
    import threading
    import time

    make_assistant("alpha")
    sample = messages(transfer_conversation("d1"))
    store.ingest(sample[:5])
    conversation = Conversation.objects.get()
    deleted = threading.Event()

    def delete():
        try:
            services.delete_conversations(Conversation.objects.filter(pk=conversation.pk))
            deleted.set()
        finally:
            connection.close()  # this thread's

    deleter = threading.Thread(target=delete)

    def during_the_batch(report):
        deleter.start()
        time.sleep(0.5)
        # The delete waits for the batch's lock on the conversation.
        assert not deleted.is_set()

    store.ingest(sample[5:12], in_transaction=during_the_batch)
    deleter.join(10)
    assert deleted.is_set()
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Event.objects.filter(conversation_id=conversation.pk).exists()
    assert not Event.objects.exclude(conversation__in=Conversation.objects.all()).exists()
