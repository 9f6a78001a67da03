"""Rasa Pro's starter projects hold their happy paths with the offline command generator.

Each starter template of the ``rasa-pro`` wheel (basic, default, finance, telco, tutorial) is
loaded and trained as Studio trains an assistant without an LLM (NLU from its NLU data, which
these templates do not have, and flow retrieval over its flows), and the conversations of
``starter_templates/<template>.yml`` (Rasa's e2e assertion format, our own cases) run against it
through the e2e runner, as ``python -m engine test`` runs them. The runner answers custom actions
from the file's ``stub_custom_actions``; an action the file does not stub fails the case, as in
Rasa.

The cases assert the actions the stubs stand for and the slots their events set, so they fail
when the stubs are not used: `test_without_its_stubs_a_case_fails` checks that.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest

from engine.dialogue import DialogueModel, FlowClassifier, Processor, train_nlu
from engine.e2e import CaseResult, run_test_cases
from engine.formats import E2ETestCase, load_project_dir, load_test_files
from engine.tests.test_rasa_acceptance import WHEEL_PROJECTS, _unpacked

pytestmark = pytest.mark.rasa_acceptance

CASES = Path(__file__).resolve().parent / "starter_templates"
STARTERS = ("basic", "default", "finance", "telco", "tutorial")


@functools.cache
def _trained(name: str) -> tuple[DialogueModel, object, FlowClassifier]:
    project = load_project_dir(_unpacked() / WHEEL_PROJECTS[f"template-{name}"])
    return (
        DialogueModel.build(project),
        train_nlu(project.nlu),
        FlowClassifier.train(project.flows, project.nlu),
    )


def _run(name: str, cases: list[E2ETestCase]) -> list[CaseResult]:
    model, nlu, classifier = _trained(name)
    return run_test_cases(cases, lambda: Processor(model, nlu, classifier, seed=7))


def _cases(name: str) -> list[E2ETestCase]:
    cases = load_test_files([CASES / f"{name}.yml"])
    assert cases, f"no test cases in {name}.yml"
    return cases


def _report(result: CaseResult) -> str:
    failure = result.failure or {}
    lines = [
        f"{result.name} ({Path(result.file or '?').name}:{failure.get('line')}, "
        f"step {failure.get('step')}): {failure.get('message')}"
    ]
    lines.extend(f"    {event}" for event in failure.get("events") or [])
    return "\n".join(lines)


@pytest.mark.parametrize("name", STARTERS)
def test_the_starter_template_holds_its_happy_paths_offline(name: str) -> None:
    cases = _cases(name)
    assert all(case.uses_assertions() for case in cases), "the cases are written with assertions"
    results = _run(name, cases)
    failed = [_report(r) for r in results if r.status != "passed"]
    assert not failed, "\n".join(failed)
    assert len(results) == len(cases)


def _stubbed_with_events(case: E2ETestCase) -> set[str]:
    """The stubbed actions whose events the case depends on (it asserts they ran)."""
    with_events = {a for a, stub in case.stub_custom_actions.items() if stub.get("events")}
    asserted = {
        assertion["action_executed"]
        for step in case.steps
        for assertion in step.get("assertions") or []
        if "action_executed" in assertion
    }
    return with_events & asserted


@pytest.mark.parametrize("name", ["default", "finance", "telco"])
def test_without_its_stubs_a_case_fails(name: str) -> None:
    """Each case that asserts a stubbed action whose stub sets slots fails when the stubs are
    dropped (the actions then do nothing): the stubs are what the cases run on."""
    cases = [case for case in _cases(name) if _stubbed_with_events(case)]
    assert cases, f"{name}.yml has no case relying on a stub's events"
    unstubbed = [
        dataclasses.replace(case, stub_custom_actions={}, stubs_in_use=False) for case in cases
    ]
    results = _run(name, unstubbed)
    passed = [r.name for r in results if r.passed]
    assert passed == [], f"these cases pass without their stubs: {passed}"
    for result in results:
        assert "slot" in str((result.failure or {}).get("message")), _report(result)
