"""Running the installed `studio` executable as a user would, with the test's own HOME."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


def executable() -> str:
    """The `studio` next to this Python (make install-dev puts it there)."""
    found = Path(sys.executable).with_name("studio")
    if not found.exists():
        found = Path(shutil.which("studio") or "")
    if not found.is_file():
        pytest.fail("the studio command line is not installed: run `make install-dev`")
    return str(found)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


class Cli:
    def __init__(self, home: Path, cwd: Path):
        self.home = home
        self.cwd = cwd
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RASA_STUDIO_", "STUDIO_PASSWORD"))
        }
        self.env["HOME"] = str(home)

    def __call__(self, *args: str, cwd: Path | None = None, check: bool = True, **env) -> Run:
        done = subprocess.run(
            [executable(), *args],
            cwd=cwd or self.cwd,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        run = Run(done.returncode, done.stdout, done.stderr)
        if check and run.returncode != 0:
            pytest.fail(f"studio {' '.join(args)} exited {run.returncode}:\n{run.stderr}")
        return run
