"""Conversations stored with the extreme dates a datetime can hold (0001-01-01, 9999-12-31) are
shown under any TIME_ZONE: the pages and the API never fail converting them to local time."""

import uuid
from datetime import UTC, datetime

import pytest

from apps.accounts.models import ApiToken
from apps.ingestion.models import Conversation, Event

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.fixture
def extreme(assistant):
    """Rows written directly, as ingestion stored them before it refused such timestamps."""
    conversation = Conversation.objects.create(
        assistant=assistant,
        sender_id="time-traveller",
        started_at=EARLIEST,
        last_event_at=LATEST,
        event_count=2,
        user_message_count=1,
        reviewed_at=LATEST,
    )
    for position, (kind, when, data) in enumerate(
        [
            ("user", EARLIEST, {"event": "user", "text": "hello from year one"}),
            ("bot", LATEST, {"event": "bot", "text": "and back from 9999"}),
        ]
    ):
        Event.objects.create(
            conversation=conversation,
            position=position,
            type=kind,
            timestamp=when,
            fingerprint=uuid.uuid4(),
            data={**data, "timestamp": when.timestamp()},
            text=data["text"],
        )
    return conversation


@pytest.fixture(params=["Pacific/Kiritimati", "America/Los_Angeles"])
def far_zone(request, settings):
    settings.TIME_ZONE = request.param
    return request.param


def test_the_pages_show_extreme_dates_in_any_time_zone(far_zone, extreme, admin_client):
    listing = admin_client.get("/a/alpha/conversations", {"period": "all"})
    assert listing.status_code == 200
    assert f"/a/alpha/conversations/{extreme.pk}" in listing.content.decode()
    detail = admin_client.get(f"/a/alpha/conversations/{extreme.pk}")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "hello from year one" in page and "and back from 9999" in page
    # The one with no local time in this zone is shown in UTC.
    shown = "0001-01-01 00:00:00" if far_zone.startswith("America") else "9999-12-31 23:59:59"
    assert f"<dd>{shown}</dd>" in page


def test_the_api_shows_extreme_dates_in_any_time_zone(far_zone, extreme, client, admin_user):
    _, secret = ApiToken.issue(admin_user, "t")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    listing = client.get("/api/v1/assistants/alpha/conversations", {"period": "all"})
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [extreme.pk]
    detail = client.get(f"/api/v1/assistants/alpha/conversations/{extreme.pk}")
    assert detail.status_code == 200
    body = detail.json()
    assert [event["data"]["text"] for event in body["events"]] == [
        "hello from year one",
        "and back from 9999",
    ]
    assert body["started_at"].startswith("0001-01-01")
    assert body["last_event_at"].startswith("9999-12-31")
