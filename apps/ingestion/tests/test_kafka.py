"""End to end against a Kafka-protocol broker (librdkafka's mock cluster, tests.support)."""

import time
import uuid

import pytest
from confluent_kafka import Producer

from apps.ingestion.models import Conversation, DeadLetter, Event, UnroutedEvent
from apps.ingestion.sources import KafkaSource, kafka_lag
from demo.conversations import transfer_conversation
from tests.support.kafka_mock import consume_all, create_topics

pytestmark = pytest.mark.slow


def produce(bootstrap, topic, values, key=None):
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value=value, key=key, headers=[("RASA_ENVIRONMENT", b"prod")])
    assert producer.flush(10) == 0


def drain(source, expected_messages, timeout=30.0):
    """Run the source until it has read `expected_messages` messages (bounded)."""
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < expected_messages:
        assert time.monotonic() < deadline, f"read {seen} of {expected_messages}"
        if source.step():
            seen += source.last_report.received
    return seen


def source_for(bootstrap, topic, **kwargs):
    return KafkaSource(
        # A short session: the mock cluster notices a closed member only when it times out.
        config={
            "bootstrap.servers": bootstrap,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        },
        topic=topic,
        group_id=kwargs.pop("group_id", f"g-{uuid.uuid4().hex[:8]}"),
        dlq_topic=kwargs.pop("dlq_topic", ""),
        poll_timeout=0.2,
        **kwargs,
    )


def test_it_stores_rasa_events_from_kafka(assistant, kafka_bootstrap, kafka_topic):
    a = transfer_conversation("sender-a").messages()
    b = transfer_conversation("sender-b").messages()
    produce(kafka_bootstrap, kafka_topic, a, key=b"sender-a")
    produce(kafka_bootstrap, kafka_topic, b, key=b"sender-b")
    source = source_for(kafka_bootstrap, kafka_topic, batch_size=7)
    source.open()
    try:
        drain(source, len(a) + len(b))
    finally:
        source.close()
    assert Event.objects.count() == len(a) + len(b)
    for sender in ("sender-a", "sender-b"):
        sessions = Conversation.objects.filter(sender_id=sender).order_by("session_number")
        assert [(s.session_number, s.user_message_count) for s in sessions] == [(1, 2), (2, 2)]
    second = Conversation.objects.get(sender_id="sender-a", session_number=2)
    banners = list(second.events.exclude(flow_id="").values_list("type", "flow_id"))
    assert ("flow_interrupted", "check_balance") in banners
    assert ("flow_resumed", "check_balance") in banners


def test_poison_goes_to_the_table_and_the_dlq_and_the_consumer_goes_on(
    assistant, kafka_bootstrap, kafka_topic
):
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    create_topics(kafka_bootstrap, [dlq])
    good = transfer_conversation("p1").messages()
    produce(kafka_bootstrap, kafka_topic, [*good[:4], b"{oops", b"\x00\x01", *good[4:]])
    source = source_for(kafka_bootstrap, kafka_topic, dlq_topic=dlq)
    source.open()
    try:
        drain(source, len(good) + 2)
    finally:
        source.close()
    assert Event.objects.count() == len(good)
    assert DeadLetter.objects.count() == 2
    forwarded = consume_all(kafka_bootstrap, dlq, min_messages=2)
    assert sorted(m.value for m in forwarded) == sorted([b"{oops", b"\x00\x01"])
    assert all(dict(m.headers)["studio-reason"] for m in forwarded)


def test_a_crash_before_the_offset_commit_redelivers_without_doubling(
    assistant, kafka_bootstrap, kafka_topic
):
    values = transfer_conversation("c1").messages()
    produce(kafka_bootstrap, kafka_topic, values)
    produce(
        kafka_bootstrap, kafka_topic, transfer_conversation("c2", assistant_id="nobody").messages()
    )
    group = f"g-{uuid.uuid4().hex[:8]}"
    crashing = source_for(kafka_bootstrap, kafka_topic, group_id=group)
    crashing.open()

    real = crashing.consumer
    crashing.consumer = _FailingCommit(real)
    deadline = time.monotonic() + 60
    while not Event.objects.exists():
        assert time.monotonic() < deadline
        try:
            crashing.step()
        except RuntimeError:
            break
    crashing.consumer = real
    crashing.close()
    stored = Event.objects.count()
    assert stored > 0
    # A new member of the group gets everything again (nothing was committed).
    again = source_for(kafka_bootstrap, kafka_topic, group_id=group)
    again.open()
    try:
        drain(again, 2 * len(values), timeout=120)
    finally:
        again.close()
    assert Event.objects.count() == len(values)
    assert Event.objects.values("fingerprint").distinct().count() == len(values)
    assert UnroutedEvent.objects.count() == len(values)
    lag = kafka_lag(
        config={"bootstrap.servers": kafka_bootstrap}, topic=kafka_topic, group_id=group
    )
    assert sum(row.lag for row in lag) == 0
    assert sum(row.high for row in lag) == 2 * len(values)


class _FailingCommit:
    def __init__(self, consumer):
        self._consumer = consumer

    def commit(self, *args, **kwargs):
        raise RuntimeError("killed between the database commit and the offset commit")

    def __getattr__(self, name):
        return getattr(self._consumer, name)


def test_the_poison_pair_is_dead_lettered_and_the_partition_moves_on(
    assistant, kafka_bootstrap, kafka_topic
):
    """The audit's pair: a session_started at 9999-12-31 23:59:59 and the session marker a
    second before it, between good events on one partition."""
    from apps.ingestion.tests.test_poison import good_lines, poison_pair

    group = f"g-{uuid.uuid4().hex[:8]}"
    values = [
        *good_lines("kafka-ok", 5),
        *poison_pair("kafka-poison"),
        *good_lines("kafka-ok", 5, 1_700_000_005.0),
    ]
    produce(kafka_bootstrap, kafka_topic, values)
    source = source_for(kafka_bootstrap, kafka_topic, group_id=group)
    source.open()
    try:
        drain(source, len(values))
    finally:
        source.close()
    assert Event.objects.filter(conversation__sender_id="kafka-ok").count() == 10
    assert sorted(bytes(letter.raw) for letter in DeadLetter.objects.all()) == sorted(
        poison_pair("kafka-poison")
    )
    lag = kafka_lag(
        config={"bootstrap.servers": kafka_bootstrap}, topic=kafka_topic, group_id=group
    )
    assert sum(row.lag for row in lag) == 0
    assert sum(row.high for row in lag) == len(values)


def test_a_static_member_restarted_under_its_name_goes_on_where_it_stopped(
    assistant, kafka_bootstrap, kafka_topic, settings
):
    """KAFKA_GROUP_INSTANCE_ID makes the membership static (KIP-345): the broker takes the
    member's name, and a restarted ingester under the same name reads on from the committed
    offsets, nothing read twice or lost."""
    settings.KAFKA_GROUP_INSTANCE_ID = "ingester-0"
    messages = transfer_conversation("static").messages()
    produce(kafka_bootstrap, kafka_topic, messages[:10])
    group = f"g-{uuid.uuid4().hex[:8]}"
    first = source_for(kafka_bootstrap, kafka_topic, group_id=group, batch_size=10)
    assert first.consumer_config()["group.instance.id"] == "ingester-0"
    assert "member ingester-0" in first.describe()
    first.open()
    try:
        drain(first, 10)
    finally:
        first.close()
    produce(kafka_bootstrap, kafka_topic, messages[10:])
    again = source_for(kafka_bootstrap, kafka_topic, group_id=group)
    again.open()
    try:
        assert drain(again, len(messages) - 10) == len(messages) - 10
    finally:
        again.close()
    assert Event.objects.count() == len(messages)


def test_without_an_instance_id_the_membership_is_dynamic(settings):
    settings.KAFKA_GROUP_INSTANCE_ID = ""
    settings.KAFKA_SESSION_TIMEOUT_MS = 30000
    config = KafkaSource(config={"bootstrap.servers": "127.0.0.1:9"}, topic="t").consumer_config()
    assert "group.instance.id" not in config
    assert config["session.timeout.ms"] == 30000
