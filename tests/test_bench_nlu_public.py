"""The public-benchmark NLU bench reads the data sets in the layouts their authors publish."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bench import Figure, Skipped
from bench.nlu_public import load_banking, load_clinc, load_snips, run

INTENTS = {
    "greet": ["hello there", "hi", "good morning", "hey you", "hello friend", "hi again"],
    "bye": ["goodbye", "see you later", "bye bye", "farewell", "see you soon", "bye now"],
    "thanks": ["thank you", "thanks a lot", "many thanks", "thanks so much", "cheers", "ta"],
}


def _clinc(root: Path) -> None:
    pairs = [[t, i] for i, texts in INTENTS.items() for t in texts]
    data = {
        "train": pairs,
        "val": pairs[:3],
        "test": pairs[::2],
        "oos_train": [["what is the meaning of life", "oos"]],
        "oos_val": [],
        "oos_test": [["tell me about volcanoes", "oos"], ["qwerty zxcv", "oos"]],
    }
    (root / "clinc150").mkdir(parents=True)
    (root / "clinc150" / "data_full.json").write_text(json.dumps(data))


def _banking(root: Path) -> None:
    (root / "banking77").mkdir(parents=True)
    for name in ("train.csv", "test.csv"):
        with (root / "banking77" / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "category"])
            for intent, texts in INTENTS.items():
                for text in texts:
                    writer.writerow([text, intent])


def _snips(root: Path) -> None:
    for intent, texts in INTENTS.items():
        folder = root / "snips" / intent
        folder.mkdir(parents=True)
        utterances = [
            {"data": [{"text": text.split()[0] + " "}, {"text": " ".join(text.split()[1:])}]}
            for text in texts
        ]
        for name in (f"train_{intent}_full.json", f"validate_{intent}.json"):
            (folder / name).write_text(json.dumps({intent: utterances}))


def test_the_loaders_read_the_published_layouts(tmp_path: Path) -> None:
    _clinc(tmp_path)
    _banking(tmp_path)
    _snips(tmp_path)
    train, test, oos = load_clinc(tmp_path)
    assert len(train) == 18 and len(test) == 9 and oos == ["tell me about volcanoes", "qwerty zxcv"]
    assert ("hello there", "greet") in train
    train, test, oos = load_banking(tmp_path)
    assert len(train) == len(test) == 18 and oos == []
    train, test, _ = load_snips(tmp_path)
    assert ("hello there", "greet") in train and len(test) == 18


def test_absent_data_sets_are_skipped_and_present_ones_measured(tmp_path: Path) -> None:
    _clinc(tmp_path)
    results = list(run(str(tmp_path), baseline=False))
    skipped = {r.label: r.reason for r in results if isinstance(r, Skipped)}
    assert set(skipped) == {"banking77", "snips"}
    assert "banking77" in skipped["banking77"] and "train.csv" in skipped["banking77"]
    figures = {f.label: f for f in results if isinstance(f, Figure)}
    assert 0 <= figures["CLINC150: in-scope accuracy"].value <= 100
    assert figures["CLINC150: in-scope accuracy"].target == ">= 95 % in scope"
    assert figures["CLINC150: out-of-scope recall (calibrated threshold)"].target == ">= 80 %"
    assert figures["CLINC150: training peak RSS"].value > 0
    assert figures["CLINC150: parse p50"].unit == "ms"
