"""Training: the CLI, the archive layout and metadata, and projects with errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile

import pytest

from engine.archive import load_model, read_metadata
from engine.train import TrainingFailed, default_model_name, train_project

from .conftest import DEMO_PROJECT, REPO, TINY_PROJECT


def test_it_lays_out_the_archive_as_rasa(demo_model) -> None:
    with tarfile.open(demo_model) as tar:
        names = set(tar.getnames())
    assert "metadata.json" in names
    assert {"components/nlu", "components/flow_classifier", "components/dialogue"} <= names
    assert "components/nlu/nlu_metadata.json" in names
    assert all(n == "metadata.json" or n.startswith("components") for n in names)


def test_it_writes_the_metadata(demo_model) -> None:
    metadata = read_metadata(demo_model)
    assert len(metadata["model_id"]) == 32
    int(metadata["model_id"], 16)
    assert metadata["assistant_id"] == "harbor_bank"
    assert metadata["language"] == "en"
    assert metadata["training_type"] == "BOTH"
    assert metadata["engine"]["name"] == "studio-engine"
    assert metadata["engine"]["version"]
    assert len(metadata["project_fingerprint"]) == 64
    assert "T" in metadata["trained_at"]
    assert "utter_ask_account_type" in metadata["domain"]["responses"]
    assert metadata["stats"]["flows"] > 5


def test_it_loads_what_it_wrote(tiny_model) -> None:
    model = load_model(tiny_model)
    assert model.assistant_id == "tiny_bot"
    assert model.nlu.parse("hello")["intent"]["name"] == "greet"
    assert model.dialogue_model.flow("order_pizza") is not None
    assert model.flow_classifier.labels


def test_it_fingerprints_the_data_not_the_run(tmp_path) -> None:
    first = train_project(TINY_PROJECT, tmp_path, fixed_model_name="a")
    second = train_project(TINY_PROJECT, tmp_path, fixed_model_name="b")
    assert first.metadata["project_fingerprint"] == second.metadata["project_fingerprint"]
    assert first.metadata["model_id"] != second.metadata["model_id"]


def test_it_names_models_like_rasa() -> None:
    name = default_model_name()
    stamp, adjective, noun = name.split("-", 2)[0], *name.split("-")[2:]
    assert len(stamp) == 8 and stamp.isdigit()
    assert adjective.isalpha() and noun.isalpha()


def test_it_reports_every_error_with_file_line_and_path(tmp_path) -> None:
    project = tmp_path / "broken"
    shutil.copytree(TINY_PROJECT, project)
    flows = project / "data" / "flows.yml"
    flows.write_text(
        flows.read_text()
        .replace("- action: utter_order_done", "- action: utter_does_not_exist")
        .replace("- collect: pizza_size", "- collect: no_such_slot")
    )
    with pytest.raises(TrainingFailed) as info:
        train_project(project, tmp_path / "out")
    lines = str(info.value).splitlines()
    assert any(
        line.startswith("data/flows.yml:") and "utter_does_not_exist" in line for line in lines
    ), lines
    assert any("no_such_slot" in line for line in lines), lines
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_it_trains_from_the_command_line(tmp_path, engine_env) -> None:
    out = tmp_path / "models"
    result = subprocess.run(
        [sys.executable, "-m", "engine", "train", str(DEMO_PROJECT), "--out", str(out)],
        cwd=REPO,
        env=engine_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Loading project")
    assert any(line.startswith("Training NLU on ") and "intents)" in line for line in lines)
    assert lines[-2].startswith("Model written to ")
    (archive,) = out.glob("*.tar.gz")
    assert str(archive) in lines[-2]
    assert read_metadata(archive)["model_id"]


@pytest.mark.slow
def test_the_command_line_exits_1_on_errors(tmp_path, engine_env) -> None:
    project = tmp_path / "broken"
    shutil.copytree(TINY_PROJECT, project)
    (project / "domain.yml").write_text(
        (project / "domain.yml").read_text().replace("type: categorical", "type: colour")
    )
    result = subprocess.run(
        [sys.executable, "-m", "engine", "train", str(project), "--out", str(tmp_path / "o")],
        cwd=REPO,
        env=engine_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    problem = next(line for line in result.stdout.splitlines() if "colour" in line)
    assert problem.startswith("domain.yml:")
    assert "(slots.pizza_size.type)" in problem
