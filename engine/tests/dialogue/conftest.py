"""Helpers: small projects written as Rasa YAML, a scripted NLU, and chat drivers.

Conversation tests take the `chat_factory` fixture and run twice: against the processor in
process, and through the HTTP API of the served processor.
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; httpx is what the project ships.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.dialogue import (
    ActionError,
    ActionResult,
    DialogueModel,
    FlowClassifier,
    Processor,
    Tracker,
    UserMessage,
)
from engine.formats import load_project_files
from engine.nlu import parse_payload
from engine.server import STUDIO_START_FLOW, Bot, create_app


class ScriptedNlu:
    """An NLU whose parses are given per text; ``/...`` payloads are parsed as the real one does.

    `script` maps a text to ``(intent, confidence)`` or ``(intent, confidence, entities)``
    where entities are ``(entity, value)`` or ``(entity, value, role)`` tuples.
    """

    def __init__(self, script: dict[str, tuple] | None = None) -> None:
        self.script = script or {}

    def parse(self, text: str) -> dict[str, Any]:
        payload = parse_payload(text)
        if payload is not None:
            return {"text": text, **payload}
        intent, confidence, entities = (*self.script.get(text, (None, 0.0)), ())[:3]
        out_entities = []
        for item in entities:
            entity, value, role = (*item, None)[:3]
            start = text.find(str(value))
            out_entities.append(
                {
                    "entity": entity,
                    "value": value,
                    "start": max(start, 0),
                    "end": max(start, 0) + len(str(value)),
                    "extractor": "ScriptedNlu",
                    **({"role": role} if role else {}),
                }
            )
        ranking = [{"name": intent, "confidence": confidence}] if intent else []
        return {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": out_entities,
            "intent_ranking": ranking,
        }


class RecordingActions:
    """An action client returning preset results per action and recording every call."""

    def __init__(self, results: dict[str, Any] | None = None) -> None:
        self.results = results or {}
        self.calls: list[tuple[str, dict, dict]] = []

    def run(self, action_name: str, tracker: dict, domain: dict) -> ActionResult:
        self.calls.append((action_name, tracker, domain))
        result = self.results.get(action_name)
        if isinstance(result, Exception):
            raise result
        if callable(result):
            return result(tracker)
        return result or ActionResult()


def project_from(domain: str, flows: str, config: str | None = None, nlu: str | None = None):
    files = {"domain.yml": textwrap.dedent(domain), "data/flows.yml": textwrap.dedent(flows)}
    if config is not None:
        files["config.yml"] = textwrap.dedent(config)
    if nlu is not None:
        files["data/nlu.yml"] = textwrap.dedent(nlu)
    return load_project_files(files)


class Chat:
    """Drives one conversation and keeps the events and bot messages of the last call.

    Two transports share this interface: `ProcessorChat` calls a `Processor` in process,
    `HttpChat` talks to the same processor served by the HTTP API.
    """

    sender_id = "tester"

    def __init__(self, model: DialogueModel) -> None:
        self.model = model
        self.turn_events: list[dict[str, Any]] = []
        #: The bot messages of the last call, as the REST channel returns them (None after
        #: `apply_events` over HTTP: the API answers the tracker, see `turn_events`).
        self.messages: list[dict[str, Any]] | None = []

    # -- driving the conversation (per transport) ---------------------------------------------

    def say(self, text: str, channel: str = "rest", **kwargs: Any) -> list[str]:
        """Send `text` (`kwargs`: ``metadata``, ``message_id``); returns the responses uttered."""
        raise NotImplementedError

    def preset(self, **slots: Any) -> None:
        """Set slots through slot events (a session is started first if needed)."""
        raise NotImplementedError

    def apply_events(self, events: list[dict[str, Any]]) -> None:
        """Append events, then run the bot until it listens."""
        raise NotImplementedError

    def start_flow(self, flow_id: str, slots: dict[str, Any] | None = None) -> list[dict]:
        """Start `flow_id` with `slots` preset; returns the bot messages."""
        raise NotImplementedError

    def restart(self) -> None:
        raise NotImplementedError

    def replace_events(self, events: list[dict[str, Any]]) -> None:
        """Replace the conversation with one made of `events`."""
        raise NotImplementedError

    @property
    def events(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    @property
    def slots(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def stack(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    # -- the last call ------------------------------------------------------------------------

    def utters(self) -> list[str]:
        return [e["metadata"].get("utter_action") for e in self.turn_events if e["event"] == "bot"]

    def texts(self) -> list[str | None]:
        return [e.get("text") for e in self.turn_events if e["event"] == "bot"]

    def kinds(self) -> list[str]:
        return [e["event"] for e in self.turn_events]

    def actions(self) -> list[str]:
        return [e["name"] for e in self.turn_events if e["event"] == "action"]

    def slot_events(self) -> list[tuple[str, Any]]:
        return [(e["name"], e["value"]) for e in self.turn_events if e["event"] == "slot"]

    def flow_events(self) -> list[tuple[str, str]]:
        return [
            (e["event"], e["flow_id"]) for e in self.turn_events if e["event"].startswith("flow_")
        ]

    def stack_flows(self) -> list[str]:
        return [f["flow_id"] for f in self.stack]


class ProcessorChat(Chat):
    """Calls the processor in process on a `Tracker` it holds."""

    def __init__(self, processor: Processor) -> None:
        super().__init__(processor.model)
        self.processor = processor
        self.tracker = Tracker(self.sender_id, processor.model.initial_slots())

    def _run(self, work: Any) -> Any:
        start = len(self.tracker.events)
        result = work()
        self.turn_events = self.tracker.events[start:]
        return result

    def say(self, text: str, channel: str = "rest", **kwargs: Any) -> list[str]:
        message = UserMessage(text, self.sender_id, input_channel=channel, **kwargs)
        self.messages = self._run(lambda: self.processor.handle_message(self.tracker, message))
        return self.utters()

    def preset(self, **slots: Any) -> None:
        self.processor.apply_events(
            self.tracker,
            [{"event": "slot", "name": k, "value": v} for k, v in slots.items()],
            run=False,
        )

    def apply_events(self, events: list[dict[str, Any]]) -> None:
        self.messages = self._run(lambda: self.processor.apply_events(self.tracker, events))

    def start_flow(self, flow_id: str, slots: dict[str, Any] | None = None) -> list[dict]:
        self.messages = self._run(lambda: self.processor.start_flow(self.tracker, flow_id, slots))
        return self.messages

    def restart(self) -> None:
        self._run(lambda: self.processor.restart(self.tracker))

    def replace_events(self, events: list[dict[str, Any]]) -> None:
        self.tracker = Tracker.from_events(self.sender_id, events, self.model)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.tracker.events

    @property
    def slots(self) -> dict[str, Any]:
        return self.tracker.slots

    @property
    def stack(self) -> list[dict[str, Any]]:
        return self.tracker.stack


class HttpChat(Chat):
    """Talks to the processor served by the HTTP API, as a client of a Rasa server would.

    Messages go to the REST channel; the events of a call are the ones it added to the
    tracker (``GET /conversations/{id}/tracker?include_events=ALL``); slots and the dialogue
    stack are the tracker's.
    """

    def __init__(self, processor: Processor, client: TestClient) -> None:
        super().__init__(processor.model)
        self.client = client
        self.url = f"/conversations/{self.sender_id}/tracker"
        self.state = self._ok(self.client.get(self.url, params={"include_events": "ALL"}))

    @staticmethod
    def _ok(response: Any) -> Any:
        assert response.status_code == 200, f"HTTP {response.status_code}: {response.text}"
        return response.json()

    def _refresh(self, state: dict[str, Any] | None = None) -> None:
        """Take the tracker after a call; the events it added are the turn's."""
        before = len(self.state["events"])
        self.state = state or self._ok(self.client.get(self.url, params={"include_events": "ALL"}))
        self.turn_events = self.state["events"][before:]

    def _post_events(self, body: Any, **params: str) -> dict[str, Any]:
        return self._ok(
            self.client.post(
                self.url + "/events", params={"include_events": "ALL", **params}, json=body
            )
        )

    def say(self, text: str, channel: str = "rest", **kwargs: Any) -> list[str]:
        body: dict[str, Any] = {"sender": self.sender_id, "message": text}
        if channel != "rest":
            body["input_channel"] = channel
        body.update({k: v for k, v in kwargs.items() if v is not None})
        self.messages = self._ok(self.client.post("/webhooks/rest/webhook", json=body))
        self._refresh()
        return self.utters()

    def preset(self, **slots: Any) -> None:
        events = [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
        self.state = self._post_events(events)

    def apply_events(self, events: list[dict[str, Any]]) -> None:
        self._refresh(self._post_events(events, execute_side_effects="true"))
        self.messages = None

    def start_flow(self, flow_id: str, slots: dict[str, Any] | None = None) -> list[dict]:
        body = {"event": STUDIO_START_FLOW, "flow": flow_id, "slots": slots or {}}
        state = self._post_events(body)
        self.messages = state.pop("messages")
        self._refresh(state)
        return self.messages

    def restart(self) -> None:
        self._refresh(
            self._post_events([{"event": "action", "name": "action_restart"}, {"event": "restart"}])
        )

    def replace_events(self, events: list[dict[str, Any]]) -> None:
        self.state = self._ok(
            self.client.put(self.url + "/events", params={"include_events": "ALL"}, json=events)
        )

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.state["events"]

    @property
    def slots(self) -> dict[str, Any]:
        return self.state["slots"]

    @property
    def stack(self) -> list[dict[str, Any]]:
        return self.state["stack"]


TRANSPORTS = ("processor", "http")


def build_processor(
    domain: str,
    flows: str,
    script: dict[str, tuple] | None = None,
    *,
    config: str | None = None,
    nlu: str | None = None,
    actions: RecordingActions | None = None,
    classifier: bool = False,
    seed: int = 7,
) -> Processor:
    project = project_from(domain, flows, config, nlu)
    model = DialogueModel.build(project)
    flow_classifier = FlowClassifier.train(project.flows, project.nlu) if classifier else None
    return Processor(
        model,
        ScriptedNlu(script),
        flow_classifier,
        action_client=actions,
        seed=seed,
        model_id="model-1",
        assistant_id="assistant-1",
    )


def make_chat(*args: Any, **kwargs: Any) -> ProcessorChat:
    """A chat with the processor in process (`build_processor`'s arguments)."""
    return ProcessorChat(build_processor(*args, **kwargs))


@pytest.fixture(params=TRANSPORTS)
def chat_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Chat]]:
    """Builds chats (`build_processor`'s arguments), once in process and once over HTTP.

    Over HTTP the same processor (model, scripted NLU, action client, seed) is served by the
    server's app and driven with Starlette's `TestClient`; the apps are shut down after the test.
    """
    if request.param == "processor":
        yield make_chat
        return
    with ExitStack() as apps:

        def make_http_chat(*args: Any, **kwargs: Any) -> HttpChat:
            processor = build_processor(*args, **kwargs)
            client = apps.enter_context(TestClient(create_app(Bot.from_processor(processor))))
            return HttpChat(processor, client)

        yield make_http_chat


__all__ = [
    "TRANSPORTS",
    "ActionError",
    "ActionResult",
    "Chat",
    "HttpChat",
    "ProcessorChat",
    "RecordingActions",
    "ScriptedNlu",
    "build_processor",
    "make_chat",
]
