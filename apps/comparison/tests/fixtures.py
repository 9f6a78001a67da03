"""Two versions of a tiny assistant that differ in one response, one intent and the flow that
intent triggers; the live one's e2e cases are in both."""

import uuid

from django.utils import timezone

BASE = {
    "config.yml": "recipe: default.v1\nlanguage: en\nassistant_id: tiny\npipeline: []\npolicies: []\n",
    "domain.yml": (
        'version: "3.1"\nintents: [greet, bye]\n'
        "responses:\n  utter_hello:\n  - text: Hello from the tiny bot!\n"
        "  utter_bye:\n  - text: Bye now.\n"
    ),
    "data/flows.yml": (
        'version: "3.1"\nflows:\n'
        "  say_hello:\n    description: Greet the user.\n    nlu_trigger: [greet]\n"
        "    steps:\n      - action: utter_hello\n"
        "  say_bye:\n    description: Say goodbye.\n    nlu_trigger: [bye]\n"
        "    steps:\n      - action: utter_bye\n"
    ),
    "data/nlu.yml": (
        'version: "3.1"\nnlu:\n'
        "  - intent: greet\n    examples: |\n      - hello\n      - hi\n      - hey there\n"
        "      - good morning\n      - hello there\n      - hi friend\n"
        "  - intent: bye\n    examples: |\n      - bye\n      - goodbye\n      - see you later\n"
        "      - farewell\n      - bye bye\n      - see you soon\n"
    ),
    "tests/e2e.yml": (
        "test_cases:\n"
        "  - test_case: greeting_text\n    steps:\n      - user: hello\n"
        "      - bot: Hello from the tiny bot!\n"
        "  - test_case: goodbye\n    steps:\n      - user: bye\n      - utter: utter_bye\n"
    ),
}

THANKS = (
    "  - intent: thanks\n    examples: |\n      - thanks\n      - thank you\n"
    "      - thanks a lot\n      - many thanks\n      - thank you so much\n      - thanks again\n"
)

CANDIDATE = {
    **BASE,
    "domain.yml": (
        'version: "3.1"\nintents: [greet, bye, thanks]\n'
        "responses:\n  utter_hello:\n  - text: Hi, this is the new tiny bot!\n"
        "  utter_bye:\n  - text: Bye now.\n"
        "  utter_welcome:\n  - text: You are welcome.\n"
    ),
    "data/flows.yml": BASE["data/flows.yml"]
    + (
        "  say_welcome:\n    description: Answer thanks.\n    nlu_trigger: [thanks]\n"
        "    steps:\n      - action: utter_welcome\n"
    ),
    "data/nlu.yml": BASE["data/nlu.yml"] + THANKS,
}


def train_tiny_versions(assistant):
    """Version 1 (BASE, made live) and version 2 (CANDIDATE) of `assistant`, trained by a real
    training consumer."""
    from apps.training.models import Deployment, ModelVersion, TrainingJob
    from workers.training import TrainingConsumer

    versions = []
    for number, files in ((1, BASE), (2, CANDIDATE)):
        version = ModelVersion.objects.create(assistant=assistant, number=number, input_files=files)
        TrainingJob.objects.create(assistant=assistant, version=version)
        versions.append(version)
    TrainingConsumer(once=True, worker_id="trainer").run()
    for version in versions:
        version.refresh_from_db()
        assert version.is_trained, version.job.error
    Deployment.objects.create(
        assistant=assistant,
        version=versions[0],
        status=Deployment.Status.LIVE,
        bot_url="http://127.0.0.1:9",
        live_at=timezone.now(),
    )
    return versions


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
