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


def test_the_test_run_bench_suite_is_100_valid_cases_of_the_reference_flows() -> None:
    from bench.testing import reference_suite
    from demo.reference_assistant import generate_reference_project

    project = generate_reference_project()
    cases = formats.load_test_cases(reference_suite(project), "tests/e2e/reference.yml")
    assert len(cases) == 100 and len({c.name for c in cases}) == 100
    flows = {flow.id for flow in formats.load_project_files(project).flows}
    started = {c.steps[0]["assertions"][0]["flow_started"] for c in cases}
    assert started <= flows and len(started) > 5
    assert all("](" not in c.steps[0]["user"] for c in cases)


def test_the_engine_bench_gives_the_reference_assistant_sentence_embeddings(tmp_path) -> None:
    """The reply path "with embeddings" is the reference assistant with the featuriser first in
    its pipeline, a project the engine accepts (a warning, no error)."""
    from bench.engine import _write_embedded
    from demo.reference_assistant import generate_reference_project
    from engine.nlu.pipeline import PipelineSettings
    from engine.train import load_and_validate

    directory = _write_embedded(tmp_path, generate_reference_project())
    project, warnings = load_and_validate(str(directory))
    assert [w.path for w in warnings if "SentenceEmbeddingFeaturizer" in w.message] == [
        "pipeline[0].name"
    ]
    assert project.config is not None
    assert PipelineSettings.from_config(project.config.pipeline).embedding is not None
