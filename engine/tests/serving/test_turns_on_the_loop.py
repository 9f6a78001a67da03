"""A REST channel turn that only computes (no action server, LLM, event broker or sentence
embedding) runs on the server's event loop; any other runs in a worker thread. The answers are
the same either way."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.dialogue import NullActionClient, Processor
from engine.server import Bot, create_app
from engine.server.serve import build_bot

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def _turn_threads(bot: Bot, texts: list[str]) -> tuple[list[Any], list[bool]]:
    """The answers to `texts`, and for each turn whether it ran on the loop's thread."""
    handle = bot.handle_message
    on_loop: list[bool] = []
    loop_thread: list[threading.Thread] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        on_loop.append(threading.current_thread() is loop_thread[0])
        return handle(*args, **kwargs)

    bot.handle_message = recording  # type: ignore[method-assign]
    answers = []
    app = create_app(bot, on_startup=[lambda: loop_thread.append(threading.current_thread())])
    with TestClient(app) as client:
        for text in texts:
            response = client.post("/webhooks/rest/webhook", json={"sender": "s", "message": text})
            assert response.status_code == 200, response.text
            answers.append(response.json())
    return answers, on_loop


TEXTS = ["hello", "I'd like a pizza", "thanks"]


def test_an_offline_bot_runs_its_turns_on_the_loop(tiny_model: Path, tmp_path: Path) -> None:
    offline = build_bot(tiny_model, seed=1)
    assert offline.turns_only_compute
    answers, on_loop = _turn_threads(offline, TEXTS)
    assert on_loop == [True] * len(TEXTS)

    # With an event broker the turn writes somewhere: a worker thread runs it, same answers.
    endpoints = {"event_broker": {"type": "file", "path": str(tmp_path / "events.jsonl")}}
    publishing = build_bot(tiny_model, seed=1, endpoints=endpoints)
    assert not publishing.turns_only_compute
    threaded, on_loop = _turn_threads(publishing, TEXTS)
    assert on_loop == [False] * len(TEXTS)
    assert threaded == answers
    publishing.close()


def test_a_bot_that_may_wait_runs_its_turns_in_a_thread(tiny_model: Path) -> None:
    # An action server (not called here: the tiny assistant's flows need none to greet).
    remote = build_bot(tiny_model, endpoints={"action_endpoint": {"url": "http://127.0.0.1:9/"}})
    assert not remote.turns_only_compute

    class Recording(NullActionClient):
        """A test double: a subclass may do anything, so its turns are not run on the loop."""

    model = remote.model
    processor = Processor(
        model.dialogue_model, model.nlu, model.flow_classifier, action_client=Recording()
    )
    assert not Bot.from_processor(processor).turns_only_compute
    plain = Processor(
        model.dialogue_model, model.nlu, model.flow_classifier, action_client=NullActionClient()
    )
    assert Bot.from_processor(plain).turns_only_compute

    class OtherNlu:
        """An NLU the bot knows nothing about (it may call anything)."""

        def parse(self, text: str) -> dict[str, Any]:
            return model.nlu.parse(text)

    other = Processor(
        model.dialogue_model, OtherNlu(), model.flow_classifier, action_client=NullActionClient()
    )
    assert not Bot.from_processor(other).turns_only_compute
