"""Importing a project whose files are not at Rasa's default places: `import_assistant
--config/--domain/--data/--endpoints`, the import API's location fields and the import page's
"where things are in the archive" fields; and training's refusal without a config.yml."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiToken
from apps.flows.models import Flow, Slot
from apps.nlu.models import Intent
from apps.projects import content
from apps.projects.content.archives import zip_files
from apps.projects.models import Assistant, AssistantFiles
from apps.training import services as training
from tests.support.rasa_projects import project_texts

pytestmark = pytest.mark.django_db

SPLIT = Path(__file__).parents[3] / "engine" / "tests" / "rasa_projects" / "split-folders"
SPLIT_OPTIONS = [
    "--config",
    "config/assistant.yml",
    "--domain",
    "domain",
    "--data",
    "data/flows",
    "data/nlu",
    "--endpoints",
    "config/endpoints.yml",
]


def split_files() -> dict[str, str]:
    return project_texts("split-folders")


def assert_is_the_split_project(assistant):
    assert sorted(Flow.objects.filter(assistant=assistant).values_list("name", flat=True)) == [
        "greet",
        "opening_hours",
        "renew_book",
    ]
    assert set(Intent.objects.filter(assistant=assistant).values_list("name", flat=True)) >= {
        "greet",
        "renew_book",
        "opening_hours",
    }
    assert set(Slot.objects.filter(assistant=assistant).values_list("name", flat=True)) == {
        "book_title",
        "renewal_confirmed",
    }
    files = AssistantFiles.objects.get(assistant=assistant)
    assert files.config_yml == (SPLIT / "config" / "assistant.yml").read_text()
    assert files.endpoints_yml == (SPLIT / "config" / "endpoints.yml").read_text()
    exported = content.export_files(assistant)
    assert exported["config.yml"] == files.config_yml
    assert "credentials.yml" in exported
    assert "data/old/stories.yml" not in exported  # not named by --data: Rasa does not read it


# -- the management command -------------------------------------------------------------------


def test_the_command_imports_with_the_locations(capsys):
    call_command("import_assistant", "library", str(SPLIT), "--create", *SPLIT_OPTIONS)
    assistant = Assistant.objects.get(name="library")
    assert_is_the_split_project(assistant)
    captured = capsys.readouterr()
    assert captured.out.startswith("Imported into library: ")
    assert "data/old/stories.yml (not used: --data names data/flows, data/nlu)" in captured.err
    assert training.check_readiness(assistant).ok


def test_the_command_takes_absolute_locations(tmp_path):
    call_command(
        "import_assistant",
        "library",
        str(SPLIT),
        "--create",
        "--config",
        str(SPLIT / "config" / "assistant.yml"),
    )
    files = AssistantFiles.objects.get(assistant__name="library")
    assert files.config_yml == (SPLIT / "config" / "assistant.yml").read_text()


def test_the_command_names_a_missing_location_and_imports_nothing(capsys, make_assistant):
    make_assistant("library")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_assistant", "library", str(SPLIT), "--config", "config/nope.yml")
    assert "config/nope.yml (--config): error: no such file or folder" in capsys.readouterr().err
    assert not Flow.objects.filter(assistant__name="library").exists()


def test_without_the_options_the_project_imports_but_cannot_train():
    call_command("import_assistant", "library", str(SPLIT), "--create")
    assistant = Assistant.objects.get(name="library")
    readiness = training.check_readiness(assistant)
    assert [str(p) for p in readiness.errors] == [
        "config.yml: error: The assistant has no config.yml, and training needs one: write it "
        "on the assistant's config.yml / endpoints.yml page, or import the project with its "
        "config.yml."
    ]
    with pytest.raises(training.TrainingRefused):
        training.request_training(assistant, None)


# -- the import API -----------------------------------------------------------------------------

API_FIELDS = {
    "config": "config/assistant.yml",
    "domain": "domain",
    "data": ["data/flows", "data/nlu"],
    "endpoints": "config/endpoints.yml",
}


@pytest.fixture
def auth(admin_user):
    _, secret = ApiToken.issue(admin_user, "test")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post_zip(client, auth, fields, name="library"):
    upload = SimpleUploadedFile("project.zip", zip_files(split_files()))
    return client.post(
        f"/api/v1/assistants/{name}/import",
        {"files": upload, "partial": "false", **fields},
        **auth,
    )


def test_the_api_applies_the_location_fields_to_a_zip(client, auth, make_assistant):
    assistant = make_assistant("library")
    response = post_zip(client, auth, API_FIELDS)
    assert response.status_code == 200, response.json()
    assert_is_the_split_project(assistant)
    warnings = [w["message"] for w in response.json()["warnings"]]
    assert any(
        "data/old/stories.yml (not used: data names data/flows, data/nlu)" in w for w in warnings
    )


def test_the_locations_are_relative_to_the_project_folder_inside_the_zip(
    client, auth, make_assistant
):
    assistant = make_assistant("library")
    wrapped = {f"library-desk/{path}": text for path, text in split_files().items()}
    upload = SimpleUploadedFile("project.zip", zip_files(wrapped))
    response = client.post(
        "/api/v1/assistants/library/import",
        {"files": upload, "partial": "false", **API_FIELDS},
        **auth,
    )
    assert response.status_code == 200, response.json()
    assert_is_the_split_project(assistant)


def test_the_api_applies_the_location_fields_to_json_files(client, auth, make_assistant):
    assistant = make_assistant("library")
    body = {"files": split_files(), "partial": False, **API_FIELDS}
    response = client.post(
        "/api/v1/assistants/library/import",
        json.dumps(body),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200, response.json()
    assert_is_the_split_project(assistant)


@pytest.mark.parametrize(
    ("fields", "field", "path", "message"),
    [
        ({"config": "config/nope.yml"}, "config", "config/nope.yml", "no such file or folder"),
        ({"data": ["data/flows", "data/none"]}, "data", "data/none", "no such file or folder"),
        (
            {"domain": "../domain"},
            "domain",
            "../domain",
            "the path leaves the project",
        ),
        (
            {"endpoints": "/etc/endpoints.yml"},
            "endpoints",
            "/etc/endpoints.yml",
            "give a path inside the project, not an absolute one",
        ),
        ({"config": "config"}, "config", "config", "name a file, not a folder"),
    ],
)
def test_a_bad_location_is_a_400_naming_the_field_and_the_path(
    client, auth, make_assistant, fields, field, path, message
):
    assistant = make_assistant("library")
    response = post_zip(client, auth, fields)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"file": path, "line": None, "path": field, "message": message, "severity": "error"}
        ]
    }
    assert not Flow.objects.filter(assistant=assistant).exists()


def test_the_location_fields_are_in_the_api_schema(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = schema["paths"]["/api/v1/assistants/{name}/import"]["post"]["requestBody"]["content"]
    for kind in ("application/json", "multipart/form-data"):
        ref = body[kind]["schema"]["$ref"].rsplit("/", 1)[1]
        properties = schema["components"]["schemas"][ref]["properties"]
        assert {"config", "domain", "data", "endpoints"} <= set(properties), kind
        assert properties["data"]["type"] == "array"


# -- the import page ----------------------------------------------------------------------------


def test_the_import_page_takes_where_things_are_in_the_archive(client, admin_user, make_assistant):
    assistant = make_assistant("library")
    client.force_login(admin_user)
    page = client.get("/a/library/settings")
    assert b"Advanced: where things are in the archive" in page.content
    upload = SimpleUploadedFile("project.zip", zip_files(split_files()))
    response = client.post(
        "/a/library/import",
        {
            "files": upload,
            "mode": "update",
            "config": "config/assistant.yml",
            "domain": "domain",
            "data_paths": "data/flows data/nlu",
            "endpoints": "config/endpoints.yml",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_is_the_split_project(assistant)


def test_the_import_page_names_a_bad_location(client, admin_user, make_assistant):
    assistant = make_assistant("library")
    client.force_login(admin_user)
    upload = SimpleUploadedFile("project.zip", zip_files(split_files()))
    response = client.post(
        "/a/library/import", {"files": upload, "mode": "update", "config": "conf.yml"}
    )
    assert response.status_code == 400
    assert b"conf.yml (config): error: no such file or folder" in response.content
    assert not Flow.objects.filter(assistant=assistant).exists()
