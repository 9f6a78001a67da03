"""pytest fixtures shared by test suites (no Django import).

Use them from a ``conftest.py``::

    from tests.support.fixtures import kafka_bootstrap, kafka_topic  # noqa: F401
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.kafka_mock import KafkaMock, create_topics


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The ``host:port`` of a Kafka-protocol mock cluster that lives for the whole session."""
    with KafkaMock() as mock:
        yield mock.bootstrap


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> str:
    """A fresh, empty topic (one partition) on the session's mock cluster."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    create_topics(kafka_bootstrap, [name])
    return name
