"""Issue 19: a Developer adds German to the demo assistant, translates its greeting on the
translation page, trains it, picks German in Try your assistant and is greeted in German."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.flows.models import Response
from apps.projects import content, services
from apps.projects.content.archives import read_project_dir
from demo import HARBOR_BANK
from tests.browser.support import log_in
from tests.support.processes import ROOT, manage, stop

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOTS = ROOT / "var" / "screenshots" / "issue19"
TRAINING = 240_000  # ms
BOT_START = 180_000

GERMAN = {
    "t:r|utter_greet|1|text": "Hallo, willkommen bei der Harbor Bank!",
    "t:r|utter_greet|2|text": "Hallo! Sie chatten mit dem Assistenten der Harbor Bank.",
    "t:r|utter_capabilities|0|text": "Ich kann Kontostände prüfen, Geld senden und mehr.",
    "t:r|utter_capabilities|0|b0|title": "Kontostand prüfen",
}


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


@pytest.fixture
def harbor_bank(make_user):
    assistant = services.create_assistant(name="harbor_bank", created_by=None)
    content.import_files(assistant, read_project_dir(Path(HARBOR_BANK)))
    make_user("dana", Role.DEVELOPER)
    return assistant


@pytest.fixture
def workers():
    started = []
    yield lambda *args: started.append(manage(*args))
    for process in started:
        print(stop(process))  # noqa: T201


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def sidebar(page, label):
    with page.expect_navigation():
        page.locator("nav.sidebar a", has_text=label).first.click()


def test_translate_the_demo_into_german_and_chat_in_german(page, harbor_bank, workers):
    workers("training_consumer", "--worker-id", "lang-trainer", "--interval", "0.2")
    workers("running_consumer", "--worker-id", "lang-runner", "--interval", "0.2")
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, "dana")
    page.goto("/a/harbor_bank/overview")

    # Languages settings: a wrong code is refused naming the field, then German is added.
    sidebar(page, "Languages")
    page.fill("#id_additional_languages", "deutsch")
    page.click("button:has-text('Save languages')")
    expect(page.locator(".field.has-error .error")).to_contain_text("Additional languages")
    page.fill("#id_additional_languages", "de")
    page.click("button:has-text('Save languages')")
    expect(page.locator(".message.success")).to_contain_text("Languages saved")
    row = page.locator("table.languages tr[data-language=de]")
    expect(row.locator(".badge-missing")).to_be_visible()
    missing_before = int(row.locator(".badge-missing").inner_text().split()[0])
    shot(page, "languages.png")

    # The translation page: default texts as reference, an input for each translation.
    row.locator("a", has_text="Translate").click()
    page.wait_for_url("**/a/harbor_bank/translations?language=de")
    greet = page.locator(".translation-item[data-response=utter_greet]")
    expect(greet.locator(".reference").first).to_contain_text("Welcome back to Harbor Bank")
    for name, text in GERMAN.items():
        page.locator(f"[name='{name}']").fill(text)
    shot(page, "translations.png")
    page.click("button:has-text('Save translations')")
    expect(page.locator(".message.success")).to_contain_text("Translations into German saved")
    expect(page.locator("[name='t:r|utter_greet|1|text']")).to_have_value(
        GERMAN["t:r|utter_greet|1|text"]
    )
    variation = Response.objects.get(assistant=harbor_bank, name="utter_greet").variations[1]
    assert variation["translation"] == {"de": GERMAN["t:r|utter_greet|1|text"]}

    sidebar(page, "Languages")
    badge = page.locator("table.languages tr[data-language=de] .badge-missing")
    expect(badge).to_have_text(f"{missing_before - len(GERMAN)} missing")

    # Train, start the bot, pick German in Try and be greeted in German.
    sidebar(page, "Train")
    page.click("button:has-text('Train a new version')")
    expect(page.locator("#job-status .status")).to_have_text("Succeeded", timeout=TRAINING)
    page.click("text=Try this version")
    expect(page.locator("#try .version-picker .status")).to_have_text("Live", timeout=BOT_START)
    expect(page.locator("#try-language option:checked")).to_contain_text("(en)")
    with page.expect_navigation():
        page.select_option("#try-language", "de")
    expect(page.locator("#try-language option:checked")).to_contain_text("German (de)")
    expect(page.locator("#try .inspector .session-language")).to_contain_text("de")

    page.fill("#chat-message", "hello")
    page.click(".chat-input button:has-text('Send')")
    bot = page.locator("#chat-log .msg.bot")
    expect(bot.first).to_contain_text("Hallo")
    expect(page.locator("#chat-log")).to_contain_text("Ich kann Kontostände prüfen")
    expect(page.locator("#chat-log .buttons button").first).to_have_text("Kontostand prüfen")
    shot(page, "try-german.png")
