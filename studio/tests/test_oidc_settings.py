"""The single sign-on settings as start-up reads them from OIDC_* variables."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio.oidc_settings import OIDC_BACKEND, oidc_settings

LOCAL = ["django.contrib.auth.backends.ModelBackend"]
REQUIRED = {
    "OIDC_RP_CLIENT_ID": "studio",
    "OIDC_RP_CLIENT_SECRET": "s3cret",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://kc.example.com/realms/r/protocol/openid-connect/auth",
    "OIDC_OP_TOKEN_ENDPOINT": "https://kc.example.com/realms/r/protocol/openid-connect/token",
    "OIDC_OP_USER_ENDPOINT": "https://kc.example.com/realms/r/protocol/openid-connect/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "https://kc.example.com/realms/r/protocol/openid-connect/certs",
}


@pytest.fixture
def env(monkeypatch):
    for name in [*REQUIRED, "OIDC_RP_CLIENT_SECRET_FILE", "OIDC_OP_LOGOUT_ENDPOINT"]:
        monkeypatch.delenv(name, raising=False)
    for name in ("OIDC_RP_SIGN_ALGO", "OIDC_RP_SCOPES", "OIDC_ROLES_CLAIM", "OIDC_LOCAL_LOGIN"):
        monkeypatch.delenv(name, raising=False)

    def setenv(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return setenv


def test_it_is_off_without_a_client_id(env):
    settings = oidc_settings(LOCAL)
    assert settings["OIDC_ENABLED"] is False
    assert settings["OIDC_LOCAL_LOGIN"] is True
    assert settings["AUTHENTICATION_BACKENDS"] == LOCAL
    assert "OIDC_OP_TOKEN_ENDPOINT" not in settings


def test_it_is_on_with_the_defaults(env):
    env(**REQUIRED)
    settings = oidc_settings(LOCAL)
    assert settings["OIDC_ENABLED"] is True
    assert settings["AUTHENTICATION_BACKENDS"] == [*LOCAL, OIDC_BACKEND]
    assert settings["OIDC_RP_SIGN_ALGO"] == "RS256"
    assert settings["OIDC_RP_SCOPES"] == "openid email profile"
    assert settings["OIDC_ROLES_CLAIM"] == ["groups"]
    assert settings["OIDC_OP_LOGOUT_ENDPOINT"] == ""
    assert settings["OIDC_STORE_ID_TOKEN"] is False
    assert settings["OIDC_USE_PKCE"] is True
    assert settings["OIDC_RP_CLIENT_SECRET"] == "s3cret"
    for name in REQUIRED:
        assert settings[name] == REQUIRED[name]


def test_it_reads_the_options(env, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    env(
        **{**REQUIRED, "OIDC_RP_CLIENT_SECRET": ""},
        OIDC_RP_CLIENT_SECRET_FILE=str(secret),
        OIDC_OP_LOGOUT_ENDPOINT="https://kc.example.com/logout",
        OIDC_RP_SIGN_ALGO="ES256",
        OIDC_RP_SCOPES="openid email",
        OIDC_ROLES_CLAIM="groups,realm_access.roles",
        OIDC_LOCAL_LOGIN="false",
    )
    settings = oidc_settings(LOCAL)
    assert settings["OIDC_RP_CLIENT_SECRET"] == "from-a-file"
    assert settings["OIDC_STORE_ID_TOKEN"] is True
    assert settings["OIDC_RP_SIGN_ALGO"] == "ES256"
    assert settings["OIDC_RP_SCOPES"] == "openid email"
    assert settings["OIDC_ROLES_CLAIM"] == ["groups", "realm_access.roles"]
    assert settings["OIDC_LOCAL_LOGIN"] is False
    assert settings["AUTHENTICATION_BACKENDS"] == [OIDC_BACKEND]


@pytest.mark.parametrize(
    "missing",
    [name for name in REQUIRED if name.startswith("OIDC_OP_")],
)
def test_a_missing_endpoint_is_named(env, missing):
    env(**{**REQUIRED, missing: ""})
    with pytest.raises(ImproperlyConfigured, match=f"it needs {missing}:"):
        oidc_settings(LOCAL)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"OIDC_RP_CLIENT_SECRET": ""}, "OIDC_RP_CLIENT_SECRET .* must be set"),
        ({"OIDC_OP_TOKEN_ENDPOINT": "kc.example.com/token"}, "OIDC_OP_TOKEN_ENDPOINT=.* URL"),
        ({"OIDC_OP_LOGOUT_ENDPOINT": "/logout"}, "OIDC_OP_LOGOUT_ENDPOINT='/logout' is not"),
        ({"OIDC_RP_SIGN_ALGO": "none"}, "OIDC_RP_SIGN_ALGO='none' must be one of"),
        ({"OIDC_RP_SCOPES": "email profile"}, "must include 'openid'"),
        ({"OIDC_LOCAL_LOGIN": "maybe"}, "OIDC_LOCAL_LOGIN='maybe' is not a boolean"),
        ({"OIDC_ROLES_CLAIM": "groups,"}, "OIDC_ROLES_CLAIM='groups,' has an empty item"),
    ],
)
def test_a_bad_value_stops_start_up(env, variables, message):
    env(**{**REQUIRED, **variables})
    with pytest.raises(ImproperlyConfigured, match=message):
        oidc_settings(LOCAL)


def test_turning_local_login_off_needs_single_sign_on(env):
    env(OIDC_LOCAL_LOGIN="false")
    with pytest.raises(ImproperlyConfigured, match="OIDC_LOCAL_LOGIN=false"):
        oidc_settings(LOCAL)
