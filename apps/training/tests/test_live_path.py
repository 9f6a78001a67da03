"""Which flow steps a conversation ran, read off the tracker's stack events as the engine (and
Rasa) write them: each inspector turn names its steps, and the canvas highlights the path."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from apps.training.inspector import StackReplay, steps_ran, turns_of
from workers.training import write_project

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PIZZA = {
    "config.yml": "recipe: default.v1\nlanguage: en\npipeline: []\npolicies: []\n",
    "domain.yml": (
        'version: "3.1"\nintents: [order_pizza, greet]\n'
        "slots:\n  pizza_size:\n    type: categorical\n    values: [small, large]\n"
        "    mappings: [{type: from_llm}]\n"
        "responses:\n"
        "  utter_ask_pizza_size:\n  - text: Which size?\n"
        "  utter_done:\n  - text: One {pizza_size} pizza coming up.\n"
        "  utter_hello:\n  - text: Hello!\n"
    ),
    "data/flows.yml": (
        'version: "3.1"\nflows:\n'
        "  order_pizza:\n    description: Order a pizza.\n    nlu_trigger: [order_pizza]\n"
        "    steps:\n"
        "      - collect: pizza_size\n"
        "      - id: confirm\n        action: utter_done\n"
        "  say_hello:\n    description: Say hello.\n    nlu_trigger: [greet]\n"
        "    steps:\n      - action: utter_hello\n"
    ),
    "data/nlu.yml": (
        'version: "3.1"\nnlu:\n'
        "  - intent: order_pizza\n    examples: |\n      - I want a pizza\n      - order a pizza\n"
        "      - pizza please\n      - can I get a pizza\n"
        "  - intent: greet\n    examples: |\n      - hello\n      - hi\n      - hey\n      - good morning\n"
    ),
}


@pytest.fixture(scope="module")
def tracker(tmp_path_factory) -> dict:
    from engine.server import create_app
    from engine.server.serve import build_bot

    root = tmp_path_factory.mktemp("pizza")
    write_project(PIZZA, root / "project")
    subprocess.run(
        [
            *(sys.executable, "-m", "engine", "train", str(root / "project")),
            *("--out", str(root), "--fixed-model-name", "pizza"),
        ],
        check=True,
        capture_output=True,
    )
    with TestClient(create_app(build_bot(root / "pizza.tar.gz", seed=1))) as client:
        for text in ("hello", "I want a pizza", "/SetSlots(pizza_size=large)"):
            answer = client.post("/webhooks/rest/webhook", json={"sender": "ann", "message": text})
            assert answer.status_code == 200, answer.text
        return client.get("/conversations/ann/tracker").json()


def test_each_turn_names_the_steps_it_ran(tracker):
    turns = [turn for turn in turns_of(tracker) if turn["user"]]
    assert [turn["user"]["text"] for turn in turns][:2] == ["hello", "I want a pizza"]
    hello, order, size = turns
    assert hello["steps"][0]["flow"] == "say_hello"
    assert [step["flow"] for step in order["steps"]][:1] == ["order_pizza"]
    assert order["steps"][0]["step"] == "order_pizza_0_collect_pizza_size"
    assert {"flow": "order_pizza", "step": "confirm"} in size["steps"]


def test_the_path_of_one_flow_is_its_steps_in_the_order_they_ran(tracker):
    assert steps_ran(tracker, "order_pizza") == ["order_pizza_0_collect_pizza_size", "confirm"]
    assert steps_ran(tracker, "no_such_flow") == []


def test_the_ids_are_those_of_the_canvas_cards(tracker):
    from ruamel.yaml import YAML

    from apps.flows import canvas

    flow = YAML(typ="safe").load(PIZZA["data/flows.yml"])["flows"]["order_pizza"]
    cards = canvas.build(flow["steps"], "order_pizza", {}, [], [])
    assert set(steps_ran(tracker, "order_pizza")) <= {card.id for card in canvas.iter_cards(cards)}


def test_frames_are_followed_by_their_id_and_a_patch_it_cannot_take_is_skipped():
    replay = StackReplay()
    push = '[{"op": "add", "path": "/0", "value": {"frame_id": "A", "flow_id": "f", "step_id": "START"}}]'
    move = '[{"op": "replace", "path": "/0/step_id", "value": "s1"}]'
    broken = '[{"op": "replace", "path": "/7/step_id", "value": "s9"}]'
    events = [{"event": "stack", "update": update} for update in (push, move, broken, "not json")]
    assert replay.steps_of(events) == [{"flow": "f", "step": "s1"}]
