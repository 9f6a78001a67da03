"""The OpenAPI schema is valid and says what the API does."""

import json

from openapi_spec_validator import validate

from apps.accounts.models import ApiToken
from apps.ingestion.models import Conversation
from apps.ingestion.tests.factories import stored_conversation


def _schema(client):
    response = client.get("/api/v1/schema", {"format": "json"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    if text.lstrip().startswith("{"):
        return json.loads(text)
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(text)


def _bearer(client, user):
    _, secret = ApiToken.issue(user, "t")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def test_the_schema_is_valid_openapi(client, db):
    validate(_schema(client))


def test_the_schema_documents_conversations_as_they_are(client, db):
    schema = _schema(client)
    paths = schema["paths"]
    one = paths["/api/v1/assistants/{name}/conversations/{conversation}"]
    assert set(one["delete"]["responses"]) >= {"204"}
    sender = paths["/api/v1/assistants/{name}/senders/{sender_id}/conversations"]
    assert set(sender) >= {"delete"} and "get" not in sender
    reviewed_by = schema["components"]["schemas"]["ConversationOutput"]["properties"]["reviewed_by"]
    assert reviewed_by.get("nullable") is True or "null" in str(reviewed_by.get("type"))


def test_the_schema_documents_errors(client, db):
    paths = _schema(client)["paths"]
    for path, operations in paths.items():
        if path.endswith("/schema"):
            continue
        for method, operation in operations.items():
            assert {"401", "403", "404"} <= set(operation["responses"]), (method, path)
    train = paths["/api/v1/assistants/{name}/train"]["post"]["responses"]["400"]
    ref = train["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/TrainRefusedOutput")


def test_delete_of_a_conversation_deletes_that_conversation(client, admin_user, assistant):
    first = stored_conversation(assistant, "42")
    sessions = Conversation.objects.filter(sender_id="42").count()
    assert sessions == 2
    # A sender whose id is the conversation's id must not be what gets deleted.
    named = stored_conversation(assistant, str(first.pk))
    api = _bearer(client, admin_user)
    response = api.delete(f"/api/v1/assistants/alpha/conversations/{first.pk}")
    assert response.status_code == 204
    assert api.get(f"/api/v1/assistants/alpha/conversations/{first.pk}").status_code == 404
    assert Conversation.objects.filter(sender_id="42").count() == 1
    assert Conversation.objects.filter(pk=named.pk).exists()
    assert api.delete("/api/v1/assistants/alpha/conversations/nope").status_code == 404


def test_train_refuses_a_json_array(client, admin_user, assistant):
    api = _bearer(client, admin_user)
    response = api.post("/api/v1/assistants/alpha/train", "[]", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["The body must be a JSON object."]}
