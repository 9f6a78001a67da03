"""Rank flows for a user message, for flows that have no ``nlu_trigger``.

Each startable user flow is one label; its training texts are its name, its description and the
examples of the intents in its ``nlu_trigger``. Patterns and flows guarded by ``if: false`` are
left out (they only start through links, calls or triggers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib

from engine.formats import Flow, NluData
from engine.nlu import TextClassifier

__all__ = ["FlowClassifier"]

CLASSIFIER_FILE = "flow_classifier.joblib"


def _trainable(flow: Flow) -> bool:
    return not flow.id.startswith("pattern_") and flow.guard is not False


class FlowClassifier:
    def __init__(self, classifier: TextClassifier | None = None) -> None:
        self.classifier = classifier or TextClassifier()

    @property
    def labels(self) -> list[str]:
        return list(self.classifier.labels)

    @classmethod
    def train(cls, flows: list[Flow], nlu_data: NluData | None = None) -> FlowClassifier:
        examples: dict[str, list[str]] = {}
        for block in nlu_data.intents if nlu_data is not None else []:
            examples.setdefault(block.intent, []).extend(ex.text for ex in block.examples)
        texts: list[str] = []
        labels: list[str] = []
        for flow in flows:
            if not _trainable(flow):
                continue
            own = [t for t in (flow.name, flow.description, flow.id.replace("_", " ")) if t]
            for trigger in flow.nlu_trigger or []:
                own.extend(examples.get(trigger.intent, []))
            texts.extend(own)
            labels.extend([flow.id] * len(own))
        classifier = TextClassifier()
        classifier.fit(texts, labels)
        return cls(classifier)

    def rank(self, text: str) -> list[dict[str, Any]]:
        """``[{"name": flow_id, "confidence": float}, ...]``, best first."""
        if not text or not text.strip() or len(self.classifier.labels) < 2:
            # One label would always win with confidence 1.0: that says nothing.
            return []
        return self.classifier.rank(text)

    def persist(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.classifier, directory / CLASSIFIER_FILE)

    @classmethod
    def load(cls, directory: Path | str) -> FlowClassifier:
        """Load a classifier written by `persist` (joblib: load only trusted directories)."""
        classifier = joblib.load(Path(directory) / CLASSIFIER_FILE)
        if not isinstance(classifier, TextClassifier):
            raise ValueError("flow classifier file does not hold a TextClassifier")
        return cls(classifier)
