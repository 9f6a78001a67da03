from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.nlu import NluModel, NluTrainingData, TextClassifier, TrainingExample, fingerprint
from engine.nlu.crf import bilou_tags
from engine.nlu.data import EntitySpan
from engine.nlu.model import resolve_overlaps
from engine.nlu.tokenizer import tokenize
from engine.tests.nlu.banking import banking_data, example


@pytest.fixture(scope="module")
def model() -> NluModel:
    return NluModel.train(banking_data())


def _entities(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (e["entity"], result["text"][e["start"] : e["end"]], e["value"], e.get("role"))
        for e in result["entities"]
    ]


# -- intents ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("how much money is left in my account", "check_balance"),
        ("please move 80 from checking to savings", "transfer_money"),
        ("my card got stolen", "block_card"),
        ("what's the exchange rate from rupee to euro", "exchange_rate"),
        ("is the New York branch open today", "branch_hours"),
        ("hey there", "greet"),
        ("thanks so much!", "thank_you"),
        ("I want to pay my electricity bill", "pay_bill"),
        ("open a business account", "open_account"),
        ("see you soon, bye", "goodbye"),
        ("nope, don't", "deny"),
        ("yes, that's correct", "affirm"),
        ("I think someone hacked my account", "report_fraud"),
    ],
)
def test_intent_of_held_out_paraphrases(model: NluModel, text: str, intent: str) -> None:
    result = model.parse(text)
    assert result["intent"]["name"] == intent, result["intent_ranking"][:3]
    assert result["intent"] == result["intent_ranking"][0]


def test_parse_shape_and_ranking(model: NluModel) -> None:
    result = model.parse("what is my balance on savings?")
    assert set(result) == {"text", "intent", "entities", "intent_ranking", "text_tokens"}
    assert result["text"] == "what is my balance on savings?"
    ranking = result["intent_ranking"]
    assert len(ranking) == 10  # 14 intents, ranking limited to 10
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert 0.0 < sum(confidences) <= 1.0 + 1e-6
    full = model.classifier.rank(result["text"], top_k=0)
    assert len(full) == len(model.intents) == 14
    assert math.isclose(sum(r["confidence"] for r in full), 1.0, rel_tol=1e-6)
    assert result["text_tokens"] == [[0, 4], [5, 7], [8, 10], [11, 18], [19, 21], [22, 29]]
    json.dumps(result)  # plain JSON types only


# -- entities --------------------------------------------------------------------------------


def test_crf_entities_with_offsets_and_roles(model: NluModel) -> None:
    result = model.parse("please move 80 from checking to savings")
    assert _entities(result) == [
        ("amount", "80", "80", None),
        ("account", "checking", "checking", "source"),
        ("account", "savings", "savings", "target"),
    ]
    for entity in result["entities"]:
        assert entity["extractor"] == "CRFEntityExtractor"
        assert 0.0 < entity["confidence_entity"] <= 1.0
    account = result["entities"][1]
    assert account["start"] == 20 and account["end"] == 28
    assert account["confidence_role"] == account["confidence_entity"]


def test_crf_person_in_unseen_sentence(model: NluModel) -> None:
    result = model.parse("send 40 to Maria")
    assert ("person", "Maria", "Maria", None) in _entities(result)
    assert ("amount", "40", "40", None) in _entities(result)


def test_regex_entity(model: NluModel) -> None:
    result = model.parse("my iban is IT60X0542811101000000123456 thanks")
    iban = [e for e in result["entities"] if e["entity"] == "iban"]
    assert iban == [
        {
            "entity": "iban",
            "start": 11,
            "end": 38,
            "value": "IT60X0542811101000000123456",
            "extractor": "RegexEntityExtractor",
        }
    ]


def test_regex_respects_word_boundaries_and_entity_names(model: NluModel) -> None:
    # glued to other letters: no match
    result = model.parse("codeXDE89370400440532013000")
    assert not [e for e in result["entities"] if e["entity"] == "iban"]
    # "zipcode" is a regex but not an entity: never extracted
    result = model.parse("the branch at 10115 Berlin")
    assert all(e["entity"] != "zipcode" for e in result["entities"])


def test_lookup_entities_case_insensitive_longest_match(model: NluModel) -> None:
    result = model.parse("is the RIO DE JANEIRO branch open, or the one in tokyo?")
    cities = [(e["value"], e["extractor"]) for e in result["entities"] if e["entity"] == "city"]
    assert cities == [("RIO DE JANEIRO", "RegexEntityExtractor"), ("tokyo", "RegexEntityExtractor")]
    # whole words only
    result = model.parse("what about yenta or berliner")
    assert not [e for e in result["entities"] if e["entity"] in {"currency", "city"}]


def test_lookup_prefers_longest_value() -> None:
    data = NluTrainingData(
        examples=[
            TrainingExample("hi", "greet"),
            TrainingExample("I live in york", "inform"),
        ],
        synonyms={},
        regexes={},
        lookups={"city": ["York", "New York", "New York City"]},
    )
    model = NluModel.train(data)
    result = model.parse("flights from new york city to york")
    assert [(e["value"], e["start"]) for e in result["entities"]] == [
        ("new york city", 13),
        ("york", 30),
    ]


def test_synonyms_from_section_and_annotations(model: NluModel) -> None:
    result = model.parse("transfer 300 from my saving account to my checking")
    accounts = [e for e in result["entities"] if e["entity"] == "account"]
    assert accounts[0]["value"] == "savings"
    assert accounts[0]["processors"] == ["EntitySynonymMapper"]
    # annotated "[visa](card=credit card)" makes "visa" a synonym of "credit card"
    result = model.parse("please block my visa card")
    cards = [e for e in result["entities"] if e["entity"] == "card"]
    assert [(c["value"], c.get("processors")) for c in cards] == [
        ("credit card", ["EntitySynonymMapper"])
    ]
    # synonym mapping applies to lookup entities too
    assert model.synonyms.synonyms["current account"] == "checking"


def test_synonym_mapping_for_pattern_entity() -> None:
    data = NluTrainingData(
        examples=[TrainingExample("hi", "greet"), TrainingExample("bye", "goodbye")],
        synonyms={"USD": ["us dollar", "dollar"]},
        regexes={},
        lookups={"currency": ["us dollar", "euro"]},
    )
    result = NluModel.train(data).parse("how many euro for a US Dollar")
    assert [(e["value"], e.get("processors")) for e in result["entities"]] == [
        ("euro", None),
        ("USD", ["EntitySynonymMapper"]),
    ]


def test_bilou_tags_with_role_and_group() -> None:
    ex = example("move [50](amount@1) from [my savings](account#source@1) now", "transfer_money")
    tags = bilou_tags(ex, tokenize(ex.text))
    assert tags == [
        "O",
        'U-["amount", null, "1"]',
        "O",
        'B-["account", "source", "1"]',
        'L-["account", "source", "1"]',
        "O",
    ]


def test_crf_predicts_groups() -> None:
    rows = [
        "move [50](amount@1) from [savings](account#source@1) and [20](amount@2) from "
        "[checking](account#source@2)",
        "take [10](amount@1) from [checking](account#source@1) and [5](amount@2) from "
        "[savings](account#source@2)",
        "use [30](amount@1) from [business](account#source@1) and [40](amount@2) from "
        "[savings](account#source@2)",
        "move [70](amount@1) from [savings](account#source@1) and [25](amount@2) from "
        "[business](account#source@2)",
    ]
    data = NluTrainingData(
        examples=[example(r, "transfer") for r in rows] + [TrainingExample("hello", "greet")],
        synonyms={},
        regexes={},
        lookups={},
    )
    result = NluModel.train(data).parse("move 60 from checking and 15 from business")
    got = [(e["value"], e["entity"], e.get("role"), e.get("group")) for e in result["entities"]]
    assert got == [
        ("60", "amount", None, "1"),
        ("checking", "account", "source", "1"),
        ("15", "amount", None, "2"),
        ("business", "account", "source", "2"),
    ]


def test_resolve_overlaps() -> None:
    crf_same = {
        "entity": "city",
        "start": 0,
        "end": 3,
        "value": "New",
        "role": "destination",
        "confidence_entity": 0.9,
        "extractor": "CRFEntityExtractor",
    }
    lookup = {
        "entity": "city",
        "start": 0,
        "end": 8,
        "value": "New York",
        "extractor": "RegexEntityExtractor",
    }
    merged = resolve_overlaps([crf_same], [lookup])
    assert merged == [{**lookup, "role": "destination"}]

    number = {"entity": "amount", "start": 10, "end": 18, "value": "12345678", "extractor": "R"}
    confident = {"entity": "account_number", "start": 10, "end": 18, "confidence_entity": 0.95}
    unsure = {**confident, "confidence_entity": 0.4}
    assert resolve_overlaps([confident], [number]) == [confident]
    assert resolve_overlaps([unsure], [number]) == [number]
    apart = {"entity": "person", "start": 20, "end": 24, "confidence_entity": 0.3}
    assert resolve_overlaps([apart], [number]) == [number, apart]


# -- payloads --------------------------------------------------------------------------------


def test_intent_payload_bypasses_classifier(model: NluModel) -> None:
    result = model.parse('/transfer_money{"amount": "50", "account": "savings"}')
    assert result["intent"] == {"name": "transfer_money", "confidence": 1.0}
    assert result["intent_ranking"] == [{"name": "transfer_money", "confidence": 1.0}]
    assert [(e["entity"], e["value"]) for e in result["entities"]] == [
        ("amount", "50"),
        ("account", "savings"),
    ]
    assert "commands" not in result


def test_set_slots_payload(model: NluModel) -> None:
    result = model.parse("/SetSlots(account=savings, amount=50)")
    assert result["intent"] == {"name": None, "confidence": 0.0}
    assert result["entities"] == []
    assert result["commands"] == [
        {
            "command": "set slot",
            "name": "account",
            "value": "savings",
            "extractor": "CommandPayloadReader",
        },
        {
            "command": "set slot",
            "name": "amount",
            "value": "50",
            "extractor": "CommandPayloadReader",
        },
    ]


# -- edge cases ------------------------------------------------------------------------------


def test_no_examples() -> None:
    model = NluModel.train(NluTrainingData(examples=[], synonyms={}, regexes={}, lookups={}))
    result = model.parse("hello there")
    assert result["intent"] == {"name": None, "confidence": 0.0}
    assert result["intent_ranking"] == []
    assert result["entities"] == []
    assert not model.crf.trained


def test_no_examples_still_extracts_lookups() -> None:
    data = NluTrainingData(examples=[], synonyms={}, regexes={}, lookups={"city": ["Paris"]})
    result = NluModel.train(data).parse("to paris")
    assert [e["value"] for e in result["entities"]] == ["paris"]


def test_one_intent() -> None:
    data = NluTrainingData(
        examples=[TrainingExample("hi", "greet"), TrainingExample("hello there", "greet")],
        synonyms={},
        regexes={},
        lookups={},
    )
    model = NluModel.train(data)
    result = model.parse("what is the weather")
    assert result["intent"] == {"name": "greet", "confidence": 1.0}
    assert result["intent_ranking"] == [{"name": "greet", "confidence": 1.0}]


def test_text_classifier_edge_cases() -> None:
    assert TextClassifier().fit([], []).rank("x") == []
    assert TextClassifier().fit([], []).predict("x") == {"name": None, "confidence": 0.0}
    clf = TextClassifier().fit(["!!", "??"], ["a", "b"])  # no word features at all
    assert {r["name"] for r in clf.rank("!!")} == {"a", "b"}
    with pytest.raises(ValueError):
        TextClassifier().fit(["a"], [])


def test_text_classifier_for_flows() -> None:
    texts = [
        "transfer money: send money to another account",
        "move funds between accounts",
        "check balance: see how much money is in an account",
        "show my balance",
        "block card: freeze a lost or stolen card",
        "my card is lost",
    ]
    labels = ["transfer", "transfer", "balance", "balance", "block", "block"]
    clf = TextClassifier().fit(texts, labels)
    assert clf.predict("I need to send money")["name"] == "transfer"
    assert clf.predict("someone stole my card")["name"] == "block"
    ranking = clf.rank("balance please")
    assert ranking[0]["name"] == "balance"
    assert len(ranking) == 3


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t",
        "?!",
        "🙂🙃👍🏽",
        "\u0301\u0301",
        "\x00\x01",
        "Ω≈ç√∫˜µ≤≥÷",
        "ﷺ 𝕳𝖊𝖑𝖑𝖔 ｆｕｌｌｗｉｄｔｈ",
        "I want to send 50 € to Zoë 🙂",
        "/",
        "/{}",
        "/@",
        '/intent{"a": 1',
        "/SetSlots(",
        "\ud800",  # lone surrogate
    ],
)
def test_odd_input_does_not_raise(model: NluModel, text: str) -> None:
    result = model.parse(text)
    assert result["text"] == text
    json.dumps(result)


def test_empty_text(model: NluModel) -> None:
    assert model.parse("") == {
        "text": "",
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": [],
        "text_tokens": [],
    }


def test_very_long_text(model: NluModel) -> None:
    text = "please move 80 from checking to savings and " * 2000
    result = model.parse(text)
    assert result["intent"]["name"] == "transfer_money"
    assert len(result["text_tokens"]) == 16000
    for entity in result["entities"]:
        assert 0 <= entity["start"] < entity["end"] <= len(text)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_parse_never_fails(model: NluModel, text: str) -> None:
    result = model.parse(text)
    for entity in result["entities"]:
        if "extractor" in entity:
            assert text[entity["start"] : entity["end"]]


# -- persistence and determinism -------------------------------------------------------------

PROBES = [
    "please move 80 from checking to savings",
    "my iban is IT60X0542811101000000123456",
    "is the Tokyo branch open",
    "transfer 300 from my saving account",
    "/SetSlots(a=b)",
    '/greet{"name": "x"}',
    "",
    "blah blah",
]


def test_persist_and_load(model: NluModel, tmp_path: Path) -> None:
    model.persist(tmp_path / "nlu")
    loaded = NluModel.load(tmp_path / "nlu")
    for text in PROBES:
        assert loaded.parse(text) == model.parse(text)
    assert loaded.fingerprint == model.fingerprint
    assert loaded.intents == model.intents
    meta = json.loads((tmp_path / "nlu" / "nlu_metadata.json").read_text())
    assert meta["fingerprint"] == fingerprint(banking_data(), language="en", version="1")
    assert meta["language"] == "en"


def test_persist_and_load_without_crf(tmp_path: Path) -> None:
    data = NluTrainingData(
        examples=[TrainingExample("hi", "greet"), TrainingExample("bye", "goodbye")],
        synonyms={},
        regexes={},
        lookups={"city": ["Paris"]},
    )
    model = NluModel.train(data)
    model.persist(tmp_path)
    loaded = NluModel.load(tmp_path)
    assert loaded.parse("bye from Paris") == model.parse("bye from Paris")


def test_load_rejects_other_format(model: NluModel, tmp_path: Path) -> None:
    model.persist(tmp_path)
    meta_path = tmp_path / "nlu_metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 999
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="retrain"):
        NluModel.load(tmp_path)


def test_training_is_deterministic(model: NluModel) -> None:
    again = NluModel.train(banking_data())
    for text in PROBES:
        assert again.parse(text) == model.parse(text)
    assert again.crf.model_bytes == model.crf.model_bytes


def test_fingerprint_changes_with_data() -> None:
    data = banking_data()
    before = fingerprint(data)
    assert fingerprint(banking_data()) == before
    data.examples.append(TrainingExample("new one", "greet"))
    assert fingerprint(data) != before
    assert fingerprint(banking_data(), language="de") != before


def test_progress_messages() -> None:
    messages: list[str] = []
    NluModel.train(banking_data(), progress=messages.append)
    assert messages[0] == "Training intent classifier on 116 examples (14 intents)"
    assert any(m.startswith("Training entity extractor (CRF)") for m in messages)
    assert messages[-1].startswith("NLU model trained in")


def test_invalid_regex_is_skipped_and_reported() -> None:
    messages: list[str] = []
    data = NluTrainingData(
        examples=[
            TrainingExample("my code is 123", "inform", (EntitySpan(11, 14, "code", "123"),)),
            TrainingExample("hello", "greet"),
        ],
        synonyms={},
        regexes={"code": ["[unclosed", r"\d{3}"]},
        lookups={},
    )
    model = NluModel.train(data, progress=messages.append)
    assert any("invalid regex" in m for m in messages)
    codes = [e for e in model.parse("the code is 456")["entities"] if e["entity"] == "code"]
    assert [c["value"] for c in codes] == ["456"]
