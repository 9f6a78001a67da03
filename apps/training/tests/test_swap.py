"""Swap, don't restart (issue 20): the running consumer loads a new version's model into the live
bot when it would run the same way, and starts a new bot when it would not. Real consumer
processes on the test database."""

import sys

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.projects import content
from apps.training import bot, services
from apps.training.models import Deployment, ModelVersion
from tests.support.processes import manage, stop, wait_for
from workers.training import TrainingConsumer

from .conftest import TINY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def train(assistant, files=None) -> ModelVersion:
    """A new trained version of `assistant` (with `files` imported first), its bot queued."""
    if files is not None:
        content.import_files(assistant, files)
    job = services.request_training(assistant, None)
    TrainingConsumer(once=True, worker_id="trainer").run()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return job.version


def live_of(version):
    return Deployment.objects.filter(version=version, status="live").first()


def ended(version):
    return Deployment.objects.filter(version=version, status__in=["failed", "stopped"]).first()


def status(deployment) -> dict:
    return httpx.get(
        deployment.bot_url + "/status", headers={"Authorization": f"Bearer {deployment.bot_token}"}
    ).json()


def answer(deployment, sender, message) -> str:
    """The bot's first message in answer to `message`."""
    return bot.send_message(deployment, sender, message)[0]["text"]


def test_a_new_version_is_swapped_into_the_live_bot_or_gets_a_new_one(tiny):
    first = train(tiny)
    # Two consumers: the one that holds the live bot swaps; the other is free for a new bot.
    runners = [
        manage("running_consumer", "--worker-id", name, "--interval", "0.2")
        for name in ("r-1", "r-2")
    ]
    output = token = ""
    try:
        one = wait_for(lambda: live_of(first), 120, what="the first bot")
        assert answer(one, "ann", "hello") == "Hello from the tiny bot!"
        pid = status(one)["worker_pid"]

        # A response edit: same endpoints, so the model is loaded into the running bot.
        edited = {**TINY, "domain.yml": TINY["domain.yml"].replace("Hello from", "Hi again from")}
        second = train(tiny, edited)
        two = wait_for(lambda: live_of(second), 60, what="the swapped bot")
        assert two.bot_url == one.bot_url and two.bot_token == one.bot_token
        token = two.bot_token
        assert status(two)["worker_pid"] == pid  # the same process: swapped, not restarted
        assert status(two)["model_id"] == second.model_id
        one.refresh_from_db()
        # Live before retire: the new row went live before the old one stopped.
        assert one.status == "stopped" and one.stopped_at >= two.live_at
        assert two.consumer_id == one.consumer_id
        assert services.live_deployment(tiny) == two
        assert answer(two, "ann", "hello") == "Hi again from the tiny bot!"
        # The conversation kept its tracker across the swap.
        tracker = bot.tracker(two, "ann")
        assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hello"] * 2

        # A model that does not load: the new deployment fails saying why, the old one answers.
        broken = ModelVersion.objects.create(
            assistant=tiny,
            number=second.number + 1,
            input_files=second.input_files,
            model_file=default_storage.save("models/tiny/broken.tar.gz", ContentFile(b"junk")),
        )
        services.deploy(broken)
        failed = wait_for(lambda: ended(broken), 60, what="the broken model to fail")
        assert failed.status == "failed"
        assert "did not load into the live bot" in failed.error
        assert "goes on answering" in failed.error
        assert token not in failed.error
        assert live_of(second) is not None
        assert answer(two, "ann", "hello") == "Hi again from the tiny bot!"

        # Other endpoints: the bot would not run the same way, so it gets a new process.
        other = {**edited, "endpoints.yml": "# another endpoints file\n"}
        third = train(tiny, other)
        three = wait_for(lambda: live_of(third), 120, what="a new bot")
        assert three.bot_url != two.bot_url
        wait_for(lambda: ended(second), 30, what="the swapped bot to be retired")
        assert answer(three, "bo", "hello") == "Hi again from the tiny bot!"
    finally:
        output = "".join(stop(runner) for runner in runners)
        if (failure := sys.exception()) is not None:  # the report shows what they did
            failure.add_note("What the consumers printed:\n" + output)
    assert "swapped into the running bot" in output
    assert token and token not in output
