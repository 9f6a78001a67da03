"""/healthz is public: when the database is down it says so, and only the log has the detail."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASK = (
    "from django.test import Client; "
    "r = Client(HTTP_HOST='localhost').get('/healthz'); "
    "print(r.status_code, r.content.decode())"
)


def test_healthz_says_the_database_is_unavailable_without_the_error(tmp_path):
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", ASK],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            "DEBUG": "true",
            "STUDIO_VAR_DIR": str(tmp_path),
            # Nothing listens on port 1: the connection is refused.
            "DATABASE_URL": "postgres://dbadmin:hunter2@127.0.0.1:1/studio",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '503 {"status": "error", "database": "unavailable"}'
    # The operator's log names what failed.
    assert "Health check: the database did not answer" in result.stderr
    assert "127.0.0.1" in result.stderr and "port 1" in result.stderr
