"""The HTTP action client against a real Rasa SDK action server (started by `action_server`)."""

from __future__ import annotations

import httpx
import pytest

from engine.actions import (
    ActionExecutionRejected,
    HttpActionClient,
    action_client_from_endpoints,
)
from engine.dialogue import ActionError
from tests.support.processes import free_port

pytestmark = pytest.mark.slow

TRACKER = {
    "sender_id": "erin",
    "slots": {"order_note": None},
    "latest_message": {"text": "leave a note", "intent": {"name": "leave_note"}, "entities": []},
    "latest_event_time": 1.0,
    "followup_action": None,
    "paused": False,
    "events": [],
    "latest_input_channel": "rest",
    "active_loop": {},
    "latest_action": {"action_name": "action_listen"},
    "latest_action_name": "action_listen",
}
DOMAIN = {"version": "3.1", "slots": {"order_note": {"type": "text"}}, "responses": {}}


def test_it_runs_an_action(action_server) -> None:
    with HttpActionClient(action_server, timeout=10) as client:
        result = client.run("action_note_order", TRACKER, DOMAIN)
    assert [e["event"] for e in result.events] == ["slot"]
    assert result.events[0]["name"] == "order_note"
    assert result.events[0]["value"] == "extra cheese"
    assert result.responses[0]["text"] == "Action server here, erin."


def test_it_reports_a_rejected_action(action_server) -> None:
    with (
        HttpActionClient(action_server, timeout=10) as client,
        pytest.raises(ActionExecutionRejected, match="I refuse to run") as info,
    ):
        client.run("action_reject_me", TRACKER, DOMAIN)
    assert info.value.action_name == "action_reject_me"


def test_it_reports_an_unknown_action(action_server) -> None:
    with (
        HttpActionClient(action_server, timeout=10) as client,
        pytest.raises(ActionError, match="no action 'action_nope'"),
    ):
        client.run("action_nope", TRACKER, DOMAIN)


def test_it_reports_a_refused_connection() -> None:
    client = HttpActionClient(f"http://127.0.0.1:{free_port()}/webhook", timeout=2)
    with pytest.raises(ActionError, match="cannot reach the action server"):
        client.run("action_x", TRACKER, DOMAIN)


def test_it_reports_a_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = HttpActionClient(
        "http://actions/webhook", timeout=0.5, transport=httpx.MockTransport(slow)
    )
    with pytest.raises(ActionError, match=r"did not answer 'action_x' within 0\.5 s"):
        client.run("action_x", TRACKER, DOMAIN)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, "boom", "HTTP 500"),
        (200, "not json", "not JSON"),
        (200, "[1, 2]", "not an object"),
        (200, '{"events": [{"no": "type"}]}', "not Rasa events"),
        (200, '{"events": [], "responses": "hi"}', "not objects"),
    ],
)
def test_it_refuses_bad_answers(status, body, message) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text=body))
    client = HttpActionClient("http://actions/webhook", transport=transport)
    with pytest.raises(ActionError, match=message):
        client.run("action_x", TRACKER, DOMAIN)


def test_it_sends_rasas_request_body() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"events": [], "responses": []})

    client = HttpActionClient(
        "http://actions/webhook", params={"token": "t"}, transport=httpx.MockTransport(record)
    )
    client.run("action_x", TRACKER, DOMAIN)
    import json

    body = json.loads(seen[0].content)
    assert set(body) == {"next_action", "sender_id", "tracker", "domain", "version"}
    assert body["next_action"] == "action_x"
    assert body["sender_id"] == "erin"
    assert seen[0].url.params["token"] == "t"


def test_it_reads_action_endpoint_settings() -> None:
    assert action_client_from_endpoints(None) is None
    assert action_client_from_endpoints({"url": ""}) is None
    client = action_client_from_endpoints(
        {"url": "http://a/webhook", "token": "x", "timeout": 5, "headers": {"X-A": "1"}}
    )
    assert client is not None
    assert client.timeout == 5.0
