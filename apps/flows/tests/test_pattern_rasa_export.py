"""A pattern customised in Studio is exported as the flow Rasa Pro reads, and runs the same.

pattern_collect_information customised from its default steps is exported with Rasa Pro
3.21's steps (`{{context.utter}}` and then `{{context.collect_action}}`), passes Rasa's flows
JSON schema, and the built-in engine trained from the export asks the question with it. Every
one of Rasa Pro 3.21's patterns is listed with its default steps; pattern_completed and
pattern_customer_satisfaction customised from theirs export as Rasa reads them.
"""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from ruamel.yaml import YAML

from apps.flows.services import patterns
from apps.projects import content
from engine import formats
from engine.dialogue import DialogueModel, Processor, Tracker

pytestmark = pytest.mark.django_db

#: Rasa Pro 3.21's pattern_collect_information, as its flows file spells it.
RASA_COLLECT_STEPS = [
    {"id": "start", "action": "action_run_slot_rejections"},
    {
        "action": "validate_{{context.collect}}",
        "next": [
            {"if": "slots.{{context.collect}} is not null", "then": "END"},
            {"else": "ask_collect"},
        ],
    },
    {"id": "ask_collect", "action": "{{context.utter}}"},
    {"action": "{{context.collect_action}}"},
    {"action": "action_listen", "next": "start"},
]

RASA_PRO_WHEEL = "rasa_pro-3.21.0-py3-none-any.whl"
WHEEL_CACHE = Path(__file__).resolve().parents[3] / "var" / "cache" / "rasa-pro"


@pytest.fixture(scope="module")
def rasa_flows_schema() -> dict:
    """Rasa Pro's flows JSON schema, read from its wheel (downloaded once into var/, as the
    engine's schema tests do)."""
    wheel = WHEEL_CACHE / RASA_PRO_WHEEL
    if not wheel.exists():
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "rasa-pro==3.21.0", "--no-deps"]
        result = subprocess.run(
            [*command, "-d", str(WHEEL_CACHE), "-q"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0 or not wheel.exists():
            pytest.skip(f"could not download the rasa-pro wheel: {result.stderr[-300:]}")
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read("rasa/shared/core/flows/flows_yaml_schema.json"))


class _NoNlu:
    """The conversation below starts its flow directly; nothing is parsed."""

    def parse(self, text: str) -> dict:
        return {"text": text, "intent": None, "entities": []}


def test_the_collect_patterns_default_steps_are_rasas(ed_client, shop):
    assert (
        formats.default_pattern_definitions()["pattern_collect_information"]["steps"]
        == RASA_COLLECT_STEPS
    )
    page = ed_client.get(
        reverse("flows:pattern", args=["shop", "pattern_collect_information"])
    ).content.decode()
    utter = page.index("{{context.utter}}")
    collect_action = page.index("{{context.collect_action}}")
    assert utter < collect_action
    assert "Rasa Pro 3.21's default steps" in page


def test_a_customised_collect_pattern_exports_as_rasa_reads_it_and_asks(shop, rasa_flows_schema):
    import jsonschema

    flow, _warnings = patterns.customise(shop, "pattern_collect_information")
    assert flow.definition["steps"] == RASA_COLLECT_STEPS

    files = content.export_files(shop)
    data = YAML(typ="safe", pure=True).load(files["data/flows.yml"])
    exported = data["flows"]["pattern_collect_information"]
    assert exported["steps"] == RASA_COLLECT_STEPS
    assert exported["name"] == "pattern collect information"
    jsonschema.Draft202012Validator(rasa_flows_schema).validate(data)

    # The built-in engine, trained from the exported files, runs the customised pattern (not
    # the default) and asks the question.
    project = formats.load_project_files(files)
    assert "pattern_collect_information" in {f.id for f in project.flows}
    model = DialogueModel.build(project)
    assert model.flow("pattern_collect_information").flow in project.flows
    processor = Processor(model, _NoNlu(), seed=1, model_id="m", assistant_id="shop")
    tracker = Tracker("tester", model.initial_slots())
    messages = processor.start_flow(tracker, "order")
    assert [m.get("text") for m in messages] == ["How much?"]
    actions = [e["name"] for e in tracker.events if e["event"] == "action"]
    assert actions[-3:] == ["action_run_slot_rejections", "utter_ask_amount", "action_listen"]
    assert "action_ask_amount" not in actions  # not in the domain: its step is skipped


def test_every_rasa_pattern_is_listed_with_its_default_steps(ed_client, shop):
    page = ed_client.get(
        reverse("flows:pattern", args=["shop", "pattern_validate_slot"])
    ).content.decode()
    assert page.index("action_run_slot_rejections") < page.index("{{context.refill_utter}}")
    assert page.index("{{context.refill_utter}}") < page.index("{{context.refill_action}}")
    listing = ed_client.get(reverse("flows:patterns", args=["shop"])).content.decode()
    assert "Rasa Pro 3.21" in listing
    for name in sorted(formats.defaults.DEFAULT_PATTERNS):
        row = listing.split(f'id="pattern-{name}"')[1].split("</tr>")[0]
        assert '<span class="chip">default</span>' in row, name
        assert "no default" not in row, name
    page = ed_client.get(
        reverse("flows:pattern", args=["shop", "pattern_customer_satisfaction"])
    ).content.decode()
    assert "csat_score" in page and "utter_csat_thank_you_satisfied" in page
    assert "Rasa Pro 3.21's default steps" in page


def test_customised_completed_and_satisfaction_patterns_export_as_rasa_reads_them(
    shop, rasa_flows_schema
):
    import jsonschema

    patterns.customise(shop, "pattern_completed")
    patterns.customise(shop, "pattern_customer_satisfaction")
    files = content.export_files(shop)
    data = YAML(typ="safe", pure=True).load(files["data/flows.yml"])
    jsonschema.Draft202012Validator(rasa_flows_schema).validate(data)
    completed = data["flows"]["pattern_completed"]
    assert completed["steps"][0]["collect"] == "continue_conversation"
    assert completed["steps"][0]["ask_before_filling"] is True
    links = [
        step.get("link")
        for branch in completed["steps"][0]["next"]
        for step in (branch.get("then") or branch.get("else") or [])
        if isinstance(step, dict)
    ]
    assert "pattern_customer_satisfaction" in links
    satisfaction = data["flows"]["pattern_customer_satisfaction"]
    assert satisfaction["run_pattern_completed"] is False
    assert satisfaction["steps"][0]["collect"] == "csat_score"
