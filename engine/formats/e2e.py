"""Rasa Pro end-to-end test files (``tests/e2e/*.yml``): the test cases with their fixtures.

The format::

    fixtures:                       # optional: named slot presets
      - premium:
          - customer_tier: premium
    metadata: [...]                 # accepted and ignored
    test_cases:
      - test_case: greet_premium
        fixtures: [premium]
        steps:
          - user: "hello"
          - utter: utter_greet
          - bot: "Hello Dana!"
          - slot_was_set: [...]
          - slot_was_not_set: [...]

The steps are kept as they are written; what they mean is up to the runner (`engine.e2e`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.formats.yamlio import load_yaml

__all__ = ["E2ETestCase", "load_test_cases", "load_test_files"]


@dataclass
class E2ETestCase:
    """One test case: `fixtures` are the slot values its fixtures preset."""

    name: str
    steps: list[dict[str, Any]]
    fixtures: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    metadata: list[str] = field(default_factory=list)


def _fixture_map(raw: Any) -> dict[str, dict[str, Any]]:
    """``[{name: [{slot: value}, ...]}, ...]`` -> ``{name: {slot: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        for name, slots in item.items():
            values: dict[str, Any] = {}
            for pair in slots or []:
                if isinstance(pair, dict):
                    values.update(pair)
            out[str(name)] = values
    return out


def load_test_cases(text: str | bytes, file: str = "e2e.yml") -> list[E2ETestCase]:
    """Parse one e2e test file. Raises `engine.formats.FormatError` on invalid YAML."""
    data = load_yaml(text, file).data or {}
    fixtures = _fixture_map(data.get("fixtures"))
    cases = []
    for raw in data.get("test_cases") or []:
        if not isinstance(raw, dict):
            continue
        slots: dict[str, Any] = {}
        for name in raw.get("fixtures") or []:
            if name not in fixtures:
                raise ValueError(
                    f"{file}: test case {raw.get('test_case')!r}: unknown fixture {name!r}"
                )
            slots.update(fixtures[name])
        cases.append(
            E2ETestCase(
                name=str(raw.get("test_case")),
                steps=list(raw.get("steps") or []),
                fixtures=slots,
                file=file,
                metadata=list(raw.get("metadata") or []),
            )
        )
    return cases


def load_test_files(paths: Iterable[Path | str]) -> list[E2ETestCase]:
    """The test cases of the given files, and of the ``*.yml``/``*.yaml`` files in the given
    directories (sorted)."""
    cases: list[E2ETestCase] = []
    for path in paths:
        path = Path(path)
        files = (
            sorted(path.rglob("*.yml")) + sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
        )
        for file in files:
            cases.extend(load_test_cases(file.read_bytes(), str(file)))
    return cases
