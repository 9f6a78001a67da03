"""`load_yaml(fast=True)` (libyaml) gives the values, lines and errors ruamel.yaml gives."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.formats.errors import FormatError
from engine.formats.yamlio import load_yaml

REPO = Path(__file__).resolve().parents[3]

CASES = [
    "a: yes\nb: no\nc: on\nd: Off\ne: y\nf: TRUE\ng: tRue\n",
    "a: 012\nb: 0o17\nc: 0x1F\nd: 1_000\ne: 1:30\nf: .inf\ng: -.NaN\nh: 1e3\ni: 0b101\n",
    "a: 2001-12-14\nb: ~\nc: Null\n",
    "a: =\n",
    "a: &x {k: 1}\nb:\n  <<: *x\n  j: 2\n",
    "a: 1\na: 2\n",
    "a: !!python/object:os.system x\n",
    "a:\n\t- b\n",
    "a: [1, 2\n",
    "a: *nope\n",
    "- a\n- b: c\n  d: e\n",
    "a: 'x'\nb: \"y\\tz\"\nc: |\n  line\n  two\n",
    "a: !!str 1\nb: !!int '3'\n",
    "",
    "? [a]\n: b\n",
    "%YAML 1.1\n---\na: yes\n",
    "a: b\u2028c\n",
    "stories:\n- story: one\n  steps:\n  - intent: greet\n  - action: utter_greet\n",
]


def read(text: str, fast: bool):
    try:
        doc = load_yaml(text, "f.yml", fast=fast)
    except FormatError as exc:
        return [str(p) for p in exc.problems]
    return repr(doc.data), doc.lines


@pytest.mark.parametrize("text", CASES)
def test_fast_reading_is_the_same(text):
    assert read(text, fast=True) == read(text, fast=False)


def test_fast_reading_of_the_demo_files_is_the_same():
    # And the pattern flows and responses every training reads (with libyaml).
    files = sorted((REPO / "demo").rglob("*.yml")) + sorted((REPO / "engine").glob("*/*.yml"))
    assert any(path.name == "default_flows.yml" for path in files)
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert read(text, fast=True) == read(text, fast=False), path


def test_fast_reading_resolves_yaml_1_2_values():
    doc = load_yaml("a: yes\nb: true\nc: 0o17\nd: .inf\ne: null\n", "f.yml", fast=True)
    assert doc.data == {"a": "yes", "b": True, "c": 15, "d": math.inf, "e": None}
    assert doc.lines["c"] == 3
