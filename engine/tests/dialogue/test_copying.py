"""`json_copy` is a deep copy and `json_plain` a JSON round trip, for the values the dialogue
copies on every turn (slot values, parse data, stack frames, commands)."""

from __future__ import annotations

import copy
import datetime
import json

import pytest

from engine.dialogue.copying import json_copy, json_plain

PARSE = {
    "text": "send 50 to Joe",
    "intent": {"name": "transfer", "confidence": 0.93},
    "entities": [{"entity": "amount", "value": 50, "start": 5, "end": 7, "extractor": None}],
    "intent_ranking": [{"name": f"intent_{i}", "confidence": 0.1 / (i + 1)} for i in range(10)],
    "nested": [[1, [2, [3]]], {"deep": {"deeper": [True, False, None]}}],
}


def _containers(value: object) -> list[int]:
    if isinstance(value, dict):
        return [id(value), *(i for v in value.values() for i in _containers(v))]
    if isinstance(value, list):
        return [id(value), *(i for v in value for i in _containers(v))]
    return []


def test_json_copy_is_equal_and_shares_no_container() -> None:
    copied = json_copy(PARSE)
    assert copied == PARSE == copy.deepcopy(PARSE)
    assert not set(_containers(copied)) & set(_containers(PARSE))
    copied["entities"][0]["value"] = 60
    copied["nested"][1]["deep"]["deeper"].append(1)
    assert PARSE["entities"][0]["value"] == 50 and len(PARSE["nested"][1]["deep"]["deeper"]) == 3


def test_json_copy_copies_other_values_as_deepcopy_does() -> None:
    value = {"when": datetime.date(2024, 1, 2), "pair": ([1], 2), "set": {1, 2}}
    copied = json_copy(value)
    assert copied == value
    assert copied["pair"][0] is not value["pair"][0]
    assert copied["set"] is not value["set"]


@pytest.mark.parametrize(
    "value",
    [
        PARSE,
        [{"command": "set slot", "name": "amount", "value": 50.0, "generator": "x"}],
        {"date": datetime.datetime(2024, 1, 2, 3, 4), "tuple": (1, (2, "three"))},
        {3: "a", 2.5: "b", None: "c", True: "d", "nan": float("inf")},
        {"big": 10**40, "text": "é \n \x00"},
    ],
)
def test_json_plain_is_a_json_round_trip(value: object) -> None:
    assert json_plain(value) == json.loads(json.dumps(value, default=str))


def test_json_plain_refuses_keys_json_refuses() -> None:
    with pytest.raises(TypeError):
        json_plain({(1, 2): "tuple key"})
    with pytest.raises(TypeError):
        json.dumps({(1, 2): "tuple key"})


def test_conversations_share_the_initial_slots_but_not_their_values() -> None:
    from engine.dialogue.model import DialogueModel
    from engine.dialogue.tracker import Tracker
    from engine.tests.dialogue.conftest import project_from

    domain = """
version: "3.1"
slots:
  items:
    type: list
    initial_value: [a]
  name:
    type: text
responses:
  utter_ask_name:
    - text: "Name?"
"""
    flows = """
flows:
  ask:
    description: ask a name
    steps:
      - collect: name
"""
    model = DialogueModel.build(project_from(domain, flows))
    first = Tracker.from_events("one", [], model)
    second = Tracker.from_events("two", [], model)
    assert first.initial_slots is second.initial_slots
    with pytest.raises(TypeError):
        first.initial_slots["items"] = []  # type: ignore[index]
    first.slots["items"].append("b")
    first.append({"event": "slot", "name": "name", "value": "Joe", "timestamp": 1.0})
    assert second.slots["items"] == ["a"] and second.slots["name"] is None
    first.append({"event": "reset_slots", "timestamp": 2.0})
    assert first.slots["items"] == ["a"] and model.initial_slots()["items"] == ["a"]
