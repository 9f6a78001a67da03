"""With single sign-on on, the identity provider's own JWT access tokens are bearer credentials:
a real provider (tests/oidc/provider.mjs) issues them through a password grant for its public
client `admin-cli`, with Keycloak's claims, and Studio checks them against the provider's JWKS
over HTTP. The account and roles come from the claims as at a web login."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.accounts.models import User
from apps.accounts.roles import Role
from tests.support.oidc import keycloak_account, running_provider, studio_settings

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PROBE = {
    "operationName": "LicenseDetails",
    "query": "query LicenseDetails { licenseDetails { valid scopes __typename } }",
    "variables": {},
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider(
        ["http://testserver/oidc/callback/"], tmp_path_factory.mktemp("idp")
    ) as idp:
        idp.set_accounts(
            {
                "fiona": keycloak_account("fiona", groups=["/studio/Flow Builder"]),
                "rita": keycloak_account("rita", realm_roles=["Developer"]),
            }
        )
        yield idp


@pytest.fixture
def sso(provider, settings):
    def configure(**env):
        for name, value in provider.settings(**env).items():
            setattr(settings, name, value)

    configure()
    return configure


def probe(client, token):
    response = client.post(
        "/api/graphql/",
        PROBE,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    return response.json()


def refusal(client, token) -> str:
    return probe(client, token)["errors"][0]["message"]


def test_the_providers_token_signs_in_with_the_roles_its_groups_name(client, provider, sso):
    token = provider.cli_token("fiona")
    assert jwt.decode(token, options={"verify_signature": False})["azp"] == "admin-cli"
    assert probe(client, token)["data"]["licenseDetails"]["valid"] is True

    user = User.objects.get(oidc_subject="kc-fiona")
    assert user.username == "fiona" and user.email == "fiona@example.com"
    assert user.global_roles() == {Role.FLOW_BUILDER}
    rest = client.get("/api/v1/assistants", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert rest.status_code == 200, rest.content


def test_keycloak_realm_roles_map_as_at_the_web_login(client, provider, sso):
    sso(OIDC_ROLES_CLAIM="realm_access.roles")
    assert "data" in probe(client, provider.cli_token("rita"))
    assert User.objects.get(oidc_subject="kc-rita").global_roles() == {Role.DEVELOPER}


def test_a_token_of_another_issuer_is_refused(client, provider, sso):
    sso(OIDC_OP_ISSUER="https://elsewhere.example.com/realms/studio")
    message = refusal(client, provider.cli_token("fiona"))
    assert "not issued by the identity provider Studio trusts" in message
    assert not User.objects.filter(oidc_subject="kc-fiona").exists()


def test_the_audience_or_authorized_party_must_be_accepted(client, provider, sso):
    sso(OIDC_ACCEPTED_AUDIENCES="studio")
    message = refusal(client, provider.cli_token("fiona"))  # aud "account", azp "admin-cli"
    assert "meant for account, admin-cli" in message
    assert "OIDC_ACCEPTED_AUDIENCES" in message
    assert "data" in probe(client, provider.cli_token("fiona", audience="studio"))


def test_an_expired_token_is_refused_as_expired(client, provider, sso):
    token = provider.cli_token("fiona", ttl="1")
    time.sleep(2.1)
    answer = probe(client, token)
    assert "has expired" in answer["errors"][0]["message"]
    assert answer["errors"][0]["extensions"]["code"] == "EXPIRED_TOKEN"


def test_a_token_signed_by_another_key_is_refused(client, provider, sso):
    claims = jwt.decode(provider.cli_token("fiona"), options={"verify_signature": False})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    same_kid = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "test-key"})
    assert "signature is not valid" in refusal(client, same_kid)
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.get(username=None).failures_since_start == 1  # a forgery counts
    unknown_kid = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "other-key"})
    assert "does not publish" in refusal(client, unknown_kid)


def test_without_an_issuer_the_providers_tokens_are_refused_saying_so(
    client, provider, sso, settings
):
    settings.OIDC_OP_ISSUER = ""
    assert "until OIDC_OP_ISSUER names" in refusal(client, provider.cli_token("fiona"))


def test_a_deactivated_account_is_refused(client, provider, sso):
    token = provider.cli_token("fiona")
    assert "data" in probe(client, token)
    User.objects.filter(oidc_subject="kc-fiona").update(is_active=False)
    assert "deactivated" in refusal(client, token)


def test_studios_own_realm_still_signs_in_local_accounts(client, provider, sso, make_user):
    make_user("dev", Role.DEVELOPER)
    answer = client.post(
        "/auth/realms/rasa-studio/protocol/openid-connect/token",
        "username=dev&password=pw&client_id=admin-cli&grant_type=password"
        "&code=&redirect_uri=&scope=openid",
        content_type="application/x-www-form-urlencoded",
    ).json()
    assert "data" in probe(client, answer["access_token"])


def test_keycloaks_issuer_is_read_off_its_authorization_endpoint():
    base = "https://kc.example.com/realms/studio"
    endpoints = {
        name: f"{base}/protocol/openid-connect/{path}"
        for name, path in (
            ("OIDC_OP_AUTHORIZATION_ENDPOINT", "auth"),
            ("OIDC_OP_TOKEN_ENDPOINT", "token"),
            ("OIDC_OP_USER_ENDPOINT", "userinfo"),
            ("OIDC_OP_JWKS_ENDPOINT", "certs"),
        )
    }
    derived = studio_settings(endpoints)
    assert derived["OIDC_OP_ISSUER"] == base
    assert derived["OIDC_ACCEPTED_AUDIENCES"] == ["studio", "admin-cli"]
    other = {**endpoints, "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.com/authorize"}
    assert studio_settings(other)["OIDC_OP_ISSUER"] == ""
    assert studio_settings(other, OIDC_OP_ISSUER="https://idp.example.com")["OIDC_OP_ISSUER"] == (
        "https://idp.example.com"
    )
