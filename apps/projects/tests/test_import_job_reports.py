"""A background import (a large upload, queued and run by the orchestrator) reports exactly
what the same import in the request does: the files the location fields leave out and the
entries of a zip that were not read (a link to a file the zip does not hold)."""

import io
import json
import stat
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import ApiToken
from apps.projects import imports
from apps.projects.models import ImportJob
from apps.projects.tests.test_import_jobs import run_queued_task
from tests.support.rasa_projects import project_texts

pytestmark = pytest.mark.django_db

API_FIELDS = {
    "config": "config/assistant.yml",
    "domain": "domain",
    "data": ["data/flows", "data/nlu"],
    "endpoints": "config/endpoints.yml",
}
PAGE_FIELDS = {
    "config": "config/assistant.yml",
    "domain": "domain",
    "data_paths": "data/flows data/nlu",
    "endpoints": "config/endpoints.yml",
}
LEFT_OUT = "data/old/stories.yml (not used: data names data/flows, data/nlu)"
DANGLING = "docs/faq.txt (a link to ../shared/faq.txt, which is not in the archive)"


def project_zip() -> bytes:
    """The split-folders project with a link to a file the archive does not hold."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in sorted(project_texts("split-folders").items()):
            archive.writestr(f"library/{path}", text)
        link = zipfile.ZipInfo("library/docs/faq.txt")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "../shared/faq.txt")
    return buffer.getvalue()


@pytest.fixture
def auth(admin_user):
    _, secret = ApiToken.issue(admin_user, "test")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def api_import(client, auth, name, fields=API_FIELDS):
    upload = SimpleUploadedFile("project.zip", project_zip())
    return client.post(
        f"/api/v1/assistants/{name}/import", {"files": upload, "partial": "false", **fields}, **auth
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


def assert_reports_both(texts: list[str]) -> None:
    assert any(LEFT_OUT in text for text in texts), texts
    assert any(DANGLING in text for text in texts), texts


def test_the_api_reports_the_same_in_the_request_and_in_the_background(
    settings, client, auth, make_assistant, django_capture_on_commit_callbacks
):
    make_assistant("direct")
    make_assistant("queued")
    direct = api_import(client, auth, "direct")
    assert direct.status_code == 200, direct.json()
    expected = direct.json()["warnings"]
    assert_reports_both([w["message"] for w in expected])

    settings.STUDIO_IMPORT_BACKGROUND_BYTES = 10
    with django_capture_on_commit_callbacks(execute=True):
        queued = api_import(client, auth, "queued")
    assert queued.status_code == 202, queued.json()
    assert run_queued_task() == 1
    job = client.get(queued.json()["url"], **auth).json()
    assert job["status"] == "done", job
    assert job["warnings"] == expected


def test_the_api_reports_a_skipped_link_in_the_background_without_locations(
    settings, client, auth, make_assistant, django_capture_on_commit_callbacks
):
    make_assistant("direct")
    make_assistant("queued")
    fields = {"partial": "true"}
    expected = api_import(client, auth, "direct", fields).json()["warnings"]
    assert any(DANGLING in w["message"] for w in expected), expected
    settings.STUDIO_IMPORT_BACKGROUND_ITEMS = 0
    with django_capture_on_commit_callbacks(execute=True):
        queued = api_import(client, auth, "queued", fields)
    assert queued.status_code == 202
    run_queued_task()
    assert client.get(queued.json()["url"], **auth).json()["warnings"] == expected


def test_the_page_reports_the_same_in_the_request_and_in_the_background(
    settings, client, admin_user, make_assistant
):
    make_assistant("direct")
    make_assistant("queued")
    client.force_login(admin_user)
    upload = SimpleUploadedFile("project.zip", project_zip())
    direct = client.post("/a/direct/import", {"files": upload, "mode": "update", **PAGE_FIELDS})
    assert direct.status_code == 302
    expected = messages_of(direct)
    assert_reports_both(expected)

    settings.STUDIO_IMPORT_BACKGROUND_ITEMS = 0
    upload = SimpleUploadedFile("project.zip", project_zip())
    queued = client.post("/a/queued/import", {"files": upload, "mode": "update", **PAGE_FIELDS})
    job = ImportJob.objects.get(assistant__name="queued")
    assert queued["Location"] == f"/a/queued/imports/{job.pk}"
    assert imports.run_queued_imports() == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert [imports.problem_text(w) for w in job.warnings] == expected
    page = client.get(queued["Location"]).content.decode()
    assert "data/old/stories.yml" in page and "docs/faq.txt" in page


def test_a_confirmed_replace_reports_what_its_upload_left_out(client, admin_user, make_assistant):
    make_assistant("library")
    client.force_login(admin_user)
    upload = SimpleUploadedFile("project.zip", project_zip())
    client.post("/a/library/import", {"files": upload, "mode": "replace", **PAGE_FIELDS})
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.AWAITING_CONFIRMATION
    page = client.get(f"/a/library/imports/{job.pk}").content.decode()
    digest = page.split('name="removes" value="')[1].split('"')[0]
    confirmed = client.post(
        f"/a/library/imports/{job.pk}", {"action": "confirm", "removes": digest}
    )
    assert confirmed["Location"] == "/a/library/settings"
    assert_reports_both(messages_of(confirmed))
    job.refresh_from_db()
    assert_reports_both([imports.problem_text(w) for w in job.warnings])


def test_a_job_keeps_what_its_zip_cannot_carry(make_assistant):
    from engine import formats

    files = formats.FolderFiles()
    files.update({"domain.yml": b'version: "3.1"\nintents: [greet]\n'})
    files.skipped["docs/faq.txt"] = "a link to faq.md, which is not in the archive"
    note = formats.Problem(None, None, "", "1 file not used with the locations given", "warning")
    job = imports.create_job(make_assistant("bot"), files, partial=True, notes=[note])
    job.refresh_from_db()
    assert imports.job_files(job).skipped == files.skipped
    assert note in imports.load_job(job).load_warnings
    assert json.loads(json.dumps(job.notes)) == [imports.problem_dict(note)]
