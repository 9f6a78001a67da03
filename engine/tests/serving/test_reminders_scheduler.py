"""The reminder scheduler on its own: Rasa's rules for replacing, cancelling and killing
reminders, and firing due ones on an event loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.server.reminders import ReminderError, ReminderScheduler, prepare_reminder


def reminder(name: str | None, *, seconds: float = 3600, **fields: Any) -> dict[str, Any]:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    event = {"event": "reminder", "intent": "EXTERNAL_remind", "date_time": when.isoformat()}
    event.update({"name": name, "kill_on_user_msg": True, "entities": None, **fields})
    prepare_reminder(event)
    return event


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events]


def test_a_reminder_of_the_same_name_replaces_the_pending_one() -> None:
    scheduler = ReminderScheduler()
    scheduler.schedule("ann", reminder("call", intent="first"))
    scheduler.schedule("ann", reminder("call", intent="second"))
    scheduler.schedule("bob", reminder("call"))
    assert [e["intent"] for e in scheduler.pending("ann")] == ["second"]
    assert len(scheduler.pending()) == 2


def test_cancel_matches_every_field_it_gives() -> None:
    scheduler = ReminderScheduler()
    tea = [{"entity": "drink", "value": "tea"}]
    scheduler.schedule("ann", reminder("a", intent="remind", entities=tea))
    scheduler.schedule("ann", reminder("b", intent="remind"))
    scheduler.schedule("ann", reminder("c", intent="other", entities=tea))
    scheduler.schedule("bob", reminder("a", intent="remind"))

    assert names(scheduler.cancel("ann", {"intent": "remind", "entities": tea})) == ["a"]
    assert names(scheduler.cancel("ann", {"name": "c", "intent": "remind"})) == []
    assert names(scheduler.cancel("ann", {"name": "c"})) == ["c"]
    assert names(scheduler.pending("ann")) == ["b"]
    # Without name, intent or entities, every reminder of the conversation is cancelled.
    assert names(scheduler.cancel("ann", {"event": "cancel_reminder"})) == ["b"]
    assert names(scheduler.pending()) == ["a"]  # bob's


def test_a_user_message_kills_only_reminders_that_ask_for_it() -> None:
    scheduler = ReminderScheduler()
    scheduler.schedule("ann", reminder("doomed", kill_on_user_msg=True))
    scheduler.schedule("ann", reminder("stays", kill_on_user_msg=False))
    assert names(scheduler.user_message("ann")) == ["doomed"]
    assert names(scheduler.pending("ann")) == ["stays"]
    assert names(scheduler.cancel_all("ann")) == ["stays"]


def test_prepare_reminder_completes_and_checks_the_event() -> None:
    event = {"event": "reminder", "intent": "x", "date_time": "2030-01-01T10:00:00+00:00"}
    due = prepare_reminder(event)
    assert due == datetime(2030, 1, 1, 10, tzinfo=UTC).timestamp()
    assert isinstance(event["name"], str) and event["name"]
    assert event["kill_on_user_msg"] is True
    naive = {"intent": "x", "date_time": "2030-01-01T10:00:00", "name": "n"}
    assert prepare_reminder(naive) == datetime(2030, 1, 1, 10).timestamp()  # local time
    for bad, field in [
        ({"date_time": "2030-01-01T10:00:00"}, "'intent'"),
        ({"intent": "x", "date_time": "next tuesday"}, "'date_time'"),
        ({"intent": "x"}, "'date_time'"),
        ({"intent": "x", "date_time": "2030-01-01", "entities": "tea"}, "'entities'"),
        ({"intent": "x", "date_time": "2030-01-01", "name": 3}, "'name'"),
    ]:
        with pytest.raises(ReminderError, match=field):
            prepare_reminder(bad)


def test_due_reminders_fire_on_the_loop_in_order_and_cancelled_ones_never() -> None:
    fired: list[tuple[str, str]] = []

    async def main() -> None:
        done = asyncio.Event()

        async def fire(sender_id: str, event: dict[str, Any]) -> None:
            fired.append((sender_id, event["name"]))
            if event["name"] == "last":
                done.set()

        scheduler = ReminderScheduler()
        # Scheduled before the loop runs: kept, then armed by start.
        scheduler.schedule("ann", reminder("early", seconds=-5))
        scheduler.start(asyncio.get_running_loop(), fire)
        scheduler.schedule("ann", reminder("cancelled", seconds=0.2))
        scheduler.schedule("bob", reminder("second", seconds=0.1))
        scheduler.schedule("ann", reminder("last", seconds=0.4))
        scheduler.cancel("ann", {"name": "cancelled"})
        await asyncio.wait_for(done.wait(), timeout=30)
        assert scheduler.pending() == []
        scheduler.stop()

    asyncio.run(main())
    assert fired == [("ann", "early"), ("bob", "second"), ("ann", "last")]


def test_a_failing_fire_is_logged_and_the_next_reminder_still_fires(caplog) -> None:
    fired: list[str] = []

    async def main() -> None:
        done = asyncio.Event()

        async def fire(sender_id: str, event: dict[str, Any]) -> None:
            if event["name"] == "broken":
                raise RuntimeError("boom")
            fired.append(event["name"])
            done.set()

        scheduler = ReminderScheduler()
        scheduler.start(asyncio.get_running_loop(), fire)
        scheduler.schedule("ann", reminder("broken", seconds=-1))
        scheduler.schedule("ann", reminder("fine", seconds=0.1))
        await asyncio.wait_for(done.wait(), timeout=30)
        scheduler.stop()

    asyncio.run(main())
    assert fired == ["fine"]
    assert "reminder 'broken' of conversation 'ann' failed" in caplog.text


def test_after_stop_nothing_fires_and_nothing_is_pending() -> None:
    fired: list[str] = []

    async def main() -> None:
        async def fire(sender_id: str, event: dict[str, Any]) -> None:
            fired.append(event["name"])

        scheduler = ReminderScheduler()
        scheduler.start(asyncio.get_running_loop(), fire)
        scheduler.schedule("ann", reminder("soon", seconds=0.05))
        scheduler.stop()
        assert scheduler.pending() == []
        await asyncio.sleep(0.2)  # past its time: the loop had every chance to fire it

    asyncio.run(main())
    assert fired == []
