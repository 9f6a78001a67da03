from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.projects.models import Assistant


def bearer(user):
    _, secret = ApiToken.issue(user, "test")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_it_lists_the_assistants_the_token_owner_may_see(client, make_user, make_assistant):
    make_assistant("alpha")
    beta = make_assistant("beta")
    user = make_user("ann", grants={beta: [Role.ANNOTATOR]})
    response = client.get("/api/v1/assistants", **bearer(user))
    assert response.status_code == 200
    assert [a["name"] for a in response.json()] == ["beta"]


def test_it_creates_and_reports_field_errors(client, admin_user):
    auth = bearer(admin_user)
    response = client.post(
        "/api/v1/assistants",
        {"name": "bank", "language": "en"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 201
    assert response.json()["name"] == "bank"
    again = client.post(
        "/api/v1/assistants", {"name": "BANK"}, content_type="application/json", **auth
    )
    assert again.status_code == 400
    assert again.json() == {"name": ["An assistant called 'BANK' already exists."]}
    bad = client.post(
        "/api/v1/assistants", {"name": "a b"}, content_type="application/json", **auth
    )
    assert bad.status_code == 400 and "name" in bad.json()
    garbage = client.post(
        "/api/v1/assistants", "{not json", content_type="application/json", **auth
    )
    assert garbage.status_code == 400
    assert Assistant.objects.count() == 1


def test_it_updates_and_deletes(client, admin_user, assistant):
    auth = bearer(admin_user)
    response = client.patch(
        "/api/v1/assistants/alpha", {"language": "fr"}, content_type="application/json", **auth
    )
    assert response.status_code == 200 and response.json()["language"] == "fr"
    assert client.delete("/api/v1/assistants/alpha", **auth).status_code == 204
    assert not Assistant.objects.exists()


def test_it_refuses_missing_revoked_and_malformed_tokens(client, admin_user, assistant):
    assert client.get("/api/v1/assistants").status_code == 401
    token, secret = ApiToken.issue(admin_user, "old")
    token.revoke()
    assert (
        client.get("/api/v1/assistants", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    )
    assert client.get("/api/v1/assistants", HTTP_AUTHORIZATION="Bearer a b").status_code == 401
    assert (
        client.get("/api/v1/assistants", HTTP_AUTHORIZATION="Bearer stu_guess").status_code == 401
    )


def test_the_schema_describes_the_endpoints(client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/assistants/{name}" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
