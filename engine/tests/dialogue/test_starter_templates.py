"""Rasa Pro's starter projects hold their happy paths with the offline command generator.

Each starter template of the ``rasa-pro`` wheel (basic, default, finance, telco, tutorial) is
loaded and trained as Studio trains an assistant without an LLM (NLU from its NLU data, which
these templates do not have, and flow retrieval over its flows), and the conversations of
``starter_templates/<template>.yml`` (Rasa's e2e test format, our own cases) run against it.
Custom actions are stubbed from the file's ``stub_custom_actions`` (Rasa's format: events and
responses per action); an action the file does not stub fails the case, as an unreachable
action server does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from engine.dialogue import DialogueModel, FlowClassifier, Processor, train_nlu
from engine.dialogue.action_client import ActionError, ActionResult
from engine.e2e import run_test_cases
from engine.formats import load_project_dir, load_test_files
from engine.tests.test_rasa_acceptance import WHEEL_PROJECTS, _unpacked

pytestmark = pytest.mark.rasa_acceptance

CASES = Path(__file__).resolve().parent / "starter_templates"
STARTERS = ("basic", "default", "finance", "telco", "tutorial")


class StubActions:
    """Runs custom actions from Rasa's ``stub_custom_actions`` mapping."""

    def __init__(self, stubs: dict[str, Any]) -> None:
        self.stubs = stubs
        self.ran: list[str] = []

    def run(
        self, action_name: str, tracker: dict[str, Any], domain: dict[str, Any]
    ) -> ActionResult:
        self.ran.append(action_name)
        stub = self.stubs.get(action_name)
        if stub is None:
            raise ActionError(f"custom action '{action_name}' is not stubbed")
        return ActionResult(
            events=[dict(e) for e in stub.get("events") or []],
            responses=[dict(r) for r in stub.get("responses") or []],
        )


@pytest.fixture(scope="module")
def templates() -> Path:
    return _unpacked()


@pytest.mark.parametrize("name", STARTERS)
def test_the_starter_template_holds_its_happy_paths_offline(name: str, templates: Path) -> None:
    project = load_project_dir(templates / WHEEL_PROJECTS[f"template-{name}"])
    model = DialogueModel.build(project)
    nlu = train_nlu(project.nlu)
    classifier = FlowClassifier.train(project.flows, project.nlu)
    path = CASES / f"{name}.yml"
    stubs = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    actions = StubActions(dict(stubs.get("stub_custom_actions") or {}))
    cases = load_test_files([path])
    assert cases, f"no test cases in {path.name}"
    results = run_test_cases(
        cases, lambda: Processor(model, nlu, classifier, action_client=actions, seed=7)
    )
    failures = [(r.name, r.failure) for r in results if not r.passed]
    assert failures == []
    # The stubs are the ones the conversations need: each ran.
    assert set(actions.stubs) <= set(actions.ran)
