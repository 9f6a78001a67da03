"""The NLU model: intent classification plus entity extraction, in Rasa's parse_data shape."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib

from engine.nlu.classifier import TextClassifier
from engine.nlu.commands import parse_payload
from engine.nlu.crf import CrfEntityExtractor
from engine.nlu.data import NluTrainingData, fingerprint
from engine.nlu.patterns import PatternExtractor, SynonymMapper
from engine.nlu.tokenizer import tokenize, word_tokens

__all__ = ["FORMAT_VERSION", "NluModel", "resolve_overlaps"]

FORMAT_VERSION = 1
METADATA_FILE = "nlu_metadata.json"
CLASSIFIER_FILE = "intent_classifier.joblib"
CRF_FILE = "entities.crfsuite"

#: A CRF entity overlapping a regex/lookup entity of another type wins only this confident.
CRF_OVERRIDE_CONFIDENCE = 0.7

Progress = Callable[[str], None]


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["start"] < b["end"] and b["start"] < a["end"])


def resolve_overlaps(
    crf_entities: list[dict[str, Any]], pattern_entities: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Merge CRF and regex/lookup entities so that no two overlap.

    Regex and lookup entities are explicit rules written by the assistant's author, so:

    * a CRF entity overlapping a pattern entity of the **same type** is dropped in favour of the
      pattern's span and value; the pattern entity takes over the CRF's role and group (only the
      CRF predicts those);
    * a CRF entity overlapping pattern entities of **other types** replaces them when its
      confidence is at least ``CRF_OVERRIDE_CONFIDENCE`` (the CRF read the context, e.g. a
      generic number regex against a confidently tagged account number), else it is dropped.

    Pattern entities never overlap each other (resolved by :class:`PatternExtractor`), nor do
    CRF entities (sequence tagging).
    """
    patterns = [dict(e) for e in pattern_entities]
    kept_crf: list[dict[str, Any]] = []
    for crf in crf_entities:
        hits = [p for p in patterns if _overlaps(p, crf)]
        if not hits:
            kept_crf.append(crf)
            continue
        same = [p for p in hits if p["entity"] == crf["entity"]]
        if same:
            for p in same:
                for key in ("role", "group"):
                    if key in crf and key not in p:
                        p[key] = crf[key]
            continue
        if crf.get("confidence_entity", 0.0) >= CRF_OVERRIDE_CONFIDENCE:
            patterns = [p for p in patterns if not _overlaps(p, crf)]
            kept_crf.append(crf)
    merged = kept_crf + patterns
    merged.sort(key=lambda e: (e["start"], e["end"]))
    return merged


def _empty_intent() -> dict[str, Any]:
    return {"name": None, "confidence": 0.0}


class NluModel:
    """Trained NLU: ``parse(text)`` returns Rasa's ``/model/parse`` dictionary."""

    def __init__(
        self,
        *,
        language: str,
        classifier: TextClassifier,
        crf: CrfEntityExtractor,
        patterns: PatternExtractor,
        synonyms: SynonymMapper,
        fingerprint: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.language = language
        self.classifier = classifier
        self.crf = crf
        self.patterns = patterns
        self.synonyms = synonyms
        self.fingerprint = fingerprint
        self.metadata = metadata or {}

    @property
    def intents(self) -> list[str]:
        return list(self.classifier.labels)

    @property
    def entities(self) -> list[str]:
        return sorted(self.metadata.get("entities", []))

    # -- training -----------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        data: NluTrainingData,
        *,
        language: str = "en",
        progress: Progress | None = None,
    ) -> NluModel:
        report: Progress = progress or (lambda _msg: None)
        began = time.perf_counter()
        examples = [ex for ex in data.examples if ex.intent and ex.text.strip()]
        intents = sorted({ex.intent for ex in examples})
        report(f"Training intent classifier on {len(examples)} examples ({len(intents)} intents)")
        classifier = TextClassifier().fit(
            [ex.text for ex in examples], [ex.intent for ex in examples]
        )

        entity_names = sorted(data.entity_names)
        patterns = PatternExtractor(data.regexes, data.lookups, entity_names, warn=report)
        n_lookup_values = sum(len(v) for v in data.lookups.values())
        n_regexes = sum(len(v) for v in data.regexes.values())
        report(
            f"Compiled {n_regexes} regexes and {len(data.lookups)} lookup tables "
            f"({n_lookup_values} values)"
        )

        crf = CrfEntityExtractor()
        n_annotations = sum(len(ex.entities) for ex in examples)
        if n_annotations:
            annotated_types = {s.entity for ex in examples for s in ex.entities}
            report(
                f"Training entity extractor (CRF) on {len(examples)} examples with "
                f"{n_annotations} annotated entities ({len(annotated_types)} entity types)"
            )
            tokens = [tokenize(ex.text) for ex in examples]
            matches = [
                patterns.matches(ex.text, toks) for ex, toks in zip(examples, tokens, strict=True)
            ]
            crf.train(examples, matches, tokens)
        else:
            report("No annotated entities: skipping the CRF entity extractor")

        synonyms = SynonymMapper.from_training_data(data.synonyms, data.examples)
        if synonyms.synonyms:
            report(f"Loaded {len(synonyms.synonyms)} entity synonyms")

        elapsed = time.perf_counter() - began
        report(f"NLU model trained in {elapsed:.2f} s")
        metadata = {
            "format_version": FORMAT_VERSION,
            "language": language,
            "intents": intents,
            "entities": entity_names,
            "n_examples": len(examples),
            "crf_trained": crf.trained,
            "trained_at": time.time(),
            "training_seconds": round(elapsed, 3),
        }
        return cls(
            language=language,
            classifier=classifier,
            crf=crf,
            patterns=patterns,
            synonyms=synonyms,
            fingerprint=fingerprint(data, language=language, version=str(FORMAT_VERSION)),
            metadata=metadata,
        )

    # -- inference ----------------------------------------------------------------------------

    def parse(self, text: str) -> dict[str, Any]:
        text = "" if text is None else str(text)
        text_tokens = [[t.start, t.end] for t in word_tokens(text)]
        payload = parse_payload(text)
        if payload is not None:
            return {"text": text, **payload, "text_tokens": text_tokens}
        if not text.strip():
            return {
                "text": text,
                "intent": _empty_intent(),
                "entities": [],
                "intent_ranking": [],
                "text_tokens": text_tokens,
            }
        ranking = self.classifier.rank(text)
        intent = dict(ranking[0]) if ranking else _empty_intent()
        return {
            "text": text,
            "intent": intent,
            "entities": self.extract_entities(text),
            "intent_ranking": ranking,
            "text_tokens": text_tokens,
        }

    def extract_entities(self, text: str) -> list[dict[str, Any]]:
        tokens = tokenize(text)
        pattern_entities, matches = self.patterns.extract(text, tokens)
        crf_entities = self.crf.extract(text, tokens, matches) if self.crf.trained else []
        entities = resolve_overlaps(crf_entities, pattern_entities)
        self.synonyms.apply(entities)
        return entities

    # -- persistence --------------------------------------------------------------------------

    def persist(self, directory: Path | str) -> None:
        """Write the model under ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.classifier, directory / CLASSIFIER_FILE)
        crf_path = directory / CRF_FILE
        if self.crf.model_bytes is not None:
            crf_path.write_bytes(self.crf.model_bytes)
        elif crf_path.exists():
            crf_path.unlink()
        meta = {
            **self.metadata,
            "format_version": FORMAT_VERSION,
            "language": self.language,
            "fingerprint": self.fingerprint,
            "regexes": self.patterns.regexes,
            "lookups": self.patterns.lookups,
            "pattern_entity_names": sorted(self.patterns.entity_names),
            "synonyms": self.synonyms.synonyms,
            "crf": {
                "c1": self.crf.c1,
                "c2": self.crf.c2,
                "max_iterations": self.crf.max_iterations,
            },
        }
        (directory / METADATA_FILE).write_text(
            json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path | str) -> NluModel:
        """Load a model written by :meth:`persist` (only load trusted directories: joblib)."""
        directory = Path(directory)
        meta = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"Unsupported NLU model format {meta.get('format_version')!r} "
                f"(expected {FORMAT_VERSION}); retrain the model"
            )
        classifier = joblib.load(directory / CLASSIFIER_FILE)
        if not isinstance(classifier, TextClassifier):
            raise ValueError("intent classifier file does not hold a TextClassifier")
        crf = CrfEntityExtractor(**meta.get("crf", {}))
        crf_path = directory / CRF_FILE
        if crf_path.exists():
            crf.set_model_bytes(crf_path.read_bytes())
        patterns = PatternExtractor(
            meta.get("regexes", {}), meta.get("lookups", {}), meta.get("pattern_entity_names", [])
        )
        metadata = {
            k: v
            for k, v in meta.items()
            if k not in {"regexes", "lookups", "synonyms", "crf", "pattern_entity_names"}
        }
        return cls(
            language=meta.get("language", "en"),
            classifier=classifier,
            crf=crf,
            patterns=patterns,
            synonyms=SynonymMapper(meta.get("synonyms", {})),
            fingerprint=meta.get("fingerprint", ""),
            metadata=metadata,
        )
