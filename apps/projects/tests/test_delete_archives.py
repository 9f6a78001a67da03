"""Deleting an assistant deletes its stored model archives (which embed its training data) and
the running consumers' local copies of them; other assistants' archives stay."""

from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.accounts.models import ApiToken
from apps.training.models import ModelVersion


def _cached(name: str) -> Path:
    """A running consumer's local copy of a stored archive."""
    return Path(settings.VAR_DIR) / "model-cache" / name


def _trained(assistant, number: int) -> str:
    name = default_storage.save(
        f"models/{assistant.name}/{number}-{number}-1.tar.gz", ContentFile(b"model bytes")
    )
    ModelVersion.objects.create(assistant=assistant, number=number, model_file=name)
    cached = _cached(name)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"model bytes")
    return name


def test_deleting_an_assistant_deletes_its_model_archives(
    settings, tmp_path, client, admin_user, make_assistant, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.VAR_DIR = tmp_path / "var"
    doomed, kept = make_assistant("doomed"), make_assistant("kept")
    gone = [_trained(doomed, 1), _trained(doomed, 2)]
    stays = _trained(kept, 1)
    _, secret = ApiToken.issue(admin_user, "t")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete("/api/v1/assistants/doomed", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 204
    for name in gone:
        assert not default_storage.exists(name)
        assert not _cached(name).exists()
    assert not list((tmp_path / "storage" / "models" / "doomed").glob("*"))
    assert default_storage.exists(stays) and _cached(stays).exists()


def test_a_consumer_drops_its_copies_of_archives_whose_versions_are_gone(
    settings, tmp_path, make_assistant
):
    """A consumer on another machine was not there when the assistant was deleted: the next
    time it fetches a model it drops its copies of archives no version names any more."""
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.VAR_DIR = tmp_path / "var"
    kept = make_assistant("kept")
    stays = _trained(kept, 1)
    stale = _cached("models/deleted-elsewhere/1-9-1.tar.gz")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old model")
    downloading = _cached("models/kept/2-3-1.tar.part")
    downloading.write_bytes(b"half")

    from workers.running import RunningConsumer

    consumer = RunningConsumer(once=True, worker_id="t")
    assert consumer._fetch_model(stays) == _cached(stays)
    assert not stale.exists()
    assert _cached(stays).exists() and downloading.exists()
