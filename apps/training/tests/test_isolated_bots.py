"""Test in isolation with real consumers: a person's isolated version goes up on its own bot
beside the live one; their Try reaches it, everyone else's Try the live bot."""

import copy

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.roles import Role
from apps.flows import services as flow_services
from apps.flows.models import Flow
from apps.training import services
from apps.training.models import Deployment
from tests.support.processes import manage, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _train(job):
    trainer = manage("training_consumer", "--once", "--worker-id", f"trainer-{job.pk}")
    assert trainer.wait(240) == 0, stop(trainer)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error


def _live(**filters):
    return Deployment.objects.filter(status="live", **filters).first()


def _say(client, text, **fields):
    response = client.post(
        reverse("training:try_message", args=["tiny"]),
        {"message": text, **fields},
        HTTP_HX_REQUEST="true",
    )
    return response.status_code, response.content.decode()


def test_the_owners_try_reaches_the_isolated_bot_and_everyone_elses_the_live_one(tiny, make_user):
    alice = make_user("alice", Role.FLOW_BUILDER)
    bob = make_user("bob", Role.BUSINESS_USER)
    _train(services.request_training(tiny, alice))
    runners = [
        manage("running_consumer", "--worker-id", f"runner-{n}", "--interval", "0.2")
        for n in (1, 2)
    ]
    try:
        shared = wait_for(lambda: _live(isolated=False), 120, what="the shared bot to go live")
        # Alice changes her draft of say_hello and trains it in isolation.
        hello = Flow.objects.get(assistant=tiny, name="say_hello")
        definition = copy.deepcopy(hello.definition)
        definition["steps"] = [{"action": "utter_bye"}]
        flow_services.save_flow(hello, definition, user=alice, summary="Says bye instead")
        job = services.request_training(tiny, alice, isolated=True)
        _train(job)
        mine = wait_for(lambda: _live(isolated=True), 120, what="the isolated bot to go live")
        assert mine.version == job.version
        shared.refresh_from_db()
        assert shared.status == "live"  # the live bot stays up for everyone else
        assert services.live_deployment(tiny) == shared

        owner, other = Client(), Client()
        owner.force_login(alice)
        other.force_login(bob)
        number = str(job.version.number)
        status, page = _say(owner, "hello", version=number)
        assert status == 200 and "Bye now." in page, page
        assert "Hello from the tiny bot!" not in page
        status, page = _say(other, "hello")
        assert status == 200 and "Hello from the tiny bot!" in page, page
        # Bob cannot reach Alice's version, nor see it in the Try page's picker.
        assert _say(other, "hello", version=number)[0] == 404
        picker = other.get(reverse("training:try", args=["tiny"])).content.decode()
        assert "(isolated: yours)" not in picker
        # Alice's own Try page, without choosing, talks to the live version too.
        status, page = _say(owner, "hi there")
        assert "Hello from the tiny bot!" in page, page
        assert f'<option value="{number}">Version {number} (isolated: yours)</option>' in (
            owner.get(reverse("training:try", args=["tiny"])).content.decode()
        )
    finally:
        for runner in runners:
            stop(runner)
