"""A call of a sub-agent or of an MCP tool: the built-in engine does not run them, so the flow
stops with pattern_internal_error giving the reason (never a crash, never silence)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from engine.dialogue import DialogueModel, Processor
from engine.dialogue.executor import RASA_PRO_NEEDED
from engine.formats import NluTrigger, load_project_dir
from engine.server import Bot, create_app
from engine.tests.dialogue.conftest import Chat, HttpChat, ProcessorChat, ScriptedNlu, TestClient

PROJECT = Path(__file__).parents[1] / "rasa_projects" / "sub-agents"

SCRIPT = {
    "do you have tents?": ("ask_product", 0.95),
    "I want to return my boots": ("return_item", 0.95),
    "where is my order?": ("order_status", 0.95),
    "when are you open?": ("opening_hours", 0.95),
}
TRIGGERS = {
    "ask_product_expert": "ask_product",
    "return_item": "return_item",
    "check_order_status": "order_status",
    "opening_hours": "opening_hours",
}


def model() -> DialogueModel:
    project = load_project_dir(PROJECT)
    for flow in project.flows:
        if flow.id in TRIGGERS:
            flow.nlu_trigger = [NluTrigger(intent=TRIGGERS[flow.id])]
    return DialogueModel.build(project)


@pytest.fixture(params=("processor", "http"))
def chat(request: pytest.FixtureRequest) -> Iterator[Callable[[], Chat]]:
    with ExitStack() as apps:

        def make() -> Chat:
            processor = Processor(
                model(), ScriptedNlu(SCRIPT), None, seed=3, model_id="m1", assistant_id="shop"
            )
            if request.param == "processor":
                return ProcessorChat(processor)
            client = apps.enter_context(TestClient(create_app(Bot.from_processor(processor))))
            return HttpChat(processor, client)

        yield make


def pushed_reasons(events: list[dict]) -> list[tuple[str, str, str]]:
    """(pattern, error_type, reason) of every pattern frame the turn's stack events pushed."""
    found = []
    for event in events:
        if event["event"] != "stack":
            continue
        for op in json.loads(event["update"]):
            value = op.get("value")
            if op["op"] == "add" and isinstance(value, dict) and "reason" in value:
                found.append((value["flow_id"], value.get("error_type"), value["reason"]))
    return found


def test_the_model_knows_the_sub_agents():
    assert sorted(model().sub_agents) == ["product_expert", "returns_desk"]


def test_a_sub_agent_call_ends_in_internal_error_with_the_reason(chat):
    c = chat()
    assert c.say("do you have tents?") == ["utter_ask_product_question"]
    assert c.say("a two-person tent") == ["utter_internal_error_rasa"]
    assert pushed_reasons(c.turn_events) == [
        (
            "pattern_internal_error",
            RASA_PRO_NEEDED,
            "sub-agent 'product_expert' needs Rasa Pro; the built-in engine does not run "
            "sub-agents",
        )
    ]
    assert ("flow_cancelled", "ask_product_expert") in c.flow_events()
    assert c.stack == []
    assert c.slots["product_question"] == "a two-person tent"


def test_the_steps_after_an_unrunnable_call_do_not_run(chat):
    c = chat()
    c.say("I want to return my boots")
    assert c.say("10042") == ["utter_internal_error_rasa"]
    assert "utter_return_started" not in c.utters()
    (reason,) = pushed_reasons(c.turn_events)
    assert reason[2].startswith("sub-agent 'returns_desk' needs Rasa Pro")


def test_an_mcp_tool_call_ends_in_internal_error_naming_tool_and_server(chat):
    c = chat()
    c.say("where is my order?")
    assert c.say("10042") == ["utter_internal_error_rasa"]
    assert pushed_reasons(c.turn_events) == [
        (
            "pattern_internal_error",
            RASA_PRO_NEEDED,
            "MCP tool 'get_order_status' of server 'orders' needs Rasa Pro; the built-in "
            "engine does not call MCP tools",
        )
    ]
    assert "utter_order_status" not in c.utters()


def test_a_call_of_a_flow_beside_them_still_runs(chat):
    c = chat()
    assert c.say("when are you open?") == ["utter_opening_hours", "utter_ask_continue_conversation"]
    assert pushed_reasons(c.turn_events) == []


def test_the_conversation_goes_on_after_the_internal_error(chat):
    c = chat()
    c.say("do you have tents?")
    c.say("a tent")
    assert c.say("when are you open?") == ["utter_opening_hours", "utter_ask_continue_conversation"]


def test_the_trained_archive_carries_the_sub_agents(tmp_path):
    from engine.archive import load_model
    from engine.train import train_project

    trained = train_project(PROJECT, tmp_path, fixed_model_name="agents")
    loaded = load_model(trained.path).dialogue_model
    assert loaded.sub_agents == model().sub_agents
    assert loaded.sub_agents["returns_desk"].startswith("Registers the return")
