"""Training from where the project's files are (``--config``, ``--domain``, ``--data``,
``--endpoints``), and the refusal of a project without a config.yml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.archive import load_model, read_metadata
from engine.train import Locations, TrainingFailed, train_project

from .conftest import REPO, TINY_PROJECT

SPLIT = REPO / "engine" / "tests" / "rasa_projects" / "split-folders"
SPLIT_LOCATIONS = Locations(
    config="config/assistant.yml",
    domain="domain",
    data=("data/flows", "data/nlu"),
    endpoints="config/endpoints.yml",
)


def run_engine(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_it_trains_the_split_folders_project_from_its_locations(tmp_path) -> None:
    lines: list[str] = []
    result = train_project(
        SPLIT, tmp_path, fixed_model_name="split", progress=lines.append, locations=SPLIT_LOCATIONS
    )
    metadata = read_metadata(result.path)
    assert metadata["assistant_id"] == "library_desk"  # read from config/assistant.yml
    assert metadata["stats"]["flows"] == 3
    assert metadata["stats"]["intents"] == 3
    model = load_model(result.path)
    assert model.nlu.parse("when are you open")["intent"]["name"] == "opening_hours"
    assert model.dialogue_model.flow("renew_book") is not None
    assert any("data/old/stories.yml (not used: --data names data/flows" in line for line in lines)


def test_a_project_without_config_yml_is_refused_naming_it(tmp_path) -> None:
    project = tmp_path / "no-config"
    shutil.copytree(TINY_PROJECT, project)
    (project / "config.yml").unlink()
    with pytest.raises(TrainingFailed) as caught:
        train_project(project, tmp_path / "out")
    (problem,) = caught.value.problems
    assert problem.file == "config.yml"
    assert "'config.yml' does not exist" in problem.message
    assert "--config" in problem.message
    assert not (tmp_path / "out").exists()


def test_the_split_folders_project_without_its_options_has_no_config(tmp_path) -> None:
    with pytest.raises(TrainingFailed) as caught:
        train_project(SPLIT, tmp_path)
    assert [p.file for p in caught.value.problems] == ["config.yml"]


def test_a_missing_location_is_refused_naming_the_option(tmp_path) -> None:
    with pytest.raises(TrainingFailed) as caught:
        train_project(
            SPLIT,
            tmp_path,
            locations=Locations(config="config/assistant.yml", data=("data/flow",)),
        )
    assert [str(p) for p in caught.value.problems] == [
        "data/flow (--data): error: no such file or folder"
    ]


@pytest.mark.slow
def test_the_command_line_takes_the_locations(tmp_path, engine_env) -> None:
    out = tmp_path / "models"
    result = run_engine(
        "train",
        str(SPLIT),
        "--out",
        str(out),
        "--fixed-model-name",
        "split",
        "--config",
        "config/assistant.yml",
        "--domain",
        "domain",
        "--data",
        "data/flows",
        "data/nlu",
        "--endpoints",
        str(SPLIT / "config" / "endpoints.yml"),  # absolute paths work too
        env=engine_env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Loaded 3 flows, 2 slots, 6 responses" in result.stdout
    assert read_metadata(out / "split.tar.gz")["assistant_id"] == "library_desk"


@pytest.mark.slow
def test_the_command_line_refuses_a_project_without_config(tmp_path, engine_env) -> None:
    result = run_engine("train", str(SPLIT), "--out", str(tmp_path), env=engine_env)
    assert result.returncode == 1
    assert (
        "config.yml: The config file 'config.yml' does not exist. "
        "Use '--config' to specify a valid config file." in result.stdout
    )
    assert not list(Path(tmp_path).glob("*.tar.gz"))


@pytest.mark.slow
def test_the_command_line_names_a_missing_location(tmp_path, engine_env) -> None:
    result = run_engine(
        "train", str(SPLIT), "--out", str(tmp_path), "--config", "conf.yml", env=engine_env
    )
    assert result.returncode == 1
    assert "conf.yml (--config): no such file or folder" in result.stdout


def test_engine_test_names_why_a_project_does_not_train(tmp_path, capsys) -> None:
    from engine.__main__ import main

    project = tmp_path / "no-config"
    shutil.copytree(TINY_PROJECT, project)
    (project / "config.yml").unlink()
    (tmp_path / "cases.yml").write_text(
        'test_cases:\n  - test_case: hi\n    steps:\n      - user: "hello"\n'
    )
    assert main(["test", str(project), "--e2e", str(tmp_path / "cases.yml")]) == 2
    err = capsys.readouterr().err
    assert "Training failed with 1 errors:" in err
    assert "config.yml: The config file 'config.yml' does not exist." in err
