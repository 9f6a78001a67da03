"""Try an assistant whose flow calls a sub-agent, on a real bot of the built-in engine: the
chat says something went wrong and the inspector says why (the step needs Rasa Pro)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.projects import content
from apps.training import services
from apps.training.models import Deployment, ModelVersion
from tests.support.bots import ServedBot
from tests.support.rasa_projects import project_texts

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PROJECT = Path(__file__).parents[3] / "engine" / "tests" / "rasa_projects" / "sub-agents"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    bot = ServedBot(tmp_path_factory.mktemp("agents-bot"), project=PROJECT)
    yield bot
    bot.stop()


@pytest.fixture
def outdoor(make_assistant, served):
    """The sub-agents project, its version 1 live on the served bot."""
    assistant = make_assistant("outdoor")
    files = project_texts("sub-agents")
    content.import_files(assistant, files)
    job = services.request_training(assistant, None)
    ModelVersion.objects.filter(pk=job.version_id).update(
        model_file="models/outdoor/1.tar.gz", trained_at=timezone.now()
    )
    Deployment.objects.create(
        assistant=assistant,
        version=job.version,
        status=Deployment.Status.LIVE,
        bot_url=served.url,
        live_at=timezone.now(),
    )
    return assistant


def _say(client, assistant, text: str) -> str:
    response = client.post(
        reverse("training:try_message", args=[assistant.name]),
        {"version": "1", "message": text},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_inspector_says_that_the_sub_agent_needs_rasa_pro(admin_client, outdoor, served):
    page = _say(
        admin_client,
        outdoor,
        "I have a question about tents, boots and other products in the catalogue",
    )
    assert "What would you like to know about our gear?" in page
    # The inspector lists the commands the served bot understood the message as.
    assert (
        "<code>start flow ask_product_expert</code> "
        '<span class="muted">· OfflineCommandGenerator</span>'
    ) in page
    page = _say(admin_client, outdoor, "is the alpine tent waterproof?")
    assert "Sorry, something went wrong" in page
    assert (
        '<span class="event-kind">reason</span><span>pattern_internal_error: sub-agent '
        "&#x27;product_expert&#x27; needs Rasa Pro; the built-in engine does not run "
        "sub-agents</span>"
    ) in page
    sender = admin_client.session[f"try-sender-{outdoor.pk}"]
    events = served.tracker(sender)["events"]
    cancelled = [e["flow_id"] for e in events if e["event"] == "flow_cancelled"]
    assert cancelled == ["ask_product_expert"]


def test_a_stack_event_without_a_reason_stays_quiet():
    from apps.training.inspector import describe_event

    pushed = '[{"op": "add", "path": "/1", "value": {"flow_id": "pattern_chitchat"}}]'
    assert describe_event({"event": "stack", "update": pushed}) is None
    assert describe_event({"event": "stack", "update": "not json"}) is None
    with_reason = (
        '[{"op": "add", "path": "/0", "value": {"flow_id": "pattern_internal_error", '
        '"reason": "action_failed"}}]'
    )
    assert describe_event({"event": "stack", "update": with_reason}) == {
        "kind": "reason",
        "text": "pattern_internal_error: action_failed",
    }
