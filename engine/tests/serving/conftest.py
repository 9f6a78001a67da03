"""Fixtures for the serving tests: trained models, a running action server, Kafka."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo import HARBOR_BANK
from tests.support.fixtures import kafka_bootstrap, kafka_topic  # noqa: F401
from tests.support.processes import Drained, free_port, stop, wait_for_http

HERE = Path(__file__).parent
REPO = HERE.parents[2]
TINY_PROJECT = HERE / "tiny_project"
DEMO_PROJECT = HARBOR_BANK
#: The virtualenv with rasa-sdk that `make` builds (its pins conflict with the project's venv).
RASA_SDK_PYTHON = os.environ.get("RASA_SDK_PYTHON", str(REPO / ".venv-actions" / "bin" / "python"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.train import train_project

    out = tmp_path_factory.mktemp("tiny-model")
    return train_project(TINY_PROJECT, out, fixed_model_name="tiny").path


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.train import train_project

    out = tmp_path_factory.mktemp("demo-model")
    return train_project(DEMO_PROJECT, out, fixed_model_name="demo").path


ACTIONS_MODULE = """
from rasa_sdk import Action
from rasa_sdk.events import SlotSet
from rasa_sdk.interfaces import ActionExecutionRejection


class NoteOrder(Action):
    def name(self):
        return "action_note_order"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text=f"Action server here, {tracker.sender_id}.")
        return [SlotSet("order_note", "extra cheese")]


class RejectMe(Action):
    def name(self):
        return "action_reject_me"

    def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection("action_reject_me", "I refuse to run")
"""


@pytest.fixture(scope="session")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Rasa SDK action server on a free loopback port; yields its webhook URL."""
    if not Path(RASA_SDK_PYTHON).exists():
        message = f"rasa-sdk is not installed at {RASA_SDK_PYTHON}: run `make install-actions`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("actions")
    (folder / "tiny_actions.py").write_text(textwrap.dedent(ACTIONS_MODULE))
    port = free_port()
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(folder)}
    process = Drained(
        [RASA_SDK_PYTHON, "-m", "rasa_sdk", "--actions", "tiny_actions", "--port", str(port)],
        cwd=folder,
        env=env,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process, 15, output=False)


@pytest.fixture
def engine_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def guarded_bot_process(
    model: Path, env: dict[str, str], token: str
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m engine serve MODEL --auth-webhooks` with its token in the environment (never
    on its command line): the process and its URL, stopped on the way out."""
    port = free_port()
    process = Drained(
        [sys.executable, "-m", "engine", "serve", str(model), "--port", str(port),
         "--auth-webhooks"],
        cwd=REPO,
        env={**env, "ENGINE_AUTH_TOKEN": token},
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/version", process)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        stop(process)
