"""Processes in tests: a free loopback port, waiting for a condition or a URL, stopping a child,
and Studio's own commands started as real processes that share the test database.

Django is imported only by the helpers that need the test database, so that the engine's tests
can use the rest without it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
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


class Drained(subprocess.Popen):
    """A child whose output (stdout and stderr) a thread reads as it comes, kept for `printed`.

    A pipe that nobody reads fills up at 64 KiB, and the child's next write then blocks: a
    server that logs each request would stop answering in the middle of a test."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            **kwargs,
        )
        self.lines: list[str] = []
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.stdout is not None
        with contextlib.suppress(ValueError, OSError):  # the pipe closed under it
            for line in self.stdout:
                with self._arrived:
                    self.lines.append(line)
                    self._arrived.notify_all()
        with self._arrived:
            self._arrived.notify_all()

    def printed(self, timeout: float = 5) -> str:
        """What it printed so far (all of it once it has exited and its pipe is closed)."""
        if self.poll() is not None:
            self._reader.join(timeout)
        with self._arrived:
            return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 60) -> bool:
        """Whether a line containing `text` is printed within `timeout` s (False once the output
        ends without one)."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._arrived:
            while True:
                if any(text in line for line in self.lines[seen:]):
                    return True
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    return False
                self._arrived.wait(min(left, 0.5))


def manage(*args: str, **extra_env: str) -> Drained:
    """Start `manage.py ARGS` in the background; the caller stops or waits for it."""
    return Drained([sys.executable, "manage.py", *args], cwd=ROOT, env=process_env(**extra_env))


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
        if process.stdout and not isinstance(process, Drained):
            process.stdout.close()
        return ""
    return _output(process)


def _output(process: subprocess.Popen[Any]) -> str:
    if isinstance(process, Drained):
        return process.printed()
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
