"""One-off requests to bots share one TLS context per process: building httpx's default one
(reading the CA bundle) cost every Try message and every model swap about 20 ms."""

from __future__ import annotations

import http.server
import json
import ssl
import threading

import pytest

from apps.training import bot
from workers.runners import LocalBot
from workers.running import RunningConsumer


class _Bot(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"model_id": "m"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def bot_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Bot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class _Deployment:
    """What `bot._call` reads of a deployment row."""

    def __init__(self, url: str) -> None:
        self.bot_url, self.bot_token = url, "secret"

    def touch(self) -> None:
        pass


def test_requests_to_bots_build_one_tls_context(bot_url, monkeypatch):
    built = []
    create = ssl.create_default_context

    def counted(*args, **kwargs) -> ssl.SSLContext:
        built.append(1)
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    bot.tls_context.cache_clear()
    deployment = _Deployment(bot_url)
    for _ in range(3):
        assert bot._call("GET", deployment, "/status") == {"model_id": "m"}
    local = LocalBot(child=None, url=bot_url, token="secret")  # type: ignore[arg-type]
    assert all(local.is_ready() for _ in range(3))
    # A model swap's request (the consumer is only used when the bot takes long to answer).
    swap = RunningConsumer._put_model
    assert all(swap(None, local, "model.tar.gz", []).status_code == 204 for _ in range(3))  # type: ignore[arg-type]
    assert len(built) == 1
    bot.tls_context.cache_clear()
