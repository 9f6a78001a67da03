"""``POST /conversations/{id}/trigger_intent``: Rasa's external events over HTTP."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.brokers import FileEventBroker
from engine.server import create_app
from engine.server.serve import build_bot

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def client(tiny_model) -> Iterator[TestClient]:
    with TestClient(create_app(build_bot(tiny_model, seed=1))) as client:
        yield client


def trigger(client: TestClient, sender: str, body: Any, **params: str) -> httpx.Response:
    return client.post(f"/conversations/{sender}/trigger_intent", json=body, params=params)


def user_events(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in state["events"] if e["event"] == "user"]


def test_it_triggers_the_intent_and_answers_tracker_and_messages(client: TestClient) -> None:
    response = trigger(client, "ann", {"name": "greet"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"tracker", "messages"}
    assert body["messages"][0] == {"recipient_id": "ann", "text": "Hello there!"}
    (user,) = user_events(body["tracker"])
    assert user["text"] == "EXTERNAL: greet"
    assert user["parse_data"]["intent"] == {"name": "greet", "confidence": 1.0}
    assert user["metadata"]["is_external"] is True
    # The tracker in the answer is the stored one.
    stored = client.get("/conversations/ann/tracker").json()
    assert stored["events"] == body["tracker"]["events"]


def test_entities_given_as_an_object_are_rasas_short_hand(client: TestClient) -> None:
    body = trigger(client, "bob", {"name": "order_pizza", "entities": {"size": "large"}}).json()
    (user,) = user_events(body["tracker"])
    assert user["parse_data"]["entities"] == [{"entity": "size", "value": "large"}]
    # The entity filled the flow's slot (which the flow resets when it ends).
    assert body["messages"][0]["text"] == "One large pizza coming up."


def test_entities_given_as_a_list_are_kept(client: TestClient) -> None:
    entities = [{"entity": "size", "value": "small", "start": 0, "end": 5}]
    body = trigger(client, "cy", {"name": "order_pizza", "entities": entities}).json()
    (user,) = user_events(body["tracker"])
    assert user["parse_data"]["entities"] == entities
    assert body["messages"][0]["text"] == "One small pizza coming up."


def test_it_continues_a_conversation_on_its_latest_channel(client: TestClient) -> None:
    said = client.post(
        "/webhooks/rest/webhook",
        json={"sender": "dee", "message": "hello", "input_channel": "voice"},
    )
    assert said.status_code == 200
    body = trigger(client, "dee", {"name": "greet"}, output_channel="latest").json()
    external = user_events(body["tracker"])[-1]
    assert external["text"] == "EXTERNAL: greet"
    assert external["input_channel"] == "voice"


def test_include_events_selects_the_trackers_events(client: TestClient) -> None:
    body = trigger(client, "eve", {"name": "greet"}, include_events="NONE").json()
    assert body["tracker"]["events"] is None


def test_an_unknown_intent_is_a_404(client: TestClient) -> None:
    response = trigger(client, "fay", {"name": "order_spaceship"})
    assert response.status_code == 404
    assert response.json()["reason"] == "NotFound"
    assert "order_spaceship" in response.json()["message"]
    # Nothing happened in the conversation.
    assert client.get("/conversations/fay/tracker").json()["events"] == []


def test_rasas_default_intents_can_be_triggered(client: TestClient) -> None:
    assert trigger(client, "gus", {"name": "nlu_fallback"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "name", "Name of the intent not provided"),
        ({"name": ""}, "name", "'name' must be the name of an intent"),
        ({"name": 42}, "name", "'name' must be the name of an intent, not a number"),
        ({"name": "greet", "entities": "large"}, "entities", "'entities' must be a list"),
        ({"name": "greet", "entities": [{"value": "x"}]}, "entities", "'entities' must be"),
        ({"name": "greet", "entities": [1, 2]}, "entities", "'entities' must be"),
    ],
)
def test_bad_bodies_are_a_400_naming_the_field(
    client: TestClient, body: dict, field: str, message: str
) -> None:
    response = trigger(client, "hal", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["reason"] == "BadRequest"
    assert message in error["message"]
    assert error["details"] == {"parameter": field, "in": "body"}


def test_a_body_that_is_not_an_object_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/conversations/ivy/trigger_intent", content=b"[1]", headers={"content-type": "json"}
    )
    assert response.status_code == 400


def test_it_needs_the_auth_token_as_the_other_conversation_endpoints(tiny_model) -> None:
    with TestClient(create_app(build_bot(tiny_model, seed=1), auth_token="s3cret")) as client:
        refused = trigger(client, "jo", {"name": "greet"})
        assert refused.status_code == 401
        assert refused.json()["reason"] == "NotAuthenticated"
        assert trigger(client, "jo", {"name": "greet"}, token="s3cret").status_code == 200


def test_the_turn_is_published(tiny_model, tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    bot = build_bot(tiny_model, endpoints={"event_broker": {"type": "file", "path": str(path)}})
    assert isinstance(bot.broker, FileEventBroker)
    with TestClient(create_app(bot)) as client:
        assert trigger(client, "kim", {"name": "greet"}).status_code == 200
    published = [json.loads(line) for line in path.read_text().splitlines()]
    assert any(m["event"] == "user" and m["text"] == "EXTERNAL: greet" for m in published)
    assert {m["sender_id"] for m in published} == {"kim"}
