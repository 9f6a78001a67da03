"""The LLM generator's benchmark runs and reports the reply time without the LLM call."""

from __future__ import annotations

import pytest


def test_the_llm_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.llm import main

    assert main(["--messages", "10"]) == 0
    out = capsys.readouterr().out
    assert "offline generator, per reply: p50" in out
    assert "the reply without the LLM call: p50" in out
