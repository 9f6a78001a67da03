"""Trained archives of classic and mixed assistants served as `python -m engine serve` serves
them: the bot builds its processor with the archive's policies and router."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.archive import load_model
from engine.server import Bot, create_app
from engine.train import train_project

PROJECTS = Path(__file__).parents[1] / "rasa_projects"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    clients = {}
    for name in ("classic-forms", "coexistence"):
        out = tmp_path_factory.mktemp(name)
        model = load_model(train_project(PROJECTS / name, out, fixed_model_name=name).path)
        clients[name] = TestClient(create_app(Bot(model, seed=1)))
    return clients


def say(client: TestClient, sender: str, text: str) -> list[str]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    return [m.get("text") for m in response.json()]


def events(client: TestClient, sender: str) -> list[dict[str, Any]]:
    response = client.get(f"/conversations/{sender}/tracker")
    assert response.status_code == 200
    return list(response.json()["events"])


def test_a_served_classic_archive_runs_its_rules_and_form(served):
    client = served["classic-forms"]
    assert say(client, "a", "I want to book a table") == ["Which cuisine would you like?"]
    form = next(
        e for e in events(client, "a") if e["event"] == "action" and e["name"] == "booking_form"
    )
    assert form["policy"] == "RulePolicy"
    assert form["metadata"]["prediction"]["ranking"][0]["action"] == "booking_form"
    # A rule answers in the middle of the form, then the form asks its question again.
    assert say(client, "a", "/goodbye") == [
        "Goodbye, enjoy your meal.",
        "Which cuisine would you like?",
    ]


def test_a_served_mixed_archive_routes_sessions(served):
    client = served["coexistence"]
    assert say(client, "flows", "I want to send money") == ["Who gets the money?"]
    assert say(client, "stories", "/book_table") == ["Which cuisine?"]
    routes = {
        sender: [
            e["parse_data"]["routing"]["route"]
            for e in events(client, sender)
            if e["event"] == "user"
        ]
        for sender in ("flows", "stories")
    }
    assert routes == {"flows": ["calm"], "stories": ["nlu"]}
