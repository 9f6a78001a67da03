import pytest

from apps.comparison.tests.fixtures import train_tiny_versions


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


@pytest.fixture
def tiny_versions(make_assistant):
    """The tiny assistant with version 1 (BASE, live) and version 2 (CANDIDATE), both trained
    by a real training consumer."""
    assistant = make_assistant("tiny")
    return (assistant, *train_tiny_versions(assistant))
