"""An assistant's secrets, and ${NAME} in its files: only the operator's allow-list and the
assistant's own secrets may be named, at save time, on import and at train time."""

import json

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.projects import content, secrets
from apps.projects.models import AssistantFiles, AssistantSecret
from apps.training import services
from engine.formats import FormatError

LEAKY_ENDPOINTS = (
    "action_endpoint:\n"
    '  url: "http://127.0.0.1:9/webhook"\n'
    "  headers:\n"
    '    X-Leak: "${SECRET_KEY}"\n'
    '    X-Db: "${DATABASE_URL}"\n'
)


@pytest.fixture
def developer(make_user, assistant):
    return make_user("dev", grants={assistant: [Role.DEVELOPER]})


@pytest.fixture
def dev_client(client, developer):
    client.force_login(developer)
    return client


def test_a_developer_sets_a_secret_that_is_stored_encrypted_and_never_shown(dev_client, assistant):
    value = "sk-live-do-not-show-0123456789"
    response = dev_client.post(
        f"/a/{assistant.name}/secrets", {"name": "ACTIONS_TOKEN", "value": value}
    )
    assert response.status_code == 302
    stored = AssistantSecret.objects.get(assistant=assistant, name="ACTIONS_TOKEN")
    assert value not in stored.encrypted_value
    assert secrets.decrypt(stored.encrypted_value) == value
    assert secrets.bot_env(assistant.pk)["ACTIONS_TOKEN"] == value
    page = dev_client.get(f"/a/{assistant.name}/secrets").content.decode()
    assert "ACTIONS_TOKEN" in page and value not in page


def test_a_secret_can_be_replaced_and_deleted(dev_client, assistant):
    secrets.set_secret(assistant, "ACTIONS_TOKEN", "first")
    dev_client.post(f"/a/{assistant.name}/secrets", {"name": "ACTIONS_TOKEN", "value": "second"})
    assert secrets.bot_env(assistant.pk) == {"ACTIONS_TOKEN": "second"}
    secret = AssistantSecret.objects.get(assistant=assistant)
    response = dev_client.post(f"/a/{assistant.name}/secrets/{secret.pk}/delete")
    assert response.status_code == 302
    assert not AssistantSecret.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [("1ABC", "not starting with a digit"), ("PATH", "reserved"), ("LD_PRELOAD", "reserved")],
)
def test_a_secret_name_must_be_a_plain_variable_name(dev_client, assistant, name, message):
    response = dev_client.post(f"/a/{assistant.name}/secrets", {"name": name, "value": "x"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AssistantSecret.objects.exists()


def test_secrets_of_one_assistant_do_not_reach_another(make_assistant, assistant):
    other = make_assistant("beta")
    secrets.set_secret(assistant, "ACTIONS_TOKEN", "alpha-only")
    assert secrets.bot_env(other.pk) == {}
    assert "ACTIONS_TOKEN" not in secrets.allowed_env_names(other)


def test_the_endpoints_editor_refuses_a_variable_that_is_not_allowed(dev_client, assistant):
    response = dev_client.post(
        f"/a/{assistant.name}/files?file=endpoints.yml", {"text": LEAKY_ENDPOINTS}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 4: ${SECRET_KEY} is not a variable this assistant may use" in page
    assert "Line 5: ${DATABASE_URL}" in page
    assert AssistantFiles.objects.get(assistant=assistant).endpoints_yml == ""


def test_the_endpoints_editor_accepts_allowed_names_and_own_secrets(
    dev_client, assistant, settings
):
    settings.STUDIO_BOT_ENV = ["ACTIONS_HOST"]
    secrets.set_secret(assistant, "ACTIONS_TOKEN", "t")
    text = (
        'action_endpoint:\n  url: "http://${ACTIONS_HOST}/webhook"\n  token: "${ACTIONS_TOKEN}"\n'
    )
    response = dev_client.post(f"/a/{assistant.name}/files?file=endpoints.yml", {"text": text})
    assert response.status_code == 302
    assert AssistantFiles.objects.get(assistant=assistant).endpoints_yml == text


def test_a_commented_out_variable_is_not_a_reference(dev_client, assistant):
    text = 'action_endpoint:\n  url: "http://127.0.0.1:5055/webhook"\n# sasl_password: ${KAFKA}\n'
    response = dev_client.post(f"/a/{assistant.name}/files?file=endpoints.yml", {"text": text})
    assert response.status_code == 302


def test_the_import_api_refuses_the_audit_reproduction(client, developer, assistant):
    _, token = ApiToken.issue(developer, "t")
    response = client.post(
        f"/api/v1/assistants/{assistant.name}/import",
        data=json.dumps({"partial": True, "files": {"endpoints.yml": LEAKY_ENDPOINTS}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    body = response.content.decode()
    assert response.status_code == 400, body
    assert "SECRET_KEY" in body and "DATABASE_URL" in body and "endpoints.yml" in body
    assert (
        AssistantFiles.objects.filter(assistant=assistant, endpoints_yml__contains="$").count() == 0
    )


def test_import_names_the_file_line_and_variable(assistant):
    with pytest.raises(FormatError) as caught:
        content.import_files(assistant, {"endpoints.yml": LEAKY_ENDPOINTS}, partial=True)
    found = {(p.file, p.line) for p in caught.value.problems if "is not a variable" in p.message}
    assert found == {("endpoints.yml", 4), ("endpoints.yml", 5)}
    assert "${SECRET_KEY}" in str(caught.value.problems)


def test_training_refuses_files_stored_with_a_variable_that_is_not_allowed(assistant):
    content.import_files(
        assistant,
        {
            "domain.yml": "intents: [greet]\nresponses:\n  utter_hi:\n  - text: hi\n",
            "data/nlu.yml": 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n',
        },
    )
    # As stored before these checks existed.
    AssistantFiles.objects.filter(assistant=assistant).update(endpoints_yml=LEAKY_ENDPOINTS)
    with pytest.raises(services.TrainingRefused) as caught:
        services.request_training(assistant, None)
    problems = [str(p) for p in caught.value.problems]
    assert any("endpoints.yml:4" in p and "${SECRET_KEY}" in p for p in problems), problems


def test_a_business_user_cannot_open_the_secrets_page(client, make_user, assistant):
    client.force_login(make_user("biz", grants={assistant: [Role.BUSINESS_USER]}))
    assert client.get(f"/a/{assistant.name}/secrets").status_code == 403
