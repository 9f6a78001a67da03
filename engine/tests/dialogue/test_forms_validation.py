"""A form validated by ``validate_<form>`` on a real Rasa SDK action server.

The table-booking project's own actions (`rasa_projects/classic-forms/actions/actions.py`:
``ValidateBookingForm`` is the SDK's ``FormValidationAction``) run in a rasa-sdk server; the bot
is served over HTTP and talks to it with the Rasa action server protocol.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.actions import HttpActionClient
from engine.dialogue import DialogueModel, Processor
from engine.nlu import NluModel
from engine.policies import PolicyEnsemble
from engine.server import Bot, create_app
from engine.train import load_and_validate, nlu_training_data
from tests.support.processes import Drained, free_port, stop, wait_for_http

PROJECT = Path(__file__).parents[1] / "rasa_projects" / "classic-forms"
REPO = Path(__file__).parents[3]
RASA_SDK_PYTHON = os.environ.get("RASA_SDK_PYTHON", str(REPO / ".venv-actions" / "bin" / "python"))


@pytest.fixture(scope="module")
def sdk_server() -> Iterator[str]:
    """The project's actions in a rasa-sdk action server; yields its webhook URL."""
    if not Path(RASA_SDK_PYTHON).exists():
        message = f"rasa-sdk is not installed at {RASA_SDK_PYTHON}: run `make install-actions`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(PROJECT)}
    process = Drained(
        [RASA_SDK_PYTHON, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=PROJECT,
        env=env,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process, 15, output=False)


@pytest.fixture(scope="module")
def client(sdk_server: str) -> Iterator[TestClient]:
    project, _ = load_and_validate(PROJECT)
    processor = Processor(
        DialogueModel.build(project),
        NluModel.train(nlu_training_data(project), language="en"),
        None,
        action_client=HttpActionClient(sdk_server, timeout=20),
        policies=PolicyEnsemble.train(project),
        model_id="forms",
    )
    bot = Bot.from_processor(processor)
    try:
        yield TestClient(create_app(bot))
    finally:
        bot.close()


def say(client: TestClient, sender: str, text: str) -> list[str]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    return [m.get("text") for m in response.json()]


def tracker(client: TestClient, sender: str) -> dict[str, Any]:
    response = client.get(f"/conversations/{sender}/tracker")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_validation_action_rejects_a_value_and_the_question_is_asked_again(client):
    assert say(client, "v1", "I want to book a table") == ["Which cuisine would you like?"]
    # The validation action refuses a cuisine the restaurant does not serve.
    texts = say(client, "v1", '/inform{"cuisine": "french"}')
    assert texts == ["We don't serve that cuisine, sorry.", "Which cuisine would you like?"]
    state = tracker(client, "v1")
    assert state["slots"]["cuisine"] is None and state["slots"]["requested_slot"] == "cuisine"
    # An accepted value is normalised by the validation action (lower case).
    assert say(client, "v1", "Indian") == ["For how many people?"]
    assert tracker(client, "v1")["slots"]["cuisine"] == "indian"


def test_a_validated_form_completes_and_the_custom_action_runs(client):
    say(client, "v2", "I want to book a table")
    say(client, "v2", "Indian")
    # 20 people is more than the validation allows: asked again.
    assert say(client, "v2", '/inform{"number": "20"}') == ["For how many people?"]
    assert say(client, "v2", "we are 6") == ["Would you like to sit outside?"]
    texts = say(client, "v2", "/affirm")
    assert texts[0] == "Booking a indian table for 6.0."
    assert texts[1].startswith("Your booking reference is ")
    assert texts[-1] == "Can I help with anything else?"
    state = tracker(client, "v2")
    assert state["active_loop"] == {}
    assert state["slots"]["booking_reference"] == texts[1].split()[-1].rstrip(".")
    validations = [e for e in state["events"] if e["event"] == "slot" and e["name"] == "party_size"]
    assert [e["value"] for e in validations][-1] == 6.0
