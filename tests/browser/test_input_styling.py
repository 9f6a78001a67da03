"""Every kind of input looks alike (D17): URL and date fields have the text fields' border,
radius and height, and a checkbox sits beside its label at the start of the line."""

import pytest

from apps.accounts.roles import Role
from apps.projects import content
from tests.browser.support import log_in as sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOOK = """selector => {
    const style = getComputedStyle(document.querySelector(selector));
    return [style.borderTopColor, style.borderTopWidth, style.borderRadius, style.height,
            style.paddingLeft];
}"""


@pytest.fixture
def shop(make_assistant, make_user):
    assistant = make_assistant("shop")
    content.import_files(
        assistant, {"domain.yml": 'version: "3.1"\nresponses:\n  utter_done:\n    - text: Done!\n'}
    )
    make_user("ana", Role.SUPERUSER)
    return assistant


def log_in(page):
    sign_in(page, "ana")


def test_url_and_date_inputs_look_like_text_inputs(page, shop):
    log_in(page)
    page.goto("/a/shop/responses/utter_done/")
    text = page.evaluate(LOOK, "input[type=text]")
    assert page.evaluate(LOOK, "input[type=url]") == text
    page.goto("/a/shop/conversations")
    assert page.evaluate(LOOK, "input[type=date]") == text


def test_a_checkbox_sits_beside_its_label(page, shop):
    log_in(page)
    page.goto("/a/shop/responses/utter_done/")
    box = page.locator(".field.check input[type=checkbox]").first.bounding_box()
    label = page.locator(".field.check label").first.bounding_box()
    assert abs(box["x"] - label["x"]) < 2  # at the start of the line, not centred
    assert label["y"] <= box["y"] <= label["y"] + label["height"]  # on the label's line
