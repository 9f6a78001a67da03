"""`python -m engine test PROJECT --stories tests/` on the Seaside Inn: the summary lines, the
exit status when every story passes and when one fails, and the JUnit report with a suite for
the e2e cases and one for the stories."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.__main__ import main

from .conftest import SEASIDE

pytestmark = pytest.mark.slow

FAILING_STORY = """\
version: "3.1"
stories:
  - story: a greeting answered with a goodbye
    steps:
      - user: |
          hello there
        intent: greet
      - action: utter_goodbye
"""

E2E_CASE = """\
test_cases:
  - test_case: greet and leave
    steps:
      - user: "hello there"
      - utter: utter_greet
      - user: "bye"
      - utter: utter_goodbye
"""


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "seaside_inn"
    shutil.copytree(SEASIDE, copy, ignore=shutil.ignore_patterns("__pycache__", "models", "var"))
    return copy


def _endpoints(tmp_path: Path, webhook: str) -> str:
    path = tmp_path / "endpoints.yml"
    path.write_text(f"action_endpoint:\n  url: {webhook}\n", encoding="utf-8")
    return str(path)


def _run(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[str]]:
    monkeypatch.chdir(project)
    status = main(["test", str(project), "--stories", "tests/", *args])
    return status, capsys.readouterr().out.splitlines()


def test_every_story_passes_with_the_action_server(
    tmp_path, monkeypatch, capsys, seaside_actions
) -> None:
    status, lines = _run(
        SEASIDE, monkeypatch, capsys, "--endpoints", _endpoints(tmp_path, seaside_actions)
    )
    assert status == 0
    assert "PASS test_stories.yml::book a table on the terrace" in lines
    assert sum(line.startswith("PASS test_stories.yml::") for line in lines) == 10
    assert not any(line.startswith("FAIL") for line in lines)
    assert "Test stories: 10 passed, 0 failed; actions: 65/65 correct (100.0%)" in lines
    assert lines[-1] == "10 passed, 0 failed"


def test_a_failing_story_fails_the_run_and_names_the_wrong_prediction(
    tmp_path, monkeypatch, capsys, seaside_actions
) -> None:
    project = _copy(tmp_path)
    (project / "tests" / "test_wrong.yml").write_text(FAILING_STORY, encoding="utf-8")
    status, lines = _run(
        project, monkeypatch, capsys, "--endpoints", _endpoints(tmp_path, seaside_actions)
    )
    assert status == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1
    assert failed[0].startswith("FAIL test_wrong.yml::a greeting answered with a goodbye")
    # the first wrong prediction: the story expects utter_goodbye, the assistant greets
    assert "utter_goodbye" in failed[0] and "utter_greet" in failed[0]
    summary = next(line for line in lines if line.startswith("Test stories:"))
    assert summary == "Test stories: 10 passed, 1 failed; actions: 66/67 correct (98.5%)"
    assert lines[-1] == "10 passed, 1 failed"


def test_without_an_action_server_the_stories_that_need_its_answers_fail(
    monkeypatch, capsys
) -> None:
    status, lines = _run(SEASIDE, monkeypatch, capsys)
    assert status == 1
    failed = sorted(line.split("::", 1)[1].split(" (")[0] for line in lines if "FAIL" in line[:4])
    # validate_table_booking_form rejects a party too large; action_check_late_checkout
    # sets the slot the late checkout stories branch on
    assert failed == ["a party too large is asked again", "late checkout granted"]
    assert "Test stories: 8 passed, 2 failed; actions: 58/65 correct (89.2%)" in lines


def test_the_junit_report_has_a_suite_for_each_kind(
    tmp_path, monkeypatch, capsys, seaside_actions
) -> None:
    project = _copy(tmp_path)
    (project / "tests" / "e2e").mkdir()
    (project / "tests" / "e2e" / "greet.yml").write_text(E2E_CASE, encoding="utf-8")
    report = tmp_path / "report.xml"
    status, lines = _run(
        project,
        monkeypatch,
        capsys,
        "--e2e",
        "tests/e2e",
        "--endpoints",
        _endpoints(tmp_path, seaside_actions),
        "--junit",
        str(report),
    )
    assert status == 0
    assert "E2E test cases: 1 passed, 0 failed" in lines
    assert lines[-1] == "11 passed, 0 failed"
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "11" and root.get("failures") == "0"
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == {"e2e", "stories"}
    assert suites["e2e"].get("tests") == "1"
    assert [case.get("name") for case in suites["e2e"].iter("testcase")] == ["greet and leave"]
    assert suites["stories"].get("tests") == "10"
    names = {case.get("name") for case in suites["stories"].iter("testcase")}
    assert "a party too large is asked again" in names
    assert all(case.find("failure") is None for case in root.iter("testcase"))
