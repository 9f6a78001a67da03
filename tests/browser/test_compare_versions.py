"""Issue 19 in Chromium: compare a version with the live one, see the comparison's summary on
"Make live", and confirm.

Screenshots for a person to look at go to var/screenshots/issue19/ (comparison.png,
make-live.png).
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.comparison.models import Comparison
from apps.comparison.tests.fixtures import ingest_messages, train_tiny_versions
from tests.browser.support import log_in
from workers.training import TrainingConsumer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "issue19"


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


@pytest.fixture
def tiny(make_assistant, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    assistant = make_assistant("tiny")
    train_tiny_versions(assistant)
    ingest_messages(assistant, ["thank you", "hello", "bye"])
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


def test_compare_two_versions_before_making_one_live(page, tiny):
    log_in(page)
    page.goto("/a/tiny/versions")
    row = page.locator("tr", has=page.get_by_text("Version 2", exact=True))
    with page.expect_navigation():
        row.get_by_role("button", name="Compare with live").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Version 2 compared with Version 1")
    expect(page.get_by_role("status")).to_contain_text("Waiting for a training consumer")

    # A training consumer takes the comparison; the page follows it to the end.
    TrainingConsumer(once=True, worker_id="comparer").run()
    assert Comparison.objects.get().status == "succeeded"
    expect(page.locator("#comparison-status")).to_have_text("Succeeded")
    expect(page.locator("#section-e2e")).to_contain_text("tests/e2e.yml::greeting_text")
    expect(page.locator("#section-e2e")).to_contain_text("passed → failed")
    expect(page.locator("#section-content")).to_contain_text("utter_hello")
    expect(page.locator('#section-nlu tr[data-intent="thanks"]').first).to_be_visible()
    expect(page.locator("#section-triggers")).to_contain_text("say_welcome")
    screenshot(page, "comparison.png")

    page.goto("/a/tiny/versions")
    with page.expect_navigation():
        row.get_by_role("link", name="Make live").click()
    summary = page.locator("#comparison-summary")
    expect(summary).to_contain_text("1 case passed on the live version and fail on the candidate")
    expect(summary).to_contain_text("F1 higher for thanks")
    expect(summary).to_contain_text("responses 1 added, 1 changed")
    screenshot(page, "make-live.png")
    with page.expect_navigation():
        page.get_by_role("button", name="Make Version 2 live").click()
    expect(
        page.get_by_text("Starting Version 2; it goes live as soon as it answers.")
    ).to_be_visible()
    assert tiny.deployments.filter(version__number=2, status="queued").exists()
