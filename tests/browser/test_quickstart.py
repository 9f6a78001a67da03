import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.projects.models import Assistant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_superuser_logs_in_and_creates_an_assistant(page, make_user):
    make_user("root", Role.SUPERUSER)
    page.goto("/")
    assert "/login/" in page.url
    page.fill("#id_username", "root")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".errors")).to_be_visible()
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.click("text=Create assistant")
    page.fill("#id_name", "my bank")
    page.click("button[type=submit]")
    assert "no spaces" in page.locator(".field.has-error .error").inner_text()
    page.fill("#id_name", "my_bank")
    page.select_option("#id_mode", "classic")
    page.click("button[type=submit]")
    # A classic assistant has no flows: the SuperUser lands on its NLU page.
    page.wait_for_url("**/a/my_bank/nlu")
    page.click("nav.sidebar >> text=Overview")
    page.wait_for_url("**/a/my_bank/overview")
    assert page.locator("h1").inner_text() == "my_bank"
    assert Assistant.objects.get(name="my_bank").mode == "classic"
    # The left navigation offers the SuperUser the settings page; the switcher lists it.
    expect(page.locator("nav.sidebar >> text=Settings")).to_be_visible()
    page.click("summary")
    expect(page.locator(".switcher ul a", has_text="my_bank")).to_be_visible()
