"""The loop every long-running worker runs, kept apart from its management command.

A worker subclasses `Worker` and implements `step()`: do one unit of work and return True, or
return False when there was nothing to do. `run()` calls it in a loop, sleeping (in short slices,
so a stop request is noticed quickly) when idle, closing stale database connections between
steps, and touching a liveness file that an orchestrator's probe can check.

Stopping is two-stage: the first SIGTERM/SIGINT lets the current unit finish and then exits; a
second one exits at once (the unit's row is then requeued by the orchestrator when its
heartbeat goes stale, so nothing is lost). `once=True` drains the queue and exits, for tests
and cron.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection

log = logging.getLogger(__name__)


def default_worker_id(kind: str) -> str:
    return f"{kind}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    kind = "worker"

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        once: bool = False,
        interval: float = 1.0,
        max_tasks: int | None = None,
        liveness_file: str | os.PathLike[str] | None = None,
        stdout: io.TextIOBase | None = None,
    ) -> None:
        self.worker_id = worker_id or default_worker_id(self.kind)
        self.once = once
        self.interval = interval
        self.max_tasks = max_tasks
        self.liveness_file = Path(liveness_file) if liveness_file else None
        self.stdout = stdout
        self.stopping = threading.Event()
        self.tasks_done = 0
        self._signals = 0

    # -- to implement -------------------------------------------------------------------

    def step(self) -> bool:
        """Do one unit of work. Return True if there was work, False if there was none."""
        raise NotImplementedError

    def setup(self) -> None:
        """Called once before the loop."""

    def teardown(self) -> None:
        """Called once after the loop, also after an error."""

    def on_stop_requested(self) -> None:
        """Called on the first stop signal, e.g. to ask a child process to finish."""

    # -- the loop -----------------------------------------------------------------------

    def say(self, message: str) -> None:
        line = f"[{self.worker_id}] {message}"
        if self.stdout is not None:
            self.stdout.write(line)
        else:
            log.info(line)

    def request_stop(self, *_args: object) -> None:
        self._signals += 1
        if self._signals > 1:
            self.say("second stop signal: exiting now")
            os._exit(1)
        self.say("stopping after the current unit of work (signal again to exit now)")
        self.stopping.set()
        self.on_stop_requested()

    def install_signal_handlers(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)

    def touch_liveness(self) -> None:
        if self.liveness_file is not None:
            self.liveness_file.parent.mkdir(parents=True, exist_ok=True)
            self.liveness_file.touch()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early when a stop is requested."""
        self.stopping.wait(seconds)

    def _tidy_connections(self) -> None:
        # Django closes stale connections only around requests; a worker must do it itself.
        # Inside a test's transaction there is nothing to tidy (and closing would break it).
        if not connection.in_atomic_block:
            close_old_connections()

    def run(self) -> int:
        self.install_signal_handlers()
        self.setup()
        self.say("started")
        try:
            while not self.stopping.is_set():
                self._tidy_connections()
                did_work = self.step()
                self.touch_liveness()
                if did_work:
                    self.tasks_done += 1
                    if self.max_tasks is not None and self.tasks_done >= self.max_tasks:
                        self.say(f"done {self.tasks_done} tasks, exiting to be replaced")
                        break
                    continue
                if self.once:
                    break
                self.sleep(self.interval)
        finally:
            self.teardown()
            self._tidy_connections()
        self.say("stopped")
        return 0


def liveness_path(kind: str, worker_id: str) -> Path:
    return Path(settings.VAR_DIR) / "run" / f"{kind}.{worker_id}.alive"
