"""Custom action calls refuse blocked networks (link-local, cloud metadata by default), checking
every address a host name resolves to; a real local listener sees no request."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from engine.actions import action_client_from_endpoints
from engine.dialogue import ActionError
from engine.netguard import BlockedNetworks

TRACKER = {"sender_id": "frank", "slots": {}, "events": []}


@pytest.fixture
def listener():
    """A real action server on 127.0.0.1 that records the paths it is asked for."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.path)
            body = json.dumps({"events": [], "responses": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 written as one number
    ],
)
def test_metadata_addresses_are_refused_by_default(url) -> None:
    client = action_client_from_endpoints({"url": url, "timeout": 2})
    with pytest.raises(ActionError, match="blocked network"):
        client.run("action_check", TRACKER, {})


def test_every_resolved_address_of_a_host_name_is_checked(listener) -> None:
    port, seen = listener
    blocked = BlockedNetworks(["127.0.0.0/8"])
    client = action_client_from_endpoints(
        {"url": f"http://localhost:{port}/webhook"}, blocked=blocked
    )
    with pytest.raises(ActionError, match=r"localhost is 127\.0\.0\.1, in the blocked network"):
        client.run("action_check", TRACKER, {})
    assert seen == []


def test_addresses_outside_the_blocked_networks_are_called(listener) -> None:
    port, seen = listener
    client = action_client_from_endpoints({"url": f"http://127.0.0.1:{port}/webhook"})
    assert client.run("action_check", TRACKER, {}).events == []
    assert seen == ["/webhook"]
