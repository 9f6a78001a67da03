"""Issue 19 in Chromium: save a flow's stable version, go on editing its draft, train the stable
version, and see on the Versions page which definition each flow was trained from.

Screenshots for a person to compare go to var/screenshots/issue19/ (canvas.png, train.png,
versions.png).
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.flows.models import Flow
from apps.training.models import TrainingJob
from engine import formats
from tests.browser.support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONFIG = "recipe: default.v1\nlanguage: en\npipeline: []\npolicies: []\n"
DOMAIN = """
version: "3.1"
intents: [pay]
responses:
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
"""
NLU = """
version: "3.1"
nlu:
  - intent: pay
    examples: |
      - pay my bill
      - I want to pay
"""

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "issue19"


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


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _submit(page, button):
    with page.expect_navigation():
        button.click()


def test_a_flow_builder_trains_the_stable_version_while_the_draft_moves_on(page, bills):
    log_in(page, list_view=True)
    page.goto("/a/bills/flows/pay/")
    menu = page.locator("#stable-menu")
    menu.locator("summary").click()
    expect(menu).to_contain_text("No stable version yet.")
    menu.get_by_label("Comment").fill("Checked with accounting")
    _submit(page, menu.get_by_role("button", name="Save stable version"))
    expect(page.locator(".messages")).to_contain_text("Saved flow pay as a stable version")
    expect(page.locator("#stable-current")).to_have_text("stable")

    # The draft moves on: a new description, from the start node's panel.
    page.click("#step-start")
    start = page.locator("#panel #start-form")
    start.locator("[name=description]").fill("Pay a bill, a newer draft")
    _submit(page, page.locator("#panel button[type=submit]"))
    expect(page.locator("#step-start")).to_contain_text("Pay a bill, a newer draft")
    expect(page.locator("#stable-current")).to_have_count(0)
    page.locator("#stable-menu summary").click()
    expect(page.locator("#last-stable")).to_contain_text("Checked with accounting")
    expect(
        page.locator("#stable-menu").get_by_role("button", name="Revert to this stable version…")
    ).to_be_visible()
    screenshot(page, "canvas.png")

    # The history badges the stable entry.
    page.goto("/a/bills/flows/pay/history")
    expect(page.locator(".badge-stable")).to_have_count(1)
    expect(page.locator(".stable-note")).to_contain_text("Checked with accounting")

    # Train with the stable version of pay.
    page.goto("/a/bills/train")
    page.get_by_label(
        "Choose for each flow: its draft, last stable version or last published"
    ).check()
    page.get_by_label("Train pay from").select_option("stable")
    screenshot(page, "train.png")
    _submit(page, page.get_by_role("button", name="Train a new version"))
    expect(page).to_have_url(re.compile(r"/a/bills/training/\d+$"))
    job = TrainingJob.objects.get()
    (trained,) = formats.load_project_files(
        {"data/flows.yml": job.version.input_files["data/flows.yml"]}
    ).flows
    assert trained.description == "Pay a bill"  # the stable version, not the newer draft
    assert Flow.objects.get(assistant=bills, name="pay").description == "Pay a bill, a newer draft"

    page.goto("/a/bills/versions")
    row = page.locator("tr", has_text="Version 1")
    expect(row.locator(".version-flows summary")).to_have_text("Flows: 1 stable version")
    row.locator(".version-flows summary").click()
    expect(row.locator(".flow-sources")).to_contain_text("pay: stable version of")
    expect(row.locator(".flow-sources")).to_contain_text("(Checked with accounting)")
    screenshot(page, "versions.png")
