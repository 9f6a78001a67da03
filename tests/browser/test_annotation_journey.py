"""The annotation workflow in Chromium: a lead annotator builds and assigns a batch, an annotator
works it (accepts one message, relabels one and marks an entity in it, discards one), the lead
approves it, the examples appear on the NLU intent page, and the history exports as CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.accounts.roles import Role
from apps.annotation.tests import factories as f
from apps.nlu.models import Entity, Example, Intent
from tests.browser.support import log_in as sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "issue18"


@pytest.fixture
def bank(make_assistant, make_user):
    assistant = make_assistant("bank")
    Intent.objects.create(assistant=assistant, name="greet")
    Entity.objects.create(assistant=assistant, name="bill_type")
    conv = f.conversation(assistant, "web-1", "web")
    f.user_message(conv, "hello there", intent="greet", confidence=0.92)
    f.bot_message(conv, "Hi! How can I help?")
    f.user_message(conv, "pay my phone bill", intent="greet", confidence=0.31)
    f.user_message(conv, "asdfgh", intent="greet", confidence=0.12)
    make_user("lena", grants={assistant: [Role.LEAD_ANNOTATOR]})
    make_user("ali", grants={assistant: [Role.ANNOTATOR]})
    return assistant


def log_in(page, username):
    page.context.clear_cookies()  # the next person signs in on the same page
    sign_in(page, username)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def select_text(page, selector, start, end):
    """Select characters start..end of the element's text, as a mouse drag would."""
    page.evaluate(
        """([selector, start, end]) => {
            const node = document.querySelector(selector).firstChild;
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, end);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            document.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
        }""",
        [selector, start, end],
    )


def test_a_batch_from_assignment_to_the_training_data(page, bank):
    # The lead annotator lands on the dashboard and assigns every message to Ali.
    log_in(page, "lena")
    page.goto("/a/bank/")
    page.wait_for_url("**/a/bank/annotation")
    assert page.locator("[data-total=messages]").inner_text() == "3"
    page.fill("#id_min_confidence", "0.1")
    page.fill("#id_size", "10")
    page.select_option("#id_assignee", label="ali")
    page.click("button[value=preview]")
    assert "3 messages match" in page.locator("[data-matching]").inner_text()
    page.click("button[value=assign]")
    page.wait_for_selector("text=Batch 1 (3 messages) assigned to ali.")
    shot(page, "annotation-dashboard")

    # The annotator lands on the inbox.
    log_in(page, "ali")
    page.goto("/a/bank/")
    page.wait_for_url("**/a/bank/annotation/inbox")
    # Accept "hello there" as predicted, from the list.
    page.check("input[aria-label='Select hello there']")
    page.click("button[value=accept]")
    page.wait_for_selector("text=Saved 1 message(s).")
    # Relabel "pay my phone bill" and mark "phone bill" as an entity.
    page.click("text=pay my phone bill")
    page.wait_for_selector("text=Hi! How can I help?")
    page.wait_for_load_state("load")  # the annotator's script listens for the selection
    select_text(page, ".current-message .example-text", 7, 17)
    page.wait_for_selector("#annotate-form:not([hidden])")
    page.select_option("#annotate-form select[name=entity]", "bill_type")
    page.click("#annotate-form button[type=submit]")
    page.wait_for_selector(".current-message mark[data-entity=bill_type]")
    page.fill("#id_intent", "pay_bill")
    shot(page, "annotation-message")
    page.click("#label-form button[value=save]")
    # Saving goes on to the next message of the batch: discard it.
    page.wait_for_selector(".current-message >> text=asdfgh")
    page.click("#label-form button[value=discard]")
    page.wait_for_url("**/a/bank/annotation/inbox")
    page.goto("/a/bank/annotation/inbox?tab=discarded")
    assert page.locator("td >> text=asdfgh").count() == 1

    # The lead approves the saved messages and adds them to the training data.
    log_in(page, "lena")
    page.goto("/a/bank/annotation/review")
    page.click("text=Batch 1")
    page.check("input[aria-label='Select hello there']")
    page.check("input[aria-label='Select pay my phone bill']")
    page.click("button[value=approve]")
    page.wait_for_selector("text=Approved 2 message(s).")
    page.click("button[value=add]")
    page.wait_for_selector("[data-reviewed]")
    shot(page, "annotation-review")
    assert sorted(Example.objects.values_list("intent__name", "text")) == [
        ("greet", "hello there"),
        ("pay_bill", "pay my phone bill"),
    ]
    page.goto("/a/bank/nlu/intents/pay_bill/")
    page.wait_for_selector(".example-text mark[data-entity=bill_type] >> text=phone bill")
    shot(page, "annotation-nlu-intent")

    # The history exports as CSV.
    page.goto("/a/bank/annotation/history")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert body.splitlines()[0].startswith("batch,message_at,channel,text")
    assert "pay my phone bill" in body and "asdfgh" in body
    shot(page, "annotation-history")
