"""A real OpenID Connect provider for the single sign-on tests: tests/oidc/provider.mjs (the
npm package oidc-provider, installed by `make test`), run with Node on a free loopback port."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
import requests

from studio.oidc_settings import oidc_settings

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "studio"
CLIENT_SECRET = "studio-test-secret"
LOCAL_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]


def keycloak_account(username, *, groups=(), realm_roles=(), sub=None, **claims):
    """An entry of the provider's accounts file, with the claims Keycloak sends."""
    return {
        "password": "pw",
        "claims": {
            "sub": sub or f"kc-{username}",
            "preferred_username": username,
            "email": f"{username}@example.com",
            "email_verified": True,
            "given_name": username.title(),
            "family_name": "Tester",
            "groups": list(groups),
            "realm_access": {"roles": ["default-roles-studio", *realm_roles]},
            **claims,
        },
    }


def studio_settings(endpoints: dict[str, str], **env: str) -> dict[str, object]:
    """Studio's settings for this provider, made the way start-up makes them from OIDC_*."""
    variables = {
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
        **endpoints,
        **env,
    }
    names = [n for n in os.environ if n.startswith("OIDC_")]
    with mock.patch.dict(os.environ, {}):
        for name in names:
            del os.environ[name]
        os.environ.update(variables)
        return oidc_settings(LOCAL_BACKENDS)


@dataclass
class Provider:
    issuer: str
    accounts_file: Path
    process: subprocess.Popen

    def set_accounts(self, accounts: dict) -> None:
        """Replace the accounts; the provider reads the file at every sign-in."""
        partial = self.accounts_file.with_suffix(".tmp")
        partial.write_text(json.dumps(accounts))
        partial.replace(self.accounts_file)

    def endpoints(self) -> dict[str, str]:
        discovery = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        discovery.raise_for_status()
        config = discovery.json()
        return {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": config["authorization_endpoint"],
            "OIDC_OP_TOKEN_ENDPOINT": config["token_endpoint"],
            "OIDC_OP_USER_ENDPOINT": config["userinfo_endpoint"],
            "OIDC_OP_JWKS_ENDPOINT": config["jwks_uri"],
            "OIDC_OP_LOGOUT_ENDPOINT": config["end_session_endpoint"],
            "OIDC_OP_ISSUER": config["issuer"],
        }

    def settings(self, **env: str) -> dict[str, object]:
        return studio_settings(self.endpoints(), **env)

    def cli_token(self, username: str, password: str = "pw", **params: str) -> str:
        """A JWT access token from the provider's password grant for its public client
        `admin-cli` (params: `audience`, `ttl` seconds), as Keycloak issues them to the CLI."""
        answer = requests.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": username,
                "password": password,
                **params,
            },
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: `make test` installs it in CI")
    pytest.skip(reason)


@contextmanager
def running_provider(redirect_uris: list[str], workdir: Path):
    node = shutil.which("node")
    if node is None:
        _unavailable("Node.js is not installed")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("the test provider is not installed (npm ci --prefix tests/oidc)")
    accounts_file = workdir / "accounts.json"
    accounts_file.write_text("{}")
    log = (workdir / "provider.log").open("w")
    args = [node, "provider.mjs", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
    for uri in redirect_uris:
        args += ["--redirect-uri", uri]
    process = subprocess.Popen(
        [*args, "--accounts", str(accounts_file)],
        cwd=PROVIDER_DIR,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        issuer = _wait_for_issuer(process, workdir / "provider.log")
        yield Provider(issuer, accounts_file, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        log.close()


def _wait_for_issuer(process: subprocess.Popen, log: Path, timeout: float = 30) -> str:
    """The provider prints `listening on <issuer>` once it accepts connections."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline()
                if line.startswith("listening on "):
                    return line.removeprefix("listening on ").strip()
                if not line:
                    break
            if process.poll() is not None:
                break
    raise RuntimeError(f"the test OIDC provider did not start:\n{log.read_text()}")
