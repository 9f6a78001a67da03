"""The e2e test runner, and the demo assistant's own e2e test cases."""

import httpx
import pytest

from demo import HARBOR_BANK
from engine.dialogue import DialogueModel, FlowClassifier, NullActionClient, Processor, train_nlu
from engine.e2e import run_test_cases, run_test_cases_http
from engine.formats import FormatError, load_project_dir, load_test_cases, load_test_files
from engine.server import Bot, create_app
from engine.tests.dialogue.conftest import ScriptedNlu, TestClient, project_from

DEMO = HARBOR_BANK

DOMAIN = """
version: "3.1"
intents: [start]
slots:
  name:
    type: text
    mappings: [{type: from_text}]
  tier:
    type: text
    mappings: [{type: controlled}]
responses:
  utter_ask_name: [{text: "Name?"}]
  utter_hi:
    - text: "Hi {name} ({tier})"
"""
FLOWS = """
flows:
  greet:
    description: greet
    nlu_trigger: [{intent: start}]
    run_pattern_completed: false
    steps:
      - collect: name
      - action: utter_hi
"""
TESTS = """
fixtures:
  - gold:
      - tier: gold
test_cases:
  - test_case: passes
    fixtures: [gold]
    steps:
      - user: "/start"
      - utter: utter_ask_name
      - user: "Ann"
      - slot_was_set:
          - name: Ann
      - slot_was_not_set:
          - tier
      - bot: "Hi Ann (gold)"
  - test_case: wrong_utter
    steps:
      - user: "/start"
      - utter: utter_hi
  - test_case: missing_message
    steps:
      - user: "/start"
      - utter: utter_ask_name
      - utter: utter_hi
  - test_case: extra_message
    steps:
      - user: "/start"
      - user: "Bo"
      - utter: utter_hi
  - test_case: wrong_slot
    steps:
      - user: "/start"
      - utter: utter_ask_name
      - user: "Bo"
      - slot_was_set:
          - name: Al
"""


def processor():
    return Processor(DialogueModel.build(project_from(DOMAIN, FLOWS)), ScriptedNlu(), seed=1)


def test_the_runner_reports_passes_and_the_first_mismatch():
    results = {r.name: r for r in run_test_cases(load_test_cases(TESTS), processor)}
    assert results["passes"].passed, results["passes"].failure
    assert results["wrong_utter"].failure["step"] == 1
    assert results["wrong_utter"].failure["line"] == 20
    assert (
        "the bot did not utter utter_hi (it said: utter_ask_name: 'Name?')"
        in (results["wrong_utter"].failure["message"])
    )
    # the step that failed is reported (the third), not the one after it
    assert results["missing_message"].failure["step"] == 2
    assert results["missing_message"].failure["line"] == 25
    assert "did not utter utter_hi" in results["missing_message"].failure["message"]
    # as in Rasa, messages a case does not mention are allowed
    assert results["extra_message"].passed, results["extra_message"].failure
    assert results["wrong_slot"].failure["step"] == 3
    assert (
        "slot 'name' was set to ['Bo', None], not 'Al'" in results["wrong_slot"].failure["message"]
    )
    assert "user 'Bo'" in results["wrong_slot"].failure["events"]
    assert results["passes"].as_dict()["passed"] is True
    assert results["passes"].status == "passed"


def test_the_runner_gives_the_same_results_over_http():
    cases = load_test_cases(TESTS)
    local = [r.as_dict() for r in run_test_cases(cases, processor)]
    with TestClient(create_app(Bot.from_processor(processor()))) as client:
        remote = run_test_cases_http(cases, client)
    assert [r.as_dict() for r in remote] == local
    assert remote[0].transcript == run_test_cases(cases[:1], processor)[0].transcript


def test_an_unreachable_bot_fails_every_case_with_the_reason():
    cases = load_test_cases(TESTS)[:2]
    transport = httpx.MockTransport(lambda request: httpx.Response(503, text="down"))
    with httpx.Client(base_url="http://bot.test", transport=transport) as client:
        results = run_test_cases_http(cases, client)
    assert [r.passed for r in results] == [False, False]
    assert results[0].failure["step"] is None
    assert "answered HTTP 503: down" in results[0].failure["message"]


def test_unknown_fixtures_are_an_error():
    with pytest.raises(FormatError, match=r"e2e.yml:3 .*unknown fixture 'nope'"):
        load_test_cases("test_cases:\n  - test_case: x\n    fixtures: [nope]\n    steps: []\n")


@pytest.fixture(scope="module")
def demo():
    project = load_project_dir(DEMO)
    return (
        DialogueModel.build(project),
        train_nlu(project.nlu),
        FlowClassifier.train(project.flows, project.nlu),
    )


def test_every_demo_e2e_case_passes(demo):
    model, nlu, classifier = demo
    cases = load_test_files([DEMO / "tests" / "e2e"])
    assert len(cases) == 36
    results = run_test_cases(
        cases,
        lambda: Processor(
            model, nlu, classifier, action_client=NullActionClient(), seed=3, model_id="demo"
        ),
    )
    failures = [(r.name, r.failure) for r in results if not r.passed]
    assert failures == []
