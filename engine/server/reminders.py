"""Reminders: Rasa's ``reminder`` and ``cancel_reminder`` events, scheduled in the bot.

A custom action (or ``POST .../tracker/events?execute_side_effects=true``) returns
``{"event": "reminder", "intent": ..., "entities": ..., "date_time": <ISO 8601>, "name": ...,
"kill_on_user_msg": true}``; at ``date_time`` the bot triggers the intent in the conversation
(`Bot.fire_reminder`), as Rasa's ``handle_reminder`` does. As in Rasa:

* a reminder replaces the conversation's pending reminder of the same ``name`` (a reminder
  without a name gets a unique one);
* ``cancel_reminder`` cancels the conversation's reminders matching every one of its ``name``,
  ``intent`` and ``entities`` that is given (all of them when none is);
* a reminder with ``kill_on_user_msg`` is dropped when a user message comes after it; any
  reminder is dropped when the conversation restarts, a new session starts, or the
  conversation is deleted.

A naive ``date_time`` is local time (the action server's ``datetime.now()``); a date in the
past fires at once. `ReminderScheduler` keeps the pending reminders; they fire on the event
loop it is started on (the HTTP app starts it), which calls the given coroutine under the
conversation's lock. Every method may be called from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["ReminderError", "ReminderScheduler", "prepare_reminder", "reminder_time"]

logger = logging.getLogger(__name__)

#: What fires a due reminder: ``fire(sender_id, reminder_event)``.
Fire = Callable[[str, dict[str, Any]], Awaitable[Any]]


class ReminderError(ValueError):
    """A ``reminder`` event that cannot be scheduled; the message says which field and why."""


def reminder_time(value: Any) -> float:
    """The epoch time of a reminder's ``date_time`` (ISO 8601); raises `ReminderError`."""
    if not isinstance(value, str) or not value.strip():
        raise ReminderError(f"'date_time' must be an ISO 8601 date and time, not {value!r}")
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except (ValueError, OverflowError, OSError):
        raise ReminderError(f"'date_time' is not an ISO 8601 date and time: {value!r}") from None


def prepare_reminder(event: dict[str, Any]) -> float:
    """Check a ``reminder`` event and complete it as Rasa records it (a missing ``name`` gets a
    unique one, ``kill_on_user_msg`` defaults to true); returns its due time."""
    intent = event.get("intent")
    if not isinstance(intent, str) or not intent:
        raise ReminderError(f"'intent' must be the name of an intent, not {intent!r}")
    due = reminder_time(event.get("date_time"))
    entities = event.get("entities")
    if entities is not None and not isinstance(entities, (list, dict)):
        raise ReminderError(f"'entities' must be a list or an object, not {entities!r}")
    if event.get("name") is None:
        event["name"] = str(uuid.uuid1())
    elif not isinstance(event["name"], str):
        raise ReminderError(f"'name' must be a string, not {event['name']!r}")
    if event.get("kill_on_user_msg") is None:
        event["kill_on_user_msg"] = True
    return due


@dataclass
class _Job:
    sender_id: str
    event: dict[str, Any]
    due: float
    handle: asyncio.TimerHandle | None = field(default=None, repr=False)


class ReminderScheduler:
    """The pending reminders of every conversation, fired on an event loop (see the module
    docstring). Before `start` and after `stop` reminders are kept but nothing fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fire: Fire | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop, fire: Fire) -> None:
        """Fire reminders on `loop` from now on (pending ones included) by awaiting `fire`."""
        with self._lock:
            self._loop = loop
            self._fire = fire
            jobs = list(self._jobs.items())
        for key, job in jobs:
            self._arm_soon(key, job)

    def stop(self) -> None:
        """Fire nothing more; pending reminders are dropped (the bot is going away)."""
        with self._lock:
            loop, self._loop, self._fire = self._loop, None, None
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            self._disarm(loop, job)

    # -- the events ---------------------------------------------------------------------------

    def schedule(self, sender_id: str, event: dict[str, Any]) -> None:
        """Schedule a checked ``reminder`` event (`prepare_reminder`), replacing the
        conversation's pending reminder of the same name."""
        key = (sender_id, str(event["name"]))
        job = _Job(sender_id, event, reminder_time(event["date_time"]))
        with self._lock:
            old = self._jobs.pop(key, None)
            self._jobs[key] = job
            loop = self._loop
        if old is not None:
            self._disarm(loop, old)
        self._arm_soon(key, job)

    def cancel(self, sender_id: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply a ``cancel_reminder`` event; returns the reminders it cancelled."""
        name, intent, entities = event.get("name"), event.get("intent"), event.get("entities")
        return self._drop(
            sender_id,
            lambda job: (
                (not name or job.event.get("name") == name)
                and (not intent or job.event.get("intent") == intent)
                and (not entities or job.event.get("entities") == entities)
            ),
        )

    def user_message(self, sender_id: str) -> list[dict[str, Any]]:
        """A user message came: drop the reminders that ``kill_on_user_msg``."""
        return self._drop(sender_id, lambda job: bool(job.event.get("kill_on_user_msg", True)))

    def cancel_all(self, sender_id: str) -> list[dict[str, Any]]:
        """Drop every reminder of the conversation (restarted, new session, deleted)."""
        return self._drop(sender_id, lambda job: True)

    def pending(self, sender_id: str | None = None) -> list[dict[str, Any]]:
        """The pending reminder events (of one conversation, or all), soonest first."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if sender_id in (None, j.sender_id)]
        return [j.event for j in sorted(jobs, key=lambda j: j.due)]

    # -- internals ----------------------------------------------------------------------------

    def _drop(self, sender_id: str, matches: Callable[[_Job], bool]) -> list[dict[str, Any]]:
        with self._lock:
            keys = [k for k, j in self._jobs.items() if j.sender_id == sender_id and matches(j)]
            jobs = [self._jobs.pop(k) for k in keys]
            loop = self._loop
        for job in jobs:
            self._disarm(loop, job)
        return [job.event for job in jobs]

    def _arm_soon(self, key: tuple[str, str], job: _Job) -> None:
        with self._lock:
            loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._arm, key, job)
        except RuntimeError:  # the loop closed meanwhile: the bot is stopping
            return

    def _arm(self, key: tuple[str, str], job: _Job) -> None:
        """On the loop: set the timer, unless the job was replaced or cancelled meanwhile."""
        with self._lock:
            if self._jobs.get(key) is not job or self._loop is None:
                return
            loop = self._loop
            delay = max(0.0, job.due - time.time())
            job.handle = loop.call_at(loop.time() + delay, self._due, key, job)

    def _due(self, key: tuple[str, str], job: _Job) -> None:
        with self._lock:
            if self._jobs.get(key) is not job or self._fire is None or self._loop is None:
                return
            del self._jobs[key]
            fire, loop = self._fire, self._loop
        task = loop.create_task(self._run(fire, job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(fire: Fire, job: _Job) -> None:
        try:
            await fire(job.sender_id, job.event)
        except Exception:
            logger.exception(
                "reminder %r of conversation %r failed", job.event.get("name"), job.sender_id
            )

    @staticmethod
    def _disarm(loop: asyncio.AbstractEventLoop | None, job: _Job) -> None:
        handle = job.handle
        if handle is None or loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(handle.cancel)
        except RuntimeError:
            return
