"""The lint budgets only shrink: the C901 offenders listed in pyproject.toml still need their
line, and mypy finds no error that mypy-baseline.txt does not list (nor misses one it does)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import typecheck

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"


def _ruff_lint() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["ruff"]["lint"]


def test_every_file_in_the_complexity_budget_still_needs_its_line():
    lint = _ruff_lint()
    budget = sorted(f for f, rules in lint["per-file-ignores"].items() if "C901" in rules)
    missing = [f for f in budget if not (ROOT / f).is_file()]
    assert not missing, f"files listed for C901 that no longer exist: {missing}"
    result = subprocess.run(
        [
            str(RUFF),
            "check",
            "--isolated",
            "--select",
            "C901",
            "--config",
            f"lint.mccabe.max-complexity={lint['mccabe']['max-complexity']}",
            "--output-format",
            "json",
            "--exit-zero",
            *budget,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    offenders = {
        Path(d["filename"]).relative_to(ROOT).as_posix() for d in json.loads(result.stdout)
    }
    assert set(budget) - offenders == set(), "no longer over the budget: remove from pyproject.toml"


@pytest.mark.slow
def test_mypy_finds_exactly_the_errors_of_the_baseline():
    errors = typecheck.current_errors()
    known = typecheck.baseline_errors()
    assert sorted((errors - known).elements()) == [], "new mypy errors"
    assert sorted((known - errors).elements()) == [], "fixed: remove them from mypy-baseline.txt"
