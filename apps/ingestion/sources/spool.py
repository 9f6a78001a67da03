"""Events from the JSON-lines files that local bots write (Rasa's `file` event broker), each
file followed from the byte offset stored with its last events."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.ingestion import store
from apps.ingestion.models import FileSpoolPosition
from apps.ingestion.store import IngestReport, RawMessage

log = logging.getLogger(__name__)


@dataclass
class SpoolFile:
    path: str
    size: int
    offset: int

    @property
    def behind(self) -> int:
        return max(self.size - self.offset, 0)


#: A spool file's last line without a newline is read as complete once the file has not
#: changed for this many seconds (writers append whole lines, so only a writer that died
#: mid-line leaves one for that long).
FINAL_LINE_AFTER_SECONDS = 30.0


class FileSpoolSource:
    """Follows every JSON-lines file under `directory` (one Rasa event per line, as Rasa's
    `file` event broker and the built-in engine write them).

    The byte offset after the last complete line stored is kept per file in
    `FileSpoolPosition`, written in the same transaction as that line's events: a crash at any
    point resumes exactly where the database says. A partial last line (a bot mid-write) is
    left for the next step, until the file has not changed for `final_line_after` seconds:
    then the writer is gone (a bot killed mid-write) and the line is read as the file's last
    (a dead letter if it does not parse). A file that shrank or was replaced (another inode)
    is read again from the start; already stored events are recognised by their
    fingerprints. A file that fails to store does not hold up the others.
    """

    def __init__(
        self,
        directory: str | os.PathLike | None = None,
        *,
        max_lines: int = 2000,
        max_bytes: int = 8 * 1024 * 1024,
        final_line_after: float = FINAL_LINE_AFTER_SECONDS,
    ):
        self.directory = Path(directory or settings.STUDIO_EVENT_SPOOL_DIR)
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.final_line_after = final_line_after
        self.last_report: IngestReport | None = None

    def describe(self) -> str:
        return f"event files under {self.directory}"

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(
            path
            for path in self.directory.rglob("*")
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.directory).parts)
        )

    def status(self) -> list[SpoolFile]:
        positions = dict(FileSpoolPosition.objects.values_list("path", "offset"))
        rows = []
        for path in self.files():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            rows.append(SpoolFile(str(path), size, positions.get(str(path), 0)))
        return rows

    def step(self) -> bool:
        """Store the next lines of the first file that has unread complete lines. A file
        that fails is logged and passed over (it is tried again next step), so it cannot
        starve the files after it; if no file could be read and one failed, its error is
        raised (the worker counts errors in a row)."""
        positions = {row.path: row for row in FileSpoolPosition.objects.all()}
        failure: Exception | None = None
        for path in self.files():
            try:
                if self._read(path, positions.get(str(path))):
                    return True
            except Exception as exc:
                log.exception("cannot store the events of %s", _shown(path))
                failure = failure or exc
        if failure is not None:
            raise failure
        return False

    def _read(self, path: Path, position: FileSpoolPosition | None) -> bool:
        try:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                offset = position.offset if position is not None else 0
                if position is not None and (
                    position.inode != stat.st_ino or stat.st_size < position.offset
                ):
                    log.info("%s was rotated or truncated: reading it from the start", _shown(path))
                    offset = 0
                if stat.st_size <= offset:
                    return False
                handle.seek(offset)
                # No more than the size seen: `st_mtime` above dates these bytes.
                chunk = handle.read(min(self.max_bytes, stat.st_size - offset))
        except OSError as exc:
            log.warning("cannot read %s: %s", _shown(path), exc)
            return False
        end = chunk.rfind(b"\n")
        batch: list[RawMessage] = []
        if end < 0:
            if len(chunk) < self.max_bytes:
                if time.time() - stat.st_mtime < self.final_line_after:
                    return False  # a line being written: wait for the rest
                # Nobody has written to the file for a while: this is its last line.
                new_offset = offset + len(chunk)
                if chunk.strip():
                    batch.append(RawMessage(chunk, f"file:{path}:{offset}"))
            else:
                # One line longer than we read at once: record it as a dead letter, skip it.
                new_offset = self._skip_long_line(path, offset + len(chunk))
                batch.append(RawMessage(chunk, f"file:{path}:{offset}"))
        else:
            new_offset = offset
            lines = chunk[: end + 1].split(b"\n")[:-1]
            for line in lines[: self.max_lines]:
                line_offset = new_offset
                new_offset += len(line) + 1
                if line.strip():
                    batch.append(RawMessage(line, f"file:{path}:{line_offset}"))

        def record(report: IngestReport) -> None:
            store.record_file_position(str(path), new_offset, stat.st_ino)

        self.last_report = store.ingest(batch, in_transaction=record)
        return True

    def _skip_long_line(self, path: Path, offset: int) -> int:
        with path.open("rb") as handle:
            handle.seek(offset)
            while True:
                block = handle.read(1024 * 1024)
                if not block:
                    return offset
                newline = block.find(b"\n")
                if newline >= 0:
                    return offset + newline + 1
                offset += len(block)


def _shown(path) -> str:
    """A file name fit for a log line, whatever bytes it is made of."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
