"""mypy against a baseline: today's errors are listed in mypy-baseline.txt, new ones fail.

Run as `python -m tests.support.typecheck` (what `make typecheck` does). An error is compared as
`path: [code] message`, without its line number, so that editing a file does not churn the list;
the baseline counts how often each appears. A new error fails, and so does a listed one that has
gone: the list may only shrink (`--update` rewrites it after a fix, never to hide a new error).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "mypy-baseline.txt"
HEADER = (
    "# mypy errors that existed when the type check was added: `path: [code] message`, one line\n"
    "# per occurrence. This list may only shrink; see tests/support/typecheck.py.\n"
)
#: A whole run every time (no incremental cache): the comparison must not depend on what ran
#: before.
MYPY_FLAGS = ("--no-incremental", "--no-pretty", "--no-error-summary", "--show-error-codes")
_ERROR = re.compile(
    r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error: (?P<message>.*?)\s+\[(?P<code>[a-z-]+)\]$"
)


def current_errors() -> Counter[str]:
    """Run mypy (configured in pyproject.toml) and return its errors, without line numbers."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *MYPY_FLAGS],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"mypy did not run:\n{result.stdout}{result.stderr}")
    errors: Counter[str] = Counter()
    for line in result.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            errors[f"{match['path']}: [{match['code']}] {match['message']}"] += 1
        elif ": error:" in line:
            raise SystemExit(f"unexpected mypy output: {line}")
    return errors


def baseline_errors() -> Counter[str]:
    lines = BASELINE.read_text(encoding="utf-8").splitlines() if BASELINE.exists() else []
    return Counter(line for line in lines if line and not line.startswith("#"))


def write_baseline(errors: Counter[str]) -> None:
    BASELINE.write_text(HEADER + "".join(f"{e}\n" for e in sorted(errors.elements())), "utf-8")


def main(argv: list[str]) -> int:
    errors = current_errors()
    if "--update" in argv:
        write_baseline(errors)
        print(f"{BASELINE.name}: {sum(errors.values())} errors")
        return 0
    known = baseline_errors()
    new = errors - known
    fixed = known - errors
    for error in sorted(new.elements()):
        print(f"new: {error}")
    for error in sorted(fixed.elements()):
        print(f"fixed (remove it from {BASELINE.name}): {error}")
    if new or fixed:
        print(
            f"{sum(new.values())} new mypy errors, {sum(fixed.values())} fixed ones still listed; "
            "fix the new ones, then run `python -m tests.support.typecheck --update`"
        )
        return 1
    print(f"mypy: no new errors ({sum(known.values())} listed in {BASELINE.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
