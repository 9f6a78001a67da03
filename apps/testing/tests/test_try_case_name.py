"""A Try conversation's test case is named after when the conversation began, so the editor and
the download, asked a second apart, name it alike."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.testing.views import _started, _try_name


def test_the_name_comes_from_the_first_timestamped_event():
    began = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    events = [
        {"event": "action", "name": "action_session_start"},  # no timestamp: looked past
        {"event": "user", "text": "hello", "timestamp": began.timestamp()},
        {"event": "bot", "text": "Hi", "timestamp": (began + timedelta(seconds=3)).timestamp()},
    ]
    assert _started(events) == began
    local = timezone.localtime(began)
    assert _try_name(_started(events)) == f"try_{local:%Y%m%d_%H%M%S}"


def test_without_a_usable_timestamp_it_is_now():
    for events in ([], [{"event": "user"}], [{"timestamp": "soon"}], [{"timestamp": 1e300}]):
        before = timezone.now()
        assert before - timedelta(seconds=1) <= _started(events) <= timezone.now()
