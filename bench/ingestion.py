"""Ingestion: events/s from Kafka into PostgreSQL, one ingester and two on a four-partition topic,
next to a plain COPY of the same rows; and the review list's p95 with 1,000,000 events.

Loopback only: Kafka is librdkafka's mock cluster in a child process, and each ingester is a
process of its own (`python -m bench.ingestion --ingester`, the Kafka source of `manage.py
ingest`). Each ingester joins the group first, then the backlog is produced (keyed by sender,
as Rasa's `partition_by_sender: true`), then drained: the figure is the events stored from the
first batch of any ingester to the last one stored (joining the group is not throughput).
BENCH_KAFKA_EVENTS (default 50,000) is each drain's size and BENCH_KAFKA_ROUNDS (default 2) how
many times each is measured, alternating, keeping each one's best (the machine's other load
varies); BENCH_LIST_EVENTS (default 1,000,000) the review list's. The Kafka figures need
PostgreSQL, the review list runs on either database.
"""

import json
import os
import queue
import resource
import select
import statistics
import subprocess
import sys
import threading
import time
import uuid

from bench import Figure, Skipped

PARTITIONS = 4


class _Ingester:
    """One `python -m bench.ingestion --ingester` process and the lines it reports."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.ingestion", "--ingester", bootstrap, topic, group],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            # A session of its own, as an ingester in its own pod or service has: Linux's
            # scheduler (autogroup) shares the CPU between sessions first, so ingesters in
            # this process's session would share one session's part of a busy machine.
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.assigned = 0
        self.received = 0
        self.holding = False
        # (first batch's start, last batch's end, events stored, CPU seconds in between)
        self.done: tuple[float, float, int, float] | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("exit")

    def update(self) -> None:
        """Take in what the process said so far."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return
            word, *values = line.split()
            if word == "assigned":
                self.assigned = int(values[0])
            elif word == "holding":
                self.holding = True
            elif word == "stored":
                self.received += int(values[0])
            elif word == "done":
                self.done = (float(values[0]), float(values[1]), int(values[2]), float(values[3]))
            elif word == "exit" and self.done is None:
                raise RuntimeError(f"an ingester exited ({self.process.wait()}) before it was done")

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("stop")
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def _wait(condition, ingesters: list[_Ingester], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for ingester in ingesters:
            ingester.update()
        if condition():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _drain(bootstrap: str, events: int, count: int) -> tuple[float, float, int, object]:
    """`count` ingesters drain a backlog of about `events` events on a new four-partition
    topic into a new assistant; returns (events/s, CPU seconds per event, events stored, the
    assistant)."""
    from confluent_kafka import Producer

    from apps.projects.models import Assistant
    from demo.conversations import random_conversations
    from tests.support.kafka_mock import create_topics

    name = f"bench-kafka-{uuid.uuid4().hex[:6]}"
    assistant = Assistant.objects.create(name=name)
    topic = f"rasa-events-{name}"
    create_topics(bootstrap, [topic], partitions=PARTITIONS)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    partitions = len(producer.list_topics(topic, timeout=10).topics[topic].partitions)
    if partitions != PARTITIONS:
        raise RuntimeError(f"topic {topic} has {partitions} partitions, not {PARTITIONS}")
    ingesters = [_Ingester(bootstrap, topic, f"bench-{name}") for _ in range(count)]
    try:
        # The group settles: every ingester has partitions and all are assigned.
        _wait(
            lambda: (
                all(i.assigned for i in ingesters)
                and sum(i.assigned for i in ingesters) == PARTITIONS
            ),
            ingesters,
            "the consumer group to settle",
        )
        for ingester in ingesters:
            ingester.send("hold")
        _wait(lambda: all(i.holding for i in ingesters), ingesters, "the ingesters to hold")
        produced = 0
        for conversation in random_conversations(events, assistant_id=name, start=1.7e9):
            for value in conversation.messages():
                producer.produce(topic, value=value, key=conversation.sender_id.encode())
                produced += 1
                if produced % 10000 == 0:
                    producer.poll(0)
            if produced >= events:
                break
        if producer.flush(60):
            raise RuntimeError("the backlog could not be produced")
        for ingester in ingesters:
            ingester.send("go")
        _wait(
            lambda: sum(i.received for i in ingesters) >= produced,
            ingesters,
            f"the ingesters to read {produced} messages",
            timeout=600,
        )
        for ingester in ingesters:
            ingester.send("stop")
        _wait(lambda: all(i.done for i in ingesters), ingesters, "the ingesters to stop")
    finally:
        for ingester in ingesters:
            ingester.stop()
    reports = [i.done for i in ingesters if i.done and i.done[2]]
    started = min(r[0] for r in reports)
    finished = max(r[1] for r in reports)
    stored = sum(r[2] for r in reports)
    cpu = sum(r[3] for r in reports)
    return stored / (finished - started), cpu / stored, stored, assistant


def _copy_rate(assistant) -> float:
    """Events/s of a plain COPY of `assistant`'s stored events into a copy of the event table
    with the same indexes (text COPY, one transaction)."""
    from django.db import connection, transaction

    from apps.ingestion.models import Event
    from apps.ingestion.postgres import EVENT_COLUMNS

    columns = ", ".join(EVENT_COLUMNS)
    rows = list(Event.objects.filter(conversation__assistant=assistant).values_list(*EVENT_COLUMNS))
    rows = [(*r[:5], json.dumps(r[5]), *r[6:]) for r in rows]
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_event_copy")
        cursor.execute(f"CREATE TABLE bench_event_copy (LIKE {table} INCLUDING ALL)")
        began = time.perf_counter()
        with (
            transaction.atomic(),
            cursor.cursor.copy(f"COPY bench_event_copy ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        seconds = time.perf_counter() - began
        cursor.execute("DROP TABLE bench_event_copy")
    return len(rows) / seconds


def _forget(assistant) -> None:
    """Delete a run's data (each run would grow the table the next one writes into), and
    vacuum, so that every run writes into the same table."""
    from django.db import connection

    from apps.ingestion.models import Conversation, Event
    from apps.ingestion.services import delete_conversations

    delete_conversations(Conversation.objects.filter(assistant=assistant))
    assistant.delete()
    with connection.cursor() as cursor:
        for model in (Event, Conversation):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def _kafka_throughput(events: int, rounds: int):
    from django.db import connection

    from tests.support.kafka_mock import KafkaMock

    label = "Kafka -> PostgreSQL"
    if connection.vendor != "postgresql":
        yield Skipped(f"{label}, one and two ingesters", "needs PostgreSQL: set DATABASE_URL")
        return
    one: list[float] = []
    two: list[float] = []
    copies: list[float] = []
    cpu: dict[int, list[float]] = {1: [], 2: []}
    stored = 0
    with KafkaMock() as mock:
        for round_ in range(max(rounds, 1)):
            # Alternating which goes first, so that neither always writes into a table
            # the other has just written and vacuumed.
            for count in (1, 2) if round_ % 2 == 0 else (2, 1):
                rate, seconds, stored, assistant = _drain(mock.bootstrap, events, count)
                (one if count == 1 else two).append(rate)
                cpu[count].append(seconds)
                if count == 1:
                    copies.append(_copy_rate(assistant))
                _forget(assistant)
    copy_rate, one_rate, two_rate = max(copies), max(one), max(two)
    yield Figure(f"plain COPY of the same {stored} rows", copy_rate, "events/s")
    yield Figure(
        f"{label}, one ingester ({stored} events, {PARTITIONS} partitions)",
        one_rate,
        "events/s",
        ">= 20000 events/s and >= 0.5x COPY",
        baseline=copy_rate,
        baseline_label="COPY",
    )
    yield Figure(
        f"{label}, two ingesters (the same, best of {len(two)})",
        two_rate,
        "events/s",
        ">= 1.7x one ingester",
        baseline=one_rate,
        baseline_label="one ingester",
    )
    # What the machine's cores allow: the same CPU per event for two ingesters as for one
    # means that they do not slow each other down, and two store twice as much as one when
    # the cores are there for both.
    one_cpu, two_cpu = min(cpu[1]) * 1e6, min(cpu[2]) * 1e6
    yield Figure("  CPU per event, one ingester (it and its PostgreSQL backend)", one_cpu, "us")
    yield Figure(
        "  CPU per event, two ingesters",
        two_cpu,
        "us",
        "about 1x one ingester's",
        baseline=one_cpu,
        baseline_label="one ingester's",
    )
    # The ceiling the cores put on the ratio: one ingester already keeps more than one core
    # busy (it and its backend work at the same time), and two cannot use more cores than the
    # machine has (the Kafka cluster's own CPU aside).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    yield Figure("  cores one ingester keeps busy", one_rate * one_cpu / 1e6, "cores")
    yield Figure(
        f"  two ingesters at most on this machine's {cores or 1} cores",
        min(2.0, (cores or 1) / (two_cpu / 1e6) / one_rate),
        "x one ingester",
    )


def _cpu_seconds(backend: int | None) -> float:
    """This process's CPU time, and its PostgreSQL backend's when that runs on this machine
    (`/proc`; 0 for a backend elsewhere)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    seconds = usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{backend}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return seconds


def _ingester_main(bootstrap: str, topic: str, group: str) -> int:
    """The child of `_Ingester`: a Kafka source in the group, told on stdin when to hold
    (stop reading while the backlog is produced), go and stop; it says on stdout how many
    partitions it has, each batch's size, and at the end its first batch's start, its last
    batch's end (CLOCK_MONOTONIC, the same clock in every process) and the events stored."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()
    from apps.ingestion.sources import KafkaSource

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    source = KafkaSource(
        config={
            "bootstrap.servers": bootstrap,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        },
        topic=topic,
        group_id=group,
        dlq_topic="",
        poll_timeout=0.2,
    )
    source.open()
    state, assigned = "join", -1
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    started = finished = 0.0
    stored = 0
    cpu_started = cpu_finished = 0.0
    try:
        while True:
            wait = 0.5 if state == "hold" else 0
            if select.select([sys.stdin], [], [], wait)[0]:
                command = sys.stdin.readline().strip()
                if command in ("", "stop"):
                    break
                state = command
                if state == "hold":
                    say("holding")
            if state == "hold":
                continue
            began = time.monotonic()
            cpu_at_step = _cpu_seconds(backend) if state == "go" and not started else 0.0
            did_work = source.step()
            if state == "join" and source.consumer is not None:
                count = len(source.consumer.assignment())
                if count != assigned:
                    assigned = count
                    say(f"assigned {count}")
            if did_work and source.last_report is not None:
                if state == "go":
                    if not started:
                        started, cpu_started = began, cpu_at_step
                    finished = time.monotonic()
                    cpu_finished = _cpu_seconds(backend)
                    stored += source.last_report.stored
                say(f"stored {source.last_report.received}")
    finally:
        source.close()
    say(f"done {started} {finished} {stored} {cpu_finished - cpu_started}")
    return 0


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
    yield from _kafka_throughput(
        int(os.environ.get("BENCH_KAFKA_EVENTS", "50000")),
        int(os.environ.get("BENCH_KAFKA_ROUNDS", "2")),
    )
    yield from _list_p95(int(os.environ.get("BENCH_LIST_EVENTS", "1000000")))


if __name__ == "__main__" and sys.argv[1:2] == ["--ingester"]:
    sys.exit(_ingester_main(*sys.argv[2:5]))
