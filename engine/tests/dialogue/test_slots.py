"""Slot mappings, coercion, persisted and reset slots."""

import pytest

from engine.dialogue.slots import INVALID, coerce
from engine.formats import Slot

DOMAIN = """
version: "3.1"
intents: [start, affirm, deny, inform, other]
entities:
  - city:
      roles: [from, to]
  - size
  - cuisine
slots:
  origin:
    type: text
    mappings: [{type: from_entity, entity: city, role: from}]
  plain_city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  size:
    type: categorical
    values: [small, Large]
    mappings: [{type: from_entity, entity: size, not_intent: other}]
  ok:
    type: bool
    mappings:
      - type: from_intent
        intent: affirm
        value: true
      - type: from_intent
        intent: deny
        value: false
  triggered:
    type: text
    mappings:
      - type: from_trigger_intent
        intent: start
        value: by trigger
  note:
    type: text
    mappings:
      - type: from_text
        conditions:
          - active_flow: f
  cuisine:
    type: categorical
    values: [thai, pizza]
  quantity:
    type: float
    mappings: [{type: from_llm}]
  secret:
    type: text
    mappings: [{type: controlled}]
  kept:
    type: text
    mappings: [{type: from_text}]
responses:
  utter_ask_origin: [{text: "from?"}]
  utter_ask_size: [{text: "size?"}]
  utter_ask_ok: [{text: "ok?"}]
  utter_ask_note: [{text: "note?"}]
  utter_ask_cuisine: [{text: "cuisine?"}]
  utter_ask_quantity: [{text: "how many?"}]
  utter_ask_kept: [{text: "kept?"}]
  utter_done: [{text: "done"}]
"""


def flows(*steps: str, extra: str = "") -> str:
    body = "\n".join(f"          - collect: {s}" for s in steps)
    return f"""
    flows:
      f:
        description: f
        nlu_trigger: [{{intent: start}}]
        {extra}
        steps:
{body}
          - action: utter_done
"""


def test_from_entity_respects_roles(chat_factory):
    script = {
        "go": ("start", 0.9),
        "from Paris": ("inform", 0.9, [("city", "Paris", "from")]),
        "Rome": ("inform", 0.9, [("city", "Rome")]),
    }
    c = chat_factory(DOMAIN, flows("origin", "plain_city"), script)
    c.say("go")
    assert c.say("Rome") == ["utter_ask_origin"]  # a role-less entity does not fill a role mapping
    assert c.slots["plain_city"] == "Rome"
    c.say("from Paris")
    assert ("origin", "Paris") in c.slot_events()


def test_from_entity_not_intent_and_lenient_categorical(chat_factory):
    script = {
        "go": ("start", 0.9),
        "large": ("other", 0.9, [("size", "large")]),
        "LARGE please": ("inform", 0.9, [("size", "LARGE please")]),
    }
    c = chat_factory(DOMAIN, flows("size"), script)
    c.say("go")
    assert c.say("large") == ["utter_ask_rephrase", "utter_ask_size"]
    c.say("LARGE please")
    assert ("size", "Large") in c.slot_events()


def test_from_intent_fills_values(chat_factory):
    c = chat_factory(DOMAIN, flows("ok"), {"go": ("start", 0.9), "nope": ("deny", 0.9)})
    c.say("go")
    c.say("nope")
    assert ("ok", False) in c.slot_events()


def test_from_trigger_intent_fills_when_the_intent_starts_the_flow(chat_factory):
    c = chat_factory(DOMAIN, flows("ok"), {"go": ("start", 0.9)})
    c.say("go")
    assert ("triggered", "by trigger") in c.slot_events()


def test_from_text_only_fills_the_requested_slot_under_its_conditions(chat_factory):
    c = chat_factory(DOMAIN, flows("ok", "note"), {"go": ("start", 0.9), "yes": ("affirm", 0.9)})
    c.say("go")
    c.say("yes")
    assert "note" not in dict(c.slot_events())
    c.say("a free text note")
    assert ("note", "a free text note") in c.slot_events()


def test_from_llm_fills_from_a_same_named_entity_or_the_answer_text(chat_factory):
    script = {
        "go": ("start", 0.9),
        "thai food": ("inform", 0.9, [("cuisine", "thai")]),
    }
    c = chat_factory(DOMAIN, flows("cuisine", "quantity"), script)
    c.say("go")
    assert c.say("thai food") == ["utter_ask_quantity"]
    assert c.slots["cuisine"] == "thai"
    assert c.say("maybe 3") == ["utter_done", "utter_ask_continue_conversation"]
    assert ("quantity", 3.0) in c.slot_events()


def test_controlled_slots_are_set_by_payloads_only(chat_factory):
    c = chat_factory(DOMAIN, flows("secret"), {"go": ("start", 0.9)})
    c.say("go")
    assert (
        c.say("typed secret") == ["utter_ask_rephrase", "utter_ask_secret"]
        or c.slots["secret"] is None
    )
    c.say("/SetSlots(secret=abc)")
    assert ("secret", "abc") in c.slot_events()


def test_persisted_and_reset_after_flow_ends(chat_factory):
    flows_yaml = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        persisted_slots: [note]
        steps:
          - collect: note
          - collect: kept
            reset_after_flow_ends: false
          - collect: ok
          - action: utter_done
    """
    c = chat_factory(DOMAIN, flows_yaml, {"go": ("start", 0.9), "yes": ("affirm", 0.9)})
    c.say("go")
    c.say("n")
    c.say("k")
    c.say("yes")
    assert c.slots["note"] == "n" and c.slots["kept"] == "k"
    assert c.slots["ok"] is None


def test_slots_of_flows_not_on_the_stack_are_not_filled_by_nlu(chat_factory):
    other = """
    flows:
      f:
        description: f
        nlu_trigger: [{intent: start}]
        steps:
          - action: utter_done
      g:
        description: g
        steps:
          - collect: size
    """
    c = chat_factory(DOMAIN, other, {"large": ("inform", 0.9, [("size", "large")])})
    c.say("large")
    assert c.slots["size"] is None


@pytest.mark.parametrize(
    ("slot_type", "values", "raw", "expected"),
    [
        ("float", None, "$1,250.50", 1250.5),
        ("float", None, 7, 7.0),
        ("float", None, "twelve", INVALID),
        ("float", None, "1 or 2", INVALID),
        ("bool", None, "Yes", True),
        ("bool", None, "false", False),
        ("bool", None, "maybe", INVALID),
        ("categorical", ["a", "b"], "B", "b"),
        ("categorical", ["a", "b"], "the a one", "a"),
        ("categorical", ["a", "b"], "c", INVALID),
        ("text", None, 4821.0, "4821"),
        ("list", None, "x", ["x"]),
        ("any", None, {"k": 1}, {"k": 1}),
        ("text", None, None, None),
    ],
)
def test_coerce(slot_type, values, raw, expected):
    assert coerce(Slot(name="s", type=slot_type, values=values), raw) == expected
