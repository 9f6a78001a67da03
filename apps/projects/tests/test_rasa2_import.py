"""A Rasa 2.x project is migrated on import (the report lists each change) and exported as a
Rasa 3 project; Rasa 1.x Markdown data is refused with Rasa's advice."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from ruamel.yaml import YAML

from apps.flows.models import Slot
from apps.projects import content
from tests.support.rasa_projects import project_texts

pytestmark = pytest.mark.django_db


def project_files() -> dict[str, str]:
    return project_texts("rasa2-classic")


@pytest.fixture
def shop(make_assistant):
    return make_assistant("shop")


def _check_exported_domain(files: dict[str, str]) -> None:
    domain = YAML(typ="safe").load(files["domain.yml"])
    assert domain["version"] == "3.1"
    assert domain["forms"]["table_form"]["required_slots"] == [
        "cuisine",
        "party_size",
        "wants_reminder",
    ]
    assert domain["slots"]["party_size"]["mappings"] == [
        {
            "type": "from_entity",
            "entity": "party_size",
            "conditions": [{"active_loop": "table_form"}],
        }
    ]
    assert all("auto_fill" not in slot for slot in domain["slots"].values())
    assert files["data/stories.yml"].startswith('version: "3.1"')


def test_the_api_imports_a_rasa_2_project_migrated_and_reports_each_change(shop, auth, client):
    response = client.post(
        "/api/v1/assistants/shop/import",
        json.dumps({"files": project_files(), "partial": False}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200, response.json()
    notes = {
        (w["file"], w["path"]): w
        for w in response.json()["warnings"]
        if w["message"].startswith("migrated from Rasa 2.x")
    }
    moved = notes[("domain.yml", "forms.table_form.required_slots.cuisine")]
    assert moved["line"] == 47
    assert "move to slots.cuisine.mappings" in moved["message"]
    assert notes[("domain.yml", "slots.party_size.auto_fill")]["line"] == 28
    assert notes[("domain.yml", "version")]["line"] == 1
    assert ("data/rules.yml", "version") in notes

    slot = Slot.objects.get(assistant=shop, name="booking_reference")
    assert slot.definition["mappings"] == [{"type": "controlled"}]

    exported = client.get("/api/v1/assistants/shop/export?format=json", **auth)
    assert exported.status_code == 200
    _check_exported_domain(exported.json()["files"])


def test_the_import_page_takes_a_rasa_2_zip_and_shows_the_report(shop, developer, client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in project_files().items():
            archive.writestr(f"restaurant-bot/{path}", text)
    client.force_login(developer)
    response = client.post(
        "/a/shop/import",
        {"files": [SimpleUploadedFile("restaurant-bot.zip", buffer.getvalue())]},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "migrated from Rasa 2.x" in page
    assert "the required_slots of form" in page
    assert "table_form" in page
    _check_exported_domain(content.export_files(shop))


def test_rasa_1_markdown_data_is_refused_naming_the_file(shop, auth, client):
    response = client.post(
        "/api/v1/assistants/shop/import",
        json.dumps(
            {
                "files": {
                    "domain.yml": "intents:\n  - greet\n",
                    "data/nlu.md": "## intent:greet\n- hello\n- hi\n",
                }
            }
        ),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["file"], error["line"]) == ("data/nlu.md", 1)
    assert error["message"].startswith("Rasa 1.x Markdown training data is not supported by Rasa 3")
    assert "rasa data convert nlu" in error["message"]
    assert not Slot.objects.filter(assistant=shop).exists()
