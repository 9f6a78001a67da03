"""The signed links of training and bot pods: each opens one thing, for one attempt of one row,
while that row still needs it."""

import io
import zipfile

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.training import pods, services
from apps.training.models import Deployment, ModelVersion, TrainingJob


@pytest.fixture
def job(assistant):
    version = ModelVersion.objects.create(
        assistant=assistant,
        number=2,
        input_files={"domain.yml": "intents: [greet]\n", "data/nlu.yml": "nlu: []\n"},
        input_binary_files={"docs/a.pdf": "JVBERi0="},
    )
    return TrainingJob.objects.create(
        assistant=assistant, version=version, status="running", attempts=1
    )


def link(purpose, row, attempt=None):
    return pods.signed_path(purpose, row.pk, row.attempts if attempt is None else attempt)


def test_a_running_trainings_input_link_gives_its_files(client, job):
    answer = client.get(link("training-input", job))
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        assert bundle.read("domain.yml") == b"intents: [greet]\n"
        assert bundle.read("docs/a.pdf") == b"%PDF-"


@pytest.mark.parametrize(
    "change",
    [
        {"status": "succeeded"},
        {"status": "queued"},
        {"attempts": 2},  # requeued and claimed again: the old pod's link is dead
        {"cancel_requested": True},
    ],
)
def test_the_link_dies_when_the_training_moves_on(client, job, change):
    path = link("training-input", job)
    TrainingJob.objects.filter(pk=job.pk).update(**change)
    assert client.get(path).status_code == 403


def test_a_link_opens_only_what_it_was_made_for(client, job):
    model_path = link("training-model", job)
    token = model_path.split("/")[3]
    assert client.get(f"/pods/training/{token}/input").status_code == 403
    assert client.get(link("training-input", job) + "x").status_code in (403, 404)
    assert client.get(link("training-input", job, attempt=7)).status_code == 403
    assert client.put(link("training-input", job), b"x").status_code == 405


def test_an_old_training_link_expires(client, job, settings, monkeypatch):
    settings.STUDIO_TRAINING_TIMEOUT = 60
    now = signing.time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - 60 - 601)
    path = link("training-input", job)
    monkeypatch.undo()
    assert client.get(path).status_code == 403


def test_the_model_link_stores_the_archive_where_the_consumer_records_it(client, job, tmp_path):
    answer = client.put(
        link("training-model", job), b"archive bytes", content_type="application/gzip"
    )
    assert answer.status_code == 201, answer.content
    name = services.model_storage_name(job)
    assert answer.json() == {"stored": name, "bytes": 13}
    with default_storage.open(name, "rb") as handle:
        assert handle.read() == b"archive bytes"
    # The pod retries: the archive is replaced, under the same name.
    again = client.put(link("training-model", job), b"second", content_type="application/gzip")
    assert again.json()["stored"] == name
    with default_storage.open(name, "rb") as handle:
        assert handle.read() == b"second"


def test_an_archive_past_the_limit_is_refused(client, job, settings):
    settings.STUDIO_MAX_MODEL_BYTES = 1024
    answer = client.put(link("training-model", job), b"x" * 1025, content_type="application/gzip")
    assert answer.status_code == 413
    assert "STUDIO_MAX_MODEL_BYTES" in answer.json()["error"]
    assert not default_storage.exists(services.model_storage_name(job))


def test_a_bots_link_gives_its_model_while_it_holds_a_bot(client, assistant):
    stored = default_storage.save("models/alpha/5.tar.gz", ContentFile(b"the model"))
    version = ModelVersion.objects.create(assistant=assistant, number=5, model_file=stored)
    deployment = Deployment.objects.create(
        assistant=assistant, version=version, status="starting", attempts=1
    )
    path = link("bot-model", deployment)
    answer = client.get(path)
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == b"the model"
    Deployment.objects.filter(pk=deployment.pk).update(status="live")
    assert client.get(path).status_code == 200  # a pod restarted later fetches it again
    Deployment.objects.filter(pk=deployment.pk).update(status="stopped")
    assert client.get(path).status_code == 403
