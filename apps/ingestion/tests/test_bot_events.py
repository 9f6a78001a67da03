"""A real bot (`python -m engine serve`) with a real Rasa SDK action server, writing its events
to the spool, and the ingester reading them: what the bot's API and custom actions produce
reaches conversation review, and poison sent through the bot's API is dead-lettered."""

import json
import os
import sys
import time

import httpx
import pytest

from apps.ingestion.models import DeadLetter, Event
from apps.ingestion.sources import FileSpoolSource
from apps.ingestion.tests.test_poison import END_OF_TIME
from engine.tests.serving.conftest import (  # noqa: F401 (fixtures)
    REPO,
    action_server,
    tiny_model,
)
from tests.support.processes import Drained, free_port, stop, wait_for_http

pytestmark = pytest.mark.slow


@pytest.fixture
def bot(tiny_model, action_server, tmp_path):  # noqa: F811
    spool = tmp_path / "events"
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: {action_server}\n"
        f"event_broker:\n  type: file\n  path: {spool / 'tiny_bot.jsonl'}\n"
    )
    port = free_port()
    process = Drained(
        [sys.executable, "-m", "engine", "serve", str(tiny_model), "--port", str(port),
         "--endpoints", str(endpoints), "--seed", "7"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/status", process)
        yield f"http://127.0.0.1:{port}", spool, process
    finally:
        stop(process)


def test_custom_action_slots_reach_review_and_poison_from_the_bot_api_is_dead_lettered(
    make_assistant, bot
):
    make_assistant("tiny_bot")
    url, spool, process = bot
    poison = [
        {"event": "session_started", "timestamp": END_OF_TIME},
        {"event": "action", "name": "action_session_start", "timestamp": END_OF_TIME - 1},
    ]
    answer = httpx.post(f"{url}/conversations/poison-probe/tracker/events", json=poison)
    assert answer.status_code == 200, answer.text
    # The action server's SlotSet comes with "timestamp": null.
    replies = httpx.post(
        f"{url}/webhooks/rest/webhook", json={"sender": "frank", "message": "leave a note"}
    ).json()
    assert [r.get("text") for r in replies][:2] == [
        "Action server here, frank.",
        "Noted: extra cheese",
    ]
    stop(process)
    written = [json.loads(line) for line in (spool / "tiny_bot.jsonl").read_text().splitlines()]
    (spool / "zz-after.jsonl").write_text(
        json.dumps(
            {
                "sender_id": "after-poison",
                "event": "user",
                "timestamp": time.time(),
                "text": "written after the poison",
                "metadata": {"assistant_id": "tiny_bot"},
            }
        )
        + "\n"
    )

    source = FileSpoolSource(spool)
    while source.step():
        pass

    assert Event.objects.filter(text="written after the poison").exists()
    letters = DeadLetter.objects.all()
    assert len(letters) == 2
    assert {json.loads(bytes(letter.raw))["timestamp"] for letter in letters} == {
        END_OF_TIME,
        END_OF_TIME - 1,
    }
    assert all("outside the accepted window" in letter.reason for letter in letters)
    # Everything else the bot wrote is stored, the custom action's slot event included.
    frank = [body for body in written if body["sender_id"] == "frank"]
    assert Event.objects.filter(conversation__sender_id="frank").count() == len(frank)
    slot = Event.objects.get(conversation__sender_id="frank", type="slot", slot_name="order_note")
    assert slot.slot_value == "extra cheese"
    assert isinstance(slot.data["timestamp"], float)
    assert (
        Event.objects.filter(conversation__sender_id="poison-probe").count()
        == len([body for body in written if body["sender_id"] == "poison-probe"]) - 2
    )
