"""Where conversations live while a bot runs, and how turns of one conversation are serialised."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["ConversationLocks", "InMemoryTrackerStore"]

#: Conversations kept in memory before the least recently used one is dropped.
DEFAULT_MAX_CONVERSATIONS = 50_000


class InMemoryTrackerStore:
    """Trackers by sender id, least recently used first; bounded by `max_conversations`.

    A bot serves one model for a limited time (Studio stops idle bots), so memory is enough;
    the bound only protects the process from a client that invents sender ids in a loop.
    """

    def __init__(
        self, factory: Callable[[str], Any], max_conversations: int = DEFAULT_MAX_CONVERSATIONS
    ) -> None:
        self._factory = factory
        self._trackers: OrderedDict[str, Any] = OrderedDict()
        self.max_conversations = max_conversations
        # Turns of different conversations run in worker threads at the same time.
        self._lock = threading.RLock()

    def __contains__(self, sender_id: str) -> bool:
        return sender_id in self._trackers

    def __len__(self) -> int:
        return len(self._trackers)

    def get(self, sender_id: str) -> Any | None:
        with self._lock:
            tracker = self._trackers.get(sender_id)
            if tracker is not None:
                self._trackers.move_to_end(sender_id)
            return tracker

    def get_or_create(self, sender_id: str) -> Any:
        with self._lock:
            tracker = self.get(sender_id)
            if tracker is None:
                tracker = self._factory(sender_id)
                self.save(tracker)
            return tracker

    def save(self, tracker: Any) -> None:
        with self._lock:
            self._trackers[tracker.sender_id] = tracker
            self._trackers.move_to_end(tracker.sender_id)
            while len(self._trackers) > self.max_conversations:
                self._trackers.popitem(last=False)

    def delete(self, sender_id: str) -> bool:
        with self._lock:
            return self._trackers.pop(sender_id, None) is not None


class ConversationLocks:
    """One asyncio lock per conversation, dropped when nobody holds or waits for it.

    Messages to one sender are handled one after the other (their events must not interleave);
    messages to different senders run concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, sender_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(sender_id) or (asyncio.Lock(), 0)
        self._locks[sender_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[sender_id]
            if users <= 1:
                del self._locks[sender_id]
            else:
                self._locks[sender_id] = (lock, users - 1)
