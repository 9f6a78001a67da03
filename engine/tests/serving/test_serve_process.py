"""``python -m engine serve`` as a real process: Kafka events, a real Rasa SDK action server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from tests.support.kafka_mock import consume_all
from tests.support.processes import Drained, free_port, stop, wait_for_http

from .conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tiny_model, tmp_path, engine_env, action_server, kafka_bootstrap, kafka_topic):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: {action_server}\n"
        "event_broker:\n"
        "  type: kafka\n"
        "  url: ${STUDIO_TEST_KAFKA}\n"
        f"  topic: {kafka_topic}\n"
        "  partition_by_sender: true\n"
        "  security_protocol: PLAINTEXT\n"
    )
    port = free_port()
    env = {**engine_env, "STUDIO_TEST_KAFKA": kafka_bootstrap}
    process = Drained(
        [sys.executable, "-m", "engine", "serve", str(tiny_model), "--port", str(port),
         "--endpoints", str(endpoints), "--seed", "7"],
        cwd=REPO,
        env=env,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/status", process)
        yield process, f"http://127.0.0.1:{port}", kafka_topic
    finally:
        stop(process)


def test_a_served_bot_runs_custom_actions_and_streams_events(served, kafka_bootstrap) -> None:
    process, url, topic = served
    status = httpx.get(f"{url}/status").json()
    assert status["model_file"] == "tiny.tar.gz"

    def say(text: str) -> list[str]:
        response = httpx.post(
            f"{url}/webhooks/rest/webhook", json={"sender": "frank", "message": text}, timeout=30
        )
        assert response.status_code == 200, response.text
        return [m.get("text") for m in response.json()]

    # The action server sets a slot and sends a message; both reach the user.
    assert say("leave a note")[:2] == ["Action server here, frank.", "Noted: extra cheese"]
    # An action that rejects its execution: the internal error pattern answers.
    assert say("break it")[0] == (
        "Sorry, something went wrong on my side. Please try again in a few minutes."
    )
    tracker = httpx.get(f"{url}/conversations/frank/tracker?include_events=ALL").json()
    assert tracker["slots"]["order_note"] == "extra cheese"

    # SIGTERM: uvicorn shuts down and the producer is flushed.
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    output = process.printed()
    # uvicorn re-raises the signal after its graceful shutdown.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "Rasa server is up and running." in output

    events = tracker["events"]
    messages = consume_all(kafka_bootstrap, topic, min_messages=len(events))
    published = [json.loads(m.value) for m in messages]
    assert len(published) == len(events)
    assert {m.key for m in messages} == {b"frank"}
    assert [p["event"] for p in published] == [e["event"] for e in events]
    assert all(p["sender_id"] == "frank" for p in published)
    assert all(p["metadata"]["model_id"] == status["model_id"] for p in published)
    assert all(p["metadata"]["assistant_id"] == "tiny_bot" for p in published)
    assert any(p["event"] == "slot" and p["name"] == "order_note" for p in published)
    assert messages[0].headers[0][0] == "RASA_ENVIRONMENT"


def test_serve_refuses_a_broken_archive(tmp_path, engine_env) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"nope")
    result = subprocess.run(
        [sys.executable, "-m", "engine", "serve", str(bad), "--port", str(free_port())],
        cwd=REPO,
        env=engine_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "not a gzip tar" in result.stderr
