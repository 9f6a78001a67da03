"""Save a Try conversation as a test case, then run the suite on a real training consumer."""

import shutil

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.training.models import ModelVersion
from tests.browser.support import log_in
from tests.support.bots import ServedBot, live_on
from tests.support.processes import manage, stop

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    bot = ServedBot(tmp_path_factory.mktemp("bot"))
    yield bot
    bot.stop()


@pytest.fixture
def pizzeria(make_assistant, make_user, served, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    assistant = live_on(make_assistant("pizzeria"), served.url)
    # The version's stored model is the one the bot serves.
    version = ModelVersion.objects.get(assistant=assistant)
    stored = settings.MEDIA_ROOT / version.model_file
    stored.parent.mkdir(parents=True)
    shutil.copyfile(served.model, stored)
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


def test_a_try_conversation_saved_as_a_test_case_passes_when_the_suite_runs(page, pizzeria):
    log_in(page, "fiona")
    page.goto("/a/pizzeria/try")
    page.fill("#chat-message", "I want a pizza")
    page.click(".chat-input button:has-text('Send')")
    expect(page.locator("#chat-log .msg.bot").first).to_contain_text("Which size would you like?")

    page.click("a:has-text('Save as test case')")
    expect(page.locator("h1")).to_have_text("New test case file")
    editor = page.locator("#id_text")
    expect(editor).to_contain_text("- user: I want a pizza")
    expect(editor).to_contain_text("flow_started: order_pizza")
    # The user may change it before saving: a wrong assertion is refused with its line.
    original = editor.input_value()
    editor.fill(original.replace("flow_started:", "flow_startd:"))
    page.click("button:has-text('Save test cases')")
    expect(page.locator("#case-problems")).to_contain_text("Nothing was saved")
    expect(page.locator("#case-problems")).to_contain_text("line")
    page.locator("#id_text").fill(original)
    page.click("button:has-text('Save test cases')")

    expect(page.locator("h1")).to_have_text("Tests")
    expect(page.locator("#test-cases")).to_contain_text("try_")
    consumer = manage("training_consumer", "--interval", "0.2", "--worker-id", "browser")
    try:
        page.click("button:has-text('Run 1 test case')")
        expect(page.locator("#run-state")).to_have_text("Passed", timeout=120000)
        expect(page.locator("#run-summary")).to_have_text("1 passed, 0 failed")
        expect(page.locator("#run-results")).to_contain_text("try_")
    finally:
        stop(consumer)
    page.goto("/a/pizzeria/versions")
    expect(page.locator("table")).to_contain_text("Passed 1/1")
