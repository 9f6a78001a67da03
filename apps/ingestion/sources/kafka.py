"""Events from a Kafka topic: the consumer-group source, its librdkafka settings, and the lag
per partition."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from apps.ingestion import store
from apps.ingestion.store import IngestReport, PreparedBatch, RawMessage

log = logging.getLogger(__name__)


def kafka_config(**overrides) -> dict:
    """librdkafka settings from Studio's KAFKA_* settings (see the README)."""
    config = {
        "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "security.protocol": settings.KAFKA_SECURITY_PROTOCOL,
    }
    if settings.KAFKA_SECURITY_PROTOCOL.startswith("SASL_"):
        config.update(
            {
                "sasl.mechanism": settings.KAFKA_SASL_MECHANISM,
                "sasl.username": settings.KAFKA_SASL_USERNAME,
                "sasl.password": settings.KAFKA_SASL_PASSWORD or "",
            }
        )
    for key, name in (
        ("ssl.ca.location", "KAFKA_SSL_CAFILE"),
        ("ssl.certificate.location", "KAFKA_SSL_CERTFILE"),
        ("ssl.key.location", "KAFKA_SSL_KEYFILE"),
    ):
        if getattr(settings, name):
            config[key] = getattr(settings, name)
    config.update(overrides)
    return config


@dataclass
class _Batch:
    """Messages read from Kafka, parsed."""

    prepared: PreparedBatch
    first: dict[tuple[str, int], int]  # (topic, partition) -> first offset in the batch
    last: dict[tuple[str, int], int]  # (topic, partition) -> last offset in the batch


class KafkaSource:
    """A member of the consumer group `group_id` on `topic`.

    Offsets are committed by hand, only after the batch's database transaction has committed:
    with auto-commit, librdkafka commits what was *fetched* in the background, so a crash
    would lose the batch being stored (see confluent-kafka's "at least once" notes). A crash
    between our commit and Kafka's redelivers the batch, which `store.ingest` then
    recognises event by event.

    While PostgreSQL writes one batch's events, the next batch (what librdkafka has already
    fetched) is read and parsed (`store.store(meanwhile=...)`), so that work costs no time
    (issue 6's throughput target). That batch is not committed before it is stored in its
    turn, so a crash or a stop with it in hand loses nothing: it is read again, as any
    uncommitted batch.
    """

    def __init__(
        self,
        *,
        config: dict | None = None,
        topic: str | None = None,
        group_id: str | None = None,
        instance_id: str | None = None,
        dlq_topic: str | None = None,
        batch_size: int = 5000,
        poll_timeout: float = 1.0,
        linger: float = 0.05,
    ):
        self.config = config if config is not None else kafka_config()
        self.topic = topic or settings.KAFKA_TOPIC
        self.group_id = group_id or settings.KAFKA_GROUP_ID
        self.instance_id = settings.KAFKA_GROUP_INSTANCE_ID if instance_id is None else instance_id
        self.dlq_topic = settings.KAFKA_DLQ_TOPIC if dlq_topic is None else dlq_topic
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.linger = min(linger, poll_timeout)
        self.consumer = None
        self.producer = None
        self.last_report: IngestReport | None = None
        self._ahead: _Batch | None = None

    def describe(self) -> str:
        member = f", member {self.instance_id}" if self.instance_id else ""
        return f"kafka topic {self.topic} (group {self.group_id}{member})"

    def consumer_config(self) -> dict:
        """librdkafka's settings for the group member. With an instance id the membership is
        static: closing does not leave the group, and a member back under the same id within
        the session timeout gets its partitions again with no rebalance (no stall for the
        others either); a member that stays away longer is dropped after the timeout."""
        config = {
            "session.timeout.ms": settings.KAFKA_SESSION_TIMEOUT_MS,
            **self.config,
            "group.id": self.group_id,
            # Never let librdkafka commit on its own: see the class docstring.
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
        if self.instance_id:
            config["group.instance.id"] = self.instance_id
        return config

    def open(self) -> None:
        from confluent_kafka import Consumer, Producer

        self.consumer = Consumer(self.consumer_config())
        self.consumer.subscribe([self.topic])
        if self.dlq_topic:
            self.producer = Producer({**self.config, "enable.idempotence": True})

    def close(self) -> None:
        # A batch read ahead is dropped uncommitted: whoever reads the partition next gets it.
        self._ahead = None
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        if self.producer is not None:
            self.producer.flush(10)
            self.producer = None

    @store.without_cyclic_gc
    def step(self) -> bool:
        """Store one batch and commit its offsets. Returns False if nothing arrived.

        On any error the consumer is rewound to the batch's first offsets (and those of the
        batch read ahead, which is dropped) so the same messages are read again, then the
        error is raised (the worker counts consecutive errors)."""
        from confluent_kafka import KafkaException, TopicPartition

        batch, self._ahead = self._ahead, None
        if batch is None:
            batch = self._read(self._consume())
            if batch is None:
                return False

        def read_ahead() -> None:
            self._ahead = self._read(self.consumer.consume(num_messages=self.batch_size, timeout=0))

        try:
            report = store.store(
                batch.prepared, in_transaction=self._forward_dead_letters, meanwhile=read_ahead
            )
            self.consumer.commit(
                offsets=[TopicPartition(t, p, offset + 1) for (t, p), offset in batch.last.items()],
                asynchronous=False,
            )
        except Exception:
            ahead, self._ahead = self._ahead, None
            rewind = dict(ahead.first) if ahead is not None else {}
            rewind.update(batch.first)  # earlier than the read-ahead batch's
            for (t, p), offset in rewind.items():
                try:
                    self.consumer.seek(TopicPartition(t, p, offset))
                except KafkaException as exc:  # the partition was revoked meanwhile
                    log.warning("kafka: cannot rewind %s/%s: %s", t, p, exc)
            raise
        self.last_report = report
        return True

    def _consume(self) -> list:
        """Up to `batch_size` messages. A full batch when librdkafka has fetched that many
        already (a consumer that is behind); else what arrives within `linger` seconds; when
        nothing has, waits up to `poll_timeout` for the first message, then `linger` for
        more. So a busy consumer stores large batches, and one that has caught up stores
        what trickles in within `linger` rather than waiting `poll_timeout` for a full batch
        that is not coming."""
        consume = self.consumer.consume
        messages = consume(num_messages=self.batch_size, timeout=self.linger)
        if messages or self.poll_timeout <= self.linger:
            return messages
        messages = consume(num_messages=1, timeout=self.poll_timeout - self.linger)
        if messages and self.batch_size > 1:
            messages.extend(consume(num_messages=self.batch_size - 1, timeout=self.linger))
        return messages

    def _read(self, messages: list) -> _Batch | None:
        """The messages, parsed; None if there is none."""
        from confluent_kafka import KafkaError, KafkaException

        raw: list[RawMessage] = []
        append = raw.append
        first: dict[tuple[str, int], int] = {}
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise KafkaException(error)
                log.warning("kafka: %s", error)
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            key = (topic, partition)
            if key not in first:
                first[key] = offset
            last[key] = offset
            append(RawMessage(message.value(), f"kafka:{topic}/{partition}/{offset}"))
        if not raw:
            return None
        return _Batch(store.prepare(raw), first, last)

    def _forward_dead_letters(self, report: IngestReport) -> None:
        """Runs inside the batch's transaction: if the DLQ topic cannot take the messages, the
        batch rolls back and is read again (so the DLQ is at-least-once, the table exact)."""
        if self.producer is None or not report.new_dead_letters:
            return
        for letter in report.new_dead_letters:
            self.producer.produce(
                self.dlq_topic,
                value=bytes(letter.raw),
                headers=[
                    ("studio-reason", letter.reason.encode("utf-8", "replace")),
                    ("studio-source", (letter.source or "").encode("utf-8")),
                ],
            )
        undelivered = self.producer.flush(10)
        if undelivered:
            raise RuntimeError(f"{undelivered} dead letters not delivered to {self.dlq_topic}")


@dataclass
class PartitionLag:
    partition: int
    committed: int | None
    low: int
    high: int

    @property
    def lag(self) -> int:
        start = self.committed if self.committed is not None else self.low
        return max(self.high - start, 0)


def kafka_lag(
    *,
    config: dict | None = None,
    topic: str | None = None,
    group_id: str | None = None,
    timeout: float = 5.0,
) -> list[PartitionLag]:
    """Per partition of the topic: the group's committed offset, the watermarks and the lag."""
    from confluent_kafka import Consumer, TopicPartition

    topic = topic or settings.KAFKA_TOPIC
    consumer = Consumer(
        {
            **(config if config is not None else kafka_config()),
            "group.id": group_id or settings.KAFKA_GROUP_ID,
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            return []
        partitions = [TopicPartition(topic, p) for p in sorted(info.partitions)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(partitions, timeout)}
        rows = []
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            offset = committed.get(tp.partition)
            rows.append(
                PartitionLag(
                    tp.partition, offset if offset is not None and offset >= 0 else None, low, high
                )
            )
        return rows
    finally:
        consumer.close()
