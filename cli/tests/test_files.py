"""The configuration and token files, laid out as Rasa's CLI reads them."""

from __future__ import annotations

import base64
import json
import time

import pytest
import yaml

from studio_cli import settings, tokens
from studio_cli.errors import CliError, ExitCode


def jwt(exp: float) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'exp': int(exp), 'sub': 'u'})}.c2ln"


def test_config_is_written_under_the_studio_key_keeping_rasas_other_settings(home):
    path = home / ".config" / "rasa" / "global.yml"
    path.parent.mkdir(parents=True)
    path.write_text("metrics:\n  enabled: false\n")
    settings.write_config(
        settings.StudioConfig(
            "https://s/auth/", "https://s/api/graphql/", "admin-cli", "rasa-studio"
        )
    )
    stored = yaml.safe_load(path.read_text())
    assert stored["metrics"] == {"enabled": False}
    assert stored["studio"] == {
        "authentication_server_url": "https://s/auth/",
        "studio_url": "https://s/api/graphql/",
        "client_id": "admin-cli",
        "realm_name": "rasa-studio",
        "disable_verify": False,
    }
    assert settings.read_config().base_url == "https://s/"


def test_environment_variables_override_the_file_and_empty_ones_are_refused(monkeypatch):
    settings.write_config(
        settings.StudioConfig("https://a/auth/", "https://a/api/graphql/", "c", "r")
    )
    monkeypatch.setenv("RASA_STUDIO_CLI_STUDIO_URL", "https://b/api/graphql/")
    monkeypatch.setenv("RASA_STUDIO_CLI_DISABLE_VERIFY_KEY", "yes")
    config = settings.read_config()
    assert config.studio_url == "https://b/api/graphql/"
    assert config.authentication_server_url == "https://a/auth/"
    assert config.disable_verify is True
    monkeypatch.setenv("RASA_STUDIO_CLI_REALM_NAME_KEY", "")
    with pytest.raises(CliError, match="RASA_STUDIO_CLI_REALM_NAME_KEY"):
        settings.read_config()


def test_studio_urls_get_a_scheme_and_a_trailing_slash():
    assert settings.normalise_studio_url("studio.example.com") == "https://studio.example.com/"
    assert settings.normalise_studio_url("http://localhost:8000") == "http://localhost:8000/"


def test_link_push_and_pull_need_all_four_settings():
    with pytest.raises(CliError, match="realm_name"):
        settings.StudioConfig(
            "https://a/auth/", "https://a/api/graphql/", "c", None
        ).require_complete()


def test_the_token_file_has_rasas_five_keys_and_expiry_comes_from_the_jwts(home):
    now = time.time()
    grant = {
        "access_token": jwt(now - 5),
        "expires_in": 300,
        "refresh_token": jwt(now + 600),
        "refresh_expires_in": 1800,
        "token_type": "Bearer",
    }
    tokens.write_token(tokens.Token.from_grant(grant))
    stored = yaml.safe_load((home / ".config" / "rasa" / "studio_token.yaml").read_text())
    assert set(stored) == {
        "access_token",
        "access_token_expiration_time",
        "refresh_token",
        "refresh_token_expiration_time",
        "token_type",
    }
    assert stored["access_token_expiration_time"] == 300
    token = tokens.read_token()
    assert token.access_expired() and token.can_refresh()
    assert token.authorization == f"Bearer {grant['access_token']}"


def test_a_broken_token_file_asks_to_sign_in_again(home):
    path = home / ".config" / "rasa" / "studio_token.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("access_token: x\naccess_token_expiration_time: '300'\n")
    with pytest.raises(CliError) as caught:
        tokens.read_token()
    assert caught.value.code == ExitCode.AUTH
    assert "access_token_expiration_time" in caught.value.message


def test_no_token_file_means_exit_code_2():
    with pytest.raises(CliError) as caught:
        tokens.read_token()
    assert caught.value.code == ExitCode.AUTH
