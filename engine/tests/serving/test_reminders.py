"""Reminders set and cancelled by a real Rasa SDK action server, fired by the served bot.

An assistant whose custom actions return ``ReminderScheduled`` and ``ReminderCancelled``, once
classic (rules) and once CALM (flows triggered by intents); the bot is served over HTTP (Starlette's TestClient, whose event loop
the reminders fire on) and the tests follow the conversation through its tracker.
"""

from __future__ import annotations

import os
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.server import create_app
from engine.server.serve import build_bot
from tests.support.processes import Drained, free_port, stop, wait_for_http

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
]

REPO = Path(__file__).resolve().parents[3]
RASA_SDK_PYTHON = os.environ.get("RASA_SDK_PYTHON", str(REPO / ".venv-actions" / "bin" / "python"))
#: How long a test waits for a reminder to fire before it fails (it is due much sooner).
PATIENCE = 30.0

ACTIONS = """
from datetime import datetime, timedelta

from rasa_sdk import Action
from rasa_sdk.events import ReminderCancelled, ReminderScheduled


def _in(seconds):
    return datetime.now() + timedelta(seconds=seconds)


class SetReminder(Action):
    def name(self):
        return "action_set_reminder"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="I will remind you.")
        return [
            ReminderScheduled(
                "EXTERNAL_remind",
                trigger_date_time=_in(0.5),
                entities=[{"entity": "topic", "value": "tea"}],
                name="tea_time",
                kill_on_user_message=False,
            )
        ]


class SetTwoReminders(Action):
    def name(self):
        return "action_set_two_reminders"

    def run(self, dispatcher, tracker, domain):
        return [
            ReminderScheduled(
                "EXTERNAL_remind",
                trigger_date_time=_in(2),
                entities={"topic": "doomed"},
                name="doomed",
                kill_on_user_message=True,
            ),
            ReminderScheduled(
                "EXTERNAL_remind",
                trigger_date_time=_in(2.5),
                entities={"topic": "survivor"},
                name="survivor",
                kill_on_user_message=False,
            ),
        ]


class SetLateReminder(Action):
    def name(self):
        return "action_set_late_reminder"

    def run(self, dispatcher, tracker, domain):
        return [ReminderScheduled("EXTERNAL_remind", trigger_date_time=_in(3600))]


class CancelReminder(Action):
    def name(self):
        return "action_cancel_reminder"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="Reminder cancelled.")
        return [ReminderCancelled(intent_name="EXTERNAL_remind")]


class ReactToReminder(Action):
    def name(self):
        return "action_react_to_reminder"

    def run(self, dispatcher, tracker, domain):
        topics = [e["value"] for e in tracker.latest_message["entities"]]
        dispatcher.utter_message(text=f"Reminder about {', '.join(topics)}!")
        return []
"""

CONFIG_HEAD = """recipe: default.v1
language: en
assistant_id: reminders
pipeline:
  - name: WhitespaceTokenizer
  - name: DIETClassifier
"""
DOMAIN = """
    version: "3.1"
    intents:
      - greet
      - set_reminder
      - set_two_reminders
      - set_late_reminder
      - cancel_reminder
      - EXTERNAL_remind
    entities:
      - topic
    responses:
      utter_greet:
        - text: Hello!
    actions:
      - action_set_reminder
      - action_set_two_reminders
      - action_set_late_reminder
      - action_cancel_reminder
      - action_react_to_reminder
"""
NLU = """
    version: "3.1"
    nlu:
      - intent: greet
        examples: |
          - hello
          - hi there
      - intent: set_reminder
        examples: |
          - remind me about tea
      - intent: set_two_reminders
        examples: |
          - set two reminders
      - intent: set_late_reminder
        examples: |
          - remind me tomorrow
      - intent: cancel_reminder
        examples: |
          - cancel my reminder
"""
#: Which action answers each intent (the reminder's intent included).
ANSWERS = {
    "greet": "utter_greet",
    "set_reminder": "action_set_reminder",
    "set_two_reminders": "action_set_two_reminders",
    "set_late_reminder": "action_set_late_reminder",
    "cancel_reminder": "action_cancel_reminder",
    "EXTERNAL_remind": "action_react_to_reminder",
}
RULES = 'version: "3.1"\nrules:\n' + "".join(
    f"  - rule: {intent}\n    steps:\n      - intent: {intent}\n      - action: {action}\n"
    for intent, action in ANSWERS.items()
)
FLOWS = "flows:\n" + "".join(
    f"  answer_{intent.lower()}:\n    description: answer {intent}\n"
    f"    nlu_trigger:\n      - intent: {intent}\n    steps:\n      - action: {action}\n"
    for intent, action in ANSWERS.items()
)
#: The same assistant twice: a classic one (rules) and a CALM one (flows with NLU triggers).
PROJECTS = {
    "classic": {
        "config.yml": CONFIG_HEAD + "policies:\n  - name: RulePolicy\n",
        "domain.yml": DOMAIN,
        "data/nlu.yml": NLU,
        "data/rules.yml": RULES,
    },
    "calm": {
        "config.yml": CONFIG_HEAD
        + "  - name: NLUCommandAdapter\npolicies:\n  - name: FlowPolicy\n",
        "domain.yml": DOMAIN,
        "data/nlu.yml": NLU,
        "data/flows.yml": FLOWS,
    },
}


@pytest.fixture(scope="module")
def action_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Rasa SDK action server running `ACTIONS`; yields its webhook URL."""
    if not Path(RASA_SDK_PYTHON).exists():
        message = f"rasa-sdk is not installed at {RASA_SDK_PYTHON}: run `make install-actions`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("reminder-actions")
    (folder / "reminder_actions.py").write_text(textwrap.dedent(ACTIONS))
    port = free_port()
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(folder)}
    process = Drained(
        [RASA_SDK_PYTHON, "-m", "rasa_sdk", "--actions", "reminder_actions", "--port", str(port)],
        cwd=folder,
        env=env,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process, 15, output=False)


@pytest.fixture(scope="module", params=sorted(PROJECTS))
def model_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.train import train_project

    root = tmp_path_factory.mktemp(f"reminders-{request.param}")
    for name, text in PROJECTS[request.param].items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return train_project(root, root / "out", fixed_model_name="model").path


@pytest.fixture
def client(model_path: Path, action_url: str) -> Iterator[TestClient]:
    bot = build_bot(model_path, endpoints={"action_endpoint": {"url": action_url}}, seed=1)
    with TestClient(create_app(bot)) as client:
        yield client


def say(client: TestClient, sender: str, text: str) -> list[str]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    return [m.get("text") for m in response.json()]


def events(client: TestClient, sender: str) -> list[dict[str, Any]]:
    response = client.get(f"/conversations/{sender}/tracker", params={"include_events": "ALL"})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def bot_texts(client: TestClient, sender: str) -> list[str]:
    return [e["text"] for e in events(client, sender) if e["event"] == "bot"]


def wait_for_bot_text(client: TestClient, sender: str, text: str) -> list[dict[str, Any]]:
    """The conversation's events once the bot said `text` (a reminder fired)."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        found = events(client, sender)
        if any(e["event"] == "bot" and e["text"] == text for e in found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"the bot never said {text!r}: {bot_texts(client, sender)}")


def pending(client: TestClient, sender: str) -> list[dict[str, Any]]:
    reminders: list[dict[str, Any]] = client.app.state.bot.reminders.pending(sender)  # type: ignore[attr-defined]
    return reminders


def test_a_reminder_fires_its_intent_in_the_conversation(client: TestClient) -> None:
    assert say(client, "ann", "/set_reminder")[0] == "I will remind you."
    (scheduled,) = [e for e in events(client, "ann") if e["event"] == "reminder"]
    assert scheduled["intent"] == "EXTERNAL_remind"
    assert scheduled["name"] == "tea_time"
    assert scheduled["kill_on_user_msg"] is False
    assert scheduled["entities"] == [{"entity": "topic", "value": "tea"}]

    found = wait_for_bot_text(client, "ann", "Reminder about tea!")
    external = [e for e in found if e["event"] == "user"][-1]
    assert external["text"] == "EXTERNAL: EXTERNAL_remind"
    assert external["parse_data"]["intent"]["name"] == "EXTERNAL_remind"
    assert external["parse_data"]["entities"] == [{"entity": "topic", "value": "tea"}]
    after = found[found.index(external) :]
    actions = [e["name"] for e in after if e["event"] == "action"]
    assert "action_react_to_reminder" in actions
    assert actions[-1] == "action_listen"
    assert pending(client, "ann") == []


def test_cancel_reminder_from_an_action_cancels_it(client: TestClient) -> None:
    say(client, "bob", "/set_late_reminder")
    (late,) = pending(client, "bob")
    # An unnamed reminder gets a name, in the published and stored event too.
    (stored,) = [e for e in events(client, "bob") if e["event"] == "reminder"]
    assert stored["name"] == late["name"] and late["name"]
    assert say(client, "bob", "/cancel_reminder")[0] == "Reminder cancelled."
    assert any(e["event"] == "cancel_reminder" for e in events(client, "bob"))
    assert pending(client, "bob") == []


def test_a_user_message_kills_reminders_that_ask_for_it(client: TestClient) -> None:
    say(client, "cy", "/set_two_reminders")
    assert [r["name"] for r in pending(client, "cy")] == ["doomed", "survivor"]
    assert say(client, "cy", "/greet")[0] == "Hello!"
    assert [r["name"] for r in pending(client, "cy")] == ["survivor"]
    # The survivor is due after the doomed one would have been: once it fired, the doomed one
    # had its chance and did not.
    wait_for_bot_text(client, "cy", "Reminder about survivor!")
    assert "Reminder about doomed!" not in bot_texts(client, "cy")


def test_a_restart_drops_the_conversations_reminders(client: TestClient) -> None:
    say(client, "dee", "/set_late_reminder")
    assert len(pending(client, "dee")) == 1
    say(client, "dee", "/restart")
    assert pending(client, "dee") == []


def test_deleting_the_conversation_drops_its_reminders(client: TestClient) -> None:
    say(client, "eve", "/set_late_reminder")
    assert client.delete("/conversations/eve/tracker").status_code == 204
    assert pending(client, "eve") == []


def test_posted_reminders_are_scheduled_only_with_side_effects(client: TestClient) -> None:
    reminder = {
        "event": "reminder",
        "intent": "EXTERNAL_remind",
        "date_time": "2999-01-01T00:00:00+00:00",
        "name": "posted",
    }
    url = "/conversations/fay/tracker/events"
    assert client.post(url, json=reminder).status_code == 200
    assert pending(client, "fay") == []
    response = client.post(url, params={"execute_side_effects": "true"}, json=reminder)
    assert response.status_code == 200, response.text
    assert [r["name"] for r in pending(client, "fay")] == ["posted"]
    bad = client.post(url, json={**reminder, "date_time": "soon"})
    assert bad.status_code == 400
    assert "'date_time' is not an ISO 8601 date and time" in bad.json()["message"]
