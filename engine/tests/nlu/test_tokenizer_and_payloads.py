from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.nlu.commands import parse_payload
from engine.nlu.tokenizer import tokenize, word_tokens

# -- tokenizer -------------------------------------------------------------------------------


def _texts(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


def test_tokenizer_keeps_offsets_and_splits_punctuation() -> None:
    text = "Send $50.00 to John's savings, please!"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == [
        "Send",
        "$",
        "50.00",
        "to",
        "John's",
        "savings",
        ",",
        "please",
        "!",
    ]
    for tok in tokens:
        assert text[tok.start : tok.end] == tok.text
    assert tokens[0].lower == "send"
    assert [t.text for t in word_tokens(text)] == [
        "Send",
        "50.00",
        "to",
        "John's",
        "savings",
        "please",
    ]


def test_tokenizer_unicode() -> None:
    assert _texts("café naïve e-mail 1,000 a,b") == [
        "café",
        "naïve",
        "e-mail",
        "1,000",
        "a",
        ",",
        "b",
    ]
    assert _texts("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # combining vowel signs stay inside
    assert _texts("我想转账") == ["我", "想", "转", "账"]
    assert _texts("john@example.com.") == ["john", "@", "example.com", "."]
    assert _texts("") == []
    assert _texts(" \n\t ") == []


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_tokenizer_never_fails_and_tokens_are_ordered(text: str) -> None:
    tokens = tokenize(text)
    previous_end = 0
    for tok in tokens:
        assert tok.start >= previous_end
        assert tok.end > tok.start
        assert text[tok.start : tok.end] == tok.text
        assert not tok.text.isspace()
        previous_end = tok.end


# -- payloads --------------------------------------------------------------------------------


def test_plain_text_is_not_a_payload() -> None:
    assert parse_payload("hello") is None
    assert parse_payload("") is None
    assert parse_payload("/ hello there") is None
    assert parse_payload("/") is None


def test_intent_payload() -> None:
    parsed = parse_payload("/greet")
    assert parsed == {
        "intent": {"name": "greet", "confidence": 1.0},
        "entities": [],
        "intent_ranking": [{"name": "greet", "confidence": 1.0}],
    }


def test_intent_payload_with_confidence_and_entities() -> None:
    text = '/transfer_money@0.8{"amount": "50", "account": ["savings", "checking"]}'
    parsed = parse_payload(text)
    assert parsed is not None
    assert parsed["intent"] == {"name": "transfer_money", "confidence": 0.8}
    start = text.index("{")
    assert parsed["entities"] == [
        {"entity": "amount", "start": start, "end": len(text), "value": "50"},
        {"entity": "account", "start": start, "end": len(text), "value": "savings"},
        {"entity": "account", "start": start, "end": len(text), "value": "checking"},
    ]


def test_intent_payload_with_invalid_json_keeps_intent() -> None:
    parsed = parse_payload('/inform{"amount": }')
    assert parsed is not None
    assert parsed["intent"]["name"] == "inform"
    assert parsed["entities"] == []
    parsed = parse_payload('/inform["not", "a dict"]')
    assert parsed is not None and parsed["intent"]["name"] == 'inform["not",'


def test_set_slots_payload() -> None:
    parsed = parse_payload('/SetSlots(amount=50, account = savings, note="a, b", empty=)')
    assert parsed is not None
    assert parsed["intent"] == {"name": None, "confidence": 0.0}
    assert parsed["intent_ranking"] == []
    assert parsed["commands"] == [
        {
            "command": "set slot",
            "name": "amount",
            "value": "50",
            "extractor": "CommandPayloadReader",
        },
        {
            "command": "set slot",
            "name": "account",
            "value": "savings",
            "extractor": "CommandPayloadReader",
        },
        {
            "command": "set slot",
            "name": "note",
            "value": "a, b",
            "extractor": "CommandPayloadReader",
        },
        {"command": "set slot", "name": "empty", "value": "", "extractor": "CommandPayloadReader"},
    ]
    assert parse_payload("/SetSlots()") is not None
    assert parse_payload("/SetSlots()")["commands"] == []  # type: ignore[index]
    json.dumps(parsed)


def test_start_flow_payload() -> None:
    parsed = parse_payload("/StartFlow(transfer_money)")
    assert parsed is not None
    assert parsed["commands"] == [{"command": "start flow", "flow": "transfer_money"}]
