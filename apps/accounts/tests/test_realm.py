"""Studio's own Keycloak-compatible realm, as Rasa Pro's `rasa studio` CLI uses it: discovery,
the password and refresh grants (python-keycloak's form fields), the JWKS, and the access token
as the bearer credential of GraphQL and REST. Signing keys, rotation and the lockout too."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.accounts import signing
from apps.accounts.models import SigningKey, User
from apps.accounts.roles import Role
from tests.support.oidc import studio_settings

pytestmark = pytest.mark.django_db

REALM = "/auth/realms/rasa-studio"
TOKEN = f"{REALM}/protocol/openid-connect/token"
CERTS = f"{REALM}/protocol/openid-connect/certs"
FORM = "application/x-www-form-urlencoded"
PROBE = {
    "operationName": "LicenseDetails",
    "query": "query LicenseDetails { licenseDetails { valid scopes __typename } }",
    "variables": {},
}


def keycloak_login_body(username: str, password: str) -> str:
    """python-keycloak 7.1.1's `KeycloakOpenID.token(username, password)` form, in its order."""
    return (
        f"username={username}&password={password}&client_id=admin-cli&grant_type=password"
        "&code=&redirect_uri=&scope=openid"
    )


def keycloak_refresh_body(refresh_token: str) -> str:
    return f"client_id=admin-cli&grant_type=refresh_token&refresh_token={refresh_token}"


def token_request(client, body: str, **extra):
    return client.post(TOKEN, body, content_type=FORM, **extra)


def login(client, username="dev", password="pw"):
    return token_request(client, keycloak_login_body(username, password))


def probe(client, answer: dict) -> dict:
    """The CLI's LicenseDetails probe, with its `Authorization: {token_type} {access_token}`."""
    authorization = f"{answer['token_type']} {answer['access_token']}"
    response = client.post(
        "/api/graphql/", PROBE, content_type="application/json", HTTP_AUTHORIZATION=authorization
    )
    assert response.status_code == 200
    return response.json()


def probe_error(client, access_token: str) -> str:
    return probe(client, {"token_type": "Bearer", "access_token": access_token})["errors"][0][
        "message"
    ]


def unverified(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_discovery_names_the_realm_endpoints(client):
    response = client.get(f"{REALM}/.well-known/openid-configuration")
    assert response.status_code == 200
    config = response.json()
    assert config["issuer"] == "http://testserver/auth/realms/rasa-studio"
    assert config["token_endpoint"] == f"http://testserver{TOKEN}"
    assert config["jwks_uri"] == f"http://testserver{CERTS}"
    assert {"password", "refresh_token"} <= set(config["grant_types_supported"])


def test_the_password_grant_answers_what_rasa_stores_with_signed_jwts(client, make_user, settings):
    user = make_user("dev", Role.DEVELOPER, email="dev@example.com")
    response = login(client)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == settings.STUDIO_CLI_ACCESS_TOKEN_SECONDS == 12 * 3600
    assert answer["refresh_expires_in"] == settings.STUDIO_CLI_REFRESH_TOKEN_SECONDS
    assert answer["scope"] == "openid"

    keys = {key["kid"]: key for key in client.get(CERTS).json()["keys"]}
    for token, typ, life in (
        (answer["access_token"], "Bearer", answer["expires_in"]),
        (answer["refresh_token"], "Refresh", answer["refresh_expires_in"]),
    ):
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256"
        claims = jwt.decode(token, jwt.PyJWK(keys[header["kid"]]).key, algorithms=["RS256"])
        assert claims["typ"] == typ
        assert claims["iss"] == "http://testserver/auth/realms/rasa-studio"
        assert claims["sub"] == str(user.pk)
        assert claims["azp"] == "admin-cli"
        assert claims["preferred_username"] == "dev"
        assert claims["exp"] - claims["iat"] == life
        assert claims["jti"]
    assert unverified(answer["access_token"])["jti"] != unverified(answer["refresh_token"])["jti"]


def test_the_access_token_signs_in_to_graphql_and_rest(client, make_user):
    make_user("dev", Role.DEVELOPER)
    answer = login(client).json()
    assert probe(client, answer) == {
        "data": {"licenseDetails": {"valid": True, "scopes": [], "__typename": "LicenseDetails"}}
    }
    rest = client.get("/api/v1/assistants", HTTP_AUTHORIZATION=f"Bearer {answer['access_token']}")
    assert rest.status_code == 200, rest.content


@pytest.mark.parametrize(
    ("body", "status", "error", "words"),
    [
        (keycloak_login_body("dev", "wrong"), 401, "invalid_grant", "Invalid user credentials"),
        (keycloak_login_body("nobody", "pw"), 401, "invalid_grant", "Invalid user credentials"),
        (
            keycloak_login_body("dev", "pw").replace("admin-cli", "web-app"),
            401,
            "invalid_client",
            "web-app",
        ),
        ("grant_type=client_credentials&client_id=admin-cli", 400, "unsupported_grant_type", ""),
        ("client_id=admin-cli", 400, "invalid_request", "grant_type"),
        ("grant_type=refresh_token&client_id=admin-cli", 400, "invalid_request", "refresh_token"),
        (keycloak_refresh_body("not-a-token"), 400, "invalid_grant", "Invalid refresh token"),
    ],
)
def test_refusals_have_keycloaks_shape(client, make_user, body, status, error, words):
    make_user("dev", Role.DEVELOPER)
    response = token_request(client, body)
    assert response.status_code == status
    answer = response.json()
    assert answer["error"] == error
    assert words in answer["error_description"]
    assert "access_token" not in answer


def test_a_deactivated_account_gets_no_token_and_its_tokens_stop_working(client, make_user):
    user = make_user("dev", Role.DEVELOPER)
    answer = login(client).json()
    User.objects.filter(pk=user.pk).update(is_active=False)

    refused = login(client)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "Account disabled"}
    assert "deactivated" in probe_error(client, answer["access_token"])
    again = token_request(client, keycloak_refresh_body(answer["refresh_token"]))
    assert again.json()["error_description"] == "Account disabled"


def test_the_token_endpoint_takes_form_posts_only(client):
    get = client.get(TOKEN)
    assert get.status_code == 405 and get["Allow"] == "POST"
    assert get.json()["error"] == "invalid_request"
    as_json = client.post(TOKEN, {"grant_type": "password"}, content_type="application/json")
    assert as_json.status_code == 400
    assert FORM in as_json.json()["error_description"]
    assert client.post(CERTS).status_code == 405


def test_the_token_endpoint_needs_no_csrf_token(make_user):
    make_user("dev", Role.DEVELOPER)
    strict = Client(enforce_csrf_checks=True)
    assert login(strict).status_code == 200


def test_refreshing_gives_new_tokens_for_the_same_session(client, make_user):
    make_user("dev", Role.DEVELOPER)
    first = login(client).json()
    response = token_request(client, keycloak_refresh_body(first["refresh_token"]))
    assert response.status_code == 200, response.content
    second = response.json()
    assert set(second) >= {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "token_type",
    }
    old, new = unverified(first["access_token"]), unverified(second["access_token"])
    assert new["jti"] != old["jti"] and new["sid"] == old["sid"]
    assert "data" in probe(client, second)


def test_a_new_password_ends_the_refreshes(client, make_user):
    user = make_user("dev", Role.DEVELOPER)
    answer = login(client).json()
    user.set_password("a-new-long-password")
    user.save()
    refused = token_request(client, keycloak_refresh_body(answer["refresh_token"]))
    assert refused.status_code == 400
    assert "password changed" in refused.json()["error_description"]
    again = login(client, password="a-new-long-password").json()
    assert token_request(client, keycloak_refresh_body(again["refresh_token"])).status_code == 200


def test_an_access_token_is_no_refresh_token_nor_the_reverse(client, make_user):
    make_user("dev", Role.DEVELOPER)
    answer = login(client).json()
    refused = token_request(client, keycloak_refresh_body(answer["access_token"]))
    assert refused.status_code == 400
    assert "not a refresh token" in refused.json()["error_description"]
    assert "This is a refresh token" in probe_error(client, answer["refresh_token"])


def test_an_expired_access_token_is_refused_as_expired(client, make_user, settings):
    make_user("dev", Role.DEVELOPER)
    settings.STUDIO_CLI_ACCESS_TOKEN_SECONDS = -5  # issued already expired
    answer = login(client).json()
    assert "expired" in probe_error(client, answer["access_token"])
    error = probe(client, answer)["errors"][0]
    assert error["extensions"]["code"] == "EXPIRED_TOKEN"


def _with_payload(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = {**json.loads(base64.urlsafe_b64decode(payload + "==")), **changes}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_token_with_a_bad_signature_is_refused_and_counted(client, make_user):
    make_user("dev", Role.DEVELOPER)
    admin = make_user("admin", Role.SUPERUSER)
    token = login(client).json()["access_token"]
    forged = _with_payload(token, sub=str(admin.pk))
    assert "signature is not valid" in probe_error(client, forged)

    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username=None).get().failures_since_start == 1


def test_a_token_signed_with_another_key_is_refused(client, make_user):
    make_user("dev", Role.DEVELOPER)
    claims = unverified(login(client).json()["access_token"])
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "made-up"})
    assert "not signed by any key of Studio" in probe_error(client, forged)


def test_the_private_key_is_encrypted_at_rest(client, make_user, settings):
    make_user("dev", Role.DEVELOPER)
    token = login(client).json()["access_token"]
    key = SigningKey.objects.get()
    assert "PRIVATE KEY" not in key.encrypted_private_key
    assert "d" not in key.public_jwk  # the JWKS holds the public half only
    assert set(client.get(CERTS).json()["keys"][0]) >= {"kid", "kty", "n", "e", "alg", "use"}

    # Another SECRET_KEY cannot decrypt it: Studio rotates it out and signs with a new key,
    # and the tokens the old key signed stay valid until they expire.
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    signing._private_keys.clear()
    fresh = login(client).json()["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] != key.kid
    assert "data" in probe(client, {"token_type": "Bearer", "access_token": token})


def test_rotation_keeps_old_tokens_valid_until_they_expire_then_refuses_them(
    client, make_user, settings
):
    make_user("dev", Role.DEVELOPER)
    settings.STUDIO_CLI_ACCESS_TOKEN_SECONDS = settings.STUDIO_CLI_REFRESH_TOKEN_SECONDS = 60
    old = login(client).json()["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]

    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    new = login(client).json()["access_token"]
    new_kid = jwt.get_unverified_header(new)["kid"]
    assert new_kid != old_kid
    assert {k["kid"] for k in client.get(CERTS).json()["keys"]} == {old_kid, new_kid}
    assert SigningKey.objects.get(kid=old_kid).encrypted_private_key == ""
    assert "data" in probe(client, {"token_type": "Bearer", "access_token": old})

    # The old key stays published for as long as a token it signed can live ...
    retired = SigningKey.objects.get(kid=old_kid)
    assert retired.published_until - retired.retired_at == timedelta(seconds=60)
    # ... and once that time has passed (moved into the past here rather than waited for, so
    # a slow machine cannot expire the token early), its tokens are refused.
    SigningKey.objects.filter(kid=old_kid).update(
        published_until=timezone.now() - timedelta(seconds=1)
    )
    assert {k["kid"] for k in client.get(CERTS).json()["keys"]} == {new_kid}
    assert "rotated out" in probe_error(client, old)


def test_the_rotate_command_says_until_when_the_old_key_lasts(make_user, capsys):
    signing.jwks()  # the first key
    call_command("rotate_signing_key")
    out = capsys.readouterr().out
    new, old = SigningKey.objects.order_by("-created_at")[:2]
    assert f"New signing key {new.kid}." in out
    assert f"Previous key {old.kid} stays published" in out
    assert new.is_current and not old.is_current
    assert old.published_until - old.retired_at == timedelta(days=7)


def test_wrong_passwords_at_the_token_endpoint_lock_the_account(make_user, settings):
    settings.LOGIN_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT = 3
    make_user("dev", Role.DEVELOPER)
    cli = Client(REMOTE_ADDR="10.0.0.7")
    statuses = [login(cli, password="wrong").status_code for _ in range(2)]
    assert statuses == [401, 401]
    locked = login(cli, password="wrong")
    assert locked.status_code == 400
    assert locked.json()["error"] == "invalid_grant"
    assert "Too many failed logins" in locked.json()["error_description"]
    assert int(locked["Retry-After"]) > 0

    right = login(Client(REMOTE_ADDR="10.0.0.8"))  # the account is locked from anywhere
    assert right.status_code == 400 and "access_token" not in right.json()
    assert "Too many failed logins" in right.json()["error_description"]
    page = Client(REMOTE_ADDR="10.0.0.9").post("/login/", {"username": "dev", "password": "pw"})
    assert page.status_code == 429  # the web login counts the same failures


def test_with_local_logins_off_the_realm_says_to_use_the_provider(client, make_user, settings):
    make_user("dev", Role.DEVELOPER)
    answer = login(client).json()
    endpoints = {
        name: f"https://idp.example.com/realms/studio/protocol/openid-connect/{path}"
        for name, path in (
            ("OIDC_OP_AUTHORIZATION_ENDPOINT", "auth"),
            ("OIDC_OP_TOKEN_ENDPOINT", "token"),
            ("OIDC_OP_USER_ENDPOINT", "userinfo"),
            ("OIDC_OP_JWKS_ENDPOINT", "certs"),
        )
    }
    for name, value in studio_settings(endpoints, OIDC_LOCAL_LOGIN="false").items():
        setattr(settings, name, value)

    refused = login(client)
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"
    assert "OIDC_LOCAL_LOGIN=false" in refused.json()["error_description"]
    assert "rasa studio config --advanced" in refused.json()["error_description"]
    assert "OIDC_LOCAL_LOGIN=false" in probe_error(client, answer["access_token"])
