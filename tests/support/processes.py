"""Processes in tests: a free loopback port, waiting for a condition or a URL, stopping a child,
and Studio's own commands started as real processes that share the test database.

Django is imported only by the helpers that need the test database, so that the engine's tests
can use the rest without it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database the current test uses (the test database, not the real one)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "STUDIO_VAR_DIR": str(settings.VAR_DIR),
        "STUDIO_STORAGE_ROOT": str(settings.MEDIA_ROOT),
        "STUDIO_EVENT_SPOOL_DIR": str(settings.STUDIO_EVENT_SPOOL_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def manage(*args: str, **extra_env: str) -> subprocess.Popen:
    """Start `manage.py ARGS` in the background; the caller stops or waits for it."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=process_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition, timeout: float = 60, interval: float = 0.2, what: str = "the condition"):
    """Poll `condition()` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_http(
    url: str,
    process: subprocess.Popen[Any] | None = None,
    timeout: float = 60,
    ok: Callable[[int], bool] = lambda status: status < 500,
    interval: float = 0.1,
) -> None:
    """Poll `url` until its status is `ok` (by default: any answer but a server error). When
    `process` (the server) exits first, fail with what it printed."""

    def answers() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}:\n{_output(process)}")
        try:
            return ok(httpx.get(url, timeout=1.0).status_code)
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout, interval, what=url)


def stop(process: subprocess.Popen[Any], timeout: float = 20, *, output: bool = True) -> str:
    """SIGTERM, wait (SIGKILL after `timeout` s), and return what it printed. With
    `output=False` the pipe is closed unread (for a server whose children may hold it open)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if not output:
        if process.stdout:
            process.stdout.close()
        return ""
    return _output(process)


def _output(process: subprocess.Popen[Any]) -> str:
    if not process.stdout or process.stdout.closed:
        return ""
    printed = process.stdout.read()
    return printed.decode(errors="replace") if isinstance(printed, bytes) else printed


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0: look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
