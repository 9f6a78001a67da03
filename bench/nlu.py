"""NLU benchmark: train on synthetic data (60 intents, 3000 examples) and time parsing.

Run with ``python -m bench.nlu`` (options: ``--intents``, ``--examples``, ``--parses``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from engine.nlu.data import EntitySpan, NluTrainingData, TrainingExample
from engine.nlu.model import NluModel

_FILLERS = [
    *("i", "want", "to", "please", "can", "you", "help", "me", "could", "would", "like"),
    *("the", "my", "a", "an", "for", "with", "about", "on", "now", "today", "quickly"),
    *("again", "also", "just", "need", "hey", "hi", "so", "what", "how", "do", "is", "it"),
    *("this", "that"),
]
_SYLLABLES = [c + v for c in "bklmnrst" for v in "aeiou"]
_ACCOUNTS = ["checking", "savings", "credit card", "business", "joint account"]
_NAMES = ["John", "Maria", "Ahmed", "Li Wei", "Sofia", "Kwame", "Anna", "Pedro"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))


def synthetic_data(n_intents: int = 60, n_examples: int = 3000, seed: int = 7) -> NluTrainingData:
    """Deterministic synthetic training data with entities, roles, a regex and a lookup."""
    vocab_rng = random.Random(1234)  # the same intents and keywords whatever the seed
    # Intents share words from a common pool, so they overlap as real intents do.
    pool = sorted({_word(vocab_rng) for _ in range(max(40, n_intents * 3))})
    keywords = {f"intent_{i:02d}": vocab_rng.sample(pool, 6) for i in range(n_intents)}
    rng = random.Random(seed)
    intents = sorted(keywords)
    examples: list[TrainingExample] = []
    for k in range(n_examples):
        intent = intents[k % n_intents]
        words = rng.sample(_FILLERS, rng.randint(2, 5)) + rng.sample(keywords[intent], 3)
        if rng.random() < 0.3:
            words.append(rng.choice(pool))  # noise
        rng.shuffle(words)
        text = " ".join(words)
        spans: list[EntitySpan] = []
        kind = k % 4
        if kind == 1:
            source, target = rng.sample(_ACCOUNTS, 2)
            prefix = f"{text} from "
            text = f"{prefix}{source} to {target}"
            s1 = len(prefix)
            s2 = s1 + len(source) + 4
            spans = [
                EntitySpan(s1, s1 + len(source), "account", source, role="source"),
                EntitySpan(s2, s2 + len(target), "account", target, role="target"),
            ]
        elif kind == 2:
            name = rng.choice(_NAMES)
            prefix = f"{text} for "
            text = f"{prefix}{name}"
            spans = [EntitySpan(len(prefix), len(prefix) + len(name), "person", name)]
        elif kind == 3:
            amount = f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
            prefix = f"{text} of $"
            text = f"{prefix}{amount}"
            spans = [EntitySpan(len(prefix), len(prefix) + len(amount), "amount", amount)]
        examples.append(TrainingExample(text=text, intent=intent, entities=tuple(spans)))
    return NluTrainingData(
        examples=examples,
        synonyms={"savings": ["savings account", "saving"]},
        regexes={"amount": [r"\d+(?:\.\d{1,2})?"], "iban": [r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}"]},
        lookups={"currency": ["euro", "euros", "dollar", "dollars", "pound sterling"]},
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--intents", type=int, default=60)
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--parses", type=int, default=500)
    args = parser.parse_args(argv)

    data = synthetic_data(args.intents, args.examples)
    n_entities = sum(len(ex.entities) for ex in data.examples)
    out = sys.stdout
    out.write(
        f"NLU bench: {len(data.examples)} examples, {len(data.intents)} intents, "
        f"{n_entities} annotated entities\n"
    )
    began, began_cpu = time.perf_counter(), time.process_time()
    model = NluModel.train(data, progress=lambda msg: out.write(f"  {msg}\n"))
    train_seconds = time.perf_counter() - began
    train_cpu = time.process_time() - began_cpu

    probe = synthetic_data(args.intents, args.parses, seed=99)
    texts = [ex.text for ex in probe.examples]
    model.parse(texts[0])  # warm up
    timings: list[float] = []
    correct = 0
    for ex in probe.examples:
        t0 = time.perf_counter()
        result = model.parse(ex.text)
        timings.append((time.perf_counter() - t0) * 1000)
        correct += result["intent"]["name"] == ex.intent
    out.write(f"train: {train_seconds:.2f} s wall, {train_cpu:.2f} s CPU\n")
    out.write(
        f"parse: p50 {_percentile(timings, 0.5):.2f} ms, p95 {_percentile(timings, 0.95):.2f} ms, "
        f"mean {statistics.fmean(timings):.2f} ms over {len(timings)} messages\n"
    )
    out.write(f"intent accuracy on fresh synthetic messages: {correct / len(timings):.1%}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
