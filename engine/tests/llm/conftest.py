"""Fixtures: the real LLM server (one per test process, started on first use) and small
loopback HTTP servers that misbehave on purpose (slow, broken, garbage)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.llm_server import LlmServer, LlmServerMissing, start_llm_server


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LlmServer]:
    try:
        server = start_llm_server()
    except LlmServerMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc}: `make test` installs it in CI")
        pytest.skip(str(exc))
    yield server
    server.stop()


class Behaviour:
    """What the fake server answers: `status`, `body` (bytes or a JSON value), after `delay`
    seconds; `requests` records every request body it got."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {"choices": [{"message": {"content": "start flow transfer_money"}}]}
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []


@pytest.fixture
def fake_llm() -> Iterator[tuple[str, Behaviour]]:
    """``(base URL, behaviour)`` of a loopback server answering every POST as told."""
    behaviour = Behaviour()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            behaviour.requests.append(json.loads(raw or b"{}"))
            behaviour.paths.append(self.path)
            behaviour.headers.append(dict(self.headers))
            time.sleep(behaviour.delay)
            body = behaviour.body
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(behaviour.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", behaviour
    server.shutdown()
    server.server_close()
