"""Assistants without flows: a classic project (stories, rules, forms, retrieval intents) says
how it converses on its overview, gets the classic mode when the import command creates it, and
its pages that list flows point to its stories instead."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.projects import content
from apps.projects.dialogue import dialogue_of
from apps.projects.models import Assistant
from apps.training import services
from engine import formats
from tests.support.rasa_projects import RASA_PROJECTS, project_texts

pytestmark = pytest.mark.django_db

CLASSIC = RASA_PROJECTS / "classic-forms"
ROUTED_CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: IntentBasedRouter
    nlu_entry:
      sticky: [book_table]
    calm_entry:
      sticky: [transfer_money]
  - name: NLUCommandAdapter
policies:
  - name: FlowPolicy
  - name: RulePolicy
"""


def test_a_classic_project_is_stories_and_rules_run_by_its_policies():
    dialogue = dialogue_of(formats.load_project_files(project_texts("classic-forms")))
    assert dialogue.kind == "classic"
    assert dialogue.policies == ["MemoizationPolicy", "RulePolicy", "TEDPolicy"]
    assert (dialogue.flows, dialogue.stories, dialogue.rules) == (0, 5, 7)
    assert dialogue.forms == ["booking_form"]
    assert dialogue.label == "Stories and rules, run by MemoizationPolicy, RulePolicy, TEDPolicy"


def test_a_router_in_the_pipeline_makes_a_mixed_assistant():
    files = {**project_texts("classic-forms"), "config.yml": ROUTED_CONFIG}
    dialogue = dialogue_of(formats.load_project_files(files))
    assert (dialogue.kind, dialogue.router) == ("coexistence", "IntentBasedRouter")
    assert dialogue.label == "CALM flows and stories side by side, routed by IntentBasedRouter"


def test_a_calm_project_is_flows():
    dialogue = dialogue_of(formats.load_project_files(project_texts("calm-basic")))
    assert dialogue.kind == "calm" and dialogue.flows > 0 and dialogue.label == "CALM flows"


def test_the_import_command_creates_a_classic_assistant_for_a_classic_project():
    call_command("import_assistant", "tables", str(CLASSIC), "--create", stdout=io.StringIO())
    assert Assistant.objects.get(name="tables").mode == Assistant.Mode.CLASSIC
    call_command(
        "import_assistant",
        "calm",
        str(RASA_PROJECTS / "calm-basic"),
        "--create",
        stdout=io.StringIO(),
    )
    assert Assistant.objects.get(name="calm").mode == Assistant.Mode.MODERN


def test_the_overview_says_how_a_classic_assistant_converses(admin_client, make_assistant):
    assistant = make_assistant("tables")
    content.import_files(assistant, project_texts("classic-forms"))
    page = admin_client.get(reverse("projects:overview", args=["tables"])).content.decode()
    facts = page.split('<dl class="facts">')[1].split("</dl>")[0]
    assert "Stories and rules, run by MemoizationPolicy, RulePolicy, TEDPolicy" in facts
    assert "0 flows, 5 stories, 7 rules, form booking_form" in facts


def test_a_classic_assistant_trains_and_its_empty_flow_list_points_to_its_stories(
    admin_client, make_assistant
):
    assistant = make_assistant("tables")
    content.import_files(assistant, project_texts("classic-forms"))
    assert services.check_readiness(assistant).ok
    train = admin_client.get(reverse("training:train", args=["tables"])).content.decode()
    assert "The assistant is valid and ready to train." in train
    flows = admin_client.get(reverse("flows:list", args=["tables"])).content.decode()
    assert "This assistant has no flows yet." in flows
    assert f'href="{reverse("projects:stories", args=["tables"])}">stories and rules</a>' in flows
    # A search that matches no flow is not about stories.
    found = admin_client.get(reverse("flows:list", args=["tables"]), {"q": "zzz"}).content
    assert "stories and rules" not in found.decode()
