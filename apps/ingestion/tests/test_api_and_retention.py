import io
import json
from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.ingestion import schedules, services
from apps.ingestion.models import Conversation, DeadLetter, Event, UnroutedEvent
from apps.ingestion.store import RawMessage, ingest
from demo.conversations import Conversation as Sample
from demo.conversations import transfer_conversation


def store(sample):
    ingest([RawMessage(json.dumps(body)) for body in sample.events])


def api(client, user):
    _, secret = ApiToken.issue(user, "t")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def test_the_api_lists_filters_and_shows_conversations(client, make_user, assistant):
    store(transfer_conversation("gdpr-me", start=timezone.now().timestamp() - 3600))
    viewer = api(client, make_user("viewer", Role.CONVERSATION_VIEWER))
    body = viewer.get("/api/v1/assistants/alpha/conversations?intent=greet").json()
    assert [(c["sender_id"], c["session_number"]) for c in body["results"]] == [("gdpr-me", 2)]
    assert body["next_page"] is None
    assert viewer.get("/api/v1/assistants/alpha/conversations?min_messages=x").status_code == 400
    pk = body["results"][0]["id"]
    detail = viewer.get(f"/api/v1/assistants/alpha/conversations/{pk}").json()
    assert detail["user_message_count"] == 2 and len(detail["events"]) == 17
    assert detail["events"][0]["data"]["name"] == "action_session_start"
    assert viewer.get("/api/v1/assistants/alpha/conversations/nope").status_code == 404
    assert viewer.get(f"/api/v1/assistants/alpha/conversations/{pk}?page=x").status_code == 400
    assert (
        viewer.delete("/api/v1/assistants/alpha/senders/gdpr-me/conversations").status_code == 403
    )


def test_a_data_deletion_request_removes_every_session_of_the_sender(client, make_user, assistant):
    store(transfer_conversation("gdpr-me"))
    store(transfer_conversation("someone-else"))
    analyst = api(client, make_user("analyst", Role.CONVERSATION_ANALYST))
    response = analyst.delete("/api/v1/assistants/alpha/senders/gdpr-me/conversations")
    assert response.json() == {"deleted_conversations": 2, "deleted_events": 34}
    assert not Conversation.objects.filter(sender_id="gdpr-me").exists()
    assert Event.objects.count() == 34
    again = analyst.delete("/api/v1/assistants/alpha/senders/gdpr-me/conversations")
    assert again.status_code == 200 and again.json()["deleted_conversations"] == 0


def test_retention_deletes_old_conversations_in_batches(assistant):
    now = timezone.now()
    for index in range(7):
        sample = Sample(f"old-{index}", start=(now - timedelta(hours=50)).timestamp())
        sample.session_start().user("hi", "greet")
        store(sample)
    fresh = Sample("fresh", start=(now - timedelta(hours=1)).timestamp())
    fresh.session_start()
    store(fresh)
    UnroutedEvent.objects.create(type="user", timestamp=now, fingerprint="f" * 32, data={})
    UnroutedEvent.objects.filter().update(received_at=now - timedelta(hours=50))
    DeadLetter.objects.create(raw=b"x", reason="r")
    assert services.delete_old_conversations(None).conversations == 0
    report = services.delete_old_conversations(48, batch_size=3, max_batches=2)
    assert (report.conversations, report.batches, report.finished) == (6, 2, False)
    assert report.unrouted == 1
    report = services.delete_old_conversations(48, batch_size=3)
    assert report.conversations == 1 and report.finished
    assert list(Conversation.objects.values_list("sender_id", flat=True)) == ["fresh"]
    assert DeadLetter.objects.count() == 1  # recent


def test_the_retention_schedule_is_registered_once(db, settings):
    from django_q.models import Schedule

    schedules.ensure_schedules()
    schedules.ensure_schedules()
    schedule = Schedule.objects.get(name=schedules.RETENTION_SCHEDULE)
    assert schedule.func == "apps.ingestion.schedules.delete_old_conversations"
    settings.STUDIO_DELETE_CONVERSATIONS_OLDER_THAN_HOURS = None
    assert schedules.delete_old_conversations()["conversations"] == 0


def test_generate_conversations(db):
    from django.core.management import call_command

    call_command(
        "generate_conversations", events=500, assistant="gen", days=2, stdout=io.StringIO()
    )
    assert Event.objects.count() >= 500
    assert Conversation.objects.filter(assistant__name="gen").count() >= 15


def test_ingest_lag_for_the_file_source(db, tmp_path, settings, capsys):
    from django.core.management import call_command

    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path
    (tmp_path / "a.jsonl").write_bytes(b"x" * 10)
    call_command("ingest_lag", source="file")
    assert "total bytes behind: 10" in capsys.readouterr().out
