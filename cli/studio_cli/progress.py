"""Progress of long transfers, on stderr, only when stderr is a terminal.

Scripts read stdout and exit codes; a person watching a model download sees it move.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

Reporter = Callable[[int, "int | None"], None]


def bar(label: str) -> Reporter | None:
    """A reporter drawing `label: 12.3 MB / 40.0 MB (30%)`, or None when nobody watches."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int | None) -> None:
        text = f"\r{label}: {_size(done)}"
        if total:
            text += f" / {_size(total)} ({done * 100 // total}%)"
        sys.stderr.write(text)
        if total is not None and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB" if count >= 100_000 else f"{count / 1000:.1f} kB"


def stream_to_file(
    chunks: Iterable[bytes], target: Path, total: int | None, report: Reporter | None
) -> int:
    """Writes to a temporary file beside `target`, which replaces it only once complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    done = 0
    try:
        with partial.open("wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
                done += len(chunk)
                if report:
                    report(done, total)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if report and total is None:
        report(done, done)
    return done


def step(message: str) -> None:
    """A line saying what a long command is doing now."""
    print(message, file=sys.stderr, flush=True)
