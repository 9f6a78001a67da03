"""A classic assistant in Chromium, the whole way: the Seaside Inn reference assistant (rules,
stories, a table booking form validated by its own Rasa SDK action server, chitchat and faq
retrieval intents, a FallbackClassifier) is imported, trained on a real training consumer, run
on a real running consumer and tried: a retrieval intent answered, a fallback triggered, the
form filled, the inspector showing the policy behind each action, the form and its requested
slot; then its conversation, ingested from the bot's events, shows the form in review."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.ingestion.models import Conversation
from apps.ingestion.sources import FileSpoolSource
from tests.browser.conftest import browser, page  # noqa: F401 (fixtures)
from tests.support.processes import ROOT, Drained, free_port, manage, stop, wait_for_http

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SEASIDE = ROOT / "demo" / "seaside_inn"
RASA_SDK_PYTHON = os.environ.get("RASA_SDK_PYTHON", str(ROOT / ".venv-actions" / "bin" / "python"))
TRAINING = 240_000  # ms: the engine trains the inn in seconds; slow machines get headroom
BOT_START = 180_000


@pytest.fixture(scope="module")
def inn_actions():
    """The Seaside Inn's own action server (rasa-sdk, its validate_table_booking_form)."""
    if not Path(RASA_SDK_PYTHON).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"rasa-sdk is not installed at {RASA_SDK_PYTHON}")
        pytest.skip(f"rasa-sdk is not installed at {RASA_SDK_PYTHON}: run `make install-actions`")
    port = free_port()
    process = Drained(
        [RASA_SDK_PYTHON, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=SEASIDE,
        env={**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(SEASIDE)},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        stop(process, 15, output=False)


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


@pytest.fixture
def inn(make_assistant, make_user, inn_actions):
    """The Seaside Inn imported as it is, its custom actions at the test's action server."""
    from apps.projects import content

    files = {
        str(path.relative_to(SEASIDE)): path.read_text()
        for path in sorted(SEASIDE.rglob("*"))
        if path.is_file() and path.suffix in (".yml", ".py") and "__pycache__" not in path.parts
    }
    files["endpoints.yml"] = f"action_endpoint:\n  url: {inn_actions}\n"
    assistant = make_assistant("seaside_inn", mode="classic")
    content.import_files(assistant, files)
    make_user("fiona", Role.FLOW_BUILDER, Role.CONVERSATION_VIEWER)
    return assistant


@pytest.fixture
def workers():
    started = []

    def start(*args):
        started.append(manage(*args))

    yield start
    for process in started:
        print(stop(process))  # noqa: T201 (shown when the test failed)


def log_in(page, username):  # noqa: F811
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def settled(page):  # noqa: F811
    expect(page.locator(".htmx-request, .htmx-added, .htmx-settling")).to_have_count(0)


def say(page, text, *replies):  # noqa: F811
    """Send a message in Try your assistant and expect exactly these replies to it."""
    settled(page)
    turns = page.locator("#chat-log .msg.user").count()
    page.fill("#chat-message", text)
    page.click(".chat-input button:has-text('Send')")
    expect(page.locator("#chat-log .msg.user")).to_have_count(turns + 1)
    answer = page.locator("#chat-log .msg.user").last.locator(
        "xpath=following-sibling::li[contains(@class, 'bot')]/span"
    )
    expect(answer).to_have_text(list(replies))


def test_a_classic_assistant_trains_runs_and_is_tried_and_reviewed(page, inn, workers):  # noqa: F811
    workers("training_consumer", "--worker-id", "inn-trainer", "--interval", "0.2")
    workers("running_consumer", "--worker-id", "inn-runner", "--interval", "0.2")
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, "fiona")
    page.goto("/a/seaside_inn/")
    expect(page.locator("nav.sidebar")).to_contain_text("Stories and rules")
    expect(page.locator("nav.sidebar a", has_text="Flows")).to_have_count(0)

    page.goto("/a/seaside_inn/train")
    expect(page.locator(".ok-note")).to_have_text("The assistant is valid and ready to train.")
    page.click("button:has-text('Train a new version')")
    page.wait_for_url("**/a/seaside_inn/training/*")
    expect(page.locator("#job-status .status")).to_have_text("Succeeded", timeout=TRAINING)
    page.click("text=Try this version")
    expect(page.locator("#try .version-picker .status")).to_have_text("Live", timeout=BOT_START)
    # No flows: nothing to start at, no flow stack; the form section says none is active.
    expect(page.locator(".start-flow")).to_have_count(0)
    inspector = page.locator("#try .inspector")

    # A retrieval intent, answered with the response the selector chose.
    say(page, "what is your name", "I'm Marina, the Seaside Inn's virtual concierge.")
    latest = inspector.locator(".turn[open]")
    expect(latest.locator("summary .intent")).to_contain_text("chitchat/ask_name")
    expect(latest.locator(".selection")).to_contain_text("utter_chitchat/ask_name")
    expect(latest.locator(".event-action").first).to_contain_text("utter_chitchat · RulePolicy")

    # A fallback: the FallbackClassifier's nlu_fallback, answered by its rule.
    say(page, "blorp xyzzy qwv", "Sorry, I didn't quite catch that. Could you say it another way?")
    latest = inspector.locator(".turn[open]")
    expect(latest.locator(".fallback-note")).to_contain_text("nlu_fallback")
    expect(latest.locator(".fallback-note")).to_contain_text("threshold 0.40")

    # The form: started by its rule, each slot asked for, a question answered on the way.
    say(page, "I would like to book a table", "For how many guests shall I book the table?")
    expect(inspector.locator(".active-form")).to_contain_text("table_booking_form")
    expect(inspector.locator(".active-form")).to_contain_text("asking for party_size")
    latest = inspector.locator(".turn[open]")
    expect(latest.locator(".event-form-started")).to_contain_text("table_booking_form")
    form_line = latest.locator(".event-action", has_text="table_booking_form")
    expect(form_line.locator(".policy")).to_have_text("· RulePolicy 1.00")
    form_line.locator("details.prediction summary").click()
    expect(form_line.locator(".policies")).to_contain_text("MemoizationPolicy")
    expect(form_line.locator(".policies")).to_contain_text("TEDPolicy")
    expect(form_line.locator(".policies tr.chosen")).to_contain_text("RulePolicy")

    say(
        page,
        "we are 4",
        "At what time would you like to dine? The restaurant serves from 12:00 to 22:00.",
    )
    expect(inspector.locator(".active-form")).to_contain_text("asking for booking_time")
    say(
        page,
        "do you have parking",
        "Guests park free of charge behind the hotel; the car park has two chargers for "
        "electric cars.",
        "At what time would you like to dine? The restaurant serves from 12:00 to 22:00.",
    )
    expect(inspector.locator(".turn[open] .event-rejected")).to_contain_text(
        "table_booking_form refused to run"
    )
    say(page, "at 7pm", "Would you like a table indoors or on the terrace?")
    settled(page)
    page.locator("#chat-log .msg.bot button", has_text="On the terrace").click()
    expect(page.locator("#chat-log .msg.user").last).to_have_text("On the terrace")
    expect(page.locator("#chat-log .msg.bot").last).to_contain_text(
        "Your table for 4 guests at 19:00, on the terrace, is booked."
    )
    expect(inspector.locator(".active-form")).to_have_count(0)
    expect(inspector).to_contain_text("No form is active.")
    expect(inspector.locator(".turn[open] .event-form-ended")).to_contain_text("table_booking_form")
    expect(inspector.locator(".slots")).to_contain_text("terrace")

    # The bot's events, ingested, show the conversation in review with the form's banners.
    source = FileSpoolSource(_spool())
    while source.step():
        pass
    conversation = Conversation.objects.get(assistant=inn)
    page.goto(reverse("ingestion:detail", args=["seaside_inn", conversation.pk]))
    stream = page.locator("ol.stream")
    expect(stream.locator(".banner.loop.started")).to_contain_text(
        "FORM table_booking_form started"
    )
    expect(stream.locator(".banner.loop.ended")).to_contain_text("FORM table_booking_form ended")
    expect(stream.locator(".action-line.rejected")).to_contain_text("table_booking_form rejected")
    expect(stream.locator(".action-line", has_text="utter_chitchat").first).to_contain_text(
        "RulePolicy 1.00"
    )
    expect(stream.locator(".meta .fallback")).to_have_text("nlu_fallback")


def _spool() -> Path:
    from django.conf import settings

    return Path(settings.STUDIO_EVENT_SPOOL_DIR)
