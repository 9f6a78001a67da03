"""The requests of Rasa's 3.21 and 3.12 clients, replayed as they send them, and the fields
each client reads from the answers."""

import json

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.projects.models import Assistant
from apps.projects.tests.graphql.cli_support import (
    EXPORT_312,
    EXPORT_321,
    LICENSE_DETAILS,
    b64,
    by_name,
    delete,
    export,
    fixture,
    part,
    post,
    unb64,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(make_user):
    return ApiToken.issue(make_user("dev", Role.DEVELOPER), "cli")[1]


def no_errors(response):
    """The clients' success rule for upload, delete and probe: JSON, no `errors`."""
    body = response.json()
    assert not body.get("errors"), body
    return body


def test_the_probe_answers_as_the_clients_read_it(client, token):
    response = post(client, LICENSE_DETAILS, token)
    assert no_errors(response)["data"]["licenseDetails"]["__typename"] == "LicenseDetails"


def test_assistant_by_name_gives_the_name_as_id_and_the_mode(client, token):
    Assistant.objects.create(name="bank", mode=Assistant.Mode.CLASSIC)
    data = no_errors(post(client, by_name("bank"), token))["data"]
    assert data["assistantByName"] == {"id": "bank", "name": "bank", "mode": "classic"}
    missing = no_errors(post(client, by_name("nope"), token))["data"]["assistantByName"]
    # The client reads `id`: anything but a non-empty string means "not found".
    assert missing.get("id") is None


def test_the_321_upload_path(client, token):
    """link/upload --dangerously-delete-existing: probe, look up, delete, upload."""
    body = fixture("upload_321_calm_basic.json")
    no_errors(post(client, LICENSE_DETAILS, token))
    no_errors(post(client, body, token))
    found = no_errors(post(client, by_name("calm-basic"), token))["data"]["assistantByName"]
    assert found["id"] == "calm-basic"
    deleted = no_errors(post(client, delete(found["id"]), token))["data"]["deleteAssistant"]
    assert deleted == {"id": "calm-basic", "name": "calm-basic"}
    assert not Assistant.objects.filter(name="calm-basic").exists()
    no_errors(post(client, body, token))
    assert Assistant.objects.get(name="calm-basic").mode == Assistant.Mode.MODERN


def test_the_321_download_reads_a_200_with_flows_or_nlu(client, token):
    post(client, fixture("upload_321_calm_basic.json"), token)
    response = post(client, export("calm-basic", EXPORT_321), token)
    assert response.status_code == 200
    out = response.json()["data"]["exportAsEncodedYaml"]
    assert out["flows"] and unb64(out["flows"]).startswith('version: "3.1"\nflows:')
    assert unb64(out["config"]) and unb64(out["endpoints"])  # download fails on empty ones
    assert set(out["prompts"]) == {
        "command_generator",
        "contextual_response_rephraser",
        "enterprise_search",
    }


def test_the_312_calm_upload_sends_all_five_fields(client, token):
    """3.12 with --calm: every field present, even when a part is empty."""
    body = fixture("upload_321_calm_basic.json", assistant="calm-312")
    body["variables"]["input"].pop("prompts")
    body["variables"]["input"]["nlu"] = b64("")
    # 3.12 sends no prompts, so its config names none Studio would lack.
    config = part(body, "config")
    del config["pipeline"][0]["prompt_template"]
    body["variables"]["input"]["config"] = b64(json.dumps(config))
    no_errors(post(client, body, token))
    response = post(client, export("calm-312", EXPORT_312), token)
    out = response.json()["data"]["exportAsEncodedYaml"]
    assert set(out) == {"nlu", "flows", "domain", "endpoints", "config"}
    assert out["flows"]


def test_the_312_classic_upload_and_download(client, token):
    no_errors(post(client, LICENSE_DETAILS, token))
    no_errors(post(client, fixture("import_312_seaside_inn.json"), token))
    out = post(client, export("seaside-inn", EXPORT_312), token).json()["data"]
    assert set(out["exportAsEncodedYaml"]) == {"nlu", "domain"}
    assert out["exportAsEncodedYaml"]["nlu"]


def test_the_321_download_of_a_classic_assistant_gets_the_classic_union(client, token):
    post(client, fixture("import_312_seaside_inn.json"), token)
    out = post(client, export("seaside-inn", EXPORT_321), token).json()["data"]
    assert set(out["exportAsEncodedYaml"]) == {"nlu", "domain"}
