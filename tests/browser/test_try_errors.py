"""Form errors answered through htmx stay in the page, with DEBUG on as `make run` has it.

django-htmx's development script replaces the whole document with any 400 answer to an htmx
request; Studio answers an invalid form with 400 and the form again, which must be swapped into
its place instead (the header, the sidebar and the conversation stay).
"""

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from tests.support.bots import ServedBot, live_on

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    bot = ServedBot(tmp_path_factory.mktemp("bot"))
    yield bot
    bot.stop()


@pytest.fixture
def pizzeria(make_assistant, make_user, served, settings):
    settings.DEBUG = True  # what `make run` sets: django-htmx adds its debug script
    assistant = make_assistant("pizzeria")
    live_on(assistant, served.url)
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


def settled(page):
    expect(page.locator(".htmx-request, .htmx-added, .htmx-settling")).to_have_count(0)


def page_is_whole(page):
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("nav.sidebar")).to_contain_text("Try")
    expect(page.locator("h1")).to_have_text("Try your assistant")
    expect(page).to_have_title("Try · pizzeria · Studio")


def test_form_errors_in_try_keep_the_page_and_show_in_place(page, pizzeria):
    page.goto("/login/")
    page.fill("#id_username", "fiona")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    assert "django-htmx.js" in page.content(), "DEBUG is on, as with make run"
    page.goto("/a/pizzeria/try")
    page_is_whole(page)

    settled(page)
    page.fill("#chat-message", "I want a pizza")
    page.click(".chat-input button:has-text('Send')")
    expect(page.locator("#chat-log .msg.bot").first).to_contain_text("Which size would you like?")

    # An empty box is not sent at all: the input is required.
    settled(page)
    page.fill("#chat-message", "")
    page.click(".chat-input button:has-text('Send')")
    assert page.locator("#chat-message").evaluate("el => el.validity.valueMissing")
    page_is_whole(page)

    # Only spaces: the server refuses it with 400, shown under the conversation.
    page.fill("#chat-message", "   ")
    page.click(".chat-input button:has-text('Send')")
    expect(page.locator("#try .error[role=alert]")).to_have_text("Type a message first.")
    page_is_whole(page)
    expect(page.locator("#chat-log")).to_contain_text("Which size would you like?")

    # A typo in the preset slots' JSON: 400, the message says what is wrong, in place.
    settled(page)
    page.click(".start-flow summary")
    page.select_option("#start-flow", "order_pizza")
    page.fill("#start-slots", "{not json")
    page.click(".start-flow button[type=submit]")
    error = page.locator("#try .error[role=alert]")
    expect(error).to_contain_text("Preset slots are not valid JSON (line 1, column 2")
    page_is_whole(page)
    expect(page.locator("#chat-log")).to_contain_text("Which size would you like?")

    # The page still works after the errors.
    settled(page)
    page.fill("#chat-message", "hello")
    page.click(".chat-input button:has-text('Send')")
    expect(page.locator("#chat-log")).to_contain_text("Hello there!")
    page_is_whole(page)
