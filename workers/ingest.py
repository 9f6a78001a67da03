"""The ingester: `manage.py ingest` runs an `IngestWorker` around one event source.

The sources (a Kafka topic, the local event spool) and the storage they feed live in
`apps.ingestion` (`sources`, `store.ingest`); this is only the loop around them.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from workers.base import Worker

log = logging.getLogger(__name__)


class Source(Protocol):
    """What the loop needs of an event source (`apps.ingestion` has the two there are)."""

    def describe(self) -> str: ...
    def open(self) -> None: ...
    def close(self) -> None: ...
    def step(self) -> bool: ...


class TooManyErrors(RuntimeError):
    """Raised after `max_errors` failed steps in a row, so that the orchestrator (honcho,
    Kubernetes) restarts the process instead of it retrying a broken state for ever."""


class IngestWorker(Worker):
    kind = "ingest"

    def __init__(self, source: Source, *, max_errors: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.max_errors = max_errors
        self.errors_in_a_row = 0
        self.events_stored = 0

    def setup(self) -> None:
        self.source.open()
        self.say(f"reading {self.source.describe()}")

    def teardown(self) -> None:
        # Leaves the consumer group cleanly (a rebalance now, not after the session timeout).
        self.source.close()

    def step(self) -> bool:
        """Store one batch. True if one was stored (or failed and will be retried), False
        when there was nothing to read."""
        try:
            did_work = self.source.step()
        except Exception as exc:
            self.errors_in_a_row += 1
            log.exception("ingest step failed (%s in a row)", self.errors_in_a_row)
            if self.errors_in_a_row >= self.max_errors:
                raise TooManyErrors(
                    f"{self.errors_in_a_row} failed batches in a row; last error: {exc}"
                ) from exc
            self.sleep(min(2 ** (self.errors_in_a_row - 1), 30))
            return True
        self.errors_in_a_row = 0
        report = getattr(self.source, "last_report", None)
        if did_work and report is not None:
            self.events_stored += report.stored
            self.say(
                f"batch: {report.received} messages, {report.stored} stored, "
                f"{report.duplicates} already stored, {report.unrouted} unrouted, "
                f"{report.dead} dead letters"
            )
        return did_work
