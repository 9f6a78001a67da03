"""Single sign-on through an OpenID Connect provider (Keycloak or any other), from OIDC_*.

Off unless OIDC_RP_CLIENT_ID is set; then the provider's endpoints and the client secret are
required. The settings keep mozilla-django-oidc's names, so the library reads them as they are;
Studio adds OIDC_ENABLED, OIDC_ROLES_CLAIM, OIDC_LOCAL_LOGIN and OIDC_OP_LOGOUT_ENDPOINT, and,
for the provider's access tokens sent as bearer credentials (the CLI, CI), OIDC_OP_ISSUER and
OIDC_ACCEPTED_AUDIENCES.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from studio.env import env_bool, env_choice, env_list, env_secret, env_str

OIDC_BACKEND = "apps.accounts.oidc.OIDCBackend"
SIGN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"]


def _url(name: str, value: str) -> str:
    if value and not value.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{name}={value!r} is not an http(s) URL.")
    return value


KEYCLOAK_AUTH_SUFFIX = "/protocol/openid-connect/auth"


def _issuer(authorization_endpoint: str) -> str:
    """OIDC_OP_ISSUER, or Keycloak's realm URL read off its authorization endpoint
    (`<realm>/protocol/openid-connect/auth`); empty when neither is there."""
    issuer = _url("OIDC_OP_ISSUER", env_str("OIDC_OP_ISSUER"))
    if issuer:
        return issuer
    if authorization_endpoint.endswith(KEYCLOAK_AUTH_SUFFIX):
        return authorization_endpoint.removesuffix(KEYCLOAK_AUTH_SUFFIX)
    return ""


def oidc_settings(local_backends: list[str]) -> dict[str, object]:
    """The settings for single sign-on. `local_backends` are the password backends, kept
    unless OIDC_LOCAL_LOGIN is false."""
    client_id = env_str("OIDC_RP_CLIENT_ID")
    local_login = env_bool("OIDC_LOCAL_LOGIN", True)
    common = {
        "OIDC_ENABLED": bool(client_id),
        "OIDC_LOCAL_LOGIN": local_login,
        # Several claims may be named, comma-separated; a dotted name is a path into the
        # claims (Keycloak's realm roles: realm_access.roles).
        "OIDC_ROLES_CLAIM": env_list("OIDC_ROLES_CLAIM", ["groups"]),
        "OIDC_AUTHENTICATION_CALLBACK_URL": "accounts:oidc_callback",
    }
    if not client_id:
        if not local_login:
            raise ImproperlyConfigured(
                "OIDC_LOCAL_LOGIN=false turns password logins off, so single sign-on must be "
                "on: set OIDC_RP_CLIENT_ID and the provider's endpoints."
            )
        return {**common, "AUTHENTICATION_BACKENDS": list(local_backends)}

    endpoints = {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": env_str("OIDC_OP_AUTHORIZATION_ENDPOINT"),
        "OIDC_OP_TOKEN_ENDPOINT": env_str("OIDC_OP_TOKEN_ENDPOINT"),
        "OIDC_OP_USER_ENDPOINT": env_str("OIDC_OP_USER_ENDPOINT"),
        "OIDC_OP_JWKS_ENDPOINT": env_str("OIDC_OP_JWKS_ENDPOINT"),
    }
    missing = [name for name, value in endpoints.items() if not value]
    if missing:
        raise ImproperlyConfigured(
            f"OIDC_RP_CLIENT_ID is set, so single sign-on is on, and it needs "
            f"{', '.join(missing)}: the provider's endpoints, as its "
            "/.well-known/openid-configuration lists them."
        )
    for name, value in endpoints.items():
        _url(name, value)
    secret = env_secret("OIDC_RP_CLIENT_SECRET")
    if not secret:
        raise ImproperlyConfigured(
            "OIDC_RP_CLIENT_ID is set, so OIDC_RP_CLIENT_SECRET (or OIDC_RP_CLIENT_SECRET_FILE) "
            "must be set too: the secret of the provider's confidential client."
        )
    scopes = env_str("OIDC_RP_SCOPES", "openid email profile")
    if "openid" not in scopes.split():
        raise ImproperlyConfigured(f"OIDC_RP_SCOPES={scopes!r} must include 'openid'.")
    logout = _url("OIDC_OP_LOGOUT_ENDPOINT", env_str("OIDC_OP_LOGOUT_ENDPOINT"))
    backends = [*local_backends, OIDC_BACKEND] if local_login else [OIDC_BACKEND]
    return {
        **common,
        **endpoints,
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": secret,
        "OIDC_RP_SIGN_ALGO": env_choice("OIDC_RP_SIGN_ALGO", "RS256", SIGN_ALGORITHMS),
        "OIDC_RP_SCOPES": scopes,
        "OIDC_OP_LOGOUT_ENDPOINT": logout,
        # The provider's JWT access tokens are accepted as bearer credentials when their `iss`
        # is this and their `aud` or `azp` is one of these (the web client, the CLI's client).
        "OIDC_OP_ISSUER": _issuer(endpoints["OIDC_OP_AUTHORIZATION_ENDPOINT"]),
        "OIDC_ACCEPTED_AUDIENCES": env_list("OIDC_ACCEPTED_AUDIENCES", [client_id, "admin-cli"]),
        "OIDC_USE_PKCE": True,
        # The ID token is the hint the provider's logout endpoint asks for.
        "OIDC_STORE_ID_TOKEN": bool(logout),
        # (connect, read) seconds: a provider that hangs must not hold a web worker for ever.
        "OIDC_TIMEOUT": (5, 15),
        "AUTHENTICATION_BACKENDS": backends,
    }
