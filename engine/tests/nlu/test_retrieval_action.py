"""Retrieval actions (``utter_faq``) answering with the response selector's choice, through a
trained model served over HTTP (a flow runs the action on the retrieval intent's trigger)."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.dialogue import Tracker
from engine.dialogue.retrieval import is_retrieval_action, selected_response
from engine.server import create_app
from engine.server.serve import build_bot

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

FILES = {
    "config.yml": """
        recipe: default.v1
        language: en
        assistant_id: retrieval-flows
        pipeline:
          - name: NLUCommandAdapter
          - name: ResponseSelector
            retrieval_intent: faq
        policies:
          - name: FlowPolicy
    """,
    "domain.yml": """
        version: "3.1"
        intents:
          - faq
          - greet
        slots:
          member:
            type: bool
            mappings:
              - type: from_intent
                intent: greet
                value: true
        actions:
          - utter_faq
        responses:
          utter_greet:
            - text: Hello!
          utter_faq/returns:
            - text: Members return anything within 90 days.
              condition:
                - type: slot
                  name: member
                  value: true
            - text: You can return items within 30 days.
          utter_faq/shipping_cost:
            - text: Shipping is free from 50 euros.
            - text: "Shipping is free from 50 euros. [voice]"
              channel: voice
    """,
    "data/flows.yml": """
        flows:
          answer_faq:
            description: answer a frequently asked question
            nlu_trigger:
              - intent: faq
            steps:
              - action: utter_faq
    """,
    "data/nlu.yml": """
        version: "3.1"
        nlu:
          - intent: greet
            examples: |
              - hi
              - hello there
              - good morning
          - intent: faq/returns
            examples: |
              - can I return my order
              - how do returns work
              - I want to send this back
          - intent: faq/shipping_cost
            examples: |
              - how much is shipping
              - do you charge for delivery
              - what does postage cost
    """,
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from engine.train import train_project

    root = tmp_path_factory.mktemp("retrieval-flows")
    for name, text in FILES.items():
        path = Path(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    model = train_project(root, root / "out", fixed_model_name="model").path
    with TestClient(create_app(build_bot(model, seed=3))) as client:
        yield client


def _say(client: TestClient, sender: str, text: str, **body: Any) -> list[dict[str, Any]]:
    response = client.post(
        "/webhooks/rest/webhook", json={"sender": sender, "message": text, **body}
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


def _events(client: TestClient, sender: str) -> list[dict[str, Any]]:
    response = client.get(f"/conversations/{sender}/tracker", params={"include_events": "ALL"})
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def test_it_answers_with_the_selected_response(client: TestClient) -> None:
    messages = _say(client, "ana", "how much is shipping?")
    # The answer, then pattern_completed's question.
    assert messages[0]["text"] == "Shipping is free from 50 euros."
    events = _events(client, "ana")
    user = next(e for e in events if e["event"] == "user")
    assert user["parse_data"]["intent"]["name"] == "faq"
    selected = user["parse_data"]["response_selector"]["faq"]["response"]
    assert selected["utter_action"] == "utter_faq/shipping_cost"
    actions = [e["name"] for e in events if e["event"] == "action"]
    assert "utter_faq" in actions
    bot = next(e for e in events if e["event"] == "bot")
    assert bot["text"] == "Shipping is free from 50 euros."
    assert bot["metadata"]["utter_action"] == "utter_faq/shipping_cost"
    # Listed under the domain's actions, it is still the retrieval action, not a custom one.
    assert not any(e["event"] == "action_execution_rejected" for e in events)


def _answer(client: TestClient, sender: str, text: str, **body: Any) -> str:
    return str(_say(client, sender, text, **body)[0]["text"])


def test_the_variation_follows_conditions_and_channel(client: TestClient) -> None:
    assert _answer(client, "bo", "can I return my order?") == (
        "You can return items within 30 days."
    )
    _say(client, "bo", "hello there")  # sets member through its from_intent mapping
    assert client.get("/conversations/bo/tracker").json()["slots"]["member"] is True
    assert _answer(client, "bo", "how do returns work") == (
        "Members return anything within 90 days."
    )
    voice = _answer(client, "cy", "do you charge for delivery", input_channel="voice")
    assert voice == "Shipping is free from 50 euros. [voice]"


def _tracker_with(parse: dict[str, Any]) -> Tracker:
    tracker = Tracker("t")
    tracker.append({"event": "user", "text": parse.get("text"), "parse_data": parse})
    return tracker


def test_the_selection_is_read_from_the_latest_message() -> None:
    response = {"utter_action": "utter_chitchat/ask_name", "intent_response_key": "chitchat/x"}
    own = _tracker_with({"response_selector": {"chitchat": {"response": response}}})
    assert selected_response(own, "utter_chitchat") == "utter_chitchat/ask_name"
    default = _tracker_with({"response_selector": {"default": {"response": response}}})
    assert selected_response(default, "utter_chitchat") == "utter_chitchat/ask_name"
    other = _tracker_with({"response_selector": {"faq": {"response": response}}})
    assert selected_response(other, "utter_chitchat") is None
    assert selected_response(_tracker_with({}), "utter_chitchat") is None


def test_only_utter_actions_of_retrieval_intents_are_retrieval_actions(client: TestClient):
    model = client.app.state.bot.model.dialogue_model  # type: ignore[attr-defined]
    empty = Tracker("t")
    assert is_retrieval_action(model, empty, "utter_faq")
    assert not is_retrieval_action(model, empty, "utter_greet")
    assert not is_retrieval_action(model, empty, "utter_faq/returns")
    assert not is_retrieval_action(model, empty, "action_faq")
    listed = _tracker_with({"response_selector": {"all_retrieval_intents": ["chitchat"]}})
    assert is_retrieval_action(model, listed, "utter_chitchat")


# -- a classic assistant: rules answer the retrieval intents ----------------------------------

RETRIEVAL_PROJECT = Path(__file__).resolve().parents[1] / "rasa_projects" / "retrieval"


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from engine.train import train_project

    out = tmp_path_factory.mktemp("retrieval-classic")
    model = train_project(RETRIEVAL_PROJECT, out, fixed_model_name="model").path
    with TestClient(create_app(build_bot(model, seed=3))) as client:
        yield client


@pytest.mark.parametrize(
    ("text", "action", "response", "answer"),
    [
        (
            "what is your name?",
            "utter_chitchat",
            "utter_chitchat/ask_name",
            "I am the help desk bot.",
        ),
        (
            "how do returns work",
            "utter_faq",
            "utter_faq/returns",
            "You can return items within 30 days.",
        ),
        (
            "do you charge for delivery",
            "utter_faq",
            "utter_faq/shipping_cost",
            "Shipping is free from 50 euros.",
        ),
    ],
)
def test_a_rule_answers_a_retrieval_intent_with_the_selected_response(
    classic: TestClient, text: str, action: str, response: str, answer: str
) -> None:
    sender = "classic-" + response.replace("/", "-")
    messages = _say(classic, sender, text)
    assert [m["text"] for m in messages] == [answer]
    events = _events(classic, sender)
    user = [e for e in events if e["event"] == "user"][-1]
    assert user["parse_data"]["intent"]["full_retrieval_intent_name"] == response[len("utter_") :]
    turn = events[events.index(user) :]
    (executed,) = [e for e in turn if e["event"] == "action" and e["name"] == action]
    assert executed["policy"] == "RulePolicy"
    (bot,) = [e for e in turn if e["event"] == "bot"]
    assert bot["metadata"]["utter_action"] == response
    assert [e["name"] for e in turn if e["event"] == "action"][-1] == "action_listen"
