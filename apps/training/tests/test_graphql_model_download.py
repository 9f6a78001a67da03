"""Rasa Studio's CI API: `modelDownloadUrls` answers URLs that give the version's archive and
input files to a credential with EXPORT on the assistant; `modelVersions` lists versions."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.roles import ROLE_CAPS, Cap, Role
from apps.training import services
from apps.training.models import Deployment, ModelVersion

pytestmark = pytest.mark.django_db

URLS = (
    "query ModelDownloadUrls($input: ModelDownloadUrlsInput!) {"
    " modelDownloadUrls(input: $input) { modelFileUrl modelInputUrl } }"
)
VERSIONS = (
    "query ModelVersions($input: ModelVersionsInput!) {"
    " modelVersions(input: $input) { name number label createdAt trainedAt status live } }"
)


def archive_bytes(text: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = text.encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def trained(assistant, name: str = "") -> tuple[ModelVersion, bytes]:
    job = services.request_training(assistant, None)
    version = job.version
    data = archive_bytes(f'{{"version": {version.number}}}')
    stored = default_storage.save(
        f"models/{assistant.name}/{version.number}.tar.gz", ContentFile(data)
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        model_file=stored, trained_at=timezone.now(), name=name
    )
    version.refresh_from_db()
    return version, data


def bearer(user) -> dict:
    _, secret = ApiToken.issue(user, "ci")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def ask(client, auth, query, variables):
    response = client.post(
        "/api/graphql/",
        {"query": query, "variables": {"input": variables}},
        content_type="application/json",
        **auth,
    )
    return response.json()


@pytest.fixture
def developer(make_user):
    return make_user("dev", Role.DEVELOPER)


def test_the_urls_give_the_archive_and_the_input_files(client, tiny, developer):
    first, first_bytes = trained(tiny, name="release-1")
    second, second_bytes = trained(tiny)
    auth = bearer(developer)
    latest = ask(client, auth, URLS, {"assistantId": "tiny"})["data"]["modelDownloadUrls"]
    assert latest["modelFileUrl"] == (
        f"http://testserver/api/v1/download/model-file/{second.number}?assistant=tiny"
    )
    response = client.get(latest["modelFileUrl"], **auth)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == second_bytes
    named = ask(client, auth, URLS, {"assistantId": "tiny", "assistantVersionName": "release-1"})[
        "data"
    ]["modelDownloadUrls"]
    assert b"".join(client.get(named["modelFileUrl"], **auth).streaming_content) == first_bytes
    files = zipfile.ZipFile(io.BytesIO(client.get(named["modelInputUrl"], **auth).content))
    assert files.read("domain.yml").decode() == first.input_files["domain.yml"]
    # The version's name works in the download URL too.
    by_name = client.get("/api/v1/download/model-file/release-1?assistant=tiny", **auth)
    assert b"".join(by_name.streaming_content) == first_bytes


def test_unknown_versions_and_untrained_assistants_are_named(client, tiny, developer):
    auth = bearer(developer)
    body = ask(client, auth, URLS, {"assistantId": "tiny"})
    assert body["errors"][0]["message"] == "tiny has no trained version yet."
    trained(tiny)
    body = ask(client, auth, URLS, {"assistantId": "tiny", "assistantVersionName": "nope"})
    assert "tiny has no version named 'nope'" in body["errors"][0]["message"]
    missing = client.get("/api/v1/download/model-file/1", **auth)
    assert missing.status_code == 400 and "?assistant=" in missing.json()["assistant"][0]
    assert client.get("/api/v1/download/model-file/7?assistant=tiny", **auth).status_code == 404


def test_the_urls_need_a_credential_with_export(client, tiny, make_user, make_assistant):
    trained(tiny)
    url = "/api/v1/download/model-file/1?assistant=tiny"
    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer stu_wrong").status_code == 401
    builder = bearer(make_user("builder", Role.FLOW_BUILDER))
    assert client.get(url, **builder).status_code == 403
    outsider = bearer(make_user("outsider", grants={make_assistant("mine"): [Role.DEVELOPER]}))
    assert client.get(url, **outsider).status_code == 404
    body = ask(client, outsider, URLS, {"assistantId": "tiny"})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("role", list(Role))
def test_every_role_gets_the_urls_exactly_when_it_may_export(client, tiny, make_user, role):
    trained(tiny)
    body = ask(client, bearer(make_user("u", role)), URLS, {"assistantId": "tiny"})
    if Cap.EXPORT in ROLE_CAPS[role]:
        assert body["data"]["modelDownloadUrls"]["modelFileUrl"].endswith("?assistant=tiny")
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_versions_are_listed_newest_first_with_their_state(client, tiny, developer):
    first, _ = trained(tiny, name="release-1")
    services.request_training(tiny, None)  # queued, not trained
    Deployment.objects.create(
        assistant=tiny, version=first, status=Deployment.Status.LIVE, live_at=timezone.now()
    )
    rows = ask(client, bearer(developer), VERSIONS, {"assistantId": "tiny"})["data"]
    assert [(r["name"], r["status"], r["live"]) for r in rows["modelVersions"]] == [
        ("2", "queued", False),
        ("release-1", "trained", True),
    ]
    assert rows["modelVersions"][1]["trainedAt"] is not None
    viewer = bearer(developer.__class__.objects.create_user("v", password="pw"))
    body = ask(client, viewer, VERSIONS, {"assistantId": "tiny"})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_personal_version_is_listed_only_to_the_person_who_trained_it(
    client, tiny, developer, make_user
):
    trained(tiny, name="shared")
    other = make_user("other", Role.DEVELOPER)
    mine = services.request_training(tiny, other, isolated=True).version
    listed = {
        who: [
            r["name"]
            for r in ask(client, bearer(user), VERSIONS, {"assistantId": "tiny"})["data"][
                "modelVersions"
            ]
        ]
        for who, user in (("owner", other), ("developer", developer))
    }
    assert listed["owner"] == [str(mine.number), "shared"]
    assert listed["developer"] == ["shared"]
