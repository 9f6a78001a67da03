import pytest
from django.utils import timezone

from apps.projects import content
from apps.training import services
from apps.training.models import Deployment, ModelVersion

TINY = {
    "config.yml": "recipe: default.v1\nlanguage: en\nassistant_id: something_else  # kept comment\npipeline: []\npolicies: []\n",
    "domain.yml": (
        'version: "3.1"\nintents: [greet, bye]\n'
        "responses:\n  utter_hello:\n  - text: Hello from the tiny bot!\n  utter_bye:\n  - text: Bye now.\n"
    ),
    "data/flows.yml": (
        'version: "3.1"\nflows:\n'
        "  say_hello:\n    description: Greet the user.\n    nlu_trigger: [greet]\n    steps:\n      - action: utter_hello\n"
        "  say_bye:\n    description: Say goodbye.\n    nlu_trigger: [bye]\n    steps:\n      - action: utter_bye\n"
    ),
    "data/nlu.yml": (
        'version: "3.1"\nnlu:\n'
        "  - intent: greet\n    examples: |\n      - hello\n      - hi\n      - hey there\n      - good morning\n"
        "  - intent: bye\n    examples: |\n      - bye\n      - goodbye\n      - see you later\n      - farewell\n"
    ),
}


@pytest.fixture
def tiny(make_assistant):
    assistant = make_assistant("tiny")
    content.import_files(assistant, TINY)
    return assistant


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Each test its own storage and event spool (worker processes get the same paths)."""
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


@pytest.fixture
def live(tiny):
    """A trained version of `tiny` whose bot is live (at an address nothing listens on)."""
    job = services.request_training(tiny, None)
    ModelVersion.objects.filter(pk=job.version_id).update(
        model_file="models/tiny/1.tar.gz", trained_at=timezone.now()
    )
    return Deployment.objects.create(
        assistant=tiny,
        version=job.version,
        status=Deployment.Status.LIVE,
        bot_url="http://127.0.0.1:9",
        live_at=timezone.now(),
    )
