"""Our e2e test file checks agree with Rasa Pro's own e2e schema (read from the rasa-pro wheel,
checked with pykwalify and Rasa's schema extensions), and every e2e test file of Rasa's starter
templates loads."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from engine.formats import FormatError, load_test_cases, load_test_files
from engine.tests.test_rasa_acceptance import CACHE, RASA_VERSION, _unpacked, _wheel

pytestmark = [
    pytest.mark.rasa_acceptance,
    # pykwalify loads Rasa's schema extensions with the deprecated importlib load_module()
    pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning"),
]

SCHEMA_FILES = (
    "rasa/e2e_test/schema/e2e_test_schema.yml",
    "rasa/e2e_test/schema/assertions_schema.yml",
    "rasa/e2e_test/pykwalify_extensions.py",
)
TEMPLATES = Path("rasa/cli/project_templates")


@pytest.fixture(scope="module")
def e2e_schema() -> tuple[dict[str, Any], str]:
    """Rasa's e2e test schema (with its assertions sub-schema, as Rasa merges them) and the path
    of its pykwalify extensions."""
    target = CACHE / f"e2e-schema-{RASA_VERSION}"
    with zipfile.ZipFile(_wheel()) as archive:
        for name in SCHEMA_FILES:
            if not (target / name).exists():
                archive.extract(name, target)
    yaml = YAML(typ="safe", pure=True)
    schema = dict(yaml.load((target / SCHEMA_FILES[0]).read_text(encoding="utf-8")))
    schema.update(yaml.load((target / SCHEMA_FILES[1]).read_text(encoding="utf-8")))
    return schema, str(target / SCHEMA_FILES[2])


def _rasa_accepts(text: str, e2e_schema: tuple[dict[str, Any], str]) -> bool:
    from pykwalify.core import Core

    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    schema, extensions = e2e_schema
    data = YAML(typ="safe", pure=True).load(text)
    core = Core(source_data=data, schema_data=schema, extensions=[extensions])
    core.validate(raise_exception=False)
    return not core.errors


def _we_accept(text: str) -> bool:
    try:
        load_test_cases(text, "case.yml")
    except FormatError:
        return False
    return True


def _case(steps: str, top: str = "") -> str:
    return f"{top}test_cases:\n  - test_case: x\n    steps:\n{steps}"


def _asserting(assertion: str) -> str:
    return _case(f"      - user: hi\n        assertions:\n          - {assertion}\n")


SAMPLES = [
    _case("      - user: hi\n      - bot: hello\n      - utter: utter_hi\n"),
    _case("      - user: hi\n      - slot_was_set: [a, {b: 1}]\n      - slot_was_not_set: [c]\n"),
    _case("      - user: hi\n      - bot: [x]\n"),
    _case("      - user: hi\n        color: red\n"),
    _case(
        "      - user: hi\n        assertion_order_enabled: yes please\n        assertions: []\n"
    ),
    _case("      - user: hi\n      - slot_was_set: a\n"),
    _case("      - user: hi\n        bot: hello\n"),
    "test_cases:\n  - test_case: x\n",
    "test_cases:\n  - steps: []\n",
    "test_cases:\n  - test_case: x\n    fixtures: [bad name]\n    steps: []\n",
    "tests: []\n",
    _case("", "fixtures:\n  - gold:\n      - tier: gold\n"),
    _case("", "fixtures:\n  - gold: tier\n"),
    _case("", "metadata:\n  - device:\n      os: linux\n"),
    _case("", "metadata:\n  - device: linux\n"),
    _case(
        "", "stub_custom_actions:\n  action_x:\n    events: [{event: slot, name: a, value: 1}]\n"
    ),
    _case("", "stub_custom_actions:\n  action_x:\n    events: [{event: teleport}]\n"),
    _case("", "stub_custom_actions:\n  action_x:\n    responses: [{text: hi, colour: red}]\n"),
    _case("", "stub_custom_actions:\n  action_x:\n    results: []\n"),
    _asserting("flow_started: greet"),
    _asserting("flow_started: ''"),
    _asserting("flow_started: {flow_ids: [a], operator: all}"),
    _asserting("flow_started: {flow_ids: [a, b], operator: all}"),
    _asserting("flow_started: {flow_ids: [a, b], operator: any}"),
    _asserting("flow_started: {flow_ids: [a], operator: most}"),
    _asserting("flow_started: {flow_ids: []}"),
    _asserting("flow_completed: {flow_id: a, flow_step_id: s}"),
    _asserting("flow_completed: {flow_step_id: s}"),
    _asserting("flow_cancelled: {flow_id: a, step: s}"),
    _asserting("pattern_clarification_contains: [a, b]"),
    _asserting("pattern_clarification_contains: []"),
    _asserting("pattern_clarification_contains: {flow_ids: [a], operator: any}"),
    _asserting("pattern_clarification_contains: a"),
    _asserting("action_executed: action_x"),
    _asserting("action_executed: [action_x]"),
    _asserting("slot_was_set: [{name: a, value: 1}, {name: b}]"),
    _asserting("slot_was_set: [{value: 1}]"),
    _asserting("slot_was_not_set: [{name: a, colour: 1}]"),
    _asserting(
        "bot_uttered: {utter_name: utter_x, text_matches: '^x', buttons: [{title: a, payload: b}]}"
    ),
    _asserting("bot_uttered: {}"),
    _asserting("bot_uttered: {buttons: []}"),
    _asserting("bot_uttered: {utter: x}"),
    _asserting("bot_did_not_utter: {utter_name: utter_x}"),
    _asserting("bot_did_not_utter: {buttons: [{title: a, size: 2}]}"),
    _asserting("generative_response_is_relevant: {threshold: 0.8, utter_name: x}"),
    _asserting("generative_response_is_relevant: {utter_name: x}"),
    _asserting("generative_response_is_grounded: {threshold: 0.8, ground_truth: x}"),
    _asserting("generative_response_is_grounded: {threshold: high}"),
    _asserting("bot_speaks: {utter_name: x}"),
]


@pytest.mark.parametrize("text", SAMPLES)
def test_we_accept_what_rasa_accepts_and_refuse_what_it_refuses(text, e2e_schema):
    assert _we_accept(text) == _rasa_accepts(text, e2e_schema), text


#: Files Rasa's schema accepts that Studio refuses on purpose, and why.
STRICTER = {
    # Rasa reads only the first key of an assertion and drops the others silently.
    "two keys in one assertion": _asserting("flow_started: a\n            action_executed: b"),
    # Rasa refuses these when it runs the tests (not by its schema): the agent engine's
    # assertions on a CALM assistant, a fixture or metadata name nothing defines.
    "an agent assertion": _asserting("skill_activated: {skill_id: x}"),
    "an unknown fixture": "test_cases:\n  - test_case: x\n    fixtures: [nope]\n    steps: []\n",
    "unknown metadata": "test_cases:\n  - test_case: x\n    metadata: nope\n    steps: []\n",
    "order without assertions": _case("      - user: hi\n        assertion_order_enabled: true\n"),
}


@pytest.mark.parametrize("reason", sorted(STRICTER))
def test_what_studio_refuses_beyond_the_schema(reason, e2e_schema):
    text = STRICTER[reason]
    assert _rasa_accepts(text, e2e_schema), reason
    assert not _we_accept(text), reason


def _template_test_dirs() -> list[Path]:
    root = _unpacked() / TEMPLATES
    return sorted(p for p in root.glob("*/*") if p.is_dir() and p.name in ("tests", "e2e_tests"))


def test_every_e2e_file_of_the_starter_templates_loads(e2e_schema):
    dirs = _template_test_dirs()
    assert {d.parent.name for d in dirs} >= {"basic", "default", "finance", "telco"}
    counts = {}
    for folder in dirs:
        for file in sorted(folder.rglob("*.yml")):
            text = file.read_text(encoding="utf-8")
            assert _rasa_accepts(text, e2e_schema), file
        cases = load_test_files([folder])
        counts[folder.parent.name] = (
            len(cases),
            sum(c.uses_assertions() for c in cases),
            sum(bool(c.stub_custom_actions) for c in cases),
        )
    # (cases, cases with assertions, cases with stubbed custom actions)
    assert counts["default"][0] >= 8 and counts["default"][1] == 0
    assert counts["finance"][1] >= 20
    assert counts["telco"][2] >= 2
