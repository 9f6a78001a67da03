"""Issue 17 in Chromium: customise and reset a pattern; a flow goes draft -> published and is
trained with only the published flows.

Screenshots for a person to compare go to var/screenshots/issue17/ (patterns.png,
published.png).
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.flows import services
from apps.flows.models import Flow, FlowVersion
from apps.training.models import TrainingJob
from tests.browser.support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONFIG = "recipe: default.v1\nlanguage: en\npipeline: []\npolicies: []\n"
DOMAIN = """
version: "3.1"
intents: [greet, pay]
responses:
  utter_hello:
    - text: Hello!
  utter_paid:
    - text: Paid.
"""
FLOWS = """
version: "3.1"
flows:
  pay:
    description: Pay a bill
    nlu_trigger: [pay]
    steps:
      - action: utter_paid
  greet_back:
    description: Say hello back, a flow still being written
    nlu_trigger: [greet]
    steps:
      - action: utter_hello
"""
NLU = """
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi
  - intent: pay
    examples: |
      - pay my bill
      - I want to pay
"""


#: The repository's var/ (git-ignored): the tests' own VAR_DIR is a temporary folder.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "issue17"


def screenshot(page, name):
    directory = SCREENSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(directory / name), full_page=True)


@pytest.fixture
def bills(make_assistant, make_user, settings, tmp_path):
    from apps.projects import content

    settings.MEDIA_ROOT = tmp_path / "storage"
    assistant = make_assistant("bills")
    content.import_files(
        assistant,
        {"config.yml": CONFIG, "domain.yml": DOMAIN, "data/flows.yml": FLOWS, "data/nlu.yml": NLU},
    )
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


def test_a_flow_builder_customises_and_resets_a_pattern(page, bills):
    log_in(page)
    page.goto("/a/bills/flows")
    page.get_by_role("link", name="Patterns").click()
    page.wait_for_url("**/a/bills/patterns")
    row = page.locator("#pattern-pattern_chitchat")
    expect(row).to_contain_text("Handles small talk")
    expect(row.locator(".badge-customised")).to_have_count(0)

    row.get_by_role("button", name="Customise pattern_chitchat").click()
    page.wait_for_url("**/a/bills/flows/pattern_chitchat/")
    # Rasa Pro's default chitchat step: free-form answers through the IntentlessPolicy.
    expect(page.locator("#canvas")).to_contain_text("action_trigger_chitchat")
    assert Flow.objects.filter(assistant=bills, name="pattern_chitchat").exists()

    page.goto("/a/bills/patterns")
    row = page.locator("#pattern-pattern_chitchat")
    expect(row.locator(".badge-customised")).to_have_text("customised")
    expect(page.locator(".badge-customised")).to_have_count(1)
    screenshot(page, "patterns.png")
    # Patterns are not mixed into the flow list.
    page.get_by_role("navigation", name="Flows and patterns").get_by_role(
        "link", name="Flows"
    ).click()
    expect(page.locator(".flows-table")).to_contain_text("pay")
    expect(page.locator(".flows-table")).not_to_contain_text("pattern_chitchat")

    page.goto("/a/bills/patterns")
    page.locator("#pattern-pattern_chitchat").get_by_role("link", name="Reset to default").click()
    expect(page.locator("h1")).to_have_text("Reset pattern_chitchat to default")
    page.get_by_role("button", name="Reset to default").click()
    page.wait_for_url("**/a/bills/patterns")
    expect(page.locator(".messages")).to_contain_text("its default steps run again")
    expect(page.locator(".badge-customised")).to_have_count(0)
    assert not Flow.objects.filter(assistant=bills, name="pattern_chitchat").exists()
    assert FlowVersion.objects.filter(assistant=bills, flow_name="pattern_chitchat").count() == 2

    # The collect pattern's default steps are Rasa Pro's: the question, then the custom action.
    page.locator("#pattern-pattern_collect_information").get_by_role("link", name="View").click()
    page.wait_for_url("**/a/bills/patterns/pattern_collect_information/")
    steps = page.locator("ol.pattern-steps > li.pattern-step")
    expect(steps).to_have_count(5)
    expect(steps.nth(2)).to_contain_text("{{context.utter}}")
    expect(steps.nth(2)).to_contain_text("(id ask_collect)")
    expect(steps.nth(3)).to_contain_text("{{context.collect_action}}")
    expect(steps.nth(4)).to_contain_text("action_listen")


def test_a_flow_goes_from_draft_to_published_and_is_trained_alone(page, bills):
    log_in(page)
    page.goto("/a/bills/flows")
    table = page.locator(".flows-table")
    pay_row = table.locator("tr", has_text="Pay a bill")
    expect(pay_row.locator(".status.flow-status-draft")).to_have_text("Draft")

    pay_row.get_by_role("checkbox", name="Select pay").check()
    page.get_by_role("button", name="Publish selected", exact=True).click()
    page.wait_for_load_state()
    expect(page.locator("body")).to_contain_text("1 flow published: pay.")
    pay_row = page.locator(".flows-table tr", has_text="Pay a bill")
    expect(pay_row.locator(".flow-status-published")).to_have_text("Published")
    greet_row = page.locator(".flows-table tr", has_text="Say hello back")
    expect(greet_row.locator(".flow-status-draft")).to_have_text("Draft")

    page.get_by_label("Filter by status").select_option("published")
    expect(page.locator(".flows-table")).not_to_contain_text("Say hello back")
    expect(page).to_have_url(re.compile(r"status=published"))
    page.get_by_label("Filter by status").select_option("")
    expect(page.locator(".flows-table")).to_contain_text("Say hello back")
    page.locator(".flows-table tr", has_text="Pay a bill").hover()
    screenshot(page, "published.png")
    # The description shows on hover (the name's title), and long names never widen the list.
    expect(page.get_by_role("link", name="pay", exact=True)).to_have_attribute(
        "title", "Pay a bill"
    )
    services.create_flow(bills, name="n" * 200, title="T" * 200, description="D" * 2000, user=None)
    page.reload()
    expect(page.locator(".flows-table")).to_contain_text("T" * 79 + "…")
    widths = page.evaluate(
        "() => [document.querySelector('.flows-table').getBoundingClientRect().right,"
        " document.querySelector('main').getBoundingClientRect().right]"
    )
    assert widths[0] <= widths[1], widths

    page.goto("/a/bills/train")
    page.get_by_label("Only published flows, each as it was last published").check()
    page.get_by_role("button", name="Train a new version").click()
    page.wait_for_url(re.compile(r"/a/bills/training/\d+$"))
    job = TrainingJob.objects.get()
    trained = job.version.input_files["data/flows.yml"]
    assert "pay:" in trained and "greet_back" not in trained
