"""Try beside the canvas: a real bot answers, and the steps the conversation ran are marked on
the flow's graph; an inspector turn's step opens the canvas at that step."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.projects import content
from apps.training.models import Deployment, ModelVersion
from apps.training.tests.conftest import TINY
from engine.__main__ import AUTH_TOKEN_VARIABLE
from tests.browser.support import log_in
from tests.support.processes import Drained, free_port, stop, wait_for_http
from workers.training import write_project

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tiny_live(make_assistant, make_user, tmp_path, settings):
    """`tiny` with a version trained by the engine and its bot really serving it."""
    settings.MEDIA_ROOT = tmp_path / "storage"
    assistant = make_assistant("tiny")
    content.import_files(assistant, TINY)
    make_user("dev", Role.DEVELOPER)
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    write_project(TINY, root / "project")
    subprocess.run(
        [
            *(sys.executable, "-m", "engine", "train", str(root / "project")),
            *("--out", str(root), "--fixed-model-name", "tiny-1"),
        ],
        check=True,
        capture_output=True,
    )
    with (root / "tiny-1.tar.gz").open("rb") as handle:
        stored = default_storage.save("models/tiny/1.tar.gz", File(handle))
    version = ModelVersion.objects.create(
        assistant=assistant, number=1, input_files=dict(TINY), model_file=stored,
        trained_at=timezone.now(),
    )  # fmt: skip
    port, token = free_port(), secrets.token_urlsafe(16)
    # The token goes in the environment, as the runners give it: on the command line, one that
    # starts with "-" (one in 64) reads as an option. The output is kept: a bot that exits
    # before it answers fails the test with what it said.
    bot = Drained(
        [
            *(sys.executable, "-m", "engine", "serve", str(root / "tiny-1.tar.gz")),
            *("--port", str(port), "--auth-webhooks"),
        ],
        env={**os.environ, AUTH_TOKEN_VARIABLE: token},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/status?token={token}", bot, ok=lambda s: s == 200)
        Deployment.objects.create(
            assistant=assistant, version=version, status=Deployment.Status.LIVE,
            bot_url=f"http://127.0.0.1:{port}", bot_token=token, live_at=timezone.now(),
        )  # fmt: skip
        yield assistant
    finally:
        stop(bot)


def test_the_conversation_lights_up_the_steps_it_ran(page, tiny_live):
    log_in(page, "dev")
    page.goto("/a/tiny/flows/say_hello/")
    step = page.locator(".ws-graph .gnode[data-id='say_hello_0_utter_hello']")
    expect(step).to_be_visible()
    expect(step).not_to_have_class("ran")

    page.get_by_role("button", name="Try beside the canvas").click()
    drawer = page.locator("#try-drawer")
    drawer.get_by_label("Message").fill("hello")
    drawer.get_by_role("button", name="Send").click()
    expect(drawer.locator(".msg.bot").first).to_contain_text("Hello from the tiny bot!")
    expect(step).to_have_class("gnode kind-message ran")
    expect(drawer.locator(".try-path-count")).to_have_text("1 step ran in this flow")
    page.screenshot(path=screenshot("try-live-path.png"))

    # The inspector's turn links the step to the canvas, which opens centred on it.
    drawer.locator(".steps-ran a", has_text="say_hello_0_utter_hello").click()
    page.wait_for_url("**/flows/say_hello/?step=say_hello_0_utter_hello")
    expect(step).to_have_class("gnode kind-message focused")


def screenshot(name: str) -> str:
    folder = Path("var/screenshots/issue17")
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / name)
