"""Helpers: small projects written as Rasa YAML, a scripted NLU, and a chat driver."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

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
    """Drives a processor on one conversation and keeps the events of the last turn."""

    def __init__(self, processor: Processor, sender: str = "tester") -> None:
        self.processor = processor
        self.tracker = Tracker(sender, processor.model.initial_slots())
        self.turn_events: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []

    def preset(self, **slots: Any) -> None:
        """Set slots through slot events (a session is started first if needed)."""
        self.processor.apply_events(
            self.tracker,
            [{"event": "slot", "name": k, "value": v} for k, v in slots.items()],
            run=False,
        )

    def say(self, text: str, channel: str = "rest", **kwargs: Any) -> list[str]:
        """Send `text`; returns the response names uttered in this turn."""
        start = len(self.tracker.events)
        self.messages = self.processor.handle_message(
            self.tracker, UserMessage(text, self.tracker.sender_id, input_channel=channel, **kwargs)
        )
        self.turn_events = self.tracker.events[start:]
        return self.utters()

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

    @property
    def slots(self) -> dict[str, Any]:
        return self.tracker.slots

    def stack_flows(self) -> list[str]:
        return [f["flow_id"] for f in self.tracker.stack]


def make_chat(
    domain: str,
    flows: str,
    script: dict[str, tuple] | None = None,
    *,
    config: str | None = None,
    nlu: str | None = None,
    actions: RecordingActions | None = None,
    classifier: bool = False,
    seed: int = 7,
) -> Chat:
    project = project_from(domain, flows, config, nlu)
    model = DialogueModel.build(project)
    flow_classifier = FlowClassifier.train(project.flows, project.nlu) if classifier else None
    processor = Processor(
        model,
        ScriptedNlu(script),
        flow_classifier,
        action_client=actions,
        seed=seed,
        model_id="model-1",
        assistant_id="assistant-1",
    )
    return Chat(processor)


@pytest.fixture
def chat_factory():
    return make_chat


__all__ = ["ActionError", "ActionResult", "Chat", "RecordingActions", "ScriptedNlu", "make_chat"]
