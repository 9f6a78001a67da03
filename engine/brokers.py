"""Event brokers: publish every new tracker event, as Rasa does, to Kafka or to a JSON-lines file.

Configured by the ``event_broker`` section of ``endpoints.yml`` with Rasa's keys::

    event_broker:
      type: kafka                    # or: file
      url: localhost:9092            # a string or a list of brokers
      topic: rasa_core_events
      partition_by_sender: true
      security_protocol: PLAINTEXT   # Rasa's default is SASL_PLAINTEXT

Each message is one event: ``{"sender_id": ..., **event}``, where the event's ``metadata``
carries the ``model_id`` and ``assistant_id`` of the model that produced it (see
`event_message`). Kafka messages are JSON in UTF-8, keyed by the sender id when
``partition_by_sender`` is true, with a ``RASA_ENVIRONMENT`` header, as Rasa publishes them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

__all__ = [
    "DEFAULT_FILE_PATH",
    "DEFAULT_TOPIC",
    "BrokerConfigError",
    "EventBroker",
    "FileEventBroker",
    "KafkaEventBroker",
    "broker_from_config",
    "event_message",
    "kafka_producer_config",
    "load_endpoints",
    "publish_events",
    "substitute_env",
]

logger = logging.getLogger(__name__)

DEFAULT_TOPIC = "rasa_core_events"
DEFAULT_FILE_PATH = "rasa_event.log"
#: Rasa's default, kept for compatibility: local setups must set PLAINTEXT explicitly.
DEFAULT_SECURITY_PROTOCOL = "SASL_PLAINTEXT"
SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "GSSAPI", "OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-512")
ENVIRONMENT_HEADER = "RASA_ENVIRONMENT"
#: Largest endpoints.yml we read.
MAX_ENDPOINTS_BYTES = 1024 * 1024

_ENV_RE = re.compile(r"\$\{([^}]*)\}")


class BrokerConfigError(ValueError):
    """endpoints.yml asks for a broker we cannot create; the message says why."""


class EventBroker(Protocol):
    def publish(self, message: dict[str, Any]) -> None:
        """Queue or write one message (never raises on delivery problems; they are logged)."""

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is pending (up to `timeout` seconds) and release resources."""


# --------------------------------------------------------------------------------------------
# endpoints.yml


def substitute_env(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Replace ``${VAR}`` in every string of `value` with the environment variable's value.

    As Rasa does, an unset variable is an error (`BrokerConfigError` naming the variables).
    """
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {key: substitute_env(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_env(item, env) for item in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    missing = [name for name in _ENV_RE.findall(value) if name not in env]
    if missing:
        raise BrokerConfigError(
            f"cannot expand the environment variables in '{value}': set "
            + ", ".join(sorted(set(missing)))
        )
    return _ENV_RE.sub(lambda match: env[match.group(1)], value)


def load_endpoints(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read endpoints.yml (safe loader, size-limited) with ``${VAR}`` substituted."""
    from engine.formats.config import read_endpoints

    file = Path(path)
    if file.stat().st_size > MAX_ENDPOINTS_BYTES:
        raise BrokerConfigError(f"{file} is larger than {MAX_ENDPOINTS_BYTES} bytes")
    text = file.read_text(encoding="utf-8")
    try:
        data = read_endpoints(text, str(file))
    except ValueError as exc:
        raise BrokerConfigError(str(exc)) from exc
    return cast("dict[str, Any]", substitute_env(data))


# --------------------------------------------------------------------------------------------
# Messages


def event_message(
    sender_id: str, event: dict[str, Any], *, model_id: str = "", assistant_id: str = ""
) -> dict[str, Any]:
    """The body Rasa publishes for one tracker event: ``{"sender_id", **event}``.

    Every event carries ``metadata.model_id`` and ``metadata.assistant_id`` (Rasa adds them when
    the event is appended to the tracker); values already on the event are kept.
    """
    body: dict[str, Any] = {"sender_id": sender_id}
    body.update(event)
    metadata = dict(event.get("metadata") or {})
    if model_id:
        metadata.setdefault("model_id", model_id)
    if assistant_id:
        metadata.setdefault("assistant_id", assistant_id)
    body["metadata"] = metadata
    return body


def publish_events(
    broker: EventBroker | None,
    sender_id: str,
    events: Iterable[dict[str, Any]],
    *,
    model_id: str = "",
    assistant_id: str = "",
) -> int:
    """Publish `events` in order; returns how many were handed to the broker."""
    if broker is None:
        return 0
    count = 0
    for event in events:
        broker.publish(
            event_message(sender_id, event, model_id=model_id, assistant_id=assistant_id)
        )
        count += 1
    return count


def _encode(message: dict[str, Any]) -> str:
    # default=str: an event value that is not JSON (a datetime from an action) must not stop
    # the stream.
    return json.dumps(message, ensure_ascii=False, default=str)


# --------------------------------------------------------------------------------------------
# File


class FileEventBroker:
    """Appends one JSON object per line to `path`, as Rasa's ``type: file`` broker does."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_FILE_PATH) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def publish(self, message: dict[str, Any]) -> None:
        line = _encode(message) + "\n"
        with self._lock:
            if self._file.closed:
                logger.warning("event dropped: the file broker is closed")
                return
            self._file.write(line)
            # A reader (ingestion) tails this file: make every event visible at once.
            self._file.flush()

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


# --------------------------------------------------------------------------------------------
# Kafka


def kafka_producer_config(config: dict[str, Any]) -> dict[str, Any]:
    """Translate Rasa's ``event_broker`` keys into librdkafka producer settings."""
    url = config.get("url")
    if isinstance(url, list):
        if not url or not all(isinstance(item, str) and item for item in url):
            raise BrokerConfigError("event_broker.url must be a host:port or a list of them")
        servers = ",".join(url)
    elif isinstance(url, str) and url:
        servers = url
    else:
        raise BrokerConfigError("event_broker.url is required for a kafka broker")

    protocol = str(config.get("security_protocol") or DEFAULT_SECURITY_PROTOCOL).upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise BrokerConfigError(
            f"event_broker.security_protocol '{protocol}' is not one of "
            + ", ".join(SECURITY_PROTOCOLS)
        )
    settings: dict[str, Any] = {
        "bootstrap.servers": servers,
        "security.protocol": protocol,
    }
    if config.get("client_id"):
        settings["client.id"] = str(config["client_id"])
    if config.get("queue_size") is not None:
        settings["queue.buffering.max.messages"] = int(config["queue_size"])

    if protocol.startswith("SASL_"):
        mechanism = str(config.get("sasl_mechanism") or "PLAIN").upper()
        if mechanism not in SASL_MECHANISMS:
            raise BrokerConfigError(
                f"event_broker.sasl_mechanism '{mechanism}' is not one of "
                + ", ".join(SASL_MECHANISMS)
            )
        settings["sasl.mechanism"] = mechanism
        if config.get("sasl_username") is not None:
            settings["sasl.username"] = str(config["sasl_username"])
        if config.get("sasl_password") is not None:
            settings["sasl.password"] = str(config["sasl_password"])
        if mechanism == "PLAIN" and "sasl.username" not in settings:
            logger.warning(
                "event_broker: security_protocol %s without sasl_username; set "
                "security_protocol: PLAINTEXT for a broker without authentication",
                protocol,
            )
    if protocol in ("SSL", "SASL_SSL"):
        for key, setting in (
            ("ssl_cafile", "ssl.ca.location"),
            ("ssl_certfile", "ssl.certificate.location"),
            ("ssl_keyfile", "ssl.key.location"),
        ):
            if config.get(key):
                settings[setting] = str(config[key])
    if protocol == "SASL_SSL":
        check = config.get("ssl_check_hostname", True)
        settings["ssl.endpoint.identification.algorithm"] = "https" if check else "none"
    return settings


class KafkaEventBroker:
    """Produces each message to `topic` through a confluent-kafka Producer.

    `publish` only queues (librdkafka sends in the background); delivery failures are logged by
    the delivery callback. `close` flushes.
    """

    def __init__(
        self,
        producer_config: dict[str, Any],
        *,
        topic: str = DEFAULT_TOPIC,
        partition_by_sender: bool = False,
        environment: str | None = None,
    ) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.partition_by_sender = partition_by_sender
        self.environment = environment or os.environ.get(
            "RASA_ENVIRONMENT", "RASA_ENVIRONMENT_NOT_SET"
        )
        self.failed = 0
        self._lock = threading.Lock()
        self._closed = False
        self._producer = Producer(producer_config)

    def _on_delivery(self, error: Any, message: Any) -> None:
        if error is not None:
            self.failed += 1
            logger.error("event not delivered to Kafka topic %s: %s", self.topic, error)

    def publish(self, message: dict[str, Any]) -> None:
        from confluent_kafka import KafkaException

        value = _encode(message).encode("utf-8")
        key = (
            str(message.get("sender_id", "")).encode("utf-8") if self.partition_by_sender else None
        )
        headers: list[tuple[str, str | bytes | None]] = [
            (ENVIRONMENT_HEADER, self.environment.encode("utf-8"))
        ]
        with self._lock:
            if self._closed:
                logger.warning("event dropped: the Kafka broker is closed")
                return
            for attempt in range(2):
                try:
                    self._producer.produce(
                        self.topic, value, key=key, headers=headers, on_delivery=self._on_delivery
                    )
                    break
                except BufferError:
                    # The local queue is full: let librdkafka send some, then retry once.
                    if attempt:
                        self.failed += 1
                        logger.error("event dropped: the Kafka producer queue is full")
                    else:
                        self._producer.poll(1.0)
                except KafkaException as exc:
                    self.failed += 1
                    logger.error("event not queued for Kafka topic %s: %s", self.topic, exc)
                    break
            # Serve delivery callbacks without blocking.
            self._producer.poll(0)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for queued messages; returns how many are still undelivered."""
        with self._lock:
            return self._producer.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            remaining = self._producer.flush(timeout)
        if remaining:
            logger.error("%d events were not delivered to Kafka before shutdown", remaining)


# --------------------------------------------------------------------------------------------
# Factory


def broker_from_config(config: dict[str, Any] | None) -> EventBroker | None:
    """The broker described by an ``event_broker`` section (None when there is none).

    Raises `BrokerConfigError` for types the built-in engine does not publish to (pika, sql, a
    module path) and for invalid settings: a bot that silently drops its events would hide
    conversations from review.
    """
    if not config:
        return None
    if not isinstance(config, dict):
        raise BrokerConfigError("event_broker must be a mapping")
    kind = str(config.get("type") or "").lower()
    if kind in ("kafka", "concurrent_kafka"):
        topic = config.get("topic") or DEFAULT_TOPIC
        if not isinstance(topic, str):
            raise BrokerConfigError("event_broker.topic must be a string")
        return KafkaEventBroker(
            kafka_producer_config(config),
            topic=topic,
            partition_by_sender=bool(config.get("partition_by_sender", False)),
        )
    if kind == "file":
        path = config.get("path") or DEFAULT_FILE_PATH
        if not isinstance(path, str):
            raise BrokerConfigError("event_broker.path must be a string")
        return FileEventBroker(path)
    raise BrokerConfigError(
        f"event_broker type '{config.get('type')}' is not supported by the built-in engine "
        "(use kafka or file)"
    )
