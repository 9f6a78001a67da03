"""Logging in through an OpenID Connect provider shaped like Keycloak, in Chromium.

The provider (tests/oidc/provider.mjs) runs with Node on a free loopback port; its client's
redirect URI is the live server's callback. Each login happens in a fresh browser, so the
provider's own session never logs anyone in silently.
"""

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.accounts.roles import Role
from tests.support.oidc import keycloak_account, running_provider

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def provider(live_server, tmp_path_factory):
    callback = f"{live_server.url}/oidc/callback/"
    with running_provider([callback], tmp_path_factory.mktemp("idp")) as idp:
        yield idp


@pytest.fixture(autouse=True)
def sso(provider, settings):
    for name, value in provider.settings().items():
        setattr(settings, name, value)


@pytest.fixture
def new_page(browser, live_server):
    """A page in a browser of its own (no cookies, neither Studio's nor the provider's)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()


def sso_login(page, username, password="pw"):
    page.goto("/login/")
    page.get_by_role("link", name="Log in with single sign-on").click()
    expect(page.get_by_role("heading", name="Sign in to the identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def shop(make_assistant):
    from apps.flows.models import Flow

    assistant = make_assistant("shop")
    Flow.objects.create(
        assistant=assistant,
        name="check_balance",
        definition={"description": "Tells the balance", "steps": [{"action": "utter_hi"}]},
    )
    return assistant


def test_a_flow_builder_from_keycloak_builds_flows_but_does_not_manage_users(page, provider, shop):
    provider.set_accounts(
        {"fiona": keycloak_account("fiona", groups=["/studio/Flow Builder"], sub="f-1")}
    )

    sso_login(page, "fiona")

    expect(page.get_by_role("heading", name="Welcome to Studio")).to_be_visible()
    expect(page.get_by_role("link", name="fiona")).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    page.get_by_role("link", name="shop").click()
    expect(page).to_have_url(re.compile(r"/a/shop/flows"))
    expect(page.get_by_text("check_balance")).to_be_visible()
    assert page.goto("/users/").status == 403
    assert User.objects.get(oidc_subject="f-1").global_roles() == {Role.FLOW_BUILDER}


def test_a_second_login_brings_the_new_groups(new_page, provider):
    provider.set_accounts({"sam": keycloak_account("sam", groups=["/Business User"])})
    first = new_page()
    sso_login(first, "sam")
    expect(first.get_by_role("heading", name="Welcome to Studio")).to_be_visible()
    expect(first.get_by_role("link", name="Users")).to_have_count(0)

    provider.set_accounts({"sam": keycloak_account("sam", groups=["/SuperUser"])})
    second = new_page()
    sso_login(second, "sam")

    expect(second.get_by_role("heading", name="Welcome to Studio")).to_be_visible()
    second.get_by_role("link", name="Users").click()
    expect(second.get_by_role("heading", name="Users")).to_be_visible()
    assert User.objects.get(username="sam").global_roles() == {Role.SUPERUSER}


def test_an_unknown_group_grants_nothing(page, provider, shop):
    provider.set_accounts({"nina": keycloak_account("nina", groups=["/staff", "/Admins"])})

    sso_login(page, "nina")

    expect(page.get_by_text("You have no role on any assistant yet.")).to_be_visible()
    expect(page.get_by_role("link", name="shop")).to_have_count(0)
    assert User.objects.get(username="nina").global_roles() == frozenset()


def test_a_deactivated_account_is_refused(page, provider, make_user):
    make_user("eve", is_active=False, oidc_subject="kc-eve")
    provider.set_accounts({"eve": keycloak_account("eve", groups=["/SuperUser"])})

    sso_login(page, "eve")

    expect(page.get_by_text("Your Studio account is deactivated.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
