import pytest

from apps.projects import content
from apps.training.tests.conftest import TINY


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Each test its own storage and event spool (worker processes get the same paths)."""
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


@pytest.fixture
def tiny(make_assistant):
    assistant = make_assistant("tiny")
    content.import_files(assistant, TINY)
    return assistant
