"""A flow that calls a sub-agent, on the canvas in Chromium: the step is a card of its own that
says which agent it calls and what the agent does, and its form offers the sub-agents."""

import pytest

from apps.accounts.roles import Role
from apps.flows.models import Flow
from tests.browser.support import log_in as sign_in
from tests.support.rasa_projects import project_texts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def outdoor(make_assistant, make_user):
    from apps.projects import content

    assistant = make_assistant("outdoor")
    content.import_files(
        assistant,
        project_texts("sub-agents"),
    )
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


def log_in(page, username="fiona"):
    sign_in(page, username, list_view=True)


def test_a_sub_agent_call_is_its_own_card_and_its_form_offers_the_agents(page, outdoor):
    log_in(page)
    page.goto("/a/outdoor/flows/return_item/")
    card = page.locator(".node.kind-agent")
    assert card.locator(".node-kind").text_content().strip().startswith("Sub-agent")
    assert card.locator(".node-title").inner_text() == "Calls sub-agent returns_desk"
    lines = card.locator(".node-lines").inner_text()
    assert "Registers the return of an order" in lines
    assert "Exits when slots.return_label is not null" in lines

    card.click()
    page.wait_for_selector("#panel form.step-form")
    picker = page.locator("#panel select[name=flow]")
    assert picker.input_value() == "returns_desk"
    picker.select_option("product_expert")
    with page.expect_navigation():
        page.click("#panel button[type=submit]")
    page.wait_for_selector("#canvas")
    assert page.locator(".node.kind-agent .node-title").inner_text() == (
        "Calls sub-agent product_expert"
    )
    step = Flow.objects.get(assistant=outdoor, name="return_item").definition["steps"][1]
    assert step == {
        "id": "start_return",
        "call": "product_expert",
        "exit_if": ["slots.return_label is not null"],
    }
