"""`studio config` and `studio login` against a running Studio and its sign-in realm, and
against the test OpenID provider acting as an external Keycloak."""

from __future__ import annotations

import time

import pytest
import yaml

from cli.tests.support import Cli
from studio_cli.errors import ExitCode

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cli(home, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    return Cli(home, work)


def configure(cli, live_server) -> None:
    run = cli("config", "--url", live_server.url)
    assert "Reached the sign-in realm" in run.stdout


def assert_signed_in(cli) -> None:
    """`upload` probes the sign-in (licenseDetails) before it reads the project: in an empty
    directory it gets past the probe and stops at the missing config.yml (exit 1, not 2)."""
    run = cli("upload", "bot", check=False)
    assert run.returncode == ExitCode.USAGE, run.stderr
    assert "config.yml: no such file" in run.stderr


def test_signed_out_commands_exit_2(cli, live_server):
    configure(cli, live_server)
    run = cli("upload", "bot", check=False)
    assert run.returncode == ExitCode.AUTH and "studio login" in run.stderr


def test_config_then_login_writes_rasas_files_and_the_token_is_accepted(
    cli, live_server, make_user, home
):
    from apps.accounts.roles import Role

    make_user("dev", Role.DEVELOPER)
    configure(cli, live_server)
    stored = yaml.safe_load((home / ".config/rasa/global.yml").read_text())["studio"]
    assert stored == {
        "authentication_server_url": f"{live_server.url}/auth/",
        "studio_url": f"{live_server.url}/api/graphql/",
        "client_id": "admin-cli",
        "realm_name": "rasa-studio",
        "disable_verify": False,
    }
    cli("login", "--username", "dev", STUDIO_PASSWORD="pw")
    token = yaml.safe_load((home / ".config/rasa/studio_token.yaml").read_text())
    assert token["token_type"] == "Bearer" and token["refresh_token"]
    assert_signed_in(cli)


def test_a_wrong_password_exits_2_and_writes_no_token(cli, live_server, make_user, home):
    from apps.accounts.roles import Role

    make_user("dev", Role.DEVELOPER)
    configure(cli, live_server)
    run = cli("login", "--username", "dev", "--password", "nope", check=False)
    assert run.returncode == ExitCode.AUTH
    assert "Sign-in refused" in run.stderr
    assert not (home / ".config/rasa/studio_token.yaml").exists()


def test_an_expired_access_token_is_refreshed_with_the_refresh_token(
    cli, live_server, make_user, home, settings
):
    from apps.accounts.roles import Role

    make_user("dev", Role.DEVELOPER)
    configure(cli, live_server)
    cli("login", "--username", "dev", "--password", "pw")
    path = home / ".config/rasa/studio_token.yaml"
    first = yaml.safe_load(path.read_text())
    # Replace the access token by one that has expired: the CLI must refresh before calling.
    expired = dict(first, access_token=_expired_copy(first["access_token"]))
    path.write_text(yaml.safe_dump(expired))
    assert_signed_in(cli)
    refreshed = yaml.safe_load(path.read_text())
    assert refreshed["access_token"] != expired["access_token"]
    assert _claims(refreshed["access_token"])["exp"] > time.time()


def _claims(token: str) -> dict:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})


def _expired_copy(token: str) -> str:
    """A JWT with the same claims but `exp` in the past (its signature no longer matters:
    the CLI must not send it)."""
    import jwt

    claims = dict(_claims(token), exp=int(time.time()) - 60)
    return jwt.encode(claims, "x" * 32, algorithm="HS256")


def test_unreachable_studio_exits_5(cli):
    run = cli("config", "--url", "http://127.0.0.1:9", check=False)
    assert run.returncode == ExitCode.CONNECTION
    assert "Cannot reach" in run.stderr


def test_usage_errors_exit_1(cli):
    assert cli("upload", "--nope", check=False).returncode == ExitCode.USAGE
    run = cli("push", check=False)
    assert run.returncode == ExitCode.USAGE and "studio config" in run.stderr


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    from tests.support.oidc import keycloak_account, running_provider

    with running_provider(
        ["http://testserver/oidc/callback/"], tmp_path_factory.mktemp("idp")
    ) as idp:
        idp.set_accounts({"rita": keycloak_account("rita", realm_roles=["Developer"])})
        yield idp


def test_login_through_an_external_openid_provider(cli, live_server, provider, settings, home):
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    cli(
        "config",
        "--url",
        live_server.url,
        "--auth-url",
        provider.issuer,
        "--realm",
        "rasa-studio",
    )
    cli("login", "--username", "rita", "--password", "pw")
    token = yaml.safe_load((home / ".config/rasa/studio_token.yaml").read_text())
    assert _claims(token["access_token"])["iss"] == provider.issuer
    # Studio takes the provider's token: the account exists now, as at a web login.
    assert_signed_in(cli)
    from apps.accounts.models import User

    assert User.objects.filter(username="rita").exists()
