"""Reading e2e test files: what a case holds, and a clear error for every malformed part."""

from __future__ import annotations

import pytest

from engine.formats import FormatError, load_test_cases, load_test_files

FILE = """\
fixtures:
  - premium:
      - tier: premium
      - name: Dana
metadata:
  - device:
      os: linux
  - german:
      lang: de
stub_custom_actions:
  action_lookup:
    events: [{event: slot, name: tier, value: gold}]
  second::action_lookup:
    responses: [{text: "hi"}]
test_cases:
  - test_case: first
    fixtures: [premium]
    metadata: device
    steps:
      - user: "hello"
        metadata: german
        assertions:
          - flow_started: greet
          - bot_uttered: {utter_name: utter_greet}
      - utter: utter_greet
  - test_case: second
    steps:
      - user: "hi"
      - bot: "Hello!"
      - slot_was_set: [tier, {name: Dana}]
      - slot_was_not_set: [other]
"""


def test_a_case_holds_its_fixtures_metadata_stubs_and_lines():
    first, second = load_test_cases(FILE, "tests/e2e/a.yml")
    assert first.name == "first" and first.file == "tests/e2e/a.yml"
    assert first.fixtures == {"tier": "premium", "name": "Dana"}
    assert first.metadata == {"os": "linux"}
    assert first.step_metadata == [{"os": "linux", "lang": "de"}, {}]
    assert first.line == 16 and first.step_lines == [20, 25]
    assert first.assertion_lines == {(0, 0): 23, (0, 1): 24}
    assert first.uses_assertions() and not second.uses_assertions()
    assert first.stub_custom_actions == {
        "action_lookup": {
            "events": [{"event": "slot", "name": "tier", "value": "gold"}],
            "responses": [],
        }
    }
    # the case's own stub (second::action_lookup) is used over the file's
    assert second.stub_custom_actions == {
        "action_lookup": {"events": [], "responses": [{"text": "hi"}]}
    }
    assert first.stubs_in_use and second.stubs_in_use


def test_one_file_with_stubs_makes_the_suite_stub_its_actions(tmp_path):
    (tmp_path / "a.yml").write_text(FILE)
    (tmp_path / "b.yml").write_text("test_cases:\n  - test_case: plain\n    steps: [{user: hi}]\n")
    cases = {c.name: c for c in load_test_files([tmp_path])}
    assert cases["plain"].stub_custom_actions == {} and cases["plain"].stubs_in_use


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "test_case: [x]\n",
            "a.yml:1 (test_case): error: unknown key 'test_case' in an e2e test file",
        ),
        (
            "test_cases:\n  - steps: []\n",
            "a.yml:2 (test_cases[0]): error: a test case is missing the required key 'test_case'",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        bot: yo\n",
            "a.yml:4 (test_cases[0].steps[0]): error: a step has exactly one of user, bot, utter, "
            "slot_was_set, slot_was_not_set (this one has user, bot)",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - utter: utter_hi\n        assertions: []\n",
            "a.yml:5 (test_cases[0].steps[0].assertions): error: unknown key 'assertions' in a 'utter' step",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertion_order_enabled: true\n",
            "'assertion_order_enabled' needs 'assertions' in the step",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
            "          - flow_completed: {step_id: s}\n",
            "a.yml:6 (test_cases[0].steps[0].assertions[0].flow_completed): error: 'flow_completed' is "
            "missing the required key 'flow_id'",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
            "          - flow_started: {flow_ids: [a, b], operator: all}\n",
            "with the 'all' operator, 'flow_started' has one flow id",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
            "          - pattern_clarification_contains: {flow_ids: [a], operator: some}\n",
            "the 'operator' of 'pattern_clarification_contains' is 'all' or 'any'",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
            "          - bot_uttered: {text_matches: '('}\n",
            "a.yml:6 (test_cases[0].steps[0].assertions[0].bot_uttered.text_matches): error: not a "
            "regular expression",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
            "          - generative_response_is_relevant: {utter_name: x}\n",
            "'generative_response_is_relevant' is missing the required key 'threshold'",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
            "          - skill_activated: {skill_id: x}\n",
            "'skill_activated' asserts what Rasa's agent engine does",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - user: hi\n        assertions:\n"
            "          - flow_started: a\n            action_executed: b\n",
            "an assertion has one key (this one has 2)",
        ),
        (
            "test_cases:\n  - test_case: x\n    metadata: nope\n    steps: []\n",
            "a.yml:3 (test_cases[0].metadata): error: unknown metadata 'nope' (none are defined)",
        ),
        (
            "stub_custom_actions:\n  action_x:\n    events: [{event: teleport}]\ntest_cases: []\n",
            "a.yml:3 (stub_custom_actions.action_x.events[0]): error: the string 'teleport' is not an event type",
        ),
        (
            "fixtures:\n  - a: [{x: 1}]\n  - a: [{x: 2}]\ntest_cases: []\n",
            "a.yml:3 (fixtures[1].a): error: the fixture 'a' is defined twice",
        ),
        (
            "test_cases:\n  - test_case: x\n    steps:\n      - slot_was_set: [[1]]\n",
            "each item of 'slot_was_set' is a slot name",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_file_line_and_key(text, problem):
    with pytest.raises(FormatError) as caught:
        load_test_cases(text, "a.yml")
    assert problem in str(caught.value)


def test_every_problem_of_every_file_is_reported(tmp_path):
    (tmp_path / "a.yml").write_text("test_cases:\n  - test_case: x\n    steps: [{bot: 1}]\n")
    (tmp_path / "b.yml").write_text("test_cases:\n  - test_case: y\n    steps: [{utter: [x]}]\n")
    with pytest.raises(FormatError) as caught:
        load_test_files([tmp_path])
    assert [p.file.rsplit("/", 1)[-1] for p in caught.value.problems] == ["a.yml", "b.yml"]


def test_invalid_yaml_is_a_format_error_with_its_line():
    with pytest.raises(FormatError, match=r"a.yml:4: error: YAML syntax error"):
        load_test_cases("test_cases:\n  - test_case: x\n    steps: [\n", "a.yml")


def test_conftest_files_share_fixtures_with_the_folders_below(tmp_path):
    (tmp_path / "conftest.yml").write_text(
        "fixtures:\n  - gold: [{tier: gold}]\n  - named: [{name: Ann}]\nllm_judge:\n  llm: {model: x}\n"
    )
    sub = tmp_path / "flows"
    sub.mkdir()
    (sub / "conftest.yaml").write_text("fixtures:\n  - gold: [{tier: platinum}]\n")
    (sub / "a.yml").write_text(
        "fixtures:\n  - named: [{name: Bo}]\n"
        "test_cases:\n  - test_case: x\n    fixtures: [gold, named]\n    steps: []\n"
    )
    (tmp_path / "b.yml").write_text(
        "test_cases:\n  - test_case: y\n    fixtures: [gold, named]\n    steps: []\n"
    )
    cases = {c.name: c for c in load_test_files([tmp_path])}
    # the nearer conftest overrides the outer one; the file's own fixture overrides both
    assert cases["x"].fixtures == {"tier": "platinum", "name": "Bo"}
    assert cases["y"].fixtures == {"tier": "gold", "name": "Ann"}


def test_a_malformed_conftest_is_reported(tmp_path):
    (tmp_path / "conftest.yml").write_text("fixtures: yes\n")
    (tmp_path / "a.yml").write_text("test_cases: []\n")
    with pytest.raises(
        FormatError, match=r"conftest.yml:1 \(fixtures\): error: 'fixtures' must be a list"
    ):
        load_test_files([tmp_path])


def test_a_folder_is_read_for_its_test_case_files_only(tmp_path):
    (tmp_path / "test_stories.yml").write_text("stories:\n  - story: s\n    steps: []\n")
    (tmp_path / "notes.txt").write_text("test_cases: not yaml\n")
    (tmp_path / "cases.yaml").write_text("test_cases:\n  - test_case: x\n    steps: []\n")
    assert [c.name for c in load_test_files([tmp_path])] == ["x"]
    # a file named explicitly is read whatever it holds
    with pytest.raises(FormatError, match="unknown key 'stories'"):
        load_test_files([tmp_path / "test_stories.yml"])


def test_one_case_is_chosen_with_file_and_name(tmp_path):
    (tmp_path / "a.yml").write_text(
        "test_cases:\n  - test_case: user greets (happy)\n    steps: []\n  - test_case: other\n    steps: []\n"
    )
    [case] = load_test_files([f"{tmp_path / 'a.yml'}::user greets (happy)"])
    assert case.name == "user greets (happy)"
    with pytest.raises(FileNotFoundError, match=r"nope\.yml: no such file"):
        load_test_files([tmp_path / "nope.yml"])
