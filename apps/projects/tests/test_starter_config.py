"""A new assistant made on the page or through the API starts with a config.yml Rasa reads."""

import pytest

from apps.projects.models import Assistant, AssistantFiles
from apps.training.services import check_readiness
from engine import formats

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("mode", ["modern", "classic"])
def test_the_page_gives_a_new_assistant_a_config_for_its_mode(admin_client, mode):
    response = admin_client.post(
        "/assistants/new", {"name": "fresh", "mode": mode, "language": "de", "description": ""}
    )
    assert response.status_code == 302, response.content[:400]
    text = AssistantFiles.objects.get(assistant__name="fresh").config_yml
    config = formats.ConfigFile.parse(text, "config.yml")
    assert config.language == "de" and config.assistant_id == "fresh"
    assert [p for p in formats.check_config(config) if p.severity == "error"] == []
    policies = [p["name"] for p in config.data["policies"]]
    assert policies == (
        ["FlowPolicy"] if mode == "modern" else ["MemoizationPolicy", "RulePolicy", "TEDPolicy"]
    )


def test_the_api_gives_a_new_assistant_a_config(admin_client):
    response = admin_client.post(
        "/api/v1/assistants", {"name": "viaapi", "mode": "modern"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content[:400]
    assert "assistant_id: viaapi" in AssistantFiles.objects.get(assistant__name="viaapi").config_yml


def test_an_assistant_made_for_an_import_gets_no_config_of_ours(admin_client):
    from apps.projects import services

    imported = services.create_assistant(name="imported", created_by=None)
    assert not AssistantFiles.objects.filter(assistant=imported, config_yml__gt="").exists()
    admin_client.post("/assistants/new", {"name": "fresh", "mode": "modern", "language": "en"})
    fresh = Assistant.objects.get(name="fresh")

    def config_errors(assistant):
        return [p.message for p in check_readiness(assistant).errors if "config" in p.message]

    assert config_errors(imported) and config_errors(fresh) == []
