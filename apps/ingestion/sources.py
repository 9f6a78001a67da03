"""Where events come from: a Kafka topic, or the JSON-lines files that local bots write.

Each source has `step()` (read one batch, store it with `services.ingest`, acknowledge it;
True if there was anything) plus `open()` / `close()`. `manage.py ingest` runs one in the worker
loop (workers.ingest). Neither source holds a transaction across reading.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.ingestion import services
from apps.ingestion.models import FileSpoolPosition
from apps.ingestion.services import IngestReport, PreparedBatch, RawMessage

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Kafka


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
    between our commit and Kafka's redelivers the batch, which `services.ingest` then
    recognises event by event.

    While PostgreSQL writes one batch's events, the next batch (what librdkafka has already
    fetched) is read and parsed (`services.store(meanwhile=...)`), so that work costs no time
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
        dlq_topic: str | None = None,
        batch_size: int = 5000,
        poll_timeout: float = 1.0,
        linger: float = 0.05,
    ):
        self.config = config if config is not None else kafka_config()
        self.topic = topic or settings.KAFKA_TOPIC
        self.group_id = group_id or settings.KAFKA_GROUP_ID
        self.dlq_topic = settings.KAFKA_DLQ_TOPIC if dlq_topic is None else dlq_topic
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.linger = min(linger, poll_timeout)
        self.consumer = None
        self.producer = None
        self.last_report: IngestReport | None = None
        self._ahead: _Batch | None = None

    def describe(self) -> str:
        return f"kafka topic {self.topic} (group {self.group_id})"

    def open(self) -> None:
        from confluent_kafka import Consumer, Producer

        self.consumer = Consumer(
            {
                **self.config,
                "group.id": self.group_id,
                # Never let librdkafka commit on its own: see the class docstring.
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
            }
        )
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

    @services.without_cyclic_gc
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
            report = services.store(
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
        return _Batch(services.prepare(raw), first, last)

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


# ---------------------------------------------------------------------------------------------
# The file spool


@dataclass
class SpoolFile:
    path: str
    size: int
    offset: int

    @property
    def behind(self) -> int:
        return max(self.size - self.offset, 0)


#: A spool file's last line without a newline is read as complete once the file has not
#: changed for this many seconds (writers append whole lines, so only a writer that died
#: mid-line leaves one for that long).
FINAL_LINE_AFTER_SECONDS = 30.0


class FileSpoolSource:
    """Follows every JSON-lines file under `directory` (one Rasa event per line, as Rasa's
    `file` event broker and the built-in engine write them).

    The byte offset after the last complete line stored is kept per file in
    `FileSpoolPosition`, written in the same transaction as that line's events: a crash at any
    point resumes exactly where the database says. A partial last line (a bot mid-write) is
    left for the next step, until the file has not changed for `final_line_after` seconds:
    then the writer is gone (a bot killed mid-write) and the line is read as the file's last
    (a dead letter if it does not parse). A file that shrank or was replaced (another inode)
    is read again from the start; already stored events are recognised by their
    fingerprints. A file that fails to store does not hold up the others.
    """

    def __init__(
        self,
        directory: str | os.PathLike | None = None,
        *,
        max_lines: int = 2000,
        max_bytes: int = 8 * 1024 * 1024,
        final_line_after: float = FINAL_LINE_AFTER_SECONDS,
    ):
        self.directory = Path(directory or settings.STUDIO_EVENT_SPOOL_DIR)
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.final_line_after = final_line_after
        self.last_report: IngestReport | None = None

    def describe(self) -> str:
        return f"event files under {self.directory}"

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(
            path
            for path in self.directory.rglob("*")
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.directory).parts)
        )

    def status(self) -> list[SpoolFile]:
        positions = dict(FileSpoolPosition.objects.values_list("path", "offset"))
        rows = []
        for path in self.files():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            rows.append(SpoolFile(str(path), size, positions.get(str(path), 0)))
        return rows

    def step(self) -> bool:
        """Store the next lines of the first file that has unread complete lines. A file
        that fails is logged and passed over (it is tried again next step), so it cannot
        starve the files after it; if no file could be read and one failed, its error is
        raised (the worker counts errors in a row)."""
        positions = {row.path: row for row in FileSpoolPosition.objects.all()}
        failure: Exception | None = None
        for path in self.files():
            try:
                if self._read(path, positions.get(str(path))):
                    return True
            except Exception as exc:
                log.exception("cannot store the events of %s", _shown(path))
                failure = failure or exc
        if failure is not None:
            raise failure
        return False

    def _read(self, path: Path, position: FileSpoolPosition | None) -> bool:
        try:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                offset = position.offset if position is not None else 0
                if position is not None and (
                    position.inode != stat.st_ino or stat.st_size < position.offset
                ):
                    log.info("%s was rotated or truncated: reading it from the start", _shown(path))
                    offset = 0
                if stat.st_size <= offset:
                    return False
                handle.seek(offset)
                # No more than the size seen: `st_mtime` above dates these bytes.
                chunk = handle.read(min(self.max_bytes, stat.st_size - offset))
        except OSError as exc:
            log.warning("cannot read %s: %s", _shown(path), exc)
            return False
        end = chunk.rfind(b"\n")
        batch: list[RawMessage] = []
        if end < 0:
            if len(chunk) < self.max_bytes:
                if time.time() - stat.st_mtime < self.final_line_after:
                    return False  # a line being written: wait for the rest
                # Nobody has written to the file for a while: this is its last line.
                new_offset = offset + len(chunk)
                if chunk.strip():
                    batch.append(RawMessage(chunk, f"file:{path}:{offset}"))
            else:
                # One line longer than we read at once: record it as a dead letter, skip it.
                new_offset = self._skip_long_line(path, offset + len(chunk))
                batch.append(RawMessage(chunk, f"file:{path}:{offset}"))
        else:
            new_offset = offset
            lines = chunk[: end + 1].split(b"\n")[:-1]
            for line in lines[: self.max_lines]:
                line_offset = new_offset
                new_offset += len(line) + 1
                if line.strip():
                    batch.append(RawMessage(line, f"file:{path}:{line_offset}"))

        def record(report: IngestReport) -> None:
            services.record_file_position(str(path), new_offset, stat.st_ino)

        self.last_report = services.ingest(batch, in_transaction=record)
        return True

    def _skip_long_line(self, path: Path, offset: int) -> int:
        with path.open("rb") as handle:
            handle.seek(offset)
            while True:
                block = handle.read(1024 * 1024)
                if not block:
                    return offset
                newline = block.find(b"\n")
                if newline >= 0:
                    return offset + newline + 1
                offset += len(block)


def _shown(path) -> str:
    """A file name fit for a log line, whatever bytes it is made of."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
