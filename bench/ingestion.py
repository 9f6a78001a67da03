"""Ingestion: events/s from Kafka into the database (one consumer) next to a plain COPY, and the
review list's p95 with 1,000,000 events.

Loopback only: Kafka is librdkafka's mock cluster in a child process. BENCH_KAFKA_EVENTS and
BENCH_LIST_EVENTS set the sizes (defaults 50,000 and 1,000,000). The Kafka figure is the rate of
draining a backlog: from the first batch of the produced events to the last one stored, with
the consumer already in its group (joining it is not throughput).
"""

import os
import statistics
import time
import uuid

from bench import Figure


def _kafka_throughput(events: int):
    from confluent_kafka import Producer
    from django.db import connection, transaction

    from apps.ingestion.models import Conversation, Event
    from apps.ingestion.postgres import EVENT_COLUMNS
    from apps.ingestion.services import delete_conversations
    from apps.ingestion.sources import KafkaSource
    from apps.projects.models import Assistant
    from demo.conversations import random_conversations, transfer_conversation
    from tests.support.kafka_mock import KafkaMock, create_topics

    name = f"bench-kafka-{uuid.uuid4().hex[:6]}"
    assistant = Assistant.objects.create(name=name)
    with KafkaMock() as mock:
        topic = "rasa-events"
        create_topics(mock.bootstrap, [topic])
        producer = Producer({"bootstrap.servers": mock.bootstrap, "linger.ms": 20})
        source = KafkaSource(
            config={"bootstrap.servers": mock.bootstrap},
            topic=topic,
            group_id="bench",
            dlq_topic="",
            poll_timeout=0.5,
        )
        source.open()
        deadline = time.monotonic() + 600
        try:
            # Not timed: the consumer joins its group and gets the partition with one
            # conversation first, so that the figure is the rate of draining a backlog,
            # not the group's start-up.
            warm_up = transfer_conversation("bench-warm-up", assistant_id=name).messages()
            for value in warm_up:
                producer.produce(topic, value=value, key=b"warm-up")
            producer.flush(60)
            warmed = 0
            while warmed < len(warm_up) and time.monotonic() < deadline:
                if source.step():
                    warmed += source.last_report.received

            produced = 0
            for conversation in random_conversations(events, assistant_id=name, start=1.7e9):
                for value in conversation.messages():
                    producer.produce(topic, value=value, key=conversation.sender_id.encode())
                    produced += 1
                    if produced % 10000 == 0:
                        producer.poll(0)
                if produced >= events:
                    break
            producer.flush(60)
            producer = None  # closed before the mock cluster goes away
            stored, received, started, finished = 0, 0, None, None
            # Bounded: ends when all arrived, or 5 s after the last batch (the mock cluster
            # may keep fewer messages than were produced).
            while received < produced and time.monotonic() < deadline:
                began = time.perf_counter()
                if source.step():
                    started = started or began
                    finished = time.perf_counter()
                    stored += source.last_report.stored
                    received += source.last_report.received
                elif finished and time.perf_counter() - finished > 5:
                    break
        finally:
            source.close()
        kafka_seconds = finished - started
    rate = stored / kafka_seconds

    # The same rows, written by the fastest plain path the database has, into a copy of the
    # table with the same indexes.
    columns = ", ".join(EVENT_COLUMNS)
    rows = list(Event.objects.filter(conversation__assistant=assistant).values_list(*EVENT_COLUMNS))
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TABLE IF EXISTS bench_event_copy")
            cursor.execute(f"CREATE TABLE bench_event_copy (LIKE {table} INCLUDING ALL)")
            import json

            rows = [(*r[:5], json.dumps(r[5]), *r[6:]) for r in rows]
            began = time.perf_counter()
            with (
                transaction.atomic(),
                cursor.cursor.copy(f"COPY bench_event_copy ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            copy_seconds = time.perf_counter() - began
            label = "plain COPY of the same rows"
        else:
            cursor.execute("DROP TABLE IF EXISTS bench_event_copy")
            cursor.execute(f"CREATE TABLE bench_event_copy AS SELECT * FROM {table} WHERE 0")
            cursor.execute("CREATE UNIQUE INDEX bench_fp ON bench_event_copy (fingerprint)")
            cursor.execute(
                "SELECT data FROM ingestion_event e JOIN ingestion_conversation c "
                "ON c.id = e.conversation_id WHERE c.assistant_id = %s",
                [assistant.pk],
            )
            data = [r[0] for r in cursor.fetchall()]
            rows = [(*r[:5], d, *r[6:]) for r, d in zip(rows, data, strict=True)]
            marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
            began = time.perf_counter()
            with transaction.atomic():
                cursor.executemany(
                    f"INSERT INTO bench_event_copy ({columns}) VALUES ({marks})", rows
                )
            copy_seconds = time.perf_counter() - began
            label = "plain executemany of the same rows (SQLite)"
        cursor.execute("DROP TABLE bench_event_copy")
    copy_rate = len(rows) / copy_seconds
    # Not kept: each run would grow the table the next run writes into.
    delete_conversations(Conversation.objects.filter(assistant=assistant))
    assistant.delete()
    yield Figure(
        f"Kafka -> {connection.vendor}, one consumer ({stored} events)",
        rate,
        "events/s",
        ">= 20000 and >= half of the plain write",
    )
    yield Figure(f"{label}", copy_rate, "events/s")
    yield Figure("Kafka ingestion / plain write", rate / copy_rate, "ratio", ">= 0.5")


def _list_p95(events: int, repeat: int = 40):
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from apps.accounts.models import User
    from apps.ingestion.models import Event
    from apps.projects.models import Assistant

    name = "bench-review"
    if (
        not Assistant.objects.filter(name=name).exists()
        or Event.objects.filter(conversation__assistant__name=name).count() < events * 0.95
    ):
        began = time.perf_counter()
        call_command("generate_conversations", events=events, assistant=name, days=30)
        yield Figure(f"generate_conversations --events {events}", time.perf_counter() - began, "s")
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", password=None
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = reverse("ingestion:list", args=[name])
    queries = [
        "",
        "?intent=book_flight",
        "?text=Berlin",
        "?min_messages=3&channel=slack",
        "?period=all&page=20",
        "?flow=transfer_money&reviewed=no",
    ]
    timings = {q: [] for q in queries}
    for _ in range(repeat):
        for query in queries:
            began = time.perf_counter()
            response = client.get(url + query)
            timings[query].append(time.perf_counter() - began)
            assert response.status_code == 200, response.status_code
    everything = sorted(t for values in timings.values() for t in values)
    p95 = everything[int(len(everything) * 0.95) - 1]
    yield Figure(
        f"Review list p95 ({events} events, {len(queries)} filter sets)",
        p95 * 1000,
        "ms",
        "< 150 ms",
    )
    for query in queries:
        yield Figure(
            f"  median {query or '(default: last 7 days)'}",
            statistics.median(timings[query]) * 1000,
            "ms",
        )


def run():
    yield from _kafka_throughput(int(os.environ.get("BENCH_KAFKA_EVENTS", "50000")))
    yield from _list_p95(int(os.environ.get("BENCH_LIST_EVENTS", "1000000")))
