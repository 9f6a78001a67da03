"""Two tabs on the same flow (issue 17, D2): the tab drawn before the other one's edit has its
edit and its delete refused with "This flow changed since you opened it.", and nothing changes;
once reloaded, its edits work."""

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.flows.models import Flow
from tests.browser.support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STALE = "This flow changed since you opened it."
DOMAIN = """
version: "3.1"
slots:
  amount:
    type: float
    mappings: [{type: from_llm}]
responses:
  utter_ask_amount:
    - text: How much?
  utter_done:
    - text: Done!
  utter_thanks:
    - text: Thanks!
"""
FLOWS = """
version: "3.1"
flows:
  pay:
    description: Pay an amount
    steps:
      - collect: amount
      - action: utter_done
"""
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "issue17"


@pytest.fixture
def bank(make_assistant, make_user):
    from apps.projects import content

    assistant = make_assistant("bank")
    content.import_files(assistant, {"domain.yml": DOMAIN, "data/flows.yml": FLOWS})
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


def open_tab(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, list_view=True)
    page.goto("/a/bank/flows/pay/")
    return context, page


def steps_of(bank):
    return Flow.objects.get(assistant=bank, name="pay").definition["steps"]


def test_a_stale_tab_cannot_edit_or_delete_until_reloaded(browser, live_server, bank):
    context_a, tab_a = open_tab(browser, live_server)
    context_b, tab_b = open_tab(browser, live_server)
    tab_b2 = context_b.new_page()
    tab_b2.set_default_timeout(15000)
    tab_b2.goto("/a/bank/flows/pay/")
    try:
        # Tab B opens the message step's editor; a second tab of B opens its delete.
        tab_b.locator(".node.kind-message").click()
        tab_b.wait_for_selector("#panel form.step-form")
        tab_b2.locator(".node.kind-message").click()
        tab_b2.locator("#panel a", has_text="Delete step").click()
        tab_b2.wait_for_selector("#panel button.danger")

        # Tab A puts a step first: the message step is now at another path.
        tab_a.locator("#canvas .gap-add").first.click()
        tab_a.locator("#panel .kind-picker a", has_text="Message").first.click()
        tab_a.select_option("#id_response", "utter_thanks")
        with tab_a.expect_navigation():
            tab_a.click("#panel button[type=submit]")
        after_a = steps_of(bank)
        assert [s.get("action") for s in after_a] == ["utter_thanks", None, "utter_done"]

        # B's edit is refused, with the way to the fresh canvas. (Changing a field would have
        # the panel's live check say so already; Save is the edit itself.)
        tab_b.click("#panel button[type=submit]")
        expect(tab_b.locator("#panel")).to_contain_text(STALE)
        expect(tab_b.locator("#panel a#open-fresh-canvas")).to_be_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab_b.screenshot(path=str(SCREENSHOTS / "two-tabs.png"))
        # B's delete is refused too.
        tab_b2.click("#panel button.danger")
        expect(tab_b2.locator("#panel")).to_contain_text(STALE)
        assert steps_of(bank) == after_a
        # Opening a step's panel on the stale page is refused as well.
        tab_b2.locator(".node.kind-collect").click()
        expect(tab_b2.locator("#panel")).to_contain_text(STALE)

        # After a reload, B's edit works (on the step it now sees).
        with tab_b.expect_navigation():
            tab_b.click("#panel a#open-fresh-canvas")
        tab_b.locator(".node.kind-message", has_text="utter_done").click()
        tab_b.wait_for_selector("#panel form.step-form")
        tab_b.select_option("#id_response", "utter_ask_amount")
        with tab_b.expect_navigation():
            tab_b.click("#panel button[type=submit]")
        assert [s.get("action") for s in steps_of(bank)] == [
            "utter_thanks",
            None,
            "utter_ask_amount",
        ]
        # Tab A's Undo button now has nothing of its own to undo (B changed the flow since).
        tab_a.reload()
        expect(tab_a.locator("#undo-button")).to_be_disabled()
        # B can undo its edit.
        expect(tab_b.locator("#undo-button")).to_be_enabled()
        with tab_b.expect_navigation():
            tab_b.keyboard.press("Control+z")
        assert [s.get("action") for s in steps_of(bank)] == ["utter_thanks", None, "utter_done"]
    finally:
        context_a.close()
        context_b.close()
