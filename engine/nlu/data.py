"""Plain input types for NLU training (independent of any file format parser)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

__all__ = ["EntitySpan", "NluTrainingData", "TrainingExample", "fingerprint"]


@dataclass(frozen=True)
class EntitySpan:
    """An annotated entity: ``text[start:end]``; ``value`` may differ (then it is a synonym)."""

    start: int
    end: int
    entity: str
    value: str
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class TrainingExample:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()


@dataclass
class NluTrainingData:
    examples: list[TrainingExample] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # canonical -> synonyms
    regexes: dict[str, list[str]] = field(default_factory=dict)  # name -> patterns
    lookups: dict[str, list[str]] = field(default_factory=dict)  # entity -> values

    @property
    def intents(self) -> list[str]:
        """Sorted distinct intent names of the examples."""
        return sorted({ex.intent for ex in self.examples if ex.intent})

    @property
    def entity_names(self) -> set[str]:
        """Entity names annotated in examples or declared by lookup tables."""
        names = {span.entity for ex in self.examples for span in ex.entities}
        names.update(self.lookups)
        return names


def fingerprint(data: NluTrainingData, *, language: str = "en", version: str = "") -> str:
    """A stable SHA-256 of everything that influences training (order-insensitive for dicts)."""
    payload = {
        "language": language,
        "version": version,
        "examples": [
            [
                ex.text,
                ex.intent,
                [[s.start, s.end, s.entity, s.value, s.role, s.group] for s in ex.entities],
            ]
            for ex in data.examples
        ],
        "synonyms": {k: list(v) for k, v in sorted(data.synonyms.items())},
        "regexes": {k: list(v) for k, v in sorted(data.regexes.items())},
        "lookups": {k: list(v) for k, v in sorted(data.lookups.items())},
    }
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
