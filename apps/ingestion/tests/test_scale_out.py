"""Two ingesters in one consumer group on a four-partition topic (librdkafka's mock cluster,
tests.support): every event stored once, every sender's sessions as one ingester would store
them, also when one of them is killed in the middle and when both store the same sender at the
same moment (Rasa's default: no message key, one sender's events on every partition)."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from confluent_kafka import Producer
from django.db import connection

from apps.ingestion import store
from apps.ingestion.models import Conversation, Event, SenderLock
from apps.ingestion.services import delete_sender
from apps.ingestion.sources import KafkaSource, kafka_lag
from apps.ingestion.store import RawMessage
from apps.ingestion.tests.test_kill import ROOT, ChildDatabase
from demo.conversations import random_conversations, transfer_conversation
from tests.support.kafka_mock import create_topics
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow

PARTITIONS = 4


def conversations(assistant_id: str) -> list[bytes]:
    """Two-session conversations and single-session ones, in one list of messages."""
    messages = []
    for index in range(12):
        messages += transfer_conversation(f"t-{index}", assistant_id=assistant_id).messages()
    for conversation in random_conversations(60, assistant_id=assistant_id, start=1.7e9):
        messages += conversation.messages()
    return messages


def sessions(assistant) -> list[tuple]:
    """Every session of `assistant`, as what does not depend on which batch stored it."""
    return list(
        Conversation.objects.filter(assistant=assistant)
        .order_by("sender_id", "session_number")
        .values_list(
            "sender_id",
            "session_number",
            "has_session_start",
            "started_at",
            "last_event_at",
            "event_count",
            "user_message_count",
        )
    )


def reference_sessions(make_assistant) -> list[tuple]:
    """The same conversations stored by one batch, for another assistant."""
    beta = make_assistant("beta")
    store.ingest([RawMessage(value) for value in conversations("beta")])
    return sessions(beta)


def four_partition_topic(bootstrap: str) -> str:
    topic = f"scale-{uuid.uuid4().hex[:10]}"
    create_topics(bootstrap, [topic], partitions=PARTITIONS)
    producer = Producer({"bootstrap.servers": bootstrap})
    assert len(producer.list_topics(topic, timeout=10).topics[topic].partitions) == PARTITIONS
    return topic


def produce_unkeyed(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """As Rasa without `partition_by_sender`: no key, so each message may go to any partition."""
    producer = Producer({"bootstrap.servers": bootstrap, "sticky.partitioning.linger.ms": 0})
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(10) == 0


def lag(bootstrap: str, topic: str, group: str) -> int:
    return sum(
        row.lag
        for row in kafka_lag(config={"bootstrap.servers": bootstrap}, topic=topic, group_id=group)
    )


def test_two_ingesters_on_four_partitions_store_every_event_exactly_once(
    make_assistant, kafka_bootstrap
):
    alpha = make_assistant("alpha")
    topic = four_partition_topic(kafka_bootstrap)
    values = conversations("alpha")
    produce_unkeyed(kafka_bootstrap, topic, values)
    group = f"g-{uuid.uuid4().hex[:8]}"

    def member() -> KafkaSource:
        return KafkaSource(
            config={
                "bootstrap.servers": kafka_bootstrap,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
            },
            topic=topic,
            group_id=group,
            dlq_topic="",
            batch_size=25,
            poll_timeout=0.1,
        )

    first, second = member(), member()
    stored = {id(first): 0, id(second): 0}
    running = [first]
    first.open()
    try:
        deadline = time.monotonic() + 120
        steps = 0
        while True:
            assert time.monotonic() < deadline, f"stored {Event.objects.count()} of {len(values)}"
            for source in running:
                try:
                    if source.step():
                        stored[id(source)] += source.last_report.stored
                except Exception:
                    # A commit refused during the rebalance: the batch is read again (by
                    # whichever member has the partition now), as the worker would.
                    pass
            steps += 1
            if steps == 3:
                # The second joins while the first is half-way: a rebalance mid-stream.
                second.open()
                running.append(second)
            if Event.objects.count() >= len(values) and lag(kafka_bootstrap, topic, group) == 0:
                break
    finally:
        for source in running:
            source.close()
    assert stored[id(first)] > 0 and stored[id(second)] > 0
    assert Event.objects.count() == len(values)
    assert Event.objects.values("fingerprint").distinct().count() == len(values)
    assert sessions(alpha) == reference_sessions(make_assistant)


def test_a_killed_ingester_of_two_loses_and_doubles_nothing(
    transactional_db, make_assistant, kafka_bootstrap, tmp_path
):
    """`kill -9` of one of two `manage.py ingest` processes while they store: its partitions go
    to the other one, which stores what the killed one had not committed, and nothing twice."""
    alpha = make_assistant("alpha")
    topic = four_partition_topic(kafka_bootstrap)
    values = conversations("alpha")
    produce_unkeyed(kafka_bootstrap, topic, values)
    database = ChildDatabase(tmp_path)
    group = f"g-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database.url(),
        "STUDIO_VAR_DIR": str(tmp_path / "var"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": group,
        "KAFKA_DLQ_TOPIC": "",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
    }
    command = [sys.executable, "manage.py", "ingest", "--batch-size", "20", "--interval", "0.05"]
    children = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: database.count() > 0, timeout=90, what="the first stored events")
        assert database.count() < len(values), "stored everything before the kill"
        os.kill(children[0].pid, signal.SIGKILL)  # mid-stream, very likely mid-batch
        survivor = children[1]

        def finished() -> bool:
            assert survivor.poll() is None, survivor.stderr.read().decode()[-3000:]
            return database.count() >= len(values) and lag(kafka_bootstrap, topic, group) == 0

        wait_for(finished, timeout=180, interval=0.5, what="the survivor to store the rest")
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(30)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.wait(10)
            child.stderr.close()
    database.bring_back()
    assert children[0].returncode == -signal.SIGKILL
    assert Event.objects.count() == len(values)
    assert Event.objects.values("fingerprint").distinct().count() == len(values)
    assert sessions(alpha) == reference_sessions(make_assistant)


def test_a_batch_waits_for_another_storing_the_same_sender(transactional_db, make_assistant):
    """Two batches with events of one sender (its two sessions spread over both), the first
    holding its transaction open: the second waits for it, then plans from what it stored."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: its database lock orders the batches")
    alpha = make_assistant("alpha")
    messages = transfer_conversation("s1", assistant_id="alpha").messages()
    halves = messages[::2], messages[1::2]
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(report) -> None:
        holding.set()
        release.wait(60)

    def ingest(values, **kwargs) -> None:
        try:
            store.ingest([RawMessage(value) for value in values], **kwargs)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=ingest, args=(halves[0],), kwargs={"in_transaction": hold})
    first.start()
    assert holding.wait(60)
    second = threading.Thread(target=ingest, args=(halves[1],))
    second.start()

    def second_waits_or_is_done() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0] > 0 or not second.is_alive()

    try:
        wait_for(second_waits_or_is_done, timeout=60, what="the second batch to wait")
        assert second.is_alive(), "the second batch did not wait for the first"
    finally:
        release.set()
        first.join(60)
        second.join(60)
    assert not errors
    assert Event.objects.count() == len(messages)
    assert sessions(alpha) == reference_sessions_of(make_assistant, messages)
    assert [(s[1], s[6]) for s in sessions(alpha)] == [(1, 2), (2, 2)]


def reference_sessions_of(make_assistant, messages: list[bytes]) -> list[tuple]:
    """`messages` of assistant alpha stored by one batch, for another assistant."""
    beta = make_assistant("beta")
    store.ingest([RawMessage(value.replace(b'"alpha"', b'"beta"')) for value in messages])
    return sessions(beta)


def test_deleting_a_sender_forgets_its_lock_row(make_assistant):
    alpha = make_assistant("alpha")
    store.ingest([RawMessage(v) for v in transfer_conversation("gone").messages()])
    store.ingest([RawMessage(v) for v in transfer_conversation("kept").messages()])
    locked = set(SenderLock.objects.values_list("sender_id", flat=True))
    assert locked == ({"gone", "kept"} if connection.vendor == "postgresql" else set())
    delete_sender(alpha, "gone")
    assert not SenderLock.objects.filter(sender_id="gone").exists()
    assert Conversation.objects.filter(sender_id="kept").count() == 2
