"""Signing in: the Keycloak calls Rasa's CLI makes (through python-keycloak), made directly.

The password grant for `admin-cli` with the same form fields, the refresh grant, and the
realm's discovery document as the health check of `studio config`. Works against Studio's own
realm (`<studio>/auth/realms/rasa-studio/`) and against a real Keycloak alike.
"""

from __future__ import annotations

import time
from urllib.parse import urljoin

from studio_cli import http, settings, tokens
from studio_cli.errors import CliError, ExitCode


def realm_url(config: settings.StudioConfig, path: str) -> str:
    if not (config.authentication_server_url and config.realm_name):
        raise CliError("The sign-in server is not configured: run `studio config` first.")
    base = settings.with_trailing_slash(config.authentication_server_url)
    return urljoin(base, f"realms/{config.realm_name}/{path}")


def _discovery(config: settings.StudioConfig) -> tuple[str, dict]:
    """The realm's discovery document (Keycloak's layout), else the one at the sign-in URL
    itself, for an OpenID provider whose issuer is that URL; (its URL, its content)."""
    urls = [realm_url(config, ".well-known/openid-configuration")]
    urls.append(
        urljoin(
            settings.with_trailing_slash(urls[0].split("realms/")[0]),
            ".well-known/openid-configuration",
        )
    )
    for url in urls:
        response = http.request("GET", url, verify=config.verify, timeout=15)
        if response.ok:
            try:
                document = response.json()
            except ValueError:
                document = {}
            return url, document if isinstance(document, dict) else {}
        if response.status_code != 404:
            break
    raise CliError(
        f"{urls[0]} answered HTTP {response.status_code}: check the sign-in URL and realm.",
        ExitCode.CONNECTION,
    )


def check_realm(config: settings.StudioConfig) -> str:
    """The health check of `studio config`; returns the issuer the discovery document names."""
    url, document = _discovery(config)
    return str(document.get("issuer") or url)


def token_url(config: settings.StudioConfig) -> str:
    """Keycloak's token endpoint, unless the discovery document names another."""
    keycloak = realm_url(config, "protocol/openid-connect/token")
    try:
        _, document = _discovery(config)
    except CliError:
        return keycloak
    endpoint = document.get("token_endpoint")
    return endpoint if isinstance(endpoint, str) and endpoint else keycloak


def _grant(config: settings.StudioConfig, form: dict[str, str]) -> tokens.Token:
    url = token_url(config)
    response = http.request("POST", url, data=form, verify=config.verify)
    if response.status_code >= 500:
        raise CliError(
            f"The sign-in server failed (HTTP {response.status_code}).", ExitCode.CONNECTION
        )
    answer = http.json_body(response)
    if not response.ok:
        detail = ""
        if isinstance(answer, dict):
            detail = str(answer.get("error_description") or answer.get("error") or "")
        raise CliError(
            f"Sign-in refused (HTTP {response.status_code}): {detail or 'no reason given'}. "
            "Check the credentials.",
            ExitCode.AUTH,
        )
    if not isinstance(answer, dict):
        raise CliError("The sign-in server answered with something else than a token.")
    return tokens.Token.from_grant(answer)


def login(config: settings.StudioConfig, username: str, password: str) -> tokens.Token:
    """The password grant exactly as python-keycloak sends it for Rasa's CLI."""
    token = _grant(
        config,
        {
            "username": username,
            "password": password,
            "client_id": config.client_id or settings.DEFAULT_CLIENT_ID,
            "grant_type": "password",
            "code": "",
            "redirect_uri": "",
            "scope": "openid",
        },
    )
    tokens.write_token(token)
    return token


def refresh(config: settings.StudioConfig, token: tokens.Token) -> tokens.Token:
    fresh = _grant(
        config,
        {
            "client_id": config.client_id or settings.DEFAULT_CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token,
        },
    )
    tokens.write_token(fresh)
    return fresh


def current_token(config: settings.StudioConfig) -> tokens.Token:
    """The stored token, refreshed first when its access token has expired."""
    token = tokens.read_token()
    now = time.time()
    if not token.access_expired(now):
        return token
    if not token.can_refresh(now):
        raise CliError(
            "The sign-in has expired and cannot be renewed: run `studio login`.", ExitCode.AUTH
        )
    return refresh(config, token)
