"""Settings as a process sees them at start-up: run manage.py in a subprocess with a given
environment, the way an operator would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": "kX9v-" + "Qw3rTy8uIoP1aSdF5gHjK2lZxC7vBnM4qWeRtYuIoPaSdFgH",
    "ALLOWED_HOSTS": "studio.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://studio.example.com",
}
# manage.py runs with the suite's DATABASE_URL, so its checks see that database's settings.
pytestmark = pytest.mark.database_settings


def manage(*args, env):
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "studio.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_it_passes_the_deploy_check_with_production_settings(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PRODUCTION, "STUDIO_VAR_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.slow
def test_it_requires_a_secret_key_without_debug(tmp_path):
    result = manage("check", env={"ALLOWED_HOSTS": "x", "STUDIO_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "perhaps", "DEBUG='perhaps' is not a boolean"),
        ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS='a year' is not a whole number"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' must be one of"),
        ("DATABASE_URL", "mysql://root@localhost/studio", "Studio supports PostgreSQL"),
        ("ALLOWED_HOSTS", "a,,b", "ALLOWED_HOSTS='a,,b' has an empty item"),
        ("OIDC_RP_CLIENT_ID", "studio", "it needs OIDC_OP_AUTHORIZATION_ENDPOINT"),
    ],
)
def test_it_stops_at_start_on_a_malformed_variable(tmp_path, variable, value, message):
    result = manage("check", env={**PRODUCTION, "STUDIO_VAR_DIR": str(tmp_path), variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
