"""The whole way from an empty assistant to a conversation, in Chromium, as a new user goes.

A Flow Builder starts from an assistant that has only its intents and NLU examples, creates a
categorical slot, builds a flow (NLU trigger, collect, logic with two branches, a message in each),
trains it on a real training consumer, chats with it on a real running consumer, then edits a
response, trains again and sees the new text once the new version is live.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.flows.models import Flow
from apps.training.models import Deployment
from tests.browser.support import log_in as sign_in
from tests.support.processes import manage, stop, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

CONFIG = """
recipe: default.v1
language: en
pipeline:
  - name: NLUCommandAdapter
policies:
  - name: FlowPolicy
"""
DOMAIN = """
version: "3.1"
intents: [order_pizza, greet]
"""
NLU = """
version: "3.1"
nlu:
  - intent: order_pizza
    examples: |
      - I'd like to order a pizza
      - I want a pizza
      - can I get a pizza
      - order a pizza please
      - one pizza for delivery
      - I'm hungry, bring me a pizza
  - intent: greet
    examples: |
      - hello
      - hi
      - hey there
      - good morning
      - good evening
      - hi, how are you
"""

# What the assistant says when a flow has finished (Rasa's pattern_completed).
ANYTHING_ELSE = "Can I help you with anything else?"
TRAINING = 240_000  # ms: the built-in engine trains in seconds; slow machines get headroom
BOT_START = 180_000


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Models and event spools of this test only (the worker processes get the same paths)."""
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


@pytest.fixture
def pizzeria(make_assistant, make_user):
    from apps.projects import content

    assistant = make_assistant("pizzeria")
    content.import_files(
        assistant, {"config.yml": CONFIG, "domain.yml": DOMAIN, "data/nlu.yml": NLU}
    )
    make_user("fiona", Role.FLOW_BUILDER)
    return assistant


@pytest.fixture
def workers():
    """Start consumer processes on the test database; all are stopped after the test."""
    started = []

    def start(*args):
        process = manage(*args)
        started.append(process)
        return process

    yield start
    for process in started:
        # Shown by pytest when the test failed.
        print(stop(process))  # noqa: T201


def screenshot(page, name):
    directory = os.environ.get("STUDIO_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=os.path.join(directory, name), full_page=True)


def log_in(page, username):
    sign_in(page, username, list_view=True)


def sidebar(page, label):
    with page.expect_navigation():
        page.locator("nav.sidebar a", has_text=label).click()


def add_step(page, gap, kind_label):
    gap.click()
    page.locator("#panel .kind-picker a", has_text=kind_label).first.click()
    expect(page.locator("#panel form.step-form")).to_be_visible()


def submit_panel(page):
    with page.expect_navigation():
        page.click("#panel button[type=submit]")
    expect(page.locator("#canvas")).to_be_visible()


def train(page):
    """Train a new version from the Train page and wait on the job page until it succeeded."""
    sidebar(page, "Train")
    expect(page.locator(".ok-note")).to_have_text("The assistant is valid and ready to train.")
    page.click("button:has-text('Train a new version')")
    page.wait_for_url("**/a/pizzeria/training/*")
    status = page.locator("#job-status .status")
    expect(status).to_have_text("Succeeded", timeout=TRAINING)
    # The raw training log is for those who manage the assistant's settings, not a Flow Builder.
    expect(page.locator("#job-log")).to_have_count(0)


def settled(page):
    """Wait until htmx has finished its requests and swaps (new forms are wired up)."""
    expect(page.locator(".htmx-request, .htmx-added, .htmx-settling")).to_have_count(0)


def say(page, text, *replies):
    """Send a message in Try your assistant and expect exactly these replies to it."""
    settled(page)
    turns = page.locator("#chat-log .msg.user").count()
    page.fill("#chat-message", text)
    page.click(".chat-input button:has-text('Send')")
    expect(page.locator("#chat-log .msg.user")).to_have_count(turns + 1)
    mine = page.locator("#chat-log .msg.user").last
    expect(mine).to_have_text(text)
    answer = mine.locator("xpath=following-sibling::li[contains(@class, 'bot')]")
    expect(answer).to_have_text(list(replies))


def test_a_flow_builder_builds_trains_and_talks_to_a_flow(page, pizzeria, workers):
    workers("training_consumer", "--worker-id", "journey-trainer", "--interval", "0.2")
    workers("running_consumer", "--worker-id", "journey-runner-1", "--interval", "0.2")
    # A second running consumer: the new version's bot starts while the old one still answers.
    workers("running_consumer", "--worker-id", "journey-runner-2", "--interval", "0.2")
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, "fiona")
    page.locator("main a", has_text="pizzeria").first.click()

    # A categorical slot, made in the Slots CMS.
    sidebar(page, "Slots")
    page.click("text=New slot")
    page.fill("#id_name", "pizza_size")
    page.select_option("#id_type", "categorical")
    page.fill("#id_values", "small\nlarge")
    page.click("button:has-text('Save slot')")
    expect(page.locator(".message.success")).to_be_visible()

    # A new flow.
    sidebar(page, "Flows")
    page.click("text=New flow")
    page.fill("#id_name", "order_pizza")
    page.fill("#id_description", "Take a pizza order")
    page.click("button[type=submit]")
    page.wait_for_url("**/a/pizzeria/flows/order_pizza/")

    # The start: the order_pizza intent triggers it.
    page.click("#step-start")
    start = page.locator("#panel #start-form")
    start.locator("select[name=trigger-intent]").first.select_option("order_pizza")
    submit_panel(page)
    expect(page.locator("#step-start .chip")).to_contain_text("order_pizza")

    # Collect the size, with its question.
    add_step(page, page.locator("a.gap-add.big"), "Collect")
    page.select_option("#id_slot", "pizza_size")
    page.fill("#id_ask0-text", "What size would you like, small or large?")
    submit_panel(page)
    expect(page.locator(".node.kind-collect .node-title")).to_have_text("pizza_size")

    # If the size is large ... else ...
    add_step(page, page.locator(".node.kind-collect + .gap .gap-add"), "Logic")
    form = page.locator("#panel form.step-form")
    form.locator("select[name='b1-slot']").first.select_option("pizza_size")
    form.locator("select[name='b1-op']").first.select_option("=")
    form.locator("select[name='b1-value']").first.select_option("large")
    submit_panel(page)
    expect(page.locator(".branch")).to_have_count(2)

    # A message in each branch, each a response created inline.
    for index, (name, text) in enumerate(
        [
            ("utter_large_pizza", "A large pizza, coming right up!"),
            ("utter_small_pizza", "One small pizza, coming right up!"),
        ]
    ):
        add_step(page, page.locator(".branch").nth(index).locator(".gap-add").first, "Message")
        page.fill("#id_new_response", name)
        page.fill("#id_r0-text", text)
        submit_panel(page)
    expect(page.locator(".node.kind-message")).to_have_count(2)
    expect(page.locator(".head-actions .status-ok")).to_have_text("Valid")
    definition = Flow.objects.get(assistant=pizzeria, name="order_pizza").definition
    assert definition["nlu_trigger"] == [{"intent": "order_pizza"}]

    # Train, then try it.
    train(page)
    screenshot(page, "job.png")
    page.click("text=Try this version")
    expect(page.locator("#try .version-picker .status")).to_have_text("Live", timeout=BOT_START)
    say(page, "I'd like to order a pizza", "What size would you like, small or large?")
    inspector = page.locator("#try .inspector")
    # The inspector: the flow waits in its collect step while the question is asked.
    expect(inspector.locator(".stack li")).to_have_count(2)
    expect(inspector.locator(".stack li.top")).to_contain_text("asking for pizza_size")
    expect(inspector.locator(".stack li").nth(1)).to_contain_text("order_pizza")
    expect(inspector.locator(".turn[open] summary")).to_contain_text("order_pizza")
    screenshot(page, "try-mid.png")
    say(page, "large please", "A large pizza, coming right up!", ANYTHING_ELSE)
    latest = inspector.locator(".turn[open]")
    expect(latest.locator(".events")).to_contain_text("pizza_size = large")
    expect(latest.locator(".events")).to_contain_text("utter_large_pizza")
    # The flow has ended and reset its slot; Rasa Pro 3.21's pattern_completed now asks whether
    # the user needs anything else, so it is on the stack, waiting for the answer.
    expect(inspector.locator(".slots")).to_contain_text("pizza_size")
    pizza_row = inspector.locator(".slots tr", has_text="pizza_size")
    expect(pizza_row).to_have_class(re.compile(r"\bunset\b"))
    expect(pizza_row).to_contain_text("not set")
    expect(inspector.locator(".stack .top")).to_contain_text("pattern_collect_information")
    expect(inspector.locator(".stack")).to_contain_text("pattern_completed")
    screenshot(page, "try.png")

    # An empty box is not sent (the input is required); only spaces are refused by the server,
    # which says so at the chat, and the conversation stays on screen.
    settled(page)
    page.click(".chat-input button:has-text('Send')")
    assert page.locator("#chat-message").evaluate("el => el.validity.valueMissing")
    page.fill("#chat-message", "   ")
    page.click(".chat-input button:has-text('Send')")
    expect(page.locator("#try .chat [role=alert]")).to_have_text("Type a message first.")
    expect(page.locator("#chat-log .msg")).to_have_count(5)

    # The other branch, in a new conversation.
    settled(page)
    page.click(".chat-tools button:has-text('Restart')")
    expect(page.locator("#chat-log .msg")).to_have_count(0)
    expect(page.locator("#try .chat [role=alert]")).to_have_count(0)
    say(page, "can I get a pizza", "What size would you like, small or large?")
    say(page, "small", "One small pizza, coming right up!", ANYTHING_ELSE)

    # Edit the response in the CMS, train again, and hear the new text.
    sidebar(page, "Responses")
    page.click("text=utter_large_pizza")
    page.fill("#id_v0-text", "Your large pizza is in the oven!")
    page.click("button:has-text('Save response')")
    expect(page.locator(".message.success")).to_be_visible()
    train(page)
    page.click("text=Try this version")
    expect(page.locator("#try .version-picker .status")).to_have_text("Live", timeout=BOT_START)
    expect(page.locator("#try-version option:checked")).to_have_text("Version 2")
    say(page, "I want a pizza", "What size would you like, small or large?")
    say(page, "a large one", "Your large pizza is in the oven!", ANYTHING_ELSE)

    # Version 2 went live before version 1's bot was retired.
    first, second = Deployment.objects.filter(assistant=pizzeria).order_by("version__number")
    assert second.status == Deployment.Status.LIVE
    first = wait_for(
        lambda: Deployment.objects.filter(pk=first.pk, status=Deployment.Status.STOPPED).first(),
        30,
        what="version 1's bot to stop",
    )
    assert first.stopped_at >= second.live_at
