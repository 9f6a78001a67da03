"""Long names, descriptions and conversation facts fit a 1440 px window (no sideways scrolling),
and text fields count their characters against their limit."""

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.ingestion import store
from apps.ingestion.models import Conversation
from apps.ingestion.store import RawMessage
from apps.projects import content
from demo.conversations import Conversation as Sample

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_ID = "order_" + "x" * 190
DESCRIPTION = " ".join(["Take the order of a pizza with all its toppings."] * 40)[:2000]
LONG_RESPONSE = "utter_" + "confirm_the_order_" * 10 + "z" * 14  # 200 characters
LONG_TEXT = "Your pizza with " + "extra-cheese-and-tomatoes-" * 60 + " is on its way."


@pytest.fixture
def shop(make_assistant, make_user):
    assistant = make_assistant("shop")
    content.import_files(
        assistant,
        {
            "domain.yml": (
                'version: "3.1"\nresponses:\n  utter_done:\n    - text: Done!\n'
                f'  {LONG_RESPONSE}:\n    - text: "{LONG_TEXT}"\n'
            ),
            "data/flows.yml": (
                f'version: "3.1"\nflows:\n  {LONG_ID}:\n    name: "{"N" * 200}"\n'
                f'    description: "{DESCRIPTION}"\n    steps:\n      - action: utter_done\n'
                f"      - action: {LONG_RESPONSE}\n"
            ),
        },
    )
    reviewer = make_user("a_reviewer_with_a_rather_long_user_name_indeed", Role.SUPERUSER)
    make_user("ana", Role.SUPERUSER)
    sample = Sample(
        "sender-" + "7" * 60, assistant_id="shop", model_id="f" * 64, start=1_750_000_000.0
    )
    sample.session_start().user("hello " + "y" * 300, "greet").bot("utter_done", "Done!")
    store.ingest([RawMessage(json.dumps(body)) for body in sample.events])
    Conversation.objects.update(reviewed_at=timezone.now(), reviewed_by=reviewer)
    return assistant


WIDER_THAN_WINDOW = """[...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth)
    .slice(0, 5).map(e => e.tagName.toLowerCase() + "." + e.className)"""


def no_sideways_scrolling(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1440, f"the page is {width} px wide: {page.evaluate(WIDER_THAN_WINDOW)}"


def test_long_content_fits_the_window_and_fields_count_characters(page, shop):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/")

    conversation = Conversation.objects.get()
    page.goto(f"/a/shop/conversations/{conversation.pk}")
    expect(page.locator("dl.facts")).to_contain_text("a_reviewer_with_a_rather_long_user_name")
    no_sideways_scrolling(page)
    facts = page.locator("aside dl.facts").bounding_box()
    assert facts["x"] + facts["width"] <= 1440

    page.goto("/a/shop/flows")
    expect(page.locator(".flows-table")).to_be_visible()
    no_sideways_scrolling(page)

    page.goto(f"/a/shop/flows/{LONG_ID}")
    no_sideways_scrolling(page)
    # The header's buttons stay on screen; the start node shows the start of the description.
    history = page.locator(".head-actions a", has_text="History").bounding_box()
    assert history["x"] + history["width"] <= 1440
    page.get_by_role("button", name="List").click()  # the list view's start card
    start = page.locator("#step-start").bounding_box()
    assert start["height"] < 400, f"the start node is {start['height']} px tall"
    assert page.locator("#step-start .node-title").get_attribute("title") == DESCRIPTION

    page.goto("/a/shop/flows/new")
    description = page.locator("#id_description")
    description.fill("Refund an order")
    expect(page.locator("#id_description-count")).to_have_text("15 / 2000")
    expect(page.locator("#id_name-count")).to_have_text("0 / 200")


def test_long_names_fit_the_canvas_side_panel_and_the_responses_list(page, shop):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    page.evaluate("localStorage.setItem('studio.canvas.view', 'list')")

    # The step that says the long response, opened in the side panel.
    page.goto(f"/a/shop/flows/{LONG_ID}")
    page.locator(".node-step", has_text=LONG_RESPONSE[:40]).first.click()
    panel = page.locator("#panel")
    expect(panel.locator("textarea").first).to_have_value(LONG_TEXT)
    no_sideways_scrolling(page)
    box = panel.bounding_box()
    assert box["x"] + box["width"] <= 1440
    assert box["width"] <= 720, f"the side panel is {box['width']} px wide"
    # Nothing in the panel reaches past its right edge.
    wider = panel.evaluate(
        """p => { const right = p.getBoundingClientRect().right + 1;
        return [...p.querySelectorAll("*")].filter(e => e.getBoundingClientRect().right > right)
          .slice(0, 5).map(e => e.tagName.toLowerCase() + "." + e.className); }"""
    )
    assert wider == [], f"reach past the side panel: {wider}"

    page.goto("/a/shop/responses")
    expect(page.locator("table")).to_contain_text(LONG_RESPONSE[:40])
    no_sideways_scrolling(page)
