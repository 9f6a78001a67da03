"""``python -m engine test``: e2e test cases against a model archive, results and exit status."""

from __future__ import annotations

from engine.__main__ import main

CASES = """
test_cases:
  - test_case: greets
    steps:
      - user: "hello"
      - bot: "Hello there!"
      - utter: utter_ask_continue_conversation
  - test_case: asks_the_size
    steps:
      - user: "I want a pizza"
      - utter: utter_ask_pizza_size
      - user: "/SetSlots(pizza_size=large)"
      - slot_was_set:
          - pizza_size: large
      - bot: "One large pizza coming up."
      - utter: utter_ask_continue_conversation
"""
FAILING = """
test_cases:
  - test_case: expects_another_greeting
    steps:
      - user: "hello"
      - bot: "Good day!"
"""


def test_it_runs_the_cases_of_a_model_and_prints_the_results(tiny_model, tmp_path, capsys):
    (tmp_path / "tiny.yml").write_text(CASES)
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path), "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["PASS tiny.yml::greets", "PASS tiny.yml::asks_the_size", "2 passed, 0 failed"]


def test_it_exits_1_when_a_case_fails(tiny_model, tmp_path, capsys):
    (tmp_path / "failing.yml").write_text(FAILING)
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path / "failing.yml")]) == 1
    out = capsys.readouterr().out
    assert (
        "FAIL failing.yml::expects_another_greeting (step 2, line 6): the bot did not say "
        "'Good day!' (it said: utter_greet: 'Hello there!'" in out
    )
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_it_needs_test_cases(tiny_model, tmp_path, capsys):
    assert main(["test", str(tiny_model)]) == 2
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path)]) == 2
    assert "No test cases" in capsys.readouterr().err


ASSERTING = """
test_cases:
  - test_case: greeting_asserted
    steps:
      - user: "hello"
        assertions:
          - bot_uttered: {utter_name: utter_greet}
          - generative_response_is_grounded: {threshold: 0.9}
  - test_case: wrong_flow
    steps:
      - user: "hello"
        assertions:
          - bot_uttered: {text_matches: "Hello"}
          - flow_started: pizza_order
"""


def test_it_reports_skipped_cases_writes_junit_and_exits_1_on_a_failure(
    tiny_model, tmp_path, capsys
):
    import xml.etree.ElementTree as ET

    (tmp_path / "cases.yml").write_text(ASSERTING)
    junit = tmp_path / "out" / "report.xml"
    junit.parent.mkdir()
    code = main(
        ["test", str(tiny_model), "--e2e", str(tmp_path / "cases.yml"), "--junit", str(junit)]
    )
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "SKIP cases.yml::greeting_asserted: step 1, assertion 2: 'generative_response_is_grounded' "
        "needs an LLM judge, and the built-in test runner has none"
    )
    assert lines[1] == (
        "FAIL cases.yml::wrong_flow (step 1, line 14): flow_started: flow 'pizza_order' did not start"
    )
    assert lines[-1] == "0 passed, 1 failed, 1 skipped"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["skipped"]) == (
        "2",
        "1",
        "1",
    )


def test_only_skipped_cases_exit_0(tiny_model, tmp_path, capsys):
    (tmp_path / "cases.yml").write_text(ASSERTING.split("  - test_case: wrong_flow")[0])
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path / "cases.yml")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 passed, 0 failed, 1 skipped"


def test_a_malformed_test_file_is_refused_with_its_line(tiny_model, tmp_path, capsys):
    (tmp_path / "bad.yml").write_text(
        "test_cases:\n  - test_case: x\n    steps:\n      - utter: [x]\n"
    )
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "The test cases have 1 errors:" in err
    assert "bad.yml:4 (test_cases[0].steps[0].utter): 'utter' must be a string" in err


def test_an_unwritable_junit_file_exits_2(tiny_model, tmp_path, capsys):
    (tmp_path / "tiny.yml").write_text(CASES)
    junit = tmp_path / "missing" / "report.xml"
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path), "--junit", str(junit)]) == 2
    assert f"Cannot write {junit}" in capsys.readouterr().err


def test_json_reports_each_case_with_its_failure_conversation_and_progress(
    tiny_model, tmp_path, capsys
):
    import json

    (tmp_path / "cases.yml").write_text(CASES + FAILING.replace("test_cases:\n", ""))
    report = tmp_path / "report.json"
    code = main(["test", str(tiny_model), "--e2e", str(tmp_path), "--json", str(report)])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "progress: 1/3 passed cases.yml::greets",
        "progress: 2/3 passed cases.yml::asks_the_size",
        "progress: 3/3 failed cases.yml::expects_another_greeting",
    ]
    document = json.loads(report.read_text())
    assert document["summary"] == {"total": 3, "passed": 2, "failed": 1, "skipped": 0}
    failed = document["cases"][2]
    assert (failed["name"], failed["status"], failed["line"]) == (
        "expects_another_greeting",
        "failed",
        18,
    )
    assert failed["failure"]["step"] == 1 and failed["failure"]["expected"] == "Good day!"
    assert failed["transcript"][0] == {"user": "hello"}
    assert any(line.startswith("bot ") for line in failed["events"])
    assert "user 'hello'" in failed["events"]
    assert all(case["seconds"] >= 0 for case in document["cases"])


def test_an_unwritable_json_file_exits_2(tiny_model, tmp_path, capsys):
    (tmp_path / "tiny.yml").write_text(CASES)
    report = tmp_path / "missing" / "report.json"
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path), "--json", str(report)]) == 2
    assert f"Cannot write {report}" in capsys.readouterr().err
