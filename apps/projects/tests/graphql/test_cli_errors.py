"""Bad tokens, foreign assistants and unreadable uploads: a JSON error that names the problem,
and nothing changed."""

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.flows.models import Flow
from apps.projects.models import Assistant, AssistantFiles
from apps.projects.tests.graphql.cli_support import (
    b64,
    by_name,
    delete,
    export,
    fixture,
    post,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev(make_user):
    return ApiToken.issue(make_user("dev", Role.DEVELOPER), "cli")[1]


@pytest.fixture
def stored(client, dev):
    """calm-basic uploaded; the rows an error must leave as they are."""
    response = post(client, fixture("upload_321_calm_basic.json"), dev).json()
    assert "errors" not in response, response
    return snapshot()


def snapshot():
    files = AssistantFiles.objects.get(assistant__name="calm-basic")
    return (
        list(Flow.objects.filter(assistant__name="calm-basic").values_list("name", "definition")),
        files.config_yml,
        files.endpoints_yml,
        files.prompts,
    )


def error_of(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert errors
    return errors[0]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("flows", "not base64!", "flows: not valid base64"),
        ("config", "QUJD", "config"),  # "ABC": YAML, but not a mapping
        ("domain", b64("intents: [\n  - oops"), "domain (domain.yml"),
        ("flows", b64("flows:\n  f:\n    steps: 3\n"), "data/flows.yml"),
        ("nlu", "/w==", "nlu: the decoded bytes are not UTF-8"),
    ],
)
def test_an_unreadable_part_is_named_and_changes_nothing(client, dev, stored, field, value, words):
    body = upload("calm-basic")
    body["variables"]["input"][field] = value
    error = error_of(post(client, body, dev))
    assert words in error["message"]
    assert snapshot() == stored


def test_a_malformed_blob_does_not_create_the_assistant(client, dev):
    body = upload("fresh")
    body["variables"]["input"]["domain"] = b64("slots: [unclosed")
    assert "domain" in error_of(post(client, body, dev))["message"]
    assert not Assistant.objects.filter(name="fresh").exists()


def test_a_flow_naming_an_unknown_slot_is_refused_with_its_line(client, dev, stored):
    flows = "flows:\n  broken:\n    description: d\n    steps:\n      - collect: no_such_slot\n"
    error = error_of(post(client, upload("calm-basic", flows=flows), dev))
    assert "data/flows.yml" in error["message"]
    assert "no_such_slot" in error["message"]
    assert snapshot() == stored


def test_a_prompt_config_names_no_file_for_is_refused(client, dev, stored):
    body = upload("calm-basic", prompts={"enterprise_search": "Search {{ docs }}"})
    assert "prompts.enterprise_search" in error_of(post(client, body, dev))["message"]
    assert snapshot() == stored


def test_a_bad_token_is_a_json_error(client, stored):
    for body in (fixture("upload_321_calm_basic.json"), export("calm-basic")):
        error = error_of(post(client, body, "stu_not-a-token"))
        assert "token" in error["message"].lower()
    assert snapshot() == stored


def test_no_token_is_a_json_error(client, stored):
    error = error_of(post(client, upload("calm-basic", config="recipe: default.v1\n"), None))
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert snapshot() == stored


def test_a_foreign_assistant_is_not_found(client, make_user, stored):
    """A user with no role on the assistant learns nothing of it and cannot write to it."""
    other = make_user("other")  # no role at all
    _, secret = ApiToken.issue(other, "cli")
    found = post(client, by_name("calm-basic"), secret).json()["data"]["assistantByName"]
    assert found == {"_": None}
    assert "No assistant named" in error_of(post(client, export("calm-basic"), secret))["message"]
    gone = post(client, delete("calm-basic"), secret).json()["data"]["deleteAssistant"]
    assert gone == {"_": None}
    error = error_of(post(client, upload("calm-basic", config="recipe: default.v1\n"), secret))
    assert error["extensions"]["code"] == "FORBIDDEN"  # may not create assistants either
    assert Assistant.objects.filter(name="calm-basic").exists()
    assert snapshot() == stored


def test_a_role_without_the_capability_is_forbidden(client, make_user, stored):
    _, secret = ApiToken.issue(make_user("viewer", Role.BUSINESS_USER), "cli")
    for body in (
        export("calm-basic"),
        delete("calm-basic"),
        upload("calm-basic", config="recipe: default.v1\n"),
    ):
        error = error_of(post(client, body, secret))
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert "does not allow" in error["message"]
    assert snapshot() == stored


def test_a_classic_assistant_refuses_a_modern_upload(client, dev):
    post(client, fixture("import_312_seaside_inn.json"), dev)
    error = error_of(post(client, upload("seaside-inn", config="recipe: default.v1\n"), dev))
    assert "classic" in error["message"]


def test_an_invalid_assistant_name_is_named(client, dev):
    error = error_of(post(client, upload("has space", config="recipe: default.v1\n"), dev))
    assert error["message"].startswith("assistantName: ")
    assert not Assistant.objects.filter(name="has space").exists()


def test_prompts_that_are_not_texts_are_refused(client, dev, stored):
    body = upload("calm-basic")
    body["variables"]["input"]["prompts"] = {"command_generator": 3}
    assert "prompts.command_generator" in error_of(post(client, body, dev))["message"]
    body["variables"]["input"]["prompts"] = {"other": "x"}
    assert "prompts.other: unknown prompt" in error_of(post(client, body, dev))["message"]
    assert snapshot() == stored
