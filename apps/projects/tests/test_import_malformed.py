"""Every malformed upload gets a precise error, changes nothing, and never a 500."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import ApiToken
from apps.projects import content
from apps.projects.content.archives import read_project_dir
from apps.projects.tests.malformed_cases import CASES
from apps.projects.tests.snapshots import snapshot
from demo import HARBOR_BANK as DEMO_DIR

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_files():
    return read_project_dir(DEMO_DIR)


@pytest.fixture
def bank(make_assistant, demo_files):
    assistant = make_assistant("bank")
    content.import_files(assistant, demo_files)
    return assistant


def send(client, secret, files, partial):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    url = "/api/v1/assistants/bank/import"
    if isinstance(files, bytes) or any(isinstance(v, bytes) for v in files.values()):
        items = {"project.zip": files} if isinstance(files, bytes) else files
        uploads = [
            SimpleUploadedFile(name, data if isinstance(data, bytes) else data.encode())
            for name, data in items.items()
        ]
        return client.post(url, {"files": uploads, "partial": str(partial).lower()}, **auth)
    body = json.dumps({"files": files, "partial": partial})
    return client.post(url, body, content_type="application/json", **auth)


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("case_id", "files", "partial", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_a_malformed_upload_is_refused_precisely_and_changes_nothing(
    client, admin_user, bank, case_id, files, partial, expected
):
    _, secret = ApiToken.issue(admin_user, "t")
    before = snapshot(bank)
    response = send(client, secret, files, partial)
    body = response.json()
    assert response.status_code == 400, body
    errors = body["errors"]
    assert errors and all(e["message"] for e in errors)
    file, line, path, message = expected
    matching = [
        e
        for e in errors
        if (file is None or e["file"] == file)
        and (line is None or e["line"] == line)
        and (path is None or path in e["path"])
        and (message is None or message.lower() in e["message"].lower())
    ]
    assert matching, f"no error matches {expected}: {errors}"
    assert snapshot(bank) == before
