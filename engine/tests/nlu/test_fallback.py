"""The FallbackClassifier of config.yml's pipeline: ``nlu_fallback`` as Rasa predicts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.nlu import NluModel, NluTrainingData, TrainingExample
from engine.nlu.pipeline import FallbackSettings, PipelineError, PipelineSettings
from engine.nlu.selector import apply_fallback, should_fall_back
from engine.tests.nlu.banking import banking_data


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
