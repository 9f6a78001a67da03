"""The GraphQL endpoint's transport: JSON answers whatever goes wrong, bearer credentials only."""

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role

pytestmark = pytest.mark.django_db

PROBE = {
    "operationName": "LicenseDetails",
    "query": "query LicenseDetails { licenseDetails { valid scopes __typename } }",
    "variables": {},
}


def post(client, body, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post("/api/graphql/", body, content_type="application/json", **headers, **extra)


def test_the_probe_answers_a_signed_in_user(client, make_user):
    user = make_user("dev", Role.DEVELOPER)
    _, secret = ApiToken.issue(user, "cli")
    response = post(client, PROBE, secret)
    assert response.status_code == 200
    assert response.json() == {
        "data": {"licenseDetails": {"valid": True, "scopes": [], "__typename": "LicenseDetails"}}
    }


def test_no_credential_is_a_json_error_naming_the_sign_in(client):
    response = post(client, PROBE)
    assert response["Content-Type"] == "application/json"
    error = response.json()["errors"][0]
    assert "Not signed in" in error["message"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_wrong_token_is_a_json_error(client):
    response = post(client, PROBE, "stu_wrong")
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Invalid or revoked API token."


def test_a_browser_session_does_not_sign_in(client, make_user):
    client.force_login(make_user("dev", Role.DEVELOPER))
    response = post(client, PROBE)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        ("{not json", "application/json", "JSON"),
        ('{"variables": {}}', "application/json", "No GraphQL query"),
    ],
)
def test_a_malformed_body_is_a_json_error(client, body, content_type, words):
    response = client.post("/api/graphql/", body, content_type=content_type)
    assert response["Content-Type"] == "application/json"
    assert words in response.json()["errors"][0]["message"]


def test_get_is_refused_with_json(client):
    response = client.get("/api/graphql/")
    assert response.status_code == 405
    assert "POST" in response.json()["errors"][0]["message"]


def test_an_unknown_field_is_named(client, make_user):
    _, secret = ApiToken.issue(make_user("dev", Role.DEVELOPER), "cli")
    response = post(client, {"query": "{ nope }"}, secret)
    assert "nope" in response.json()["errors"][0]["message"]
