"""ResponseSelector: retrieval intents in Rasa's ``response_selector`` shape, on the retrieval
project of ``rasa_projects/``."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.formats import Project, load_project_dir
from engine.formats.responses import responses_to_yaml
from engine.nlu import NluModel
from engine.nlu.pipeline import PipelineError
from engine.train import TrainingFailed, nlu_training_data, train_project

PROJECT = Path(__file__).resolve().parents[1] / "rasa_projects" / "retrieval"


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project_dir(PROJECT)


def _train(project: Project, pipeline: list[dict[str, Any]] | None = None, **kwargs: Any):
    lines: list[str] = []
    assert project.config is not None
    model = NluModel.train(
        nlu_training_data(project),
        pipeline=project.config.pipeline if pipeline is None else pipeline,
        responses=kwargs.pop("responses", responses_to_yaml(project.domain.responses)),
        progress=lines.append,
    )
    return model, lines


@pytest.fixture(scope="module")
def model(project: Project) -> NluModel:
    return _train(project)[0]


def test_the_intent_is_the_retrieval_intent(model: NluModel) -> None:
    assert model.intents == ["chitchat", "faq", "greet"]
    assert model.retrieval_intents == ["chitchat", "faq"]
    parsed = model.parse("what is your name?")
    assert parsed["intent"]["name"] == "chitchat"
    assert {r["name"] for r in parsed["intent_ranking"]} == {"chitchat", "faq", "greet"}
    # As Rasa's processor adds it: the response key the intent's selector chose.
    assert parsed["intent"]["full_retrieval_intent_name"] == "chitchat/ask_name"


def test_each_selector_reports_rasas_shape(model: NluModel, project: Project) -> None:
    selected = model.parse("what is your name?")["response_selector"]
    assert set(selected) == {"all_retrieval_intents", "chitchat", "faq"}
    assert selected["all_retrieval_intents"] == ["chitchat", "faq"]
    chitchat = selected["chitchat"]
    assert set(chitchat) == {"response", "ranking"}
    response = chitchat["response"]
    assert response == {
        "responses": [{"text": "I am the help desk bot."}],
        "confidence": response["confidence"],
        "intent_response_key": "chitchat/ask_name",
        "utter_action": "utter_chitchat/ask_name",
        "template_name": "utter_chitchat/ask_name",
    }
    ranking = chitchat["ranking"]
    assert [set(item) for item in ranking] == [{"confidence", "intent_response_key"}] * 2
    assert [item["intent_response_key"] for item in ranking] == [
        "chitchat/ask_name",
        "chitchat/ask_weather",
    ]
    assert ranking[0]["confidence"] == response["confidence"] > ranking[1]["confidence"]
    assert math.isclose(sum(item["confidence"] for item in ranking), 1.0, rel_tol=1e-5)
    # The faq selector answers too (it always does, as Rasa's): only with faq keys.
    assert {i["intent_response_key"] for i in selected["faq"]["ranking"]} == {
        "faq/returns",
        "faq/shipping_cost",
    }


@pytest.mark.parametrize(
    ("text", "intent", "key"),
    [
        ("who am I talking to?", "chitchat", "chitchat/ask_name"),
        ("is it raining outside", "chitchat", "chitchat/ask_weather"),
        ("how much is shipping to Berlin", "faq", "faq/shipping_cost"),
        ("can I return my order please", "faq", "faq/returns"),
    ],
)
def test_it_selects_the_response_key(model: NluModel, text: str, intent: str, key: str) -> None:
    parsed = model.parse(text)
    assert parsed["intent"]["name"] == intent
    assert parsed["response_selector"][intent]["response"]["intent_response_key"] == key
    assert parsed["intent"]["full_retrieval_intent_name"] == key


def test_all_variations_of_the_chosen_response_are_reported(model: NluModel) -> None:
    response = model.parse("is it raining")["response_selector"]["chitchat"]["response"]
    assert response["responses"] == [
        {"text": "I cannot look outside, sorry."},
        {"text": "No idea, I live in a server room."},
    ]


def test_a_selector_without_retrieval_intent_is_the_default(project: Project) -> None:
    model, _ = _train(project, [{"name": "ResponseSelector", "ranking_length": 3}])
    parsed = model.parse("do you charge for delivery")
    assert set(parsed["response_selector"]) == {"all_retrieval_intents", "default"}
    default = parsed["response_selector"]["default"]
    assert default["response"]["intent_response_key"] == "faq/shipping_cost"
    assert len(default["ranking"]) == 3  # out of four keys of both retrieval intents
    # The intent's own key is missing, so the full name is unknown (as in Rasa).
    assert parsed["intent"]["name"] == "faq"
    assert parsed["intent"]["full_retrieval_intent_name"] is None


def test_without_a_selector_there_is_no_response_selector(project: Project) -> None:
    model, _ = _train(project, [{"name": "DIETClassifier"}])
    parsed = model.parse("what is your name?")
    assert "response_selector" not in parsed
    assert parsed["intent"] == {"name": "chitchat", "confidence": parsed["intent"]["confidence"]}


def test_a_selector_with_nothing_to_learn_is_left_out(project: Project) -> None:
    pipeline = [
        {"name": "ResponseSelector", "retrieval_intent": "chitchat"},
        {"name": "ResponseSelector", "retrieval_intent": "smalltalk"},
    ]
    model, lines = _train(project, pipeline)
    assert set(model.parse("hi")["response_selector"]) == {"all_retrieval_intents", "chitchat"}
    assert any("ResponseSelector for smalltalk has no examples" in line for line in lines)


def test_a_response_key_without_response_answers_with_its_name(project: Project) -> None:
    responses = responses_to_yaml(project.domain.responses)
    del responses["utter_faq/returns"]
    model, lines = _train(project, responses=responses)
    response = model.parse("how do returns work")["response_selector"]["faq"]["response"]
    assert response["intent_response_key"] == "faq/returns"
    assert response["responses"] == [{"text": "faq/returns"}]
    assert any("'faq/returns' has no response 'utter_faq/returns'" in line for line in lines)


def test_selectors_survive_persistence(model: NluModel, tmp_path: Path) -> None:
    model.persist(tmp_path)
    loaded = NluModel.load(tmp_path)
    for text in ("what is your name?", "do you charge for delivery", "hello"):
        assert loaded.parse(text) == model.parse(text)


def test_a_payload_has_no_response_selector(model: NluModel) -> None:
    assert "response_selector" not in model.parse("/greet")


@pytest.mark.parametrize(
    ("component", "path"),
    [
        ({"retrieval_intent": 3}, "pipeline[0].retrieval_intent"),
        ({"retrieval_intent": "chitchat/ask_name"}, "pipeline[0].retrieval_intent"),
        ({"ranking_length": -1}, "pipeline[0].ranking_length"),
    ],
)
def test_bad_selector_settings_name_their_key(project: Project, component: dict, path: str):
    with pytest.raises(PipelineError) as info:
        _train(project, [{"name": "ResponseSelector", **component}])
    assert info.value.path == path


def test_training_refuses_bad_settings_naming_file_line_and_key(tmp_path: Path) -> None:
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target)
    config = (target / "config.yml").read_text()
    bad = config.replace(
        "    retrieval_intent: faq\n", "    retrieval_intent: faq\n    ranking_length: many\n"
    )
    assert bad != config
    (target / "config.yml").write_text(bad)
    with pytest.raises(TrainingFailed) as info:
        train_project(target, tmp_path / "out")
    (problem,) = info.value.problems
    assert problem.file == "config.yml"
    assert problem.path == "pipeline[5].ranking_length"
    assert problem.line == bad.splitlines().index("    ranking_length: many") + 1
    assert "whole number" in problem.message
