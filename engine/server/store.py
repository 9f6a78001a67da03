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
        # Trackers built for the model served before a swap, rebuilt from their events when
        # next read (`rebind`).
        self._stale: set[str] = set()
        self._rebuild: Callable[[str, list[dict[str, Any]]], Any] | None = None
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
                if sender_id in self._stale and self._rebuild is not None:
                    tracker = self._rebuild(sender_id, tracker.events)
                    self._trackers[sender_id] = tracker
                self._stale.discard(sender_id)
                self._trackers.move_to_end(sender_id)
            return tracker

    def rebind(
        self,
        factory: Callable[[str], Any],
        rebuild: Callable[[str, list[dict[str, Any]]], Any],
    ) -> None:
        """Another model now serves these conversations (a model swap): new trackers come from
        `factory`, and every tracker kept so far is rebuilt from its events by `rebuild` when
        next read (under its conversation's lock, so never in the middle of a turn)."""
        with self._lock:
            self._factory = factory
            self._rebuild = rebuild
            self._stale = set(self._trackers)

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
                dropped, _ = self._trackers.popitem(last=False)
                self._stale.discard(dropped)

    def delete(self, sender_id: str) -> bool:
        with self._lock:
            self._stale.discard(sender_id)
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

    async def drain(self) -> None:
        """Return once every turn that holds or awaits a conversation now has ended (turns
        that start later may still run)."""
        for sender_id in list(self._locks):
            async with self.hold(sender_id):
                pass

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
