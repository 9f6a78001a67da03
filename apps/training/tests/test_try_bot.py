"""Try your assistant against a real bot (the built-in engine serving a trained model)."""

import re

import pytest
from django.urls import reverse

from tests.support.bots import ServedBot, live_on

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    bot = ServedBot(tmp_path_factory.mktemp("bot"))
    yield bot
    bot.stop()


@pytest.fixture
def pizzeria(make_assistant, served):
    """An assistant whose version 1 is live on the served bot."""
    assistant = make_assistant("pizzeria")
    live_on(assistant, served.url)
    return assistant


def _say(client, **fields):
    return client.post(
        reverse("training:try_message", args=["pizzeria"]),
        {"version": "1", **fields},
        HTTP_HX_REQUEST="true",
    )


def _user_bubbles(page: str) -> list[str]:
    return re.findall(r'<li class="msg user"><span[^>]*>([^<]*)</span>', page)


def test_a_quick_reply_shows_the_buttons_title_and_sends_its_payload(
    admin_client, pizzeria, served
):
    page = _say(admin_client, message="I want a pizza").content.decode()
    assert "Which size would you like?" in page
    # The button posts its payload and its title.
    assert 'name="message" value="/SetSlots(pizza_size=small)"' in page
    assert 'name="title" value="Small"' in page

    response = _say(admin_client, message="/SetSlots(pizza_size=small)", title="Small")
    page = response.content.decode()
    assert response.status_code == 200
    assert "One small pizza coming up." in page
    assert _user_bubbles(page) == ["I want a pizza", "Small"]
    assert "/SetSlots(pizza_size=small)</span>" not in page
    # The bot got the payload (Rasa's event shape), with the title in the message's metadata.
    sender = admin_client.session[f"try-sender-{pizzeria.pk}"]
    (click,) = [
        e
        for e in served.tracker(sender)["events"]
        if e["event"] == "user" and "SetSlots" in e["text"]
    ]
    assert click["text"] == "/SetSlots(pizza_size=small)"
    assert click["metadata"]["button_title"] == "Small"


def test_a_payload_typed_after_buttons_shows_the_matching_title(admin_client, pizzeria):
    """Without the title in the metadata (a bot behind Rasa's REST channel drops it), the
    bubble still shows the title of the button, just offered, whose payload was sent."""
    _say(admin_client, message="I want a pizza")
    page = _say(admin_client, message="/SetSlots(pizza_size=large)").content.decode()
    assert _user_bubbles(page) == ["I want a pizza", "Large"]


def test_start_at_a_flow_works_on_a_brand_new_conversation(admin_client, pizzeria, served):
    """The bot does not know a new chat's conversation yet: restarting it first is no error."""
    response = admin_client.post(
        reverse("training:try_start_flow", args=["pizzeria"]),
        {"version": "1", "flow": "order_pizza", "slots": ""},
        HTTP_HX_REQUEST="true",
    )
    page = response.content.decode()
    assert response.status_code == 200, page[:2000]
    assert "Which size would you like?" in page
    # No error from the bot is shown (a bare "404" could be part of a model id in the page).
    assert "The bot answered" not in page and "ConversationNotFound" not in page


def test_restarting_a_brand_new_conversation_is_no_error(admin_client, pizzeria):
    response = admin_client.post(
        reverse("training:try_restart", args=["pizzeria"]),
        {"version": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200, response.content.decode()[:2000]


def test_another_bot_error_on_restart_is_still_shown(admin_client, pizzeria, served):
    from apps.training import bot
    from apps.training.models import Deployment

    deployment = Deployment.objects.get(assistant=pizzeria)
    with pytest.raises(bot.BotUnavailable) as refused:
        bot._call("DELETE", deployment, "/no/such/endpoint")
    assert refused.value.status == 404 and refused.value.reason != "ConversationNotFound"
