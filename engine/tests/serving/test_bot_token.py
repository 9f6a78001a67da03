"""A served bot given a token in its environment refuses every caller without it."""

from __future__ import annotations

import httpx
import pytest

from .conftest import guarded_bot_process

pytestmark = pytest.mark.slow

TOKEN = "per-bot-token-0123456789"


@pytest.fixture
def guarded_bot(tiny_model, engine_env):
    with guarded_bot_process(tiny_model, engine_env, TOKEN) as served:
        yield served


def test_the_token_from_the_environment_guards_the_api_and_the_webhook(guarded_bot) -> None:
    process, url = guarded_bot
    assert TOKEN not in " ".join(process.args)  # not on the command line
    tracker = f"{url}/conversations/frank/tracker"
    webhook = f"{url}/webhooks/rest/webhook"
    message = {"sender": "frank", "message": "hello"}

    assert httpx.get(f"{url}/status").status_code == 401
    assert httpx.get(tracker).status_code == 401
    assert httpx.get(tracker, params={"token": "wrong"}).status_code == 401
    assert httpx.post(f"{tracker}/events", json=[{"event": "restart"}]).status_code == 401
    assert httpx.post(webhook, json=message, timeout=30).status_code == 401

    answer = httpx.post(webhook, json=message, params={"token": TOKEN}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert httpx.get(tracker, params={"token": TOKEN}).status_code == 200
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{url}/status", headers=bearer).status_code == 200
