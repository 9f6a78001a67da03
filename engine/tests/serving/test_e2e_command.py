"""``python -m engine test``: e2e test cases against a model archive, results and exit status."""

from __future__ import annotations

from engine.__main__ import main

CASES = """
test_cases:
  - test_case: greets
    steps:
      - user: "hello"
      - bot: "Hello there!"
      - utter: utter_can_do_something_else
  - test_case: asks_the_size
    steps:
      - user: "I want a pizza"
      - utter: utter_ask_pizza_size
      - user: "/SetSlots(pizza_size=large)"
      - slot_was_set:
          - pizza_size: large
      - bot: "One large pizza coming up."
      - utter: utter_can_do_something_else
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
    assert "FAIL failing.yml::expects_another_greeting (step 2): expected text 'Good day!'" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_it_needs_test_cases(tiny_model, tmp_path, capsys):
    assert main(["test", str(tiny_model)]) == 2
    assert main(["test", str(tiny_model), "--e2e", str(tmp_path)]) == 2
    assert "No test cases" in capsys.readouterr().err
