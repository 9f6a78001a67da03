"""Wake-ups: a consumer on this machine learns of new work the moment it is queued.

Queuing work (a training request, a trained model's bot) touches a file in
``STUDIO_VAR_DIR/run/``, once its transaction commits; an idle consumer watches the file's
modification time while it sleeps and claims at once when it changes, instead of waiting out its
``--interval``. It is only a hint: the database stays the queue (a consumer on another machine,
or one that misses a wake-up, claims the work at its next poll as before).
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings
from django.db import transaction

#: How often a sleeping consumer looks at its wake-up file.
WATCH_SECONDS = 0.01


def wake_file(kind: str) -> Path:
    return Path(settings.VAR_DIR) / "run" / f"{kind}.wake"


#: The wake-up file starts again from empty past this size.
MAX_WAKE_BYTES = 1 << 20


def _touch(path: Path) -> None:
    """One more byte (the size changes even when two wake-ups fall in one clock tick)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as handle:
            if handle.tell() >= MAX_WAKE_BYTES:
                handle.truncate(0)
            handle.write(b".")
    except OSError:
        pass  # only a hint: the consumers still poll


def wake(kind: str) -> None:
    """Wake the idle consumers of `kind` ("training", "running") on this machine, once the
    current transaction commits (at once outside one)."""
    path = wake_file(kind)
    transaction.on_commit(lambda: _touch(path))


def _stamp(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


class Waker:
    """A consumer's view of its wake-up file: `sleep` returns early when the file changes."""

    def __init__(self, kind: str) -> None:
        self.path = wake_file(kind)
        self.seen = _stamp(self.path)

    def woken(self) -> bool:
        """True (once) when the file changed since the last look."""
        stamp = _stamp(self.path)
        if stamp != self.seen:
            self.seen = stamp
            return True
        return False

    def sleep(self, seconds: float, stopping: threading.Event) -> None:
        """Wait up to `seconds`, returning early on a wake-up or a stop request."""
        if self.woken():
            return
        remaining = seconds
        while remaining > 0 and not stopping.wait(min(WATCH_SECONDS, remaining)):
            if self.woken():
                return
            remaining -= WATCH_SECONDS
