"""Rasa Studio's Model Download API: `modelDownloadUrls` on /api/graphql/ and the download
URLs it answers, fetched with the same personal API token, streaming a really trained
version's archive."""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from apps.accounts.models import ApiToken
from apps.accounts.roles import Cap, Role, caps_of
from apps.projects import content
from apps.training import services
from apps.training.models import ModelVersion, TrainingJob
from apps.training.tests.conftest import TINY
from workers.training import write_project

pytestmark = pytest.mark.django_db

URLS = """query ModelDownloadUrls($input: ModelDownloadUrlsInput!) {
  modelDownloadUrls(input: $input) { modelFileUrl modelInputUrl }
}"""


def trained(assistant) -> ModelVersion:
    """A version of `assistant` trained by the engine, its archive in storage."""
    job = services.request_training(assistant, None)
    version = job.version
    with tempfile.TemporaryDirectory() as tmp:
        from engine.train import train_project

        write_project(version.input_files, Path(tmp) / "project")
        archive = train_project(Path(tmp) / "project", Path(tmp) / "out", fixed_model_name="m")
        with open(archive.path, "rb") as handle:
            name = default_storage.save(
                f"models/{assistant.name}/{version.number}.tar.gz", File(handle)
            )
    TrainingJob.objects.filter(pk=job.pk).update(status=TrainingJob.Status.SUCCEEDED)
    version.model_file = name
    version.save()
    return version


def gql(client, token, **variables):
    response = client.post(
        "/api/graphql/",
        {"query": URLS, "variables": {"input": variables}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    return response.json()


def get(client, url, token):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def version(tiny):
    return trained(tiny)


@pytest.fixture
def token(make_user):
    return ApiToken.issue(make_user("dev", Role.DEVELOPER), "ci")[1]


def test_urls_download_the_trained_archive_and_its_input(client, version, token):
    urls = gql(client, token, assistantId="tiny")["data"]["modelDownloadUrls"]
    assert urls["modelFileUrl"] == (
        f"http://testserver/api/v1/download/model-file/{version.number}?assistant=tiny"
    )
    model = get(client, urls["modelFileUrl"], token)
    assert model.status_code == 200
    body = b"".join(model.streaming_content)
    with default_storage.open(version.model_file, "rb") as handle:
        assert body == handle.read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        assert archive.getnames()
    inputs = get(client, urls["modelInputUrl"], token)
    assert inputs.status_code == 200
    with zipfile.ZipFile(io.BytesIO(inputs.content)) as archive:
        assert "domain.yml" in archive.namelist()
        assert "utter_hello" in archive.read("domain.yml").decode()


def test_version_by_number_name_or_latest(client, tiny, version, token):
    ModelVersion.objects.filter(pk=version.pk).update(name="release-1")
    newer = trained(tiny)
    latest = gql(client, token, assistantId="tiny")["data"]["modelDownloadUrls"]
    assert f"/model-file/{newer.number}?" in latest["modelFileUrl"]
    for name in (str(version.number), "release-1"):
        urls = gql(client, token, assistantId="tiny", assistantVersionName=name)
        assert f"/model-file/{version.number}?" in urls["data"]["modelDownloadUrls"]["modelFileUrl"]


def test_unknown_or_untrained_versions_name_the_field(client, tiny, token):
    untrained = services.request_training(tiny, None).version
    answer = gql(client, token, assistantId="tiny")
    assert answer["errors"][0]["message"].startswith("assistantVersionName:")
    answer = gql(client, token, assistantId="tiny", assistantVersionName=str(untrained.number))
    assert "has no model yet" in answer["errors"][0]["message"]
    answer = gql(client, token, assistantId="tiny", assistantVersionName="nope")
    assert answer["errors"][0]["message"] == "assistantVersionName: tiny has no version 'nope'."


def test_a_version_number_shared_by_two_assistants_needs_the_assistant(
    client, version, make_assistant, token
):
    other = make_assistant("other")
    content.import_files(other, TINY)
    theirs = trained(other)
    assert theirs.number == version.number
    response = get(client, f"/api/v1/download/model-file/{version.number}", token)
    assert response.status_code == 400
    assert "add ?assistant=<name>" in str(response.json())
    response = get(client, f"/api/v1/download/model-file/{version.number}?assistant=other", token)
    with default_storage.open(theirs.model_file, "rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()


def test_foreign_assistants_are_not_found(client, version, make_assistant, make_user):
    make_assistant("mine")
    user = make_user("outsider", grants={ModelVersion.objects.get().assistant: []})
    stranger = ApiToken.issue(user, "ci")[1]
    answer = gql(client, stranger, assistantId="tiny")
    assert answer["errors"][0]["message"] == "No assistant named 'tiny'."
    assert get(client, "/api/v1/download/model-file/1?assistant=tiny", stranger).status_code == 404
    assert get(client, "/api/v1/download/model-input/1", stranger).status_code == 404


def test_no_credential_is_refused(client, version):
    assert client.get("/api/v1/download/model-file/1").status_code in (401, 403)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_is_allowed_exactly_as_export_says(client, version, make_user, role):
    token = ApiToken.issue(make_user(f"u-{role.value}", role), "ci")[1]
    allowed = Cap.EXPORT in caps_of([role])
    answer = gql(client, token, assistantId="tiny")
    assert ("errors" not in answer) == allowed
    response = get(client, "/api/v1/download/model-input/1?assistant=tiny", token)
    assert response.status_code == (200 if allowed else 403)
