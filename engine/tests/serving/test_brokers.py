"""Event brokers: endpoints.yml parsing, the file broker and the Kafka broker (mock cluster)."""

from __future__ import annotations

import json

import pytest

from engine.brokers import (
    BrokerConfigError,
    FileEventBroker,
    KafkaEventBroker,
    broker_from_config,
    event_message,
    kafka_producer_config,
    load_endpoints,
    publish_events,
    substitute_env,
)
from tests.support.kafka_mock import consume_all

EVENTS = [
    {"event": "action", "timestamp": 1.0, "name": "action_session_start"},
    {"event": "session_started", "timestamp": 1.1},
    {"event": "user", "timestamp": 1.2, "text": "hi", "metadata": {"channel_extra": 1}},
]


def test_it_substitutes_environment_variables() -> None:
    env = {"KAFKA_PASSWORD": "s3cret", "HOST": "kafka"}
    value = {"url": ["${HOST}:9092"], "sasl_password": "${KAFKA_PASSWORD}", "n": 3}
    assert substitute_env(value, env) == {"url": ["kafka:9092"], "sasl_password": "s3cret", "n": 3}


def test_it_refuses_unset_environment_variables() -> None:
    with pytest.raises(BrokerConfigError, match="MISSING_ONE"):
        substitute_env({"sasl_password": "${MISSING_ONE}"}, {})


def test_it_loads_endpoints_with_env(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_TEST_TOPIC", "events_here")
    path = tmp_path / "endpoints.yml"
    path.write_text("event_broker:\n  type: file\n  path: ${STUDIO_TEST_TOPIC}.jsonl\n")
    assert load_endpoints(path) == {"event_broker": {"type": "file", "path": "events_here.jsonl"}}


def test_it_maps_rasa_kafka_keys_to_librdkafka() -> None:
    settings = kafka_producer_config(
        {
            "url": ["a:9092", "b:9092"],
            "client_id": "bot",
            "security_protocol": "sasl_ssl",
            "sasl_mechanism": "scram-sha-512",
            "sasl_username": "u",
            "sasl_password": "p",
            "ssl_cafile": "ca.pem",
            "ssl_certfile": "cert.pem",
            "ssl_keyfile": "key.pem",
            "ssl_check_hostname": False,
            "queue_size": 10,
        }
    )
    assert settings == {
        "bootstrap.servers": "a:9092,b:9092",
        "client.id": "bot",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
        "ssl.ca.location": "ca.pem",
        "ssl.certificate.location": "cert.pem",
        "ssl.key.location": "key.pem",
        "ssl.endpoint.identification.algorithm": "none",
        "queue.buffering.max.messages": 10,
    }


def test_it_defaults_to_sasl_plaintext_as_rasa() -> None:
    assert kafka_producer_config({"url": "k:9092"})["security.protocol"] == "SASL_PLAINTEXT"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "kafka"}, "url is required"),
        ({"type": "kafka", "url": "k:1", "security_protocol": "TLS"}, "security_protocol"),
        ({"type": "kafka", "url": "k:1", "sasl_mechanism": "MD5"}, "sasl_mechanism"),
        ({"type": "pika", "url": "amqp://x"}, "not supported"),
        ({"type": "file", "path": 3}, "path must be a string"),
    ],
)
def test_it_refuses_bad_broker_configs(config, message) -> None:
    with pytest.raises(BrokerConfigError, match=message):
        broker_from_config(config)


def test_it_adds_sender_and_model_metadata() -> None:
    body = event_message("alice", EVENTS[2], model_id="m1", assistant_id="a1")
    assert body == {
        "sender_id": "alice",
        "event": "user",
        "timestamp": 1.2,
        "text": "hi",
        "metadata": {"channel_extra": 1, "model_id": "m1", "assistant_id": "a1"},
    }
    assert EVENTS[2]["metadata"] == {"channel_extra": 1}


def test_it_writes_json_lines(tmp_path) -> None:
    path = tmp_path / "nested" / "events.jsonl"
    broker = broker_from_config({"type": "file", "path": str(path)})
    assert isinstance(broker, FileEventBroker)
    publish_events(broker, "bob", EVENTS, model_id="m", assistant_id="a")
    broker.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["action", "session_started", "user"]
    assert {line["sender_id"] for line in lines} == {"bob"}
    assert all(line["metadata"]["model_id"] == "m" for line in lines)
    broker.publish({"event": "late"})  # after close: dropped, never raises


def test_it_publishes_to_kafka(kafka_bootstrap, kafka_topic, monkeypatch) -> None:
    monkeypatch.setenv("RASA_ENVIRONMENT", "testing")
    broker = broker_from_config(
        {
            "type": "kafka",
            "url": kafka_bootstrap,
            "topic": kafka_topic,
            "partition_by_sender": True,
            "security_protocol": "PLAINTEXT",
            "client_id": "tests",
        }
    )
    assert isinstance(broker, KafkaEventBroker)
    publish_events(broker, "carol", EVENTS, model_id="m", assistant_id="a")
    broker.close()
    messages = consume_all(kafka_bootstrap, kafka_topic, min_messages=3)
    assert [m.key for m in messages] == [b"carol"] * 3
    assert [json.loads(m.value)["event"] for m in messages] == [
        "action",
        "session_started",
        "user",
    ]
    assert messages[0].headers == [("RASA_ENVIRONMENT", b"testing")]
    assert broker.failed == 0


def test_it_sends_no_key_without_partition_by_sender(kafka_bootstrap, kafka_topic) -> None:
    broker = broker_from_config(
        {"type": "kafka", "url": [kafka_bootstrap], "topic": kafka_topic,
         "security_protocol": "PLAINTEXT"}
    )  # fmt: skip
    publish_events(broker, "dave", EVENTS[:1])
    broker.close()
    (message,) = consume_all(kafka_bootstrap, kafka_topic, min_messages=1)
    assert message.key is None
    assert json.loads(message.value)["sender_id"] == "dave"
