"""The FallbackClassifier of config.yml's pipeline: ``nlu_fallback`` as Rasa predicts it."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.nlu import NluModel, NluTrainingData, TrainingExample
from engine.nlu.pipeline import FallbackSettings, PipelineError, PipelineSettings
from engine.nlu.selector import apply_fallback, should_fall_back
from engine.server import create_app
from engine.server.serve import build_bot
from engine.tests.nlu.banking import banking_data
from engine.train import train_project

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _pipeline(**fallback: object) -> list[dict[str, object]]:
    return [
        {"name": "WhitespaceTokenizer"},
        {"name": "DIETClassifier", "epochs": 100},
        {"name": "FallbackClassifier", **fallback},
    ]


@pytest.fixture(scope="module")
def plain() -> NluModel:
    return NluModel.train(banking_data())


@pytest.fixture(scope="module")
def guarded() -> NluModel:
    return NluModel.train(banking_data(), pipeline=_pipeline(threshold=0.4))


def test_a_confident_intent_is_kept(plain: NluModel, guarded: NluModel) -> None:
    text = "please move 80 from checking to savings"
    assert plain.parse(text)["intent"]["confidence"] >= 0.4
    assert guarded.parse(text) == plain.parse(text)


def test_below_the_threshold_the_intent_is_nlu_fallback(plain: NluModel, guarded: NluModel):
    text = "purple monkey dishwasher"
    unsure = plain.parse(text)
    assert unsure["intent"]["confidence"] < 0.4
    parsed = guarded.parse(text)
    assert parsed["intent"] == {"name": "nlu_fallback", "confidence": 0.4}
    # Rasa prepends the fallback to the ranking; the classified intents follow unchanged.
    assert parsed["intent_ranking"][0] == {"name": "nlu_fallback", "confidence": 0.4}
    assert parsed["intent_ranking"][1:] == unsure["intent_ranking"]
    assert parsed["entities"] == unsure["entities"]


def _twins() -> NluTrainingData:
    """Two intents with the same examples: every message is ambiguous between them."""
    texts = ["book a table", "reserve a table for two", "table for tonight please"]
    examples = [TrainingExample(t, "book") for t in texts]
    examples += [TrainingExample(t, "reserve") for t in texts]
    examples += [TrainingExample(t, "greet") for t in ("hello", "hi there", "good morning")]
    return NluTrainingData(examples=examples)


def test_two_intents_closer_than_the_ambiguity_threshold_fall_back() -> None:
    text = "a table for two tonight"
    plain = NluModel.train(_twins()).parse(text)
    first, second = plain["intent_ranking"][:2]
    assert {first["name"], second["name"]} == {"book", "reserve"}
    assert first["confidence"] - second["confidence"] < 0.1
    assert first["confidence"] >= 0.3  # not below the threshold: it is the ambiguity

    ambiguous = NluModel.train(_twins(), pipeline=_pipeline()).parse(text)
    assert ambiguous["intent"] == {"name": "nlu_fallback", "confidence": 0.3}
    assert ambiguous["intent_ranking"][1:] == plain["intent_ranking"]

    lenient = NluModel.train(_twins(), pipeline=_pipeline(ambiguity_threshold=0.0)).parse(text)
    assert lenient["intent"]["name"] in ("book", "reserve")


@pytest.mark.parametrize(
    ("confidences", "expected"),
    [
        ([0.29], True),  # below the threshold
        ([0.3], False),  # at the threshold is enough, as in Rasa (strictly below falls back)
        ([0.6, 0.55], True),  # ambiguous
        ([0.75, 0.5], False),  # far enough apart
        ([0.9, 0.05, 0.05], False),
    ],
)
def test_the_decision_is_rasas(confidences: list[float], expected: bool) -> None:
    ranking = [{"name": f"i{n}", "confidence": c} for n, c in enumerate(confidences)]
    settings = FallbackSettings(threshold=0.3, ambiguity_threshold=0.1)
    assert should_fall_back(settings, dict(ranking[0]), ranking) is expected
    parse = {"intent": dict(ranking[0]), "intent_ranking": list(ranking)}
    apply_fallback(settings, parse)
    assert (parse["intent"]["name"] == "nlu_fallback") is expected
    assert len(parse["intent_ranking"]) == len(ranking) + int(expected)


def test_payloads_are_not_judged(guarded: NluModel) -> None:
    parsed = guarded.parse("/greet")
    assert parsed["intent"] == {"name": "greet", "confidence": 1.0}


def test_the_settings_survive_persistence(guarded: NluModel, tmp_path: Path) -> None:
    guarded.persist(tmp_path)
    loaded = NluModel.load(tmp_path)
    assert loaded.settings.fallback == FallbackSettings(threshold=0.4, ambiguity_threshold=0.1)
    for text in ("purple monkey dishwasher", "please move 80 from checking to savings"):
        assert loaded.parse(text) == guarded.parse(text)


def test_a_model_without_the_settings_loads_without_fallback(plain: NluModel, tmp_path: Path):
    plain.persist(tmp_path)
    assert NluModel.load(tmp_path).settings == PipelineSettings()


@pytest.mark.parametrize(
    ("component", "path", "message"),
    [
        ({"threshold": "high"}, "pipeline[2].threshold", "must be a number"),
        ({"threshold": 1.5}, "pipeline[2].threshold", "between 0 and 1"),
        ({"ambiguity_threshold": True}, "pipeline[2].ambiguity_threshold", "must be a number"),
    ],
)
def test_bad_settings_name_their_key(component: dict, path: str, message: str) -> None:
    with pytest.raises(PipelineError, match=message) as info:
        NluModel.train(banking_data(), pipeline=_pipeline(**component))
    assert info.value.path == path


# -- a CALM assistant with a FallbackClassifier, served ---------------------------------------

CALM_FILES = {
    "config.yml": """
        recipe: default.v1
        language: en
        assistant_id: calm-fallback
        pipeline:
          - name: NLUCommandAdapter
          - name: FallbackClassifier
            threshold: 0.6
        policies:
          - name: FlowPolicy
    """,
    "domain.yml": """
        version: "3.1"
        intents:
          - check_balance
          - greet
        responses:
          utter_balance:
            - text: Your balance is 100 euros.
    """,
    "data/flows.yml": """
        flows:
          check_balance:
            description: tell the user their account balance
            nlu_trigger:
              - intent: check_balance
            steps:
              - action: utter_balance
    """,
    "data/nlu.yml": """
        version: "3.1"
        nlu:
          - intent: greet
            examples: |
              - hi
              - hello there
              - good morning
          - intent: check_balance
            examples: |
              - what is my balance
              - how much money do I have
              - show my account balance
    """,
}


@pytest.fixture(scope="module")
def calm_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("calm-fallback")
    for name, text in CALM_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    model = train_project(root, root / "out", fixed_model_name="model").path
    with TestClient(create_app(build_bot(model, seed=3))) as client:
        yield client


def _turn(client: TestClient, sender: str, text: str) -> tuple[list[str], dict]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    events = client.get(f"/conversations/{sender}/tracker").json()["events"]
    user = [e for e in events if e["event"] == "user"][-1]
    return [m.get("text") for m in response.json()], user["parse_data"]


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_a_calm_assistant_treats_nlu_fallback_as_not_understood(calm_client: TestClient):
    texts, parse = _turn(calm_client, "dee", "what is my balance")
    assert parse["intent"]["name"] == "check_balance"
    assert texts[0] == "Your balance is 100 euros."

    texts, parse = _turn(calm_client, "eve", "purple monkey dishwasher")
    assert parse["intent"] == {"name": "nlu_fallback", "confidence": 0.6}
    assert {r["name"] for r in parse["intent_ranking"][1:]} == {"check_balance", "greet"}
    (command,) = parse["commands"]
    assert command["command"] == "cannot handle"
    assert command["reason"] == "low_confidence"
    assert "Your balance is 100 euros." not in texts
