"""Imports: bounded uploads, the confirmed full replace of the Settings page, background jobs
run by the orchestrator, and the report of ignored files."""

import io
import json
import pydoc
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import reverse

from apps.flows.models import Flow, Response
from apps.projects import content, imports
from apps.projects.models import AssistantFiles, ImportJob
from apps.projects.tests.snapshots import snapshot

pytestmark = pytest.mark.django_db

DOMAIN = """\
version: "3.1"
intents: [greet, bye]
responses:
  utter_greet:
    - text: Hello!
  utter_bye:
    - text: Bye!
"""
FLOWS = """\
version: "3.1"
flows:
  say_hello:
    description: Say hello.
    steps:
      - action: utter_greet
  say_bye:
    description: Say goodbye.
    steps:
      - action: utter_bye
"""
NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hi
      - hello
  - intent: bye
    examples: |
      - bye
"""
PROJECT = {"domain.yml": DOMAIN, "data/flows.yml": FLOWS, "data/nlu.yml": NLU}
# Only greet and say_hello: a full replace with this deletes bye, utter_bye and say_bye.
SMALLER = {
    "domain.yml": 'version: "3.1"\nintents: [greet]\nresponses:\n  utter_greet:\n'
    "    - text: Hi there!\n",
    "data/flows.yml": FLOWS.split("  say_bye:")[0],
    "data/nlu.yml": 'version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - hi\n',
}
NEW_RESPONSE = {"domain.yml": 'version: "3.1"\nresponses:\n  utter_new:\n    - text: New!\n'}


@pytest.fixture
def bot(make_assistant):
    assistant = make_assistant("bot")
    content.import_files(assistant, PROJECT)
    return assistant


def uploads(files):
    return [SimpleUploadedFile(name, text.encode()) for name, text in files.items()]


def names(model, assistant):
    return sorted(model.objects.filter(assistant=assistant).values_list("name", flat=True))


# --------------------------------------------------------------------------------------------
# Upload size, bounded while the request streams in


class CountingStream:
    """A request body that counts how much of it the server read."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)
        self.consumed = 0

    def read(self, size=-1):
        chunk = self.data.read(size)
        self.consumed += len(chunk)
        return chunk

    def readline(self, size=-1):
        chunk = self.data.readline(size)
        self.consumed += len(chunk)
        return chunk


def multipart(fields: dict[str, str], files: dict[str, bytes], boundary="b0undary") -> bytes:
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, data in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def wsgi_post(path, body: bytes, *, headers=None, cookies=None, content_type=None):
    """POST through the whole WSGI stack (middleware included) with a counting body."""
    stream = CountingStream(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "CONTENT_TYPE": content_type or "multipart/form-data; boundary=b0undary",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": stream,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **(headers or {}),
    }
    if cookies:
        environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    status = {}

    def start_response(code, response_headers, exc_info=None):
        status["code"] = int(code.split()[0])

    # As the test client does: keep the test's database connection open across the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, start_response)
        body_out = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return status["code"], body_out, stream


def test_a_too_large_api_upload_is_refused_before_it_is_read(settings, bot, auth):
    settings.STUDIO_MAX_UPLOAD_BYTES = 200_000
    before = snapshot(bot)
    body = multipart({"partial": "false"}, {"big.yml": b"#" * 3_000_000})
    code, out, stream = wsgi_post("/api/v1/assistants/bot/import", body, headers=auth)
    assert code == 413
    (error,) = json.loads(out)["errors"]
    assert "larger than the limit of 200000 bytes" in error["message"]
    assert stream.consumed < 1_000_000  # aborted early, not read whole
    assert snapshot(bot) == before


def test_a_too_large_json_import_is_refused_before_it_is_read(settings, bot, auth):
    settings.STUDIO_MAX_UPLOAD_BYTES = 200_000
    body = json.dumps({"files": {"data/x.yml": "#" * 500_000}}).encode()
    code, out, stream = wsgi_post(
        "/api/v1/assistants/bot/import", body, headers=auth, content_type="application/json"
    )
    assert code == 413
    assert "200000 bytes" in json.loads(out)["errors"][0]["message"]
    assert stream.consumed == 0


def test_a_too_large_page_upload_is_a_form_error_and_stops_at_the_first_file(
    settings, client, developer, bot
):
    settings.STUDIO_MAX_UPLOAD_BYTES = 200_000
    client.force_login(developer)
    csrf = "a" * 32
    before = snapshot(bot)
    body = multipart({"csrfmiddlewaretoken": csrf, "mode": "update"}, {"big.yml": b"#" * 3_000_000})
    code, out, stream = wsgi_post(
        "/a/bot/import",
        body,
        cookies={"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
    )
    assert code == 413
    page = out.decode()
    assert "Nothing was imported." in page
    assert "larger than the limit of 200000 bytes" in page
    assert stream.consumed < 1_000_000
    assert snapshot(bot) == before


def test_an_upload_within_the_limit_still_imports(settings, client, developer, bot):
    settings.STUDIO_MAX_UPLOAD_BYTES = 200_000
    client.force_login(developer)
    response = client.post("/a/bot/import", {"files": uploads(NEW_RESPONSE)})
    assert response.status_code == 302
    assert "utter_new" in names(Response, bot)


# --------------------------------------------------------------------------------------------
# The Settings page: update by default, a full replace only after confirming what it deletes


def test_the_settings_page_offers_update_as_the_default(web, bot):
    page = web.get("/a/bot/settings").content.decode()
    assert re.search(r'<input type="radio" name="mode" value="update"[^>]* checked', page)
    assert "Update only what the files contain" in page


def test_an_upload_without_a_mode_updates_and_keeps_the_rest(web, bot):
    response = web.post("/a/bot/import", {"files": uploads(NEW_RESPONSE)})
    assert response.status_code == 302
    assert names(Response, bot) == ["utter_bye", "utter_greet", "utter_new"]
    assert names(Flow, bot) == ["say_bye", "say_hello"]


def test_a_full_replace_lists_what_it_deletes_and_waits_for_confirmation(web, bot):
    before = snapshot(bot)
    response = web.post("/a/bot/import", {"files": uploads(SMALLER), "mode": "replace"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("projects:import_job", args=["bot", job.pk])
    assert job.status == ImportJob.Status.AWAITING_CONFIRMATION
    assert snapshot(bot) == before  # nothing yet
    page = web.get(response["Location"]).content.decode()
    assert "Replacing deletes 3 items that the upload does not have" in page
    for kind, name in (
        ("flows", "say_bye"),
        ("responses", "utter_bye"),
        ("intents", "bye"),
    ):
        assert name in job.removes[kind]
        assert f"<code>{name}</code>" in page
    assert job.removes == {"flows": ["say_bye"], "responses": ["utter_bye"], "intents": ["bye"]}

    digest = page.split('name="removes" value="')[1].split('"')[0]
    done = web.post(response["Location"], {"action": "confirm", "removes": digest})
    assert done.status_code == 302 and done["Location"] == "/a/bot/settings"
    assert names(Flow, bot) == ["say_hello"]
    assert names(Response, bot) == ["utter_greet"]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.upload == b""


def test_a_cancelled_full_replace_changes_nothing(web, bot):
    before = snapshot(bot)
    web.post("/a/bot/import", {"files": uploads(SMALLER), "mode": "replace"})
    job = ImportJob.objects.get()
    response = web.post(f"/a/bot/imports/{job.pk}", {"action": "cancel"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    again = web.post(f"/a/bot/imports/{job.pk}", {"action": "confirm"})
    assert again.status_code == 302
    assert snapshot(bot) == before


def test_a_confirmation_is_asked_again_when_the_content_changed(web, bot):
    web.post("/a/bot/import", {"files": uploads(SMALLER), "mode": "replace"})
    job = ImportJob.objects.get()
    page = web.get(f"/a/bot/imports/{job.pk}").content.decode()
    digest = page.split('name="removes" value="')[1].split('"')[0]
    content.import_files(bot, NEW_RESPONSE, partial=True)  # someone adds a response meanwhile
    before = snapshot(bot)
    web.post(f"/a/bot/imports/{job.pk}", {"action": "confirm", "removes": digest})
    assert snapshot(bot) == before
    job.refresh_from_db()
    assert job.status == ImportJob.Status.AWAITING_CONFIRMATION
    assert job.removes["responses"] == ["utter_bye", "utter_new"]


def test_a_full_replace_with_errors_is_refused_before_any_confirmation(web, bot):
    before = snapshot(bot)
    bad = {"data/flows.yml": FLOWS.replace("utter_bye", "utter_missing")}
    response = web.post("/a/bot/import", {"files": uploads(bad), "mode": "replace"})
    assert response.status_code == 400
    assert "utter_missing" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert snapshot(bot) == before


# --------------------------------------------------------------------------------------------
# Ignored files: reported by name with the reason, in one summary


def test_every_ignored_file_is_reported_by_name_with_the_reason(bot, auth, client):
    files = {
        **NEW_RESPONSE,
        "README.md": "# my bot",
        "tests/test_stories.yml": "stories: []\n",
        ".github/ci.yml": "on: push\n",
        "data/empty.yml": "",
    }
    response = client.post(
        "/api/v1/assistants/bot/import",
        json.dumps({"files": files}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200, response.json()
    warnings = [w["message"] for w in response.json()["warnings"]]
    summaries = [w for w in warnings if "not imported" in w]
    assert len(summaries) == 1
    message = summaries[0]
    assert message.startswith("2 files not imported: ")
    for part in (
        ".github/ci.yml (a hidden file or folder)",
        "data/empty.yml (the file is empty)",
    ):
        assert part in message
    # kept, and named once: README.md is a file Studio does not read, tests/ holds test files
    assert "1 file kept unchanged that Studio does not read: README.md" in warnings
    stored = AssistantFiles.objects.get(assistant=bot).other_files
    assert stored["README.md"] == "# my bot"
    assert stored["tests/test_stories.yml"] == "stories: []\n"


def test_a_zip_made_on_a_mac_imports_and_reports_its_metadata(bot, auth, client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("my-bot/domain.yml", NEW_RESPONSE["domain.yml"])
        archive.writestr("__MACOSX/my-bot/._domain.yml", b"\x00\x05\x16\x07")
    upload = SimpleUploadedFile("my-bot.zip", buffer.getvalue())
    response = client.post("/api/v1/assistants/bot/import", {"files": [upload]}, **auth)
    assert response.status_code == 200, response.json()
    assert "utter_new" in names(Response, bot)
    (summary,) = [w for w in response.json()["warnings"] if "not imported" in w["message"]]
    assert "__MACOSX/my-bot/._domain.yml (macOS archive metadata)" in summary["message"]


# --------------------------------------------------------------------------------------------
# Large imports run in the background, on the orchestrator


def run_queued_task():
    """What the orchestrator's cluster does with the queued task: take it off the database
    broker and call its function."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    (task_id, payload), *_ = broker.dequeue()
    task = SignedPackage.loads(payload)
    result = pydoc.locate(task["func"])(*task["args"], **task["kwargs"])
    broker.acknowledge(task_id)
    return result


def test_a_large_api_import_is_queued_and_run_by_the_orchestrator(
    settings, client, auth, bot, django_capture_on_commit_callbacks
):
    settings.STUDIO_IMPORT_BACKGROUND_ITEMS = 3
    before = snapshot(bot)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/assistants/bot/import",
            json.dumps({"files": SMALLER, "partial": False}),
            content_type="application/json",
            **auth,
        )
    assert response.status_code == 202, response.json()
    job = response.json()
    assert job["status"] == "queued" and job["item_count"] == 4
    assert snapshot(bot) == before  # not in the request

    assert run_queued_task() == 1

    status = client.get(job["url"], **auth).json()
    assert status["status"] == "done", status
    assert status["progress"] == 100
    assert status["imported"]["flows"] == 1
    assert "writing the content" in status["log"]
    assert names(Flow, bot) == ["say_hello"]


def test_a_failing_background_import_changes_nothing_and_says_why(
    settings, client, auth, bot, django_capture_on_commit_callbacks
):
    settings.STUDIO_IMPORT_BACKGROUND_BYTES = 10
    before = snapshot(bot)
    bad = {**PROJECT, "data/flows.yml": FLOWS.replace("utter_bye", "utter_missing")}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/assistants/bot/import",
            json.dumps({"files": bad}),
            content_type="application/json",
            **auth,
        )
    assert response.status_code == 202
    assert run_queued_task() == 1
    status = client.get(response.json()["url"], **auth).json()
    assert status["status"] == "failed"
    assert any("utter_missing" in e["message"] for e in status["errors"])
    assert "nothing was changed" in status["log"]
    assert snapshot(bot) == before


def test_a_large_page_import_shows_its_progress_page(settings, web, bot):
    settings.STUDIO_IMPORT_BACKGROUND_ITEMS = 0
    response = web.post("/a/bot/import", {"files": uploads(NEW_RESPONSE)})
    job = ImportJob.objects.get()
    assert response["Location"] == f"/a/bot/imports/{job.pk}"
    assert job.status == ImportJob.Status.QUEUED and job.background
    page = web.get(response["Location"]).content.decode()
    assert 'data-status="queued"' in page
    assert imports.run_queued_imports() == 1
    page = web.get(response["Location"]).content.decode()
    assert 'data-status="done"' in page and "3 responses" in page
    assert "utter_new" in names(Response, bot)


def test_a_confirmed_large_replace_goes_to_the_background(settings, web, bot):
    settings.STUDIO_IMPORT_BACKGROUND_ITEMS = 1
    web.post("/a/bot/import", {"files": uploads(SMALLER), "mode": "replace"})
    job = ImportJob.objects.get()
    page = web.get(f"/a/bot/imports/{job.pk}").content.decode()
    digest = page.split('name="removes" value="')[1].split('"')[0]
    web.post(f"/a/bot/imports/{job.pk}", {"action": "confirm", "removes": digest})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    assert imports.run_queued_imports() == 1
    assert names(Flow, bot) == ["say_hello"]


def test_the_orchestrator_schedules_the_import_runner():
    from django_q.models import Schedule

    from workers.management.commands.orchestrate import ensure_all_schedules

    assert "apps.projects.imports" in ensure_all_schedules()
    schedule = Schedule.objects.get(name="studio: run queued imports")
    assert pydoc.locate(schedule.func) is imports.run_queued_imports


def test_another_assistants_import_job_is_not_found(web, bot, make_assistant, auth, client):
    other = make_assistant("other")
    job = imports.create_job(other, NEW_RESPONSE, partial=True)
    assert web.get(f"/a/bot/imports/{job.pk}").status_code == 404
    assert client.get(f"/api/v1/assistants/bot/imports/{job.pk}", **auth).status_code == 404


def test_an_upload_never_confirmed_is_dropped_after_a_day(bot):
    from datetime import timedelta

    from django.utils import timezone

    from apps.projects.models import ImportJob

    waiting = imports.create_job(bot, NEW_RESPONSE, partial=False, confirm=True)
    fresh = imports.create_job(bot, NEW_RESPONSE, partial=False, confirm=True)
    ImportJob.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(days=2))
    imports.run_queued_imports()
    waiting.refresh_from_db()
    fresh.refresh_from_db()
    assert waiting.status == ImportJob.Status.CANCELLED and bytes(waiting.upload) == b""
    assert fresh.status == ImportJob.Status.AWAITING_CONFIRMATION and bytes(fresh.upload)
