"""The HTTP API in process (Starlette's TestClient): every endpoint, and every kind of bad input."""

from __future__ import annotations

import asyncio
import json
import warnings

import httpx
import pytest

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its TestClient; httpx is what the project ships.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.brokers import FileEventBroker, broker_from_config
from engine.server import Bot, create_app
from engine.server.serve import build_bot
from tests.support.kafka_mock import consume_all

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

TRACKER_KEYS = {
    "sender_id",
    "slots",
    "latest_message",
    "latest_event_time",
    "followup_action",
    "paused",
    "events",
    "latest_input_channel",
    "active_loop",
    "latest_action",
    "latest_action_name",
}
ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}


@pytest.fixture(scope="module")
def demo_client(demo_model):
    with TestClient(create_app(build_bot(demo_model, seed=1))) as client:
        yield client


@pytest.fixture
def tiny_bot(tiny_model) -> Bot:
    return build_bot(tiny_model, seed=1)


@pytest.fixture
def client(tiny_bot):
    with TestClient(create_app(tiny_bot)) as client:
        yield client


def say(client: TestClient, sender: str, text: str) -> list[str]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    return [m.get("text") for m in response.json()]


def assert_error(response: httpx.Response, status: int, reason: str = "BadRequest") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == "failure"
    assert body["reason"] == reason
    assert body["code"] == status
    assert body["message"]
    return body


# -- utility endpoints ---------------------------------------------------------------------------


def test_it_says_hello(client) -> None:
    response = client.get("/")
    assert response.text.startswith("Hello from Rasa: 3.")
    assert response.headers["content-type"].startswith("text/plain")


def test_it_reports_versions(client) -> None:
    body = client.get("/version").json()
    assert set(body) >= {"version", "minimum_compatible_version"}


def test_it_reports_status(client, tiny_bot) -> None:
    body = client.get("/status").json()
    assert body["model_id"] == tiny_bot.model.model_id
    assert body["model_file"] == "tiny.tar.gz"
    assert body["num_active_training_jobs"] == 0
    assert body["fingerprint"] == tiny_bot.model.metadata["project_fingerprint"]


def test_it_serves_the_domain_as_json_and_yaml(client) -> None:
    domain = client.get("/domain").json()
    assert "utter_greet" in domain["responses"]
    assert "pizza_size" in domain["slots"]
    response = client.get("/domain", headers={"Accept": "application/yaml"})
    assert "yml" in response.headers["content-type"]
    assert "utter_greet:" in response.text


def test_the_rest_channel_is_healthy(client) -> None:
    assert client.get("/webhooks/rest/").json() == {"status": "ok"}


# -- conversations -------------------------------------------------------------------------------


def test_it_converses_through_a_demo_flow(demo_client) -> None:
    sender = "demo-balance"
    preset = demo_client.post(
        f"/conversations/{sender}/tracker/events",
        json={"event": "slot", "name": "account_balance", "value": 1520.75},
    )
    assert preset.status_code == 200
    assert preset.json()["slots"]["account_balance"] == 1520.75
    assert say(demo_client, sender, "what's my balance") == [
        "Which account would you like to check?"
    ]
    replies = say(demo_client, sender, "checking")
    assert replies[0] == "Your checking account balance is $1520.75."
    assert len(replies) == 2
    events = demo_client.get(f"/conversations/{sender}/tracker").json()["events"]
    assert {"name": "account_type", "value": "checking"}.items() <= next(
        e for e in events if e["event"] == "slot" and e["name"] == "account_type"
    ).items()


def test_it_returns_buttons_and_recipient(client) -> None:
    (message,) = client.post(
        "/webhooks/rest/webhook", json={"sender": "btn", "message": "I want a pizza"}
    ).json()
    assert message["recipient_id"] == "btn"
    assert message["buttons"][0] == {"title": "Small", "payload": "/SetSlots(pizza_size=small)"}
    assert say(client, "btn", "/SetSlots(pizza_size=small)")[0] == "One small pizza coming up."


def test_a_missing_sender_is_default(client) -> None:
    response = client.post("/webhooks/rest/webhook", json={"message": "hello"})
    assert response.json()[0]["recipient_id"] == "default"
    assert client.get("/conversations/default/tracker").json()["events"]


def test_it_streams_newline_delimited_json(client) -> None:
    response = client.post(
        "/webhooks/rest/webhook?stream=true", json={"sender": "s", "message": "hello"}
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["text"] == "Hello there!"


def test_it_parses_text(client) -> None:
    body = client.post("/model/parse", json={"text": "one large pizza please"}).json()
    assert body["text"] == "one large pizza please"
    assert body["intent"]["name"] == "order_pizza"
    assert 0 < body["intent"]["confidence"] <= 1
    assert body["intent_ranking"][0]["name"] == "order_pizza"
    (entity,) = body["entities"]
    assert {"entity", "value", "start", "end", "extractor"} <= set(entity)
    assert entity["value"] == "large"


def test_the_tracker_has_rasas_shape(client) -> None:
    say(client, "shape", "hello")
    tracker = client.get("/conversations/shape/tracker").json()
    assert TRACKER_KEYS <= set(tracker)
    assert tracker["sender_id"] == "shape"
    assert tracker["latest_message"]["text"] == "hello"
    assert tracker["latest_message"]["intent"]["name"] == "greet"
    assert tracker["latest_action_name"] == "action_listen"
    kinds = [e["event"] for e in tracker["events"]]
    assert kinds[:4] == ["action", "session_started", "action", "user"]
    assert "bot" in kinds
    assert all(e["metadata"]["assistant_id"] == "tiny_bot" for e in tracker["events"])


def test_it_filters_tracker_events(client) -> None:
    say(client, "filter", "hello")
    all_events = client.get("/conversations/filter/tracker?include_events=ALL").json()["events"]
    assert client.get("/conversations/filter/tracker?include_events=NONE").json()["events"] is None
    until = all_events[1]["timestamp"]
    early = client.get(f"/conversations/filter/tracker?include_events=ALL&until={until}").json()
    assert len(early["events"]) < len(all_events)


def test_an_unknown_conversation_is_empty_as_in_rasa(client) -> None:
    tracker = client.get("/conversations/never-seen/tracker").json()
    assert tracker["events"] == []
    assert tracker["slots"]["pizza_size"] is None


def test_it_presets_slots_and_starts_at_a_flow(client) -> None:
    response = client.post(
        "/conversations/preset/tracker/events?execute_side_effects=true",
        json=[
            {"event": "slot", "name": "customer_name", "value": "Ann"},
            {"event": "flow_started", "flow_id": "welcome_back"},
        ],
    )
    assert response.status_code == 200
    tracker = response.json()
    assert tracker["slots"]["customer_name"] == "Ann"
    bot_texts = [e["text"] for e in tracker["events"] if e["event"] == "bot"]
    assert bot_texts[0] == "Welcome back, Ann."
    assert tracker["latest_action_name"] == "action_listen"


def test_without_side_effects_events_are_only_appended(client) -> None:
    response = client.post(
        "/conversations/quiet/tracker/events",
        json={"event": "slot", "name": "customer_name", "value": "Bo"},
    )
    events = response.json()["events"]
    assert not [e for e in events if e["event"] == "bot"]
    assert events[-1]["event"] == "slot"


def test_the_studio_start_flow_event(client) -> None:
    response = client.post(
        "/conversations/studio/tracker/events?execute_side_effects=true",
        json={
            "event": "studio_start_flow",
            "flow": "welcome_back",
            "slots": {"customer_name": "Cy"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["messages"][0]["text"] == "Welcome back, Cy."
    assert body["slots"]["customer_name"] == "Cy"
    assert TRACKER_KEYS <= set(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"event": "studio_start_flow", "flow": "nope"}, "no flow 'nope'"),
        ({"event": "studio_start_flow"}, "needs a string 'flow'"),
        ({"event": "studio_start_flow", "flow": "say_hello", "slots": [1]}, "'slots' must be"),
        ({"event": "studio_start_flow", "flow": "say_hello", "slots": {"x": 1}}, "no slot x"),
    ],
)
def test_the_studio_start_flow_event_is_checked(client, body, message) -> None:
    response = client.post("/conversations/bad-start/tracker/events", json=body)
    assert message in assert_error(response, 400)["message"]


def test_it_replaces_events(client) -> None:
    say(client, "replace", "hello")
    response = client.put(
        "/conversations/replace/tracker/events",
        json=[{"event": "slot", "name": "customer_name", "value": "Di", "timestamp": 1.0}],
    )
    assert [e["event"] for e in response.json()["events"]] == ["slot"]
    assert response.json()["slots"]["customer_name"] == "Di"


def test_it_deletes_a_conversation(client) -> None:
    say(client, "gone", "hello")
    assert client.delete("/conversations/gone/tracker").status_code == 204
    assert client.get("/conversations/gone/tracker").json()["events"] == []
    assert_error(client.delete("/conversations/gone/tracker"), 404, "ConversationNotFound")


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "reason"),
    [
        ("POST", "/webhooks/rest/webhook", b"{not json", 400, "BadRequest"),
        ("POST", "/webhooks/rest/webhook", b"", 400, "BadRequest"),
        ("POST", "/webhooks/rest/webhook", b"\xff\xfe", 400, "BadRequest"),
        ("POST", "/webhooks/rest/webhook", b"[1, 2]", 400, "BadRequest"),
        ("POST", "/webhooks/rest/webhook", b'{"sender": "a"}', 400, "BadRequest"),
        ("POST", "/webhooks/rest/webhook", b'{"sender": "a", "message": 5}', 400, "BadRequest"),
        ("POST", "/webhooks/rest/webhook", b'{"sender": {}, "message": "x"}', 400, "BadRequest"),
        ("POST", "/webhooks/rest/webhook", b'{"sender": "", "message": "x"}', 400, "BadRequest"),
        (
            "POST",
            "/webhooks/rest/webhook",
            b'{"sender": "a", "message": "x", "metadata": "m"}',
            400,
            "BadRequest",
        ),
        ("POST", "/model/parse", b'{"txt": "hello"}', 400, "BadRequest"),
        ("POST", "/model/parse", b'{"text": null}', 400, "BadRequest"),
        ("POST", "/model/parse", b'"hello"', 400, "BadRequest"),
        ("POST", "/conversations/x/tracker/events", b'{"event": "nonsense"}', 400, "BadRequest"),
        ("POST", "/conversations/x/tracker/events", b'{"event": "slot"}', 400, "BadRequest"),
        ("POST", "/conversations/x/tracker/events", b"[]", 400, "BadRequest"),
        ("POST", "/conversations/x/tracker/events", b"[3]", 400, "BadRequest"),
        (
            "POST",
            "/conversations/x/tracker/events",
            b'{"event": "slot", "name": "a", "timestamp": "now"}',
            400,
            "BadRequest",
        ),
        ("PUT", "/conversations/x/tracker/events", b'{"event": "slot"}', 400, "BadRequest"),
        ("GET", "/conversations/x/tracker?include_events=SOME", b"", 400, "BadRequest"),
        ("GET", "/conversations/x/tracker?until=yesterday", b"", 400, "BadRequest"),
        ("GET", "/conversations/" + "x" * 600 + "/tracker", b"", 400, "BadRequest"),
        ("GET", "/conversations/a%01b/tracker", b"", 400, "BadRequest"),
        ("GET", "/no/such/endpoint", b"", 404, "NotFound"),
        ("GET", "/webhooks/rest/webhook", b"", 405, "MethodNotAllowed"),
        ("POST", "/model/parse?emulation_mode=luis", b'{"text": "hi"}', 400, "BadRequest"),
    ],
)
def test_bad_requests_get_a_json_reason(client, method, path, content, status, reason) -> None:
    response = client.request(
        method, path, content=content, headers={"Content-Type": "application/json"}
    )
    assert_error(response, status, reason)
    assert say(client, "still-alive", "hello")[0] == "Hello there!"


def test_a_huge_body_is_refused(client) -> None:
    huge = json.dumps({"sender": "big", "message": "x" * (2 * 1024 * 1024)})
    assert_error(client.post("/webhooks/rest/webhook", content=huge), 413, "PayloadTooLarge")
    assert say(client, "big", "hello")[0] == "Hello there!"


def test_a_huge_chunked_body_is_refused(tiny_bot) -> None:
    app = create_app(tiny_bot, max_body_bytes=1000)

    async def chunks():
        for _ in range(100):
            yield b"x" * 100

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            return await http.post("/webhooks/rest/webhook", content=chunks())

    assert_error(asyncio.run(post()), 413, "PayloadTooLarge")


def test_a_crash_is_a_500_and_the_turn_is_undone(client, tiny_bot, monkeypatch) -> None:
    say(client, "crash", "hello")
    before = client.get("/conversations/crash/tracker?include_events=ALL").json()["events"]
    original = tiny_bot.processor.handle_message

    def explode(tracker, message):
        tracker.append({"event": "slot", "name": "customer_name", "value": "half", "timestamp": 1})
        raise RuntimeError("the dialogue fell over")

    monkeypatch.setattr(tiny_bot.processor, "handle_message", explode)
    body = assert_error(
        client.post("/webhooks/rest/webhook", json={"sender": "crash", "message": "hi"}),
        500,
        "ServerError",
    )
    assert "fell over" in body["message"]
    after = client.get("/conversations/crash/tracker?include_events=ALL").json()["events"]
    assert after == before
    monkeypatch.setattr(tiny_bot.processor, "handle_message", original)
    assert say(client, "crash", "hello")[0] == "Hello there!"


def test_an_auth_token_protects_the_api_not_the_webhook(tiny_bot) -> None:
    with TestClient(create_app(tiny_bot, auth_token="s3cret")) as client:
        assert_error(client.get("/status"), 401, "NotAuthenticated")
        assert_error(client.get("/conversations/a/tracker"), 401, "NotAuthenticated")
        assert client.get("/status?token=s3cret").status_code == 200
        assert say(client, "a", "hello")[0] == "Hello there!"


# -- concurrency ---------------------------------------------------------------------------------


def test_messages_to_one_sender_are_serialised(tiny_bot) -> None:
    app = create_app(tiny_bot)

    async def chat() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            return await asyncio.gather(
                *[
                    http.post(
                        "/webhooks/rest/webhook",
                        json={"sender": f"busy-{i % 2}", "message": "hello"},
                    )
                    for i in range(20)
                ]
            )

    responses = asyncio.run(chat())
    assert all(r.status_code == 200 for r in responses)
    for sender in ("busy-0", "busy-1"):
        events = tiny_bot.tracker(sender).events
        kinds = [e["event"] for e in events]
        assert kinds.count("user") == 10
        # Every user message comes right after the bot listened: no turn interleaved another.
        for index, kind in enumerate(kinds):
            if kind == "user":
                assert events[index - 1]["name"] == "action_listen"
    assert len(app.state.api.locks) == 0


# -- events to the broker ------------------------------------------------------------------------


def _check_published(published: list[dict], sender: str, bot: Bot) -> None:
    assert {m["sender_id"] for m in published} == {sender}
    assert all(m["metadata"]["model_id"] == bot.model.model_id for m in published)
    assert all(m["metadata"]["assistant_id"] == "tiny_bot" for m in published)
    assert all(isinstance(m["timestamp"], float) for m in published)
    tracker_events = bot.tracker(sender).events
    assert [{k: v for k, v in m.items() if k != "sender_id"} for m in published] == tracker_events


def test_it_publishes_each_turns_events_to_a_file(tiny_model, tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    bot = build_bot(tiny_model, endpoints={"event_broker": {"type": "file", "path": str(path)}})
    assert isinstance(bot.broker, FileEventBroker)
    with TestClient(create_app(bot)) as client:
        say(client, "filed", "hello")
        say(client, "filed", "I want a pizza")
        client.post(
            "/conversations/filed/tracker/events",
            json={"event": "slot", "name": "customer_name", "value": "Ed"},
        )
    published = [json.loads(line) for line in path.read_text().splitlines()]
    assert [m["event"] for m in published][:4] == [
        "action",
        "session_started",
        "action",
        "user",
    ]
    _check_published(published, "filed", bot)


def test_it_publishes_each_turns_events_to_kafka(tiny_model, kafka_bootstrap, kafka_topic) -> None:
    broker = broker_from_config(
        {
            "type": "kafka",
            "url": kafka_bootstrap,
            "topic": kafka_topic,
            "partition_by_sender": True,
            "security_protocol": "PLAINTEXT",
        }
    )
    bot = build_bot(tiny_model)
    bot.broker = broker
    with TestClient(create_app(bot)) as client:
        say(client, "kafka-user", "hello")
        say(client, "kafka-user", "I want a pizza")
        say(client, "kafka-user", "large")
    # The app's shutdown flushed the producer.
    count = len(bot.tracker("kafka-user").events)
    messages = consume_all(kafka_bootstrap, kafka_topic, min_messages=count)
    assert {m.key for m in messages} == {b"kafka-user"}
    published = [json.loads(m.value) for m in messages]
    _check_published(published, "kafka-user", bot)
    assert sum(1 for m in published if m["event"] == "user") == 3


def test_the_store_drops_the_least_recently_used_conversation(tiny_model) -> None:
    bot = build_bot(tiny_model, max_conversations=2)
    for sender in ("one", "two"):
        bot.handle_message(sender, "hello")
    bot.tracker("one")  # "two" is now the least recently used
    bot.handle_message("three", "hello")
    assert bot.tracker("two") is None
    assert bot.tracker("one") is not None
    assert bot.tracker("three") is not None


def test_it_serves_a_processor_built_elsewhere(tiny_bot) -> None:
    from engine.dialogue import NullActionClient, Processor

    model = tiny_bot.model
    actions = NullActionClient()
    processor = Processor(
        model.dialogue_model,
        model.nlu,
        model.flow_classifier,
        action_client=actions,
        model_id="built-here",
        assistant_id="mine",
    )
    bot = Bot.from_processor(processor)
    assert bot.processor is processor and bot.action_client is actions
    with TestClient(create_app(bot)) as client:
        status = client.get("/status").json()
        assert (status["model_id"], status["assistant_id"]) == ("built-here", "mine")
        assert say(client, "x", "hello") == ["Hello there!", "Can I help you with anything else?"]
    with pytest.raises(ValueError, match="processor"):
        Bot(model, processor=processor, seed=1)
