"""The two-stage fallback and Rasa's default intents (``/restart``, ``/back``) in a classic
assistant whose rules are trained by the policy ensemble."""

from __future__ import annotations

from typing import Any

import pytest

from engine.dialogue import DialogueModel, Processor, UserMessage
from engine.formats import load_project_files
from engine.nlu import parse_payload
from engine.policies import PolicyEnsemble

FILES = {
    "config.yml": "recipe: default.v1\nlanguage: en\npipeline: []\npolicies:\n  - name: RulePolicy\n",
    "domain.yml": """version: "3.1"
intents: [greet, out_of_scope, nlu_fallback, restart, back]
responses:
  utter_greet:
    - text: Hello!
  utter_ask_rephrase:
    - text: Please rephrase.
  utter_default:
    - text: I give up.
  utter_restart:
    - text: Starting over.
""",
    "data/rules.yml": """version: "3.1"
rules:
  - rule: greet
    steps:
      - intent: greet
      - action: utter_greet
  - rule: the two-stage fallback
    steps:
      - intent: nlu_fallback
      - action: action_two_stage_fallback
      - active_loop: action_two_stage_fallback
""",
}


class FallbackNlu:
    """Payloads parse as they are; any other text is not understood (nlu_fallback), with
    greet as the runner-up intent, as a FallbackClassifier reports it."""

    def parse(self, text: str) -> dict[str, Any]:
        payload = parse_payload(text)
        if payload is not None:
            return {"text": text, **payload}
        ranking = [
            {"name": "nlu_fallback", "confidence": 0.3},
            {"name": "greet", "confidence": 0.25},
        ]
        return {"text": text, "intent": ranking[0], "entities": [], "intent_ranking": ranking}


@pytest.fixture(scope="module")
def processor() -> Processor:
    project = load_project_files(FILES)
    return Processor(
        DialogueModel.build(project), FallbackNlu(), None, policies=PolicyEnsemble.train(project)
    )


def texts(messages: list[dict[str, Any]]) -> list[Any]:
    return [m.get("text") for m in messages]


def test_the_user_affirms_the_guessed_intent(processor):
    tracker = processor.new_tracker("affirm")
    asked = processor.handle_message(tracker, UserMessage("blah", "affirm"))
    assert texts(asked) == ["Did you mean 'greet'?"]
    assert [b["payload"] for b in asked[0]["buttons"]] == ["/greet", "/out_of_scope"]
    assert tracker.active_loop_name == "action_two_stage_fallback"
    answer = processor.handle_message(tracker, UserMessage("/greet", "affirm"))
    assert texts(answer) == ["Hello!"]
    assert tracker.active_loop == {}
    kinds = [e["event"] for e in tracker.events]
    assert "rewind" in kinds
    # The clarified message is recorded again, its intent certain.
    users = [e for e in tracker.events if e["event"] == "user"]
    assert users[-1]["parse_data"]["intent"]["confidence"] == 1.0
    assert tracker.latest_message["intent"]["name"] == "greet"


def test_a_denied_guess_asks_to_rephrase(processor):
    tracker = processor.new_tracker("deny")
    processor.handle_message(tracker, UserMessage("blah", "deny"))
    assert texts(processor.handle_message(tracker, UserMessage("/out_of_scope", "deny"))) == [
        "Please rephrase."
    ]
    assert tracker.active_loop_name == "action_two_stage_fallback"
    assert texts(processor.handle_message(tracker, UserMessage("/greet", "deny"))) == ["Hello!"]
    assert tracker.active_loop == {}


def test_two_failures_give_up_with_the_default_fallback(processor):
    tracker = processor.new_tracker("give-up")
    for text in ("blah", "/out_of_scope", "more blah"):
        processor.handle_message(tracker, UserMessage(text, "give-up"))
    messages = processor.handle_message(tracker, UserMessage("/out_of_scope", "give-up"))
    # Said once: the fallback took the message back, so it is not answered again.
    assert texts(messages) == ["I give up."]
    assert tracker.events[-1]["name"] == "action_listen"
    loop_events = [e for e in tracker.events if e["event"] == "active_loop"]
    assert loop_events[-1]["name"] is None


def test_restart_and_back_run_rasas_default_actions(processor):
    tracker = processor.new_tracker("defaults")
    processor.handle_message(tracker, UserMessage("/greet", "defaults"))
    assert texts(processor.handle_message(tracker, UserMessage("/restart", "defaults"))) == [
        "Starting over."
    ]
    kinds = [e["event"] for e in tracker.events]
    assert kinds[kinds.index("restart") - 2 : kinds.index("restart") + 1] == [
        "action",
        "bot",
        "restart",
    ]
    processor.handle_message(tracker, UserMessage("/greet", "defaults"))
    processor.handle_message(tracker, UserMessage("/back", "defaults"))
    tail = [(e["event"], e.get("name")) for e in tracker.events[-4:]]
    assert tail == [
        ("action", "action_back"),
        ("rewind", None),
        ("rewind", None),
        ("action", "action_listen"),
    ]
    # Both the /back message and the greeting before it are taken back: no message is left
    # since the restart.
    assert tracker.latest_message["text"] is None
