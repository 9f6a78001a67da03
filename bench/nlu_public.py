"""NLU on public intent benchmarks: CLINC150 (with its out-of-scope split), BANKING77 and SNIPS.

The data is not part of the repository: the bench reads the files their authors publish from a
directory (``--data DIR`` or ``STUDIO_NLU_BENCH_DATA``), laid out as::

    DIR/clinc150/data_full.json          clinc/oos-eval: data/data_full.json
    DIR/banking77/train.csv, test.csv    PolyAI-LDN/task-specific-datasets: banking_data/
    DIR/snips/<Intent>/train_<Intent>_full.json, validate_<Intent>.json
                                         sonos/nlu-benchmark: 2017-06-custom-intent-engines/

A data set that is absent yields `Skipped` saying which file is missing. Each training runs in a
process of its own pinned to one core (one BLAS thread), so its peak RSS and CPU time are its
own; the model is trained with ``SentenceEmbeddingFeaturizer`` and a ``FallbackClassifier``
without a threshold (calibrated during training), once per featuriser model (the static
``all-MiniLM-L6-v2`` and the transformer ``all-MiniLM-L6-v2-onnx``, whose labels say so;
``--model NAME`` for one), and again without the featuriser as the baseline. Without any of the
data sets, a synthetic data set of CLINC150's shape (150 intents, 100 examples each, a
7,000-word vocabulary) still measures training time, memory and parse latency.

``python -m bench.nlu_public [--data DIR] [--no-baseline] [--model NAME]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import Figure, Skipped

DATA_ENV = "STUDIO_NLU_BENCH_DATA"
ACCURACY_TARGETS = {"banking77": ">= 93.7 %", "clinc150": ">= 95 % in scope"}
TARGETS = {
    "oos_recall": ">= 80 %",
    "train_seconds": "< 30 s",
    "peak_rss": "< 600 MB",
    "parse_p50": "< 3 ms",
}
EMBEDDING = {"name": "SentenceEmbeddingFeaturizer"}
DEFAULT_MODEL = "all-MiniLM-L6-v2"  # engine.nlu.embeddings.DEFAULT_MODEL (imported by children)
FALLBACK = {"name": "FallbackClassifier"}

Pairs = list[tuple[str, str]]


class Missing(Exception):
    """A data set's file is not there."""


# -- the published files ------------------------------------------------------------------------


def _need(path: Path) -> Path:
    if not path.is_file():
        raise Missing(f"no {path}")
    return path


def load_clinc(root: Path) -> tuple[Pairs, Pairs, list[str]]:
    """CLINC150's full variant: 150 intents x 100 training examples; its out-of-scope training
    examples are left out (detection is by the fallback threshold)."""
    data = json.loads(_need(root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    train = [(str(t), str(label)) for t, label in data["train"]]
    test = [(str(t), str(label)) for t, label in data["test"]]
    return train, test, [str(t) for t, _label in data["oos_test"]]


def load_banking(root: Path) -> tuple[Pairs, Pairs, list[str]]:
    def read(name: str) -> Pairs:
        with _need(root / "banking77" / name).open(encoding="utf-8", newline="") as handle:
            return [(row["text"], row["category"]) for row in csv.DictReader(handle)]

    return read("train.csv"), read("test.csv"), []


def load_snips(root: Path) -> tuple[Pairs, Pairs, list[str]]:
    base = root / "snips"
    if not base.is_dir():
        raise Missing(f"no {base}")
    train: Pairs = []
    test: Pairs = []
    intents = sorted(p.name for p in base.iterdir() if p.is_dir())
    if not intents:
        raise Missing(f"no intent folders in {base}")
    for intent in intents:
        for name, into in ((f"train_{intent}_full.json", train), (f"validate_{intent}.json", test)):
            raw = _need(base / intent / name).read_bytes().decode("utf-8", errors="replace")
            for utterance in json.loads(raw)[intent]:
                text = "".join(part["text"] for part in utterance["data"]).strip()
                if text:
                    into.append((text, intent))
    return train, test, []


LOADERS = {"clinc150": load_clinc, "banking77": load_banking, "snips": load_snips}


def synthetic_clinc_shape(seed: int = 1) -> tuple[Pairs, Pairs, list[str]]:
    """150 intents x 100 examples (30 test each) over a Zipf-distributed 7,000-word vocabulary
    of random letter strings: CLINC150's size and feature count, not its language."""
    rng = random.Random(seed)
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    freq = [12, 9, 8, 7, 7, 6, 6, 6, 5, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 0.5, 0.3, 0.2, 0.1]
    words = sorted({"".join(rng.choices(letters, freq, k=rng.randint(2, 9))) for _ in range(7000)})
    rng.shuffle(words)
    zipf = [1 / (rank + 1) for rank in range(len(words))]
    keywords = {i: rng.sample(words[200:], 15) for i in range(150)}

    def sample(per_intent: int, r: random.Random) -> Pairs:
        out: Pairs = []
        for i in range(150):
            for _ in range(per_intent):
                text = r.choices(words, zipf, k=r.randint(3, 9))
                text += r.sample(keywords[i], r.randint(1, 3))
                r.shuffle(text)
                out.append((" ".join(text), f"intent_{i:03d}"))
        return out

    return sample(100, random.Random(seed + 1)), sample(30, random.Random(seed + 2)), []


# -- one training, in its own process --------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(name: str, root: Path | None, embedding: str | None) -> dict[str, Any]:
    """Train on data set `name` and evaluate it, with the featuriser of model `embedding` (None:
    without it); run in a child process (see `_child`)."""
    from threadpoolctl import threadpool_limits

    from engine.nlu.data import NluTrainingData, TrainingExample
    from engine.nlu.model import NluModel
    from engine.nlu.selector import NLU_FALLBACK_INTENT

    if name == "synthetic":
        train, test, oos = synthetic_clinc_shape()
    else:
        assert root is not None
        train, test, oos = LOADERS[name](root)
    data = NluTrainingData(examples=[TrainingExample(text, label) for text, label in train])
    pipeline = [{**EMBEDDING, "model": embedding}, FALLBACK] if embedding else [FALLBACK]
    log: list[str] = []
    with threadpool_limits(limits=1):
        began, began_cpu = time.perf_counter(), time.process_time()
        model = NluModel.train(data, pipeline=pipeline, progress=log.append)
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        predicted: list[str] = []
        timings: list[float] = []
        cpu_timings: list[float] = []
        for text, _label in test:
            t0, c0 = time.perf_counter(), time.process_time()
            parse = model.parse(text)
            timings.append((time.perf_counter() - t0) * 1000)
            cpu_timings.append((time.process_time() - c0) * 1000)
            predicted.append(str(parse["intent"]["name"]))
        oos_predicted = [str(model.parse(text)["intent"]["name"]) for text in oos]
    gold = [label for _text, label in test]
    labels = sorted(set(gold))
    f1s = []
    for label in labels:
        tp = sum(p == g == label for p, g in zip(predicted, gold, strict=True))
        fp = sum(p == label != g for p, g in zip(predicted, gold, strict=True))
        fn = sum(g == label != p for p, g in zip(predicted, gold, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {
        "accuracy": sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold),
        "macro_f1": sum(f1s) / len(f1s),
        "oos_recall": (
            sum(p == NLU_FALLBACK_INTENT for p in oos_predicted) / len(oos_predicted)
            if oos
            else None
        ),
        "train_cpu": cpu,
        "train_wall": wall,
        "peak_rss": peak,
        "parse_p50": _percentile(timings, 0.5),
        "parse_cpu_p50": _percentile(cpu_timings, 0.5),
        "n_train": len(train),
        "n_test": len(test),
        "log": [line for line in log if "Intent classifier:" in line or "threshold" in line],
    }


def _child(name: str, root: Path | None, embedding: str | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.nlu_public", "--one", name]
    if root is not None:
        command += ["--data", str(root)]
    if embedding:
        command += ["--embedding", embedding]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _figures(
    name: str, result: dict[str, Any], baseline: dict[str, Any] | None, model: str = ""
) -> Iterator[Figure]:
    title = {"clinc150": "CLINC150", "banking77": "BANKING77", "snips": "SNIPS"}.get(name, name)
    if model and model != DEFAULT_MODEL:  # the default model's figures keep their labels
        title = f"{title} [{model}]"
    base = baseline or {}
    against = {"baseline_label": "TF-IDF only"} if baseline else {}
    accuracy_label = "in-scope accuracy" if name == "clinc150" else "accuracy"
    yield Figure(
        f"{title}: {accuracy_label}",
        100 * result["accuracy"],
        "%",
        target=ACCURACY_TARGETS.get(name, ""),
        baseline=100 * base["accuracy"] if baseline else None,
        **against,
    )
    yield Figure(
        f"{title}: macro-F1",
        100 * result["macro_f1"],
        "%",
        baseline=100 * base["macro_f1"] if baseline else None,
        **against,
    )
    if result["oos_recall"] is not None:
        yield Figure(
            f"{title}: out-of-scope recall (calibrated threshold)",
            100 * result["oos_recall"],
            "%",
            target=TARGETS["oos_recall"],
            baseline=100 * base["oos_recall"] if baseline else None,
            **against,
        )
    # On a shared machine the wall times include waiting for a core; the CPU times do not.
    for label, key, unit, target in [
        ("training, one core (CPU time)", "train_cpu", "s", "train_seconds"),
        ("training, wall time (shared machine)", "train_wall", "s", None),
        ("training peak RSS", "peak_rss", "MB", "peak_rss"),
        ("parse p50", "parse_p50", "ms", "parse_p50"),
        ("parse p50, CPU time", "parse_cpu_p50", "ms", "parse_p50"),
    ]:
        yield Figure(
            f"{title}: {label}",
            result[key],
            unit,
            target=TARGETS[target] if target else "",
            baseline=base.get(key),
            **against,
        )


def run(
    data: str | None = None, baseline: bool = True, models: tuple[str, ...] | None = None
) -> Iterator[Figure | Skipped]:
    from engine.nlu.embeddings import MODELS

    chosen = tuple(MODELS) if models is None else models
    raw = data if data is not None else os.environ.get(DATA_ENV)
    root = Path(raw) if raw else None
    found = 0
    for name, loader in LOADERS.items():
        if root is None:
            yield Skipped(name, f"no data directory (--data DIR or {DATA_ENV})")
            continue
        try:
            loader(root)
        except Missing as exc:
            yield Skipped(name, str(exc))
            continue
        found += 1
        base = _child(name, root, embedding=None) if baseline else None
        for model in chosen:
            yield from _figures(name, _child(name, root, embedding=model), base, model)
    if not found:
        title = "synthetic, CLINC150-shaped"
        for model in chosen:
            result = _child("synthetic", None, embedding=model)
            yield from (
                f
                for f in _figures(title, result, None, model)
                if "training" in f.label or "parse" in f.label
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help=f"data directory (default: ${DATA_ENV})")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF-only runs")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--model", help="one featuriser model (default: each of them)")
    parser.add_argument("--embedding", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        root = Path(args.data) if args.data else None
        print(json.dumps(measure(args.one, root, args.embedding)))
        return 0
    print(f"== {__doc__.strip().splitlines()[0]}", flush=True)
    models = (args.model,) if args.model else None
    for figure in run(args.data, baseline=not args.no_baseline, models=models):
        print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
