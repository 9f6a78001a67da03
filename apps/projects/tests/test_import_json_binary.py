"""The JSON import API's `binary_files`: files that are not text (a PDF document), in base64,
as the JSON export gives them; bad base64 is refused naming the field and the path."""

import base64
import json

import pytest

from apps.projects import content
from apps.projects.models import AssistantFiles
from apps.projects.tests.test_import_jobs import run_queued_task

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n\x00\xff\n%%EOF\n"
DOMAIN = 'version: "3.1"\nintents: [greet]\nresponses:\n  utter_hi:\n    - text: Hi!\n'


def post(client, auth, body, name="bot"):
    return client.post(
        f"/api/v1/assistants/{name}/import",
        json.dumps(body),
        content_type="application/json",
        **auth,
    )


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_a_pdf_sent_as_base64_is_stored_and_exported_byte_for_byte(client, auth, make_assistant):
    assistant = make_assistant("bot")
    body = {
        "files": {"domain.yml": DOMAIN, "docs/notes.txt": "Opening hours: 9 to 5.\n"},
        "binary_files": {"docs/floor-plan.pdf": encoded(PDF)},
    }
    response = post(client, auth, body)
    assert response.status_code == 200, response.json()
    assert AssistantFiles.objects.get(assistant=assistant).binary_contents() == {
        "docs/floor-plan.pdf": PDF
    }
    assert content.export_archive_files(assistant)["docs/floor-plan.pdf"] == PDF
    exported = client.get("/api/v1/assistants/bot/export?format=json", **auth).json()
    assert exported["binary_files"] == {"docs/floor-plan.pdf": encoded(PDF)}


def test_the_json_export_imports_again_unchanged(client, auth, make_assistant):
    make_assistant("bot")
    body = {"files": {"domain.yml": DOMAIN}, "binary_files": {"docs/a.pdf": encoded(PDF)}}
    assert post(client, auth, body).status_code == 200
    exported = client.get("/api/v1/assistants/bot/export?format=json", **auth).json()
    copy = make_assistant("copy")
    response = post(client, auth, {**exported, "partial": False}, name="copy")
    assert response.status_code == 200, response.json()
    assert content.export_archive_files(copy) == content.export_archive_files(
        AssistantFiles.objects.get(assistant__name="bot").assistant
    )


@pytest.mark.parametrize("bad", ["not base64!", "QUJ", "QUJDR", "QU JD"])
def test_bad_base64_is_refused_naming_the_field_and_the_path(client, auth, make_assistant, bad):
    assistant = make_assistant("bot")
    body = {"files": {"domain.yml": DOMAIN}, "binary_files": {"docs/x.pdf": bad}}
    response = post(client, auth, body)
    assert response.status_code == 400
    errors = response.json()["binary_files"]
    assert list(errors) == ["docs/x.pdf"]
    assert errors["docs/x.pdf"][0].startswith("not valid base64")
    assert not AssistantFiles.objects.filter(assistant=assistant).exclude(binary_files={}).exists()


def test_a_path_in_both_files_and_binary_files_is_refused(client, auth, make_assistant):
    make_assistant("bot")
    body = {"files": {"domain.yml": DOMAIN}, "binary_files": {"domain.yml": encoded(b"x")}}
    response = post(client, auth, body)
    assert response.status_code == 400
    assert response.json() == {"binary_files": {"domain.yml": ["also given in files"]}}


def test_binary_files_must_be_an_object_of_strings(client, auth, make_assistant):
    make_assistant("bot")
    response = post(client, auth, {"files": {"domain.yml": DOMAIN}, "binary_files": ["x"]})
    assert response.status_code == 400
    assert "binary_files" in response.json()


def test_a_binary_path_leaving_the_project_is_refused(client, auth, make_assistant):
    make_assistant("bot")
    body = {"files": {"domain.yml": DOMAIN}, "binary_files": {"../x.pdf": encoded(PDF)}}
    response = post(client, auth, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["file"] == "../x.pdf"


def test_a_large_import_with_binary_files_runs_in_the_background(
    settings, client, auth, make_assistant, django_capture_on_commit_callbacks
):
    assistant = make_assistant("bot")
    settings.STUDIO_IMPORT_BACKGROUND_BYTES = 10
    body = {"files": {"domain.yml": DOMAIN}, "binary_files": {"docs/a.pdf": encoded(PDF)}}
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, auth, body)
    assert response.status_code == 202
    assert run_queued_task() == 1
    assert AssistantFiles.objects.get(assistant=assistant).binary_contents() == {"docs/a.pdf": PDF}


def test_binary_files_is_in_the_api_schema(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = schema["paths"]["/api/v1/assistants/{name}/import"]["post"]["requestBody"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "binary_files" in schema["components"]["schemas"][ref]["properties"]
