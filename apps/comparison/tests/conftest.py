import uuid

import pytest
from django.utils import timezone

from apps.comparison.tests.fixtures import BASE, CANDIDATE
from apps.training.models import Deployment, ModelVersion, TrainingJob
from workers.training import TrainingConsumer


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


def queue_version(assistant, number, files):
    version = ModelVersion.objects.create(assistant=assistant, number=number, input_files=files)
    TrainingJob.objects.create(assistant=assistant, version=version)
    return version


@pytest.fixture
def tiny_versions(make_assistant):
    """The tiny assistant with version 1 (BASE, live) and version 2 (CANDIDATE), both trained
    by a real training consumer."""
    assistant = make_assistant("tiny")
    base = queue_version(assistant, 1, BASE)
    candidate = queue_version(assistant, 2, CANDIDATE)
    TrainingConsumer(once=True, worker_id="trainer").run()
    for version in (base, candidate):
        version.refresh_from_db()
        assert version.is_trained, version.job.error
    Deployment.objects.create(
        assistant=assistant,
        version=base,
        status=Deployment.Status.LIVE,
        bot_url="http://127.0.0.1:9",
        live_at=timezone.now(),
    )
    return assistant, base, candidate


def ingest_messages(assistant, texts):
    """A production conversation of the assistant with these user messages."""
    from apps.ingestion.models import Conversation, Event

    now = timezone.now()
    conversation = Conversation.objects.create(
        assistant=assistant, sender_id="customer-1", started_at=now, last_event_at=now
    )
    events = []
    for position, text in enumerate(texts):
        events.append(
            Event.objects.create(
                conversation=conversation,
                position=position,
                type="user",
                timestamp=now,
                fingerprint=uuid.uuid4(),
                data={"event": "user", "text": text},
                text=text,
            )
        )
    return conversation, events
