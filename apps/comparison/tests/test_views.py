"""The pages: compare with live from the Versions page, follow the comparison, see its summary
before making a version live; replay a conversation against a version."""

import pytest

from apps.comparison.models import Comparison, Replay
from apps.comparison.tests.fixtures import ingest_messages
from workers.training import TrainingConsumer

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_compare_make_live_and_confirm(admin_client, tiny_versions):
    _, _, candidate = tiny_versions
    page = admin_client.get("/a/tiny/versions").content.decode()
    assert "/a/tiny/versions/2/compare" in page and "/a/tiny/versions/2/make-live" in page
    assert "/a/tiny/versions/1/compare" not in page  # the live version itself

    before = admin_client.get("/a/tiny/versions/2/make-live").content.decode()
    assert "has not been compared with Version 1" in before
    assert 'action="/a/tiny/versions/2/compare"' in before
    assert 'action="/a/tiny/versions/2/deploy"' in before

    response = admin_client.post("/a/tiny/versions/2/compare")
    comparison = Comparison.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/a/tiny/comparisons/{comparison.pk}"
    queued = admin_client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "Waiting for a training consumer" in queued and "hx-trigger" in queued

    TrainingConsumer(once=True, worker_id="comparer").run()
    done = admin_client.get(f"/a/tiny/comparisons/{comparison.pk}").content.decode()
    assert "hx-trigger" not in done
    assert "tests/e2e.yml::greeting_text" in done and "passed → failed" in done
    assert "utter_hello" in done and "Hi, this is the new tiny bot!" in done
    assert 'data-intent="thanks"' in done and "say_welcome" in done

    confirm = admin_client.get("/a/tiny/versions/2/make-live").content.decode()
    assert "Compared with Version 1" in confirm
    assert "1 case passed on the live version and fail on the candidate" in confirm
    assert "F1 higher for thanks" in confirm
    deployed = admin_client.post("/a/tiny/versions/2/deploy")
    assert deployed.status_code == 302
    assert candidate.deployments.filter(status="queued").exists()


def test_compare_is_refused_with_a_message_when_nothing_is_live(admin_client, tiny_versions):
    _, base, _ = tiny_versions
    base.deployments.all().delete()  # never live
    response = admin_client.post("/a/tiny/versions/2/compare", follow=True)
    assert "No version is live: there is nothing to compare with." in response.content.decode()
    assert not Comparison.objects.exists()


def test_replay_a_conversation_against_a_version(admin_client, tiny_versions):
    assistant, _, candidate = tiny_versions
    conversation, _ = ingest_messages(assistant, ["hello"])
    detail = admin_client.get(f"/a/tiny/conversations/{conversation.pk}").content.decode()
    assert f"/a/tiny/conversations/{conversation.pk}/replay" in detail

    bad = admin_client.post(f"/a/tiny/conversations/{conversation.pk}/replay", {"version": "9"})
    assert bad.status_code == 400 and "Choose a trained version" in bad.content.decode()

    response = admin_client.post(
        f"/a/tiny/conversations/{conversation.pk}/replay", {"version": "2"}
    )
    replay = Replay.objects.get()
    assert response["Location"] == f"/a/tiny/conversations/{conversation.pk}/replays/{replay.pk}"
    assert replay.source == [{"user": "hello", "bot": [], "flows": []}]
    TrainingConsumer(once=True, worker_id="replayer").run()
    page = admin_client.get(response["Location"]).content.decode()
    # The stored conversation has no bot messages: the replay diverges at its first turn.
    assert "The runs diverge at turn 1." in page
    assert "Hi, this is the new tiny bot!" in page
    assert candidate.label in page


def test_replay_the_try_session_against_another_version(
    admin_client, client, make_user, tiny_versions, monkeypatch
):
    from apps.accounts.roles import Role
    from apps.training import bot

    done = "Can I help you with anything else?"  # pattern_completed asks (Rasa Pro 3.21)
    session = {
        "events": [
            {"event": "action", "name": "action_session_start"},
            {"event": "user", "text": "hello"},
            {"event": "flow_started", "flow_id": "say_hello"},
            {"event": "bot", "text": "Hello from the tiny bot!"},
            {"event": "bot", "text": done},
            {"event": "user", "text": "bye"},
            {"event": "flow_started", "flow_id": "say_bye"},
            {"event": "bot", "text": "Bye now."},
            {"event": "bot", "text": done},
        ]
    }
    # The Try bot's HTTP API (a bot process of its own) stands in with the session's tracker.
    monkeypatch.setattr(bot, "tracker", lambda deployment, sender: session)
    try_page = admin_client.get("/a/tiny/try").content.decode()
    assert 'action="/a/tiny/try/replay"' in try_page

    response = admin_client.post("/a/tiny/try/replay", {"version": "1", "against": "2"})
    replay = Replay.objects.get()
    assert response["Location"] == f"/a/tiny/try/replays/{replay.pk}"
    assert replay.source_label == "Try session on Version 1" and len(replay.source) == 2
    TrainingConsumer(once=True, worker_id="replayer").run()
    page = admin_client.get(response["Location"]).content.decode()
    assert "The runs diverge at turn 1." in page
    assert "Hi, this is the new tiny bot!" in page and "different reply" in page
    replay.refresh_from_db()
    assert replay.result["turns"][1]["differences"] == []  # "bye" is answered the same

    # Someone else's Try session is theirs alone.
    client.force_login(make_user("bea", Role.DEVELOPER))
    assert client.get(response["Location"]).status_code == 404
