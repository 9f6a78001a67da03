"""The benchmarks run, and the demo generators agree with the engine's reading of their data."""

from __future__ import annotations

import pytest

from demo.conversations import INTENTS, _plain, transfer_conversation
from engine import formats


def test_the_nlu_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.nlu import main

    assert main(["--intents", "5", "--examples", "100", "--parses", "20"]) == 0
    out = capsys.readouterr().out
    assert "train:" in out and "p50" in out


@pytest.mark.parametrize(
    "text",
    [
        *(text for _, text, _ in INTENTS),
        "send [50](amount) to [Joe](recipient)",
        "book a flight to [Berlin](city)",
        "[Joe](recipient)",
        "no entities at all",
    ],
)
def test_sample_annotations_read_as_the_engine_reads_them(text: str) -> None:
    example = formats.parse_example(text)
    plain, entities = _plain(text)
    assert plain == example.text
    assert [(e["entity"], e["start"], e["end"], e["value"]) for e in entities] == [
        (e.entity, e.start, e.end, e.value) for e in example.entities
    ]


def test_sample_conversations_carry_their_entities() -> None:
    users = [e for e in transfer_conversation("s").events if e["event"] == "user"]
    assert users[0]["text"] == "send 50 to Joe"
    assert [e["value"] for e in users[0]["parse_data"]["entities"]] == ["50", "Joe"]
