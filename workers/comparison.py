"""Comparisons of two versions and conversation replays, run by the training consumers.

`run_next(consumer)` takes the oldest queued comparison (else replay) with the training app's
claim, runs it in process with the built-in engine and records the result. Every section of a
comparison is computed on its own: one that cannot be (a model that does not load, test files
that do not parse) says why in its `error`, and the others are still shown.

What each section measures:

* content: `apps.comparison.diff.content_changes` over the two versions' exported files;
* e2e: the candidate's test cases (its files under ``tests/``) run against both models;
* nlu: both versions' NLU retrained here on the train part of a deterministic split
  (`apps.comparison.metrics.held_out_split`) of the candidate's examples (the live version on
  its own examples less the held-out texts), scored on the held-out part; and the two stored
  models scored on the approved annotated production messages;
* triggers: a sample of the assistant's ingested user messages, each sent as the first message
  of a fresh conversation to both stored models; the first flow (not a pattern) each starts.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from apps.annotation.models import Annotation
from apps.comparison import metrics, services
from apps.comparison.diff import UnreadableVersion, content_changes, load_project
from apps.comparison.models import Comparison, QueuedWork, Replay
from apps.comparison.replay import compare_runs, turns_of_events
from apps.training.models import ModelVersion
from engine import formats
from engine.archive import ArchiveError, LoadedModel, load_model
from engine.dialogue import NullActionClient, Processor, UserMessage, to_training_data
from engine.e2e import run_test_case
from engine.nlu import NluModel
from engine.nlu.data import NluTrainingData
from engine.nlu.pipeline import PipelineError
from workers.training import write_project


class Lost(Exception):
    """The row's lease was lost (taken over by another consumer): stop working on it."""


class Reporter:
    """Progress and log lines onto the row, heartbeating at most every few seconds."""

    def __init__(self, row: QueuedWork, touch: Callable[[], None]) -> None:
        self.row = row
        self.touch = touch
        self.pending: list[str] = []
        self.last = 0.0

    def __call__(self, line: str, *, force: bool = False) -> None:
        self.pending.append(line)
        now = time.monotonic()
        if force or now - self.last >= settings.STUDIO_HEARTBEAT_SECONDS:
            self.flush(line)

    def flush(self, progress: str | None = None) -> None:
        if not self.row.heartbeat(progress=progress, log_lines=self.pending):
            raise Lost()
        self.touch()
        self.pending = []
        self.last = time.monotonic()


# -- loading models ---------------------------------------------------------------------------


def load_version(version: ModelVersion, folder: Path) -> LoadedModel:
    """The version's model archive, copied out of storage and loaded."""
    local = folder / f"model-{version.pk}.tar.gz"
    with default_storage.open(version.model_file, "rb") as source, local.open("wb") as target:
        shutil.copyfileobj(source, target)
    return load_model(local)


def processor_of(model: LoadedModel, seed: int = 0) -> Processor:
    """A processor that answers in process; custom actions do nothing."""
    return Processor(
        model.dialogue_model,
        model.nlu,
        model.flow_classifier,
        action_client=NullActionClient(),
        seed=seed,
        model_id=model.model_id,
        assistant_id=model.assistant_id,
        policies=model.policies,
    )


# -- the sections -----------------------------------------------------------------------------


def e2e_section(
    candidate_files: dict[str, str],
    models: dict[str, LoadedModel],
    folder: Path,
    report: Callable[[str], None] = lambda _line: None,
) -> dict[str, Any]:
    project = folder / "candidate"
    write_project({p: c for p, c in candidate_files.items() if p.startswith("tests/")}, project)
    tests = project / "tests"
    if not tests.is_dir():
        return {"cases": 0, "note": "The candidate has no test files under tests/."}
    try:
        cases = formats.load_test_files([tests])
    except formats.FormatError as exc:
        return {"error": "The candidate's test files cannot be read: " + str(exc)}
    outcomes: dict[str, dict[str, dict[str, Any]]] = {}
    for side, model in models.items():
        results = {}
        for case in cases:
            result = run_test_case(processor_of(model), case)
            file = str(Path(case.file).relative_to(project)) if case.file else None
            key = f"{file}::{case.name}" if file else case.name
            results[key] = {
                "status": result.status,
                "file": file,
                "line": case.line,
                "failure": _failure(result.failure),
            }
            report(f"E2E on the {side} model: {case.name} {result.status}")
        outcomes[side] = results
    changes = metrics.outcome_changes(outcomes["base"], outcomes["candidate"])
    changes["cases"] = len(cases)
    return changes


def _failure(failure: dict[str, Any] | None) -> dict[str, Any] | None:
    if not failure:
        return None
    return {
        "step": failure.get("step"),
        "line": failure.get("line"),
        "message": str(failure.get("message") or ""),
    }


def _retrain(project: formats.Project, examples: list[Any]) -> NluModel:
    data = to_training_data(project.nlu)
    subset = NluTrainingData(
        examples=examples, synonyms=data.synonyms, regexes=data.regexes, lookups=data.lookups
    )
    config = project.config
    return NluModel.train(
        subset,
        language=(config.language if config else None) or "en",
        pipeline=config.pipeline if config else None,
        responses=formats.responses_to_yaml(project.domain.responses),
    )


def _scores(nlu: Any, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    guesses = [
        (intent, (nlu.parse(text).get("intent") or {}).get("name")) for text, intent in pairs
    ]
    return metrics.per_intent_scores(guesses)


def _held_out(projects: dict[str, formats.Project]) -> dict[str, Any]:
    candidate_data = to_training_data(projects["candidate"].nlu)
    train, test = metrics.held_out_split((ex.text, ex.intent) for ex in candidate_data.examples)
    if not test:
        return {"note": "The candidate has too few NLU examples to hold any out.", "count": 0}
    held = {text for text, _ in test}
    trained = {}
    for side, project in projects.items():
        examples = [
            ex for ex in to_training_data(project.nlu).examples if ex.text not in held and ex.intent
        ]
        trained[side] = _scores(_retrain(project, examples), test)
    return {
        "count": len(test),
        "train_count": len(train),
        "rows": metrics.score_rows(trained["base"], trained["candidate"]),
        "accuracy": {side: trained[side]["accuracy"] for side in trained},
    }


def _annotated(assistant_id: int, models: dict[str, LoadedModel]) -> dict[str, Any]:
    pairs = list(
        Annotation.objects.filter(assistant_id=assistant_id, status=Annotation.Status.APPROVED)
        .exclude(intent="")
        .values_list("text", "intent")
        .order_by("id")
    )
    if not pairs:
        return {"count": 0, "note": "No approved annotated production messages yet."}
    scored = {side: _scores(model.nlu, pairs) for side, model in models.items()}
    return {
        "count": len(pairs),
        "rows": metrics.score_rows(scored["base"], scored["candidate"]),
        "accuracy": {side: scored[side]["accuracy"] for side in scored},
    }


def first_flow(processor: Processor, text: str, sender: str) -> str | None:
    """The first flow (not a pattern) a fresh conversation starts on `text`."""
    tracker = processor.new_tracker(sender)
    processor.handle_message(tracker, UserMessage(text, sender))
    for event in tracker.events:
        flow = event.get("flow_id") if event.get("event") == "flow_started" else None
        if flow and not str(flow).startswith("pattern_"):
            return str(flow)
    return None


def triggers_section(
    assistant: Any, models: dict[str, LoadedModel], report: Reporter
) -> dict[str, Any]:
    messages = services.sample_user_messages(assistant)
    if not messages:
        return {"messages": 0, "note": "No ingested user messages of this assistant yet."}
    processors = {side: processor_of(model) for side, model in models.items()}
    rows = []
    for index, text in enumerate(messages):
        flows = {
            side: first_flow(processor, text, f"compare-{index}")
            for side, processor in processors.items()
        }
        rows.append((text, flows["base"], flows["candidate"]))
        report(f"Replayed {index + 1}/{len(messages)} sampled messages")
    result = metrics.trigger_changes(rows)
    result["sample_size"] = settings.STUDIO_COMPARISON_SAMPLE_SIZE
    return result


# -- running a comparison ---------------------------------------------------------------------


def _guarded(name: str, report: Reporter, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    report(f"Computing {name}", force=True)
    try:
        section = compute()
    except Lost:
        raise
    except (UnreadableVersion, PipelineError, formats.FormatError, ValueError) as exc:
        section = {"error": str(exc)}
    except Exception as exc:  # a broken model must not stop the other sections
        section = {"error": f"{type(exc).__name__}: {exc}"}
    report(f"{name}: {section.get('error') or 'done'}")
    return section


def _load_models(comparison: Comparison, folder: Path) -> dict[str, LoadedModel] | str:
    models = {}
    for side, version in (("base", comparison.base), ("candidate", comparison.candidate)):
        try:
            models[side] = load_version(version, folder)
        except (ArchiveError, OSError, ValueError) as exc:
            return f"The model of {version.label} cannot be loaded by the built-in engine: {exc}"
    return models


def compute(comparison: Comparison, report: Reporter) -> dict[str, Any]:
    base, candidate = comparison.base, comparison.candidate
    result: dict[str, Any] = {
        "base": {"number": base.number, "label": base.label},
        "candidate": {"number": candidate.number, "label": candidate.label},
    }
    result["content"] = _guarded(
        "content changes",
        report,
        lambda: content_changes(base.input_contents, candidate.input_contents),
    )
    with tempfile.TemporaryDirectory(prefix="studio-compare-") as tmp:
        folder = Path(tmp)
        report("Loading both models", force=True)
        models = _load_models(comparison, folder)
        if isinstance(models, str):
            for section in ("e2e", "nlu", "triggers"):
                result[section] = {"error": models}
            return result
        result["e2e"] = _guarded(
            "e2e test cases",
            report,
            lambda: e2e_section(candidate.input_files, models, folder, report),
        )

        def nlu() -> dict[str, Any]:
            projects = {
                "base": load_project(base.input_contents, base.label),
                "candidate": load_project(candidate.input_contents, candidate.label),
            }
            return {
                "held_out": _held_out(projects),
                "annotated": _annotated(comparison.assistant_id, models),
            }

        result["nlu"] = _guarded("NLU precision/recall/F1", report, nlu)
        result["triggers"] = _guarded(
            "flow triggers", report, lambda: triggers_section(comparison.assistant, models, report)
        )
    return result


def run_comparison(comparison: Comparison, touch: Callable[[], None]) -> None:
    report = Reporter(comparison, touch)
    try:
        result = compute(comparison, report)
        report.flush("Finished")
    except Lost:
        return
    except Exception as exc:  # recorded on the row: a consumer never dies of one comparison
        comparison.finish(Comparison.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        return
    comparison.finish(Comparison.Status.SUCCEEDED, result=result)


# -- running a replay -------------------------------------------------------------------------


def run_replay(replay: Replay, touch: Callable[[], None]) -> None:
    report = Reporter(replay, touch)
    try:
        with tempfile.TemporaryDirectory(prefix="studio-replay-") as tmp:
            try:
                model = load_version(replay.version, Path(tmp))
            except (ArchiveError, OSError, ValueError) as exc:
                message = f"The model of {replay.version.label} cannot be loaded: {exc}"
                report.flush(message)
                replay.finish(Replay.Status.FAILED, error=message)
                return
            processor = processor_of(model)
            tracker = processor.new_tracker(f"replay-{replay.pk}")
            replayed = []
            for index, turn in enumerate(replay.source, start=1):
                start = len(tracker.events)
                processor.handle_message(tracker, UserMessage(turn["user"], tracker.sender_id))
                replayed.extend(turns_of_events(tracker.events[start:]) or [_empty(turn)])
                report(f"Replayed turn {index}/{len(replay.source)}")
        report.flush("Finished")
    except Lost:
        return
    except Exception as exc:  # recorded on the row: a consumer never dies of one replay
        replay.finish(Replay.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        return
    replay.finish(Replay.Status.SUCCEEDED, result=compare_runs(replay.source, replayed))


def _empty(turn: dict[str, Any]) -> dict[str, Any]:
    return {"user": turn["user"], "bot": [], "flows": []}


# -- the consumer's hook ----------------------------------------------------------------------


def run_next(worker_id: str, touch: Callable[[], None], say: Callable[[str], None]) -> bool:
    """Run the oldest queued comparison, else the oldest queued replay. True if there was one.
    Rows whose consumer stopped heartbeating are put back in the queue first."""
    lease = timedelta(seconds=settings.STUDIO_LEASE_SECONDS)
    Comparison.requeue_stale(lease)
    Replay.requeue_stale(lease)
    comparison = Comparison.objects.claim_next(worker_id)
    if comparison is not None:
        say(f"comparing {comparison.candidate} with {comparison.base} ({comparison.pk})")
        run_comparison(comparison, touch)
        return True
    replay = Replay.objects.claim_next(worker_id)
    if replay is not None:
        say(f"replaying {replay.source_label} against {replay.version} ({replay.pk})")
        run_replay(replay, touch)
        return True
    return False
