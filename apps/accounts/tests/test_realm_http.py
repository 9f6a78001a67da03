"""Studio's realm over real HTTP, with the requests Rasa Pro's CLI makes: python-keycloak's
discovery GET and token POSTs (its form fields, byte for byte), then GraphQL with the token as
`Authorization: {token_type} {access_token}` and the default python-requests headers."""

from __future__ import annotations

from urllib.parse import urljoin

import jwt
import pytest
import requests

from apps.accounts.roles import Role

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROBE = {
    "operationName": "LicenseDetails",
    "query": "query LicenseDetails { licenseDetails { valid scopes __typename } }",
    "variables": {},
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_rasa_studio_config_login_refresh_and_probe(live_server, make_user):
    make_user("dev", Role.DEVELOPER)
    # `rasa studio config` defaults: Keycloak at <studio>/auth/, realm rasa-studio, admin-cli.
    server_url = f"{live_server.url}/auth/"
    realm = urljoin(server_url, "realms/rasa-studio/")
    keycloak = requests.Session()

    assert keycloak.get(urljoin(realm, ".well-known/openid-configuration"), timeout=10).ok

    token_url = urljoin(realm, "protocol/openid-connect/token")
    login = keycloak.post(
        token_url,
        data={
            "username": "dev",
            "password": "pw",
            "client_id": "admin-cli",
            "grant_type": "password",
            "code": "",
            "redirect_uri": "",
            "scope": "openid",
        },
        headers=FORM,
        timeout=10,
    )
    assert login.request.body == (
        "username=dev&password=pw&client_id=admin-cli&grant_type=password&code=&redirect_uri="
        "&scope=openid"
    )
    assert login.status_code == 200, login.text
    answer = login.json()
    assert isinstance(answer["expires_in"], int) and isinstance(answer["refresh_expires_in"], int)
    issuer = f"{live_server.url}/auth/realms/rasa-studio"
    assert jwt.decode(answer["access_token"], options={"verify_signature": False})["iss"] == issuer

    refreshed = keycloak.post(
        token_url,
        data={
            "client_id": "admin-cli",
            "grant_type": "refresh_token",
            "refresh_token": answer["refresh_token"],
        },
        headers=FORM,
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()

    graphql = requests.post(
        f"{live_server.url}/api/graphql/",
        json=PROBE,
        headers={"Authorization": f"{token['token_type']} {token['access_token']}"},
        timeout=10,
    )
    assert graphql.json() == {
        "data": {"licenseDetails": {"valid": True, "scopes": [], "__typename": "LicenseDetails"}}
    }


def test_a_wrong_password_is_keycloaks_401_over_http(live_server, make_user):
    make_user("dev", Role.DEVELOPER)
    answer = requests.post(
        f"{live_server.url}/auth/realms/rasa-studio/protocol/openid-connect/token",
        data={
            "username": "dev",
            "password": "nope",
            "client_id": "admin-cli",
            "grant_type": "password",
            "code": "",
            "redirect_uri": "",
            "scope": "openid",
        },
        headers=FORM,
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid user credentials",
    }
