"""The demo's custom actions, served by a real Rasa SDK action server, in a conversation."""

import os
import subprocess
from pathlib import Path

import pytest

from demo import HARBOR_BANK as DEMO_DIR
from engine.actions import HttpActionClient
from engine.dialogue import DialogueModel, FlowClassifier, Processor, Tracker, UserMessage
from engine.dialogue.nlu_adapter import train_nlu
from engine.formats import load_project_dir
from tests.support.processes import free_port, stop, wait_for_http

ROOT = Path(__file__).resolve().parents[3]
SDK_PYTHON = os.environ.get("RASA_SDK_PYTHON", str(ROOT / ".venv-actions" / "bin" / "python"))


@pytest.fixture(scope="module")
def action_server():
    if not Path(SDK_PYTHON).exists():
        message = f"rasa-sdk is not installed at {SDK_PYTHON}: run `make install-actions`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    server = subprocess.Popen(
        [
            SDK_PYTHON,
            "-m",
            "rasa_sdk",
            "--actions",
            "demo.harbor_bank.actions.actions",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", server, timeout=30, ok=lambda status: status == 200)
        yield f"{url}/webhook"
    finally:
        stop(server, 10, output=False)


@pytest.mark.slow
def test_the_demo_answers_a_balance_question_through_its_action_server(action_server):
    project = load_project_dir(DEMO_DIR)
    processor = Processor(
        DialogueModel.build(project),
        train_nlu(project.nlu),
        FlowClassifier.train(project.flows, project.nlu),
        action_client=HttpActionClient(action_server),
        seed=1,
    )
    tracker = Tracker("demo-user", processor.model.initial_slots())
    texts = []
    for message in ("what is my balance", "savings"):
        replies = processor.handle_message(tracker, UserMessage(message, "demo-user"))
        texts.extend(r.get("text", "") for r in replies)
    assert any("Your savings account balance is $10200.0" in t for t in texts), texts
    assert tracker.slots["account_balance"] == 10200.0
    assert not any("something went wrong" in t for t in texts), texts
