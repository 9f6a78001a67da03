"""A real Kafka-protocol broker for tests: librdkafka's mock cluster, in a helper process.

confluent-kafka ships librdkafka, which can run an in-process mock cluster
(``test.mock.num.brokers``). It speaks the Kafka protocol on a loopback port, so any client
(confluent-kafka, kafka-python, the code under test) can produce to it and consume from it. The
cluster lives as long as the client that created it, so a small child process holds one open and
reports the bootstrap address from librdkafka's ``mock`` debug log line::

    with KafkaMock() as mock:
        create_topics(mock.bootstrap, ["rasa_core_events"])
        ...  # produce with bootstrap.servers = mock.bootstrap
        messages = consume_all(mock.bootstrap, "rasa_core_events")

No Django import: usable from every test suite (see `tests.support.fixtures`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

__all__ = ["KafkaMock", "KafkaMockError", "Message", "consume_all", "create_topics"]

#: The child: creates the mock cluster, forwards librdkafka's log through a Python logger and
#: prints only the line that names the bootstrap servers; exits when its parent goes away or
#: its stdin is closed.
_CHILD = r"""
import logging, os, select, sys
from confluent_kafka import Producer

class Forward(logging.Handler):
    def emit(self, record):
        message = record.getMessage()
        if "MOCK" in message.upper() and "bootstrap.servers" in message:
            sys.stdout.write(message + "\n")
            sys.stdout.flush()

logger = logging.getLogger("kafka-mock")
logger.setLevel(logging.DEBUG)
logger.propagate = False
logger.addHandler(Forward())
producer = Producer(
    {"test.mock.num.brokers": NUM_BROKERS, "debug": "mock", "logger": logger,
     "log_level": 7}
)
parent = os.getppid()
while os.getppid() == parent:
    producer.poll(0.2)
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    if readable and not sys.stdin.buffer.read1(1):
        break
"""

_BOOTSTRAP_RE = re.compile(r"bootstrap\.servers=(?P<servers>[0-9.]+:\d+(?:,[0-9.]+:\d+)*)")


class KafkaMockError(RuntimeError):
    pass


class KafkaMock:
    """Start the mock cluster in a child process; `bootstrap` is ``"127.0.0.1:<port>"``."""

    def __init__(self, num_brokers: int = 1, start_timeout: float = 20.0) -> None:
        self.num_brokers = num_brokers
        self.start_timeout = start_timeout
        self.bootstrap: str = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        code = _CHILD.replace("NUM_BROKERS", str(int(self.num_brokers)))
        self._process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        found: list[str] = []
        done = threading.Event()

        def read() -> None:
            assert self._process is not None and self._process.stdout is not None
            for raw in self._process.stdout:
                match = _BOOTSTRAP_RE.search(raw.decode("utf-8", "replace"))
                if match:
                    found.append(match.group("servers"))
                    break
            done.set()

        threading.Thread(target=read, daemon=True).start()
        done.wait(self.start_timeout)
        if not found:
            stderr = b""
            if self._process.poll() is not None and self._process.stderr is not None:
                stderr = self._process.stderr.read()
            self.stop()
            raise KafkaMockError(
                "the Kafka mock cluster did not report its bootstrap address within "
                f"{self.start_timeout}s: {stderr.decode('utf-8', 'replace')[-2000:]}"
            )
        self.bootstrap = found[0]
        return self.bootstrap

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> KafkaMock:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def create_topics(
    bootstrap: str, topics: list[str], partitions: int = 1, timeout: float = 10.0
) -> None:
    """Create topics (an existing topic is not an error).

    librdkafka's mock cluster reports no valid controller (controller id 0, brokers from 1), so
    CreateTopics cannot reach it; there the topics are auto-created by a metadata request
    instead, with the mock's default partition count (`partitions` is then ignored).
    """
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=timeout)
    if metadata.controller_id not in metadata.brokers:
        producer = Producer({"bootstrap.servers": bootstrap, "allow.auto.create.topics": True})
        for name in topics:
            deadline = time.monotonic() + timeout
            while not producer.list_topics(name, timeout=timeout).topics[name].partitions:
                if time.monotonic() > deadline:
                    raise KafkaMockError(f"topic {name} was not auto-created")
                time.sleep(0.05)
        producer.flush(timeout)
        return
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in topics],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0]
            if getattr(error, "name", lambda: "")() != "TOPIC_ALREADY_EXISTS":
                raise KafkaMockError(f"cannot create topic {name}: {error}") from exc


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def consume_all(
    bootstrap: str, topic: str, *, timeout: float = 10.0, min_messages: int = 0
) -> list[Message]:
    """Every message currently in `topic`, partition by partition, in offset order.

    Reads up to each partition's high watermark. With `min_messages`, waits (up to `timeout`)
    until at least that many messages are in the topic, for producers that deliver
    asynchronously.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"tests-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    deadline = time.monotonic() + timeout
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = sorted(metadata.topics[topic].partitions) if topic in metadata.topics else []
        if not partitions:
            return []
        while True:
            highs = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                for p in partitions
            }
            if sum(highs.values()) >= min_messages or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        wanted = {p: high for p, high in highs.items() if high > 0}
        if not wanted:
            return []
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in wanted])
        out: list[Message] = []
        positions: dict[int, int] = {}
        while any(positions.get(p, -1) + 1 < high for p, high in wanted.items()):
            if time.monotonic() > deadline:
                raise KafkaMockError(f"timed out reading {topic}: read {len(out)} messages")
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise KafkaMockError(f"error reading {topic}: {msg.error()}")
            positions[msg.partition()] = msg.offset()
            out.append(
                Message(
                    topic=msg.topic(),
                    partition=msg.partition(),
                    offset=msg.offset(),
                    key=msg.key(),
                    value=msg.value(),
                    headers=list(msg.headers() or []),
                )
            )
        out.sort(key=lambda m: (m.partition, m.offset))
        return out
    finally:
        consumer.close()


def _main() -> None:  # pragma: no cover - manual use: python -m tests.support.kafka_mock
    with KafkaMock() as mock:
        sys.stdout.write(f"{mock.bootstrap}\n")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    _main()
