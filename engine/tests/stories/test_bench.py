"""The classic benchmark runs on the Seaside Inn and prints its training times and test-story
accuracy."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.slow


def test_the_generated_stories_are_valid_rasa_stories(tmp_path) -> None:
    from bench.classic import project_with_stories
    from engine.formats import load_project_dir, validate_project

    project = load_project_dir(project_with_stories(tmp_path, 40, seed=3))
    errors = [p for p in validate_project(project) if p.severity == "error"]
    assert errors == []
    data = yaml.safe_load((tmp_path / "seaside_inn" / "data" / "generated_stories.yml").read_text())
    stories = data["stories"]
    assert len(stories) == 40
    actions = {step.get("action") for story in stories for step in story["steps"]}
    # varied from the assistant's paths: questions, the form and its stops, late checkout
    assert {"utter_faq", "utter_chitchat", "table_booking_form", "action_submit_booking"} <= actions
    assert {"action_deactivate_loop", "action_check_late_checkout"} <= actions


def test_the_classic_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.classic import main

    assert main(["--stories", "30", "--repeats", "1", "--no-action-server"]) == 0
    out = capsys.readouterr().out
    assert "classic policies training, +30 stories, first run" in out
    assert "whole training's extra time for the 30 stories" in out
    assert "whole training, the project as it is" in out
    assert "test stories passed (" in out and "WITHOUT an action server" in out
    assert "the action server is absent" in out
    assert "'book a table on the terrace'" in out
    assert "test-story action accuracy (" in out
