"""Try your assistant in another language: the picker sets the conversation's `language` slot
on a real bot (the built-in engine serving a multilingual model), messages carry the language in
their metadata as production channels send it, and the inspector shows the session's language."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.support.bots import ServedBot, project_files
from tests.support.processes import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PROJECT = ROOT / "engine" / "tests" / "rasa_projects" / "multilingual"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    bot = ServedBot(tmp_path_factory.mktemp("bot"), project=PROJECT)
    yield bot
    bot.stop()


@pytest.fixture
def bank(make_assistant, served):
    from apps.projects import content
    from apps.training import services
    from apps.training.models import Deployment, ModelVersion

    assistant = make_assistant("multilingual-test")
    content.import_files(assistant, project_files(PROJECT))
    job = services.request_training(assistant, None)
    ModelVersion.objects.filter(pk=job.version_id).update(
        model_file=f"models/{assistant.name}/1.tar.gz", trained_at=timezone.now()
    )
    Deployment.objects.create(
        assistant=assistant,
        version=job.version,
        status=Deployment.Status.LIVE,
        bot_url=served.url,
        live_at=timezone.now(),
    )
    return assistant


def _post(client, view, **fields):
    return client.post(
        reverse(f"training:{view}", args=["multilingual-test"]),
        {"version": "1", **fields},
        HTTP_HX_REQUEST="true",
    )


def test_the_picker_lists_the_versions_languages(admin_client, bank):
    page = admin_client.get(reverse("training:try", args=["multilingual-test"])).content.decode()
    assert 'id="try-language"' in page
    assert '<option value="en" selected>' in page
    assert '<option value="de">' in page and '<option value="x-de-formal">' in page


def test_picking_german_makes_the_bot_answer_in_german(admin_client, bank, served):
    response = _post(admin_client, "try_language", language="de")
    assert response.status_code == 200
    page = _post(admin_client, "try_start_flow", flow="transfer_money", slots="").content.decode()
    assert "Wer soll das Geld bekommen?" in page
    assert 'class="session-language">Language: <code>de</code>' in page
    sender = admin_client.session[f"try-sender-{bank.pk}"]
    assert served.tracker(sender)["slots"]["language"] == "de"

    page = _post(admin_client, "try_message", message="Ann").content.decode()
    user = [e for e in served.tracker(sender)["events"] if e["event"] == "user"][-1]
    assert user["metadata"]["language"] == "de"  # as a production channel sends it
    assert "Von welchem Konto?" in page
    assert "Sparkonto" in page and "Girokonto" in page  # translated button titles


def test_restarting_keeps_the_picked_language(admin_client, bank, served):
    _post(admin_client, "try_language", language="x-de-formal")
    _post(admin_client, "try_restart")
    sender = admin_client.session[f"try-sender-{bank.pk}"]
    assert served.tracker(sender)["slots"]["language"] == "x-de-formal"
    page = _post(admin_client, "try_start_flow", flow="transfer_money", slots="").content.decode()
    assert "Wer soll das Geld erhalten?" in page


def test_back_to_the_default_language(admin_client, bank, served):
    _post(admin_client, "try_language", language="de")
    _post(admin_client, "try_language", language="en")
    page = _post(admin_client, "try_start_flow", flow="transfer_money", slots="").content.decode()
    assert "Who should get the money?" in page


def test_a_language_the_version_does_not_have_is_refused(admin_client, bank):
    response = _post(admin_client, "try_language", language="fr")
    assert response.status_code == 400
    assert "is not one of this version" in response.content.decode()
