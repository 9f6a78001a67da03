"""Coexistence: the router sends sessions to CALM flows or to the classic policies.

The mixed project `rasa_projects/coexistence` (flows, stories, rules, a form and an
IntentBasedRouter) is trained for real and served over HTTP.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.dialogue import DialogueModel, FlowClassifier, Processor, Tracker, UserMessage
from engine.dialogue.model import DialogueModel as Model
from engine.dialogue.router import (
    CALM,
    NLU,
    IntentBasedRouter,
    LLMBasedRouter,
    RouterConfigError,
    build_router,
)
from engine.nlu import NluModel
from engine.policies import PolicyEnsemble
from engine.server import Bot, create_app
from engine.train import load_and_validate, nlu_training_data

PROJECT = Path(__file__).parents[1] / "rasa_projects" / "coexistence"


@pytest.fixture(scope="module")
def parts() -> tuple[Any, DialogueModel, Any, Any, PolicyEnsemble]:
    project, _ = load_and_validate(PROJECT)
    return (
        project,
        DialogueModel.build(project),
        NluModel.train(nlu_training_data(project), language="en"),
        FlowClassifier.train(project.flows, project.nlu),
        PolicyEnsemble.train(project),
    )


@pytest.fixture(scope="module")
def processor(parts) -> Processor:
    _, model, nlu, classifier, policies = parts
    return Processor(model, nlu, classifier, policies=policies, model_id="mixed")


@pytest.fixture(scope="module")
def client(processor) -> TestClient:
    return TestClient(create_app(Bot.from_processor(processor)))


def say(client: TestClient, sender: str, text: str) -> list[str]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    return [m.get("text") for m in response.json()]


def state(client: TestClient, sender: str) -> dict[str, Any]:
    response = client.get(f"/conversations/{sender}/tracker", params={"include_events": "ALL"})
    assert response.status_code == 200
    return dict(response.json())


def last_routing(data: dict[str, Any]) -> dict[str, Any]:
    users = [e for e in data["events"] if e["event"] == "user"]
    return dict(users[-1]["parse_data"]["routing"])


def test_the_mode_is_coexistence(processor):
    assert processor.dialogue_mode == "coexistence"


def test_a_session_routed_to_calm_runs_the_flow_and_stays_there(client):
    assert say(client, "calm", "I want to send money") == ["Who gets the money?"]
    data = state(client, "calm")
    assert last_routing(data) == {
        "router": "IntentBasedRouter",
        "route": "calm",
        "reason": "intent 'transfer_money' is an nlu_trigger of flow 'transfer_money'",
    }
    assert data["slots"]["route_session_to_calm"] is True
    assert data["stack"][0]["flow_id"] == "transfer_money"
    # Sticky: a greeting (an NLU intent) is still handled by CALM while the flow runs.
    assert say(client, "calm", "hello") != ["Hello from the harbour."]
    data = state(client, "calm")
    assert last_routing(data)["route"] == "calm"
    assert "route_session_to_calm is true" in last_routing(data)["reason"]


def test_the_flow_ending_with_action_reset_routing_resets_the_route(client):
    say(client, "reset", "I want to send money")
    say(client, "reset", "Joe")
    assert say(client, "reset", "50") == ["Sent 50.0 to Joe."]
    data = state(client, "reset")
    assert data["slots"]["route_session_to_calm"] is None
    assert "routing_session_ended" in [e["event"] for e in data["events"]]
    # The router decides again: a table booking goes to the policies now.
    assert say(client, "reset", "/book_table") == ["Which cuisine?"]
    assert state(client, "reset")["slots"]["route_session_to_calm"] is False


def test_a_session_routed_to_the_policies_runs_the_form_and_stays_there(client):
    assert say(client, "nlu", "/book_table") == ["Which cuisine?"]
    data = state(client, "nlu")
    assert last_routing(data)["route"] == "nlu"
    assert last_routing(data)["reason"] == "intent 'book_table' is in nlu_entry.sticky"
    assert data["slots"]["route_session_to_calm"] is False
    assert data["active_loop"]["name"] == "table_form"
    # Sticky: a flow's trigger intent does not leave the policies.
    say(client, "nlu", "/transfer_money")
    data = state(client, "nlu")
    assert [f["flow_id"] for f in data["stack"]] == []
    users = [e for e in data["events"] if e["event"] == "user"]
    assert users[-1]["parse_data"]["routing"]["route"] == "nlu"
    actions = [e for e in data["events"] if e["event"] == "action"]
    assert all(a["policy"] != "FlowPolicy" for a in actions[2:])


def test_a_non_sticky_intent_is_answered_by_the_policies_for_one_message(client):
    assert say(client, "mixed", "/greet") == ["Hello from the harbour."]
    data = state(client, "mixed")
    assert last_routing(data)["route"] == "nlu"
    assert data["slots"]["route_session_to_calm"] is None
    greet = next(e for e in data["events"] if e["event"] == "action" and e["name"] == "utter_greet")
    assert greet["policy"] == "RulePolicy"
    # The next message is routed afresh: the balance intent is a calm_entry.
    assert say(client, "mixed", "/check_balance")[0] == "Your balance is 120 dollars."
    data = state(client, "mixed")
    assert last_routing(data)["reason"] == "intent 'check_balance' is in calm_entry.sticky"
    assert data["slots"]["route_session_to_calm"] is True


def test_a_rule_with_action_reset_routing_resets_the_route(client):
    say(client, "bye", "/book_table")
    assert say(client, "bye", "/goodbye") == ["Goodbye!"]
    data = state(client, "bye")
    assert data["slots"]["route_session_to_calm"] is None
    assert say(client, "bye", "I want to send money") == ["Who gets the money?"]


def test_a_restart_resets_the_route(processor):
    tracker = processor.new_tracker("restart")
    processor.handle_message(tracker, UserMessage("/book_table", "restart"))
    assert tracker.slots["route_session_to_calm"] is False
    processor.restart(tracker)
    processor.handle_message(tracker, UserMessage("/check_balance", "restart"))
    assert tracker.slots["route_session_to_calm"] is True


def test_a_mixed_conversation_replays_to_the_same_state(processor):
    tracker = processor.new_tracker("replay")
    for text in ("/greet", "I want to send money", "Joe", "50", "/book_table", "italian"):
        processor.handle_message(tracker, UserMessage(text, "replay"))
    assert tracker.active_loop_name == "table_form"
    replayed = Tracker.from_events("replay", tracker.events, processor.model)
    assert replayed.to_dict(include_events="NONE") == tracker.to_dict(include_events="NONE")


def test_a_shared_slot_survives_the_routing_reset(parts):
    model = parts[1]
    tracker = Tracker("shared", model.initial_slots(), model.shared_slots())
    tracker.append({"event": "slot", "name": "customer_name", "value": "Ada"})
    tracker.append({"event": "slot", "name": "recipient", "value": "Joe"})
    tracker.append({"event": "routing_session_ended"})
    assert tracker.slots["customer_name"] == "Ada" and tracker.slots["recipient"] is None
    replayed = Tracker.from_events("shared", tracker.events, model)
    assert replayed.slots == tracker.slots


def test_the_llm_router_asks_the_llm_with_rasas_prompt(parts):
    model = parts[1]
    prompts: list[str] = []

    def llm(prompt: str) -> str:
        prompts.append(prompt)
        return {"send": "A", "joke": "B"}.get(prompt.split('"""')[1].split()[0], "C")

    router = LLMBasedRouter(
        {"calm_entry": {"sticky": "handles money transfers"}, "nlu_entry": {}}, model, llm
    )
    tracker = Tracker("llm", model.initial_slots())
    assert router.route(tracker, {"text": "send money"}).slot is True
    assert "Assistant A: handles money transfers" in prompts[0]
    assert "Assistant B: handles chitchat" in prompts[0]
    joke = router.route(tracker, {"text": "joke please"})
    assert (joke.route, joke.slot) == (NLU, "keep")
    other = router.route(tracker, {"text": "book a table"})
    assert (other.route, other.slot) == (NLU, False)
    assert router.parse_answer("nonsense").route == NLU


def test_the_llm_router_without_an_llm_says_how_it_routes(parts):
    model = parts[1]
    config = {"name": "LLMBasedRouter", "calm_entry": {"sticky": "money transfers"}}
    model = Model(
        domain=model.domain, user_flows=model.user_flows, router=config, policies=model.policies
    )
    router = build_router(model)
    assert isinstance(router, LLMBasedRouter)
    tracker = Tracker("no-llm", model.initial_slots())
    calm = router.route(
        tracker, {"text": "x", "intent": {"name": "transfer_money", "confidence": 1}}
    )
    assert calm.route == CALM and "no LLM is configured" in calm.reason
    nlu = router.route(tracker, {"text": "x", "intent": {"name": "book_table", "confidence": 1}})
    assert nlu.route == NLU and nlu.slot is False and "no LLM is configured" in nlu.reason


def test_an_intent_router_without_its_entries_is_refused(parts):
    model = parts[1]
    with pytest.raises(RouterConfigError, match=r"nlu_entry needs the intents 'sticky'"):
        IntentBasedRouter({"calm_entry": {"sticky": []}}, model)
    with pytest.raises(RouterConfigError, match=r"calm_entry needs 'sticky'"):
        IntentBasedRouter({"nlu_entry": {"sticky": [], "non_sticky": []}}, model)


def test_the_llm_routers_decision_and_prompt_are_in_the_user_event(parts):
    _, model, nlu, classifier, policies = parts
    config = {"name": "LLMBasedRouter", "calm_entry": {"sticky": "money transfers"}}
    mixed = Model(
        domain=model.domain, user_flows=model.user_flows, router=config, policies=model.policies
    )
    processor = Processor(mixed, nlu, classifier, policies=policies)
    assert isinstance(processor.router, LLMBasedRouter)
    processor.router.complete = lambda prompt: "C"
    tracker = processor.new_tracker("llm")
    assert [m["text"] for m in processor.handle_message(tracker, UserMessage("/greet", "llm"))] == [
        "Hello from the harbour."
    ]
    user = next(e for e in tracker.events if e["event"] == "user")
    assert user["parse_data"]["routing"] == {
        "router": "LLMBasedRouter",
        "route": "nlu",
        "reason": "the LLM chose nlu_entry.sticky (C)",
    }
    prompt = user["parse_data"]["prompts"][0]
    assert prompt["component_name"] == "LLMBasedRouter" and prompt["llm_output"] == "C"
    assert 'The user said: """/greet"""' in prompt["user_prompt"]
    assert tracker.slots["route_session_to_calm"] is False
