"""The NLU model: intent classification plus entity extraction, in Rasa's parse_data shape.

With config.yml's pipeline (`engine.nlu.pipeline`) a ``FallbackClassifier`` turns an unsure
classification into ``nlu_fallback`` and ``ResponseSelector`` entries add Rasa's
``response_selector`` for retrieval intents (`engine.nlu.selector`).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import pickled
from engine.cache import ComponentCache, Parts, build_component, train_ahead
from engine.nlu.classifier import TextClassifier
from engine.nlu.commands import parse_payload
from engine.nlu.crf import CrfEntityExtractor
from engine.nlu.data import NluTrainingData, TrainingExample, fingerprint
from engine.nlu.patterns import PatternExtractor, SynonymMapper
from engine.nlu.pipeline import (
    DEFAULT_FALLBACK_THRESHOLD,
    EmbeddingSettings,
    FallbackSettings,
    PipelineSettings,
)
from engine.nlu.selector import (
    RESPONSE_DELIMITER,
    UTTER_PREFIX,
    ResponseSelector,
    apply_fallback,
    base_intent,
)
from engine.nlu.tokenizer import tokenize, word_tokens

__all__ = [
    "CLASSIFIER_COMPONENT",
    "EXTRACTOR_COMPONENT",
    "FORMAT_VERSION",
    "SELECTOR_COMPONENT",
    "EntityExtractor",
    "NluModel",
    "classifier_inputs",
    "extractor_inputs",
    "resolve_overlaps",
    "selector_inputs",
]

FORMAT_VERSION = 1
METADATA_FILE = "nlu_metadata.json"
CLASSIFIER_FILE = "intent_classifier.joblib"
CRF_FILE = "entities.crfsuite"
SELECTORS_FILE = "response_selectors.joblib"

EXTRACTOR_FILE = "entity_extractor.json"

#: The names of the NLU's cached components (`engine.cache`) and the modules whose code trains
#: them (a change to one of them trains the component again).
CLASSIFIER_COMPONENT = "nlu_classifier"
EXTRACTOR_COMPONENT = "entity_extractor"
SELECTOR_COMPONENT = "response_selector"
CLASSIFIER_CODE = (
    "engine.nlu.classifier",
    "engine.nlu.embeddings",
    "engine.nlu.model",
    "engine.nlu.pipeline",
    "engine.nlu.selector",
)
EXTRACTOR_CODE = (
    "engine.nlu.crf",
    "engine.nlu.model",
    "engine.nlu.patterns",
    "engine.nlu.tokenizer",
)
SELECTOR_CODE = (
    "engine.nlu.classifier",
    "engine.nlu.embeddings",
    "engine.nlu.model",
    "engine.nlu.pipeline",
    "engine.nlu.selector",
)

#: A CRF entity overlapping a regex/lookup entity of another type wins only this confident.
CRF_OVERRIDE_CONFIDENCE = 0.7

Progress = Callable[[str], None]
#: The domain's responses as Rasa writes them: response name -> its variations.
Responses = dict[str, list[dict[str, Any]]]


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


def _trainable_examples(data: NluTrainingData) -> list[TrainingExample]:
    return [ex for ex in data.examples if ex.intent and ex.text.strip()]


def classifier_inputs(
    data: NluTrainingData, settings: PipelineSettings | None = None
) -> dict[str, Any]:
    """What the intent classifier learns from: each example's text and (base) intent, and the
    sentence-embedding featuriser's settings and model (None without one)."""
    embedding = None if settings is None else settings.embedding
    return {
        "examples": [[ex.text, base_intent(ex.intent)] for ex in _trainable_examples(data)],
        "embedding": None if embedding is None else embedding.identity(),
    }


def selector_inputs(data: NluTrainingData, settings: PipelineSettings) -> dict[str, Any]:
    """What the response selectors learn from: their settings and the retrieval intents'
    examples (text and full intent, ``chitchat/ask_name``); the others are not read."""
    return {
        "selectors": settings.as_dict()["selectors"],
        "examples": [
            [ex.text, ex.intent]
            for ex in _trainable_examples(data)
            if RESPONSE_DELIMITER in ex.intent
        ],
    }


def extractor_inputs(data: NluTrainingData) -> dict[str, Any]:
    """What the entity extractor (CRF, regexes and lookup tables, synonyms) is built from."""
    return {
        "examples": [
            [ex.text, [[s.start, s.end, s.entity, s.value, s.role, s.group] for s in ex.entities]]
            for ex in _trainable_examples(data)
        ],
        # Synonyms also come from annotations in examples without an intent.
        "annotations": [
            [ex.text, [[s.start, s.end, s.value] for s in ex.entities]]
            for ex in data.examples
            if ex.entities
        ],
        "entity_names": sorted(data.entity_names),
        "synonyms": {k: list(v) for k, v in sorted(data.synonyms.items())},
        "regexes": {k: list(v) for k, v in sorted(data.regexes.items())},
        "lookups": {k: list(v) for k, v in sorted(data.lookups.items())},
    }


Build = Callable[..., Any]


def _cached(cache: ComponentCache | None, report: Progress) -> Build:
    """Train a component, through `cache` when there is one."""
    return functools.partial(build_component, cache, report)


def _train_classifier(
    examples: list[TrainingExample],
    labels: list[str],
    report: Progress,
    embedding: EmbeddingSettings | None = None,
) -> TextClassifier:
    n_intents = len(set(labels))
    features = ""
    if embedding is not None:
        features = f", with {embedding.model} sentence embeddings (weight {embedding.weight:g})"
    report(
        f"Training intent classifier on {len(examples)} examples ({n_intents} intents){features}"
    )
    classifier = TextClassifier(c=None, embedding=embedding).fit(
        [ex.text for ex in examples], labels
    )
    if classifier.tuning is not None:
        report(f"Intent classifier: {classifier.tuning.describe()}")
    return classifier


def _load_classifier(directory: Path) -> TextClassifier:
    classifier = pickled.load(directory / CLASSIFIER_FILE)
    if not isinstance(classifier, TextClassifier):
        raise ValueError("intent classifier file does not hold a TextClassifier")
    return classifier


def _persist_selectors(selectors: list[ResponseSelector], directory: Path) -> None:
    if selectors:
        pickled.dump({s.key: s.classifier for s in selectors}, directory / SELECTORS_FILE)


class EntityExtractor:
    """The entity extraction of the NLU: the CRF, the regexes and lookup tables, the synonyms."""

    def __init__(
        self, crf: CrfEntityExtractor, patterns: PatternExtractor, synonyms: SynonymMapper
    ) -> None:
        self.crf, self.patterns, self.synonyms = crf, patterns, synonyms

    @classmethod
    def train(
        cls, data: NluTrainingData, examples: list[TrainingExample], report: Progress
    ) -> EntityExtractor:
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
        return cls(crf, patterns, synonyms)

    def persist(self, directory: Path) -> None:
        if self.crf.model_bytes is not None:
            (directory / CRF_FILE).write_bytes(self.crf.model_bytes)
        document = {
            "crf": {
                "c1": self.crf.c1,
                "c2": self.crf.c2,
                "max_iterations": self.crf.max_iterations,
            },
            "regexes": self.patterns.regexes,
            "lookups": self.patterns.lookups,
            "pattern_entity_names": sorted(self.patterns.entity_names),
            "synonyms": self.synonyms.synonyms,
        }
        (directory / EXTRACTOR_FILE).write_text(
            json.dumps(document, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> EntityExtractor:
        document = json.loads((directory / EXTRACTOR_FILE).read_text(encoding="utf-8"))
        crf = CrfEntityExtractor(**document["crf"])
        if (directory / CRF_FILE).exists():
            crf.set_model_bytes((directory / CRF_FILE).read_bytes())
        patterns = PatternExtractor(
            document["regexes"], document["lookups"], document["pattern_entity_names"]
        )
        return cls(crf, patterns, SynonymMapper(document["synonyms"]))


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
        settings: PipelineSettings | None = None,
        selectors: list[ResponseSelector] | None = None,
        responses: Responses | None = None,
    ) -> None:
        self.language = language
        self.classifier = classifier
        self.crf = crf
        self.patterns = patterns
        self.synonyms = synonyms
        self.fingerprint = fingerprint
        self.metadata = metadata or {}
        self.settings = settings or PipelineSettings()
        #: The trained response selectors, in pipeline order.
        self.selectors = list(selectors or [])
        #: The retrieval intents' responses (``utter_chitchat/ask_name``: variations).
        self.responses = dict(responses or {})
        #: The FallbackClassifier's settings with the threshold parsing uses: the one set in
        #: config.yml, else the one the intent classifier calibrated, else Rasa's default.
        self.fallback: FallbackSettings | None = (
            None
            if self.settings.fallback is None
            else self.settings.fallback.resolved(classifier.calibrated_threshold)
        )

    @property
    def intents(self) -> list[str]:
        return list(self.classifier.labels)

    @property
    def entities(self) -> list[str]:
        return sorted(self.metadata.get("entities", []))

    @property
    def retrieval_intents(self) -> list[str]:
        """The intents whose examples name a response key (``chitchat`` of
        ``chitchat/ask_name``), sorted."""
        return list(self.metadata.get("retrieval_intents", []))

    # -- training -----------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        data: NluTrainingData,
        *,
        language: str = "en",
        progress: Progress | None = None,
        pipeline: list[Any] | None = None,
        responses: Responses | None = None,
        cache: ComponentCache | None = None,
    ) -> NluModel:
        """Train on `data`. `pipeline` is config.yml's ``pipeline`` list (its
        FallbackClassifier and ResponseSelector settings are used; a bad value raises
        `engine.nlu.pipeline.PipelineError`); `responses` are the domain's responses, which the
        response selectors report with the response they choose. With `cache` the intent
        classifier, the entity extractor and the response selectors are each reused from it when
        the inputs they learn from are unchanged (`engine.cache`)."""
        report: Progress = progress or (lambda _msg: None)
        began = time.perf_counter()
        settings = PipelineSettings.from_config(pipeline)
        examples = _trainable_examples(data)
        labels = [base_intent(ex.intent) for ex in examples]
        intents = sorted(set(labels))
        full_intents = [ex.intent for ex in examples]
        retrieval_intents = sorted(
            {base_intent(i) for i in full_intents if RESPONSE_DELIMITER in i}
        )
        retrieval_responses = _retrieval_responses(responses, full_intents, report)
        build = _cached(cache, report)
        # The entity extractor trains alongside the intent classifier (engine.cache).
        extractor_parts: Parts = (
            EXTRACTOR_COMPONENT,
            extractor_inputs(data),
            EXTRACTOR_CODE,
            lambda say: EntityExtractor.train(data, examples, say),
            lambda value, directory: value.persist(directory),
        )
        train_ahead(cache, *extractor_parts)
        classifier = build(
            CLASSIFIER_COMPONENT,
            classifier_inputs(data, settings),
            CLASSIFIER_CODE,
            lambda say: _train_classifier(examples, labels, say, settings.embedding),
            lambda value, directory: pickled.dump(value, directory / CLASSIFIER_FILE),
            _load_classifier,
        )
        selectors = build(
            SELECTOR_COMPONENT,
            selector_inputs(data, settings),
            SELECTOR_CODE,
            lambda say: _train_selectors(settings, [ex.text for ex in examples], full_intents, say),
            _persist_selectors,
            lambda directory: _load_selectors(directory / SELECTORS_FILE, settings),
        )
        extractor = build(*extractor_parts, EntityExtractor.load)
        crf, patterns, synonyms = extractor.crf, extractor.patterns, extractor.synonyms
        if settings.fallback is not None:
            calibrated = classifier.calibrated_threshold
            if settings.fallback.threshold is not None:
                chosen = f"{settings.fallback.threshold:g} (set in config.yml)"
            elif calibrated is not None:
                chosen = f"{calibrated:g} (calibrated on the held-out examples)"
            else:
                chosen = f"{DEFAULT_FALLBACK_THRESHOLD:g} (Rasa's default: too few examples)"
            report(f"FallbackClassifier threshold: {chosen}")
        entity_names = sorted(data.entity_names)

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
            "retrieval_intents": retrieval_intents,
        }
        version = str(FORMAT_VERSION)
        if not settings.empty or retrieval_responses:
            # What else the model learns from (left out when unused: fingerprints stay as before).
            extra = {"pipeline": settings.as_dict(), "responses": retrieval_responses}
            version += ":" + json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str)
        return cls(
            language=language,
            classifier=classifier,
            crf=crf,
            patterns=patterns,
            synonyms=synonyms,
            fingerprint=fingerprint(data, language=language, version=version),
            metadata=metadata,
            settings=settings,
            selectors=selectors,
            responses=retrieval_responses,
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
        parse: dict[str, Any] = {
            "text": text,
            "intent": intent,
            "entities": self.extract_entities(text),
            "intent_ranking": ranking,
        }
        if self.fallback is not None:
            apply_fallback(self.fallback, parse)
        if self.selectors:
            self._select_responses(text, parse)
        parse["text_tokens"] = text_tokens
        return parse

    def _select_responses(self, text: str, parse: dict[str, Any]) -> None:
        """Add Rasa's ``response_selector`` (and the intent's ``full_retrieval_intent_name``
        when the intent is a retrieval intent, as Rasa's processor does)."""
        selected: dict[str, Any] = {"all_retrieval_intents": self.retrieval_intents}
        for selector in self.selectors:
            prediction = selector.predict(text, self.responses)
            if prediction is not None:
                selected[selector.key] = prediction
        parse["response_selector"] = selected
        name = parse["intent"].get("name")
        if name and name in selected["all_retrieval_intents"]:
            chosen = selected.get(name) or {}
            parse["intent"]["full_retrieval_intent_name"] = (chosen.get("response") or {}).get(
                "intent_response_key"
            )

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
        pickled.dump(self.classifier, directory / CLASSIFIER_FILE)
        selectors_path = directory / SELECTORS_FILE
        if self.selectors:
            pickled.dump({s.key: s.classifier for s in self.selectors}, selectors_path)
        elif selectors_path.exists():
            selectors_path.unlink()
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
            "pipeline": self.settings.as_dict(),
            "responses": self.responses,
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
        """Load a model written by :meth:`persist` (only load trusted directories: pickles)."""
        directory = Path(directory)
        meta = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"Unsupported NLU model format {meta.get('format_version')!r} "
                f"(expected {FORMAT_VERSION}); retrain the model"
            )
        classifier = pickled.load(directory / CLASSIFIER_FILE)
        if not isinstance(classifier, TextClassifier):
            raise ValueError("intent classifier file does not hold a TextClassifier")
        crf = CrfEntityExtractor(**meta.get("crf", {}))
        crf_path = directory / CRF_FILE
        if crf_path.exists():
            crf.set_model_bytes(crf_path.read_bytes())
        patterns = PatternExtractor(
            meta.get("regexes", {}), meta.get("lookups", {}), meta.get("pattern_entity_names", [])
        )
        settings = PipelineSettings.from_dict(meta.get("pipeline"))
        metadata = {
            k: v
            for k, v in meta.items()
            if k
            not in {
                "regexes",
                "lookups",
                "synonyms",
                "crf",
                "pattern_entity_names",
                "pipeline",
                "responses",
            }
        }
        return cls(
            language=meta.get("language", "en"),
            classifier=classifier,
            crf=crf,
            patterns=patterns,
            synonyms=SynonymMapper(meta.get("synonyms", {})),
            fingerprint=meta.get("fingerprint", ""),
            metadata=metadata,
            settings=settings,
            selectors=_load_selectors(directory / SELECTORS_FILE, settings),
            responses=meta.get("responses") or {},
        )


def _retrieval_responses(
    responses: Responses | None, full_intents: list[str], report: Progress
) -> Responses:
    """The responses of the retrieval intents' response keys (``utter_chitchat/ask_name``);
    a response key of the examples that has none is reported."""
    found = {
        name: [dict(v) for v in variations]
        for name, variations in (responses or {}).items()
        if name.startswith(UTTER_PREFIX) and RESPONSE_DELIMITER in name
    }
    for key in sorted({i for i in full_intents if RESPONSE_DELIMITER in i}):
        if f"{UTTER_PREFIX}{key}" not in found:
            report(
                f"Warning: the retrieval intent '{key}' has no response 'utter_{key}' in the "
                "domain; the response selector answers it with its name"
            )
    return found


def _train_selectors(
    settings: PipelineSettings, texts: list[str], full_intents: list[str], report: Progress
) -> list[ResponseSelector]:
    selectors = []
    for selector_settings in settings.selectors:
        selector = ResponseSelector(selector_settings).fit(texts, full_intents)
        keys = selector.response_keys
        if not keys:
            about = selector_settings.retrieval_intent or "any retrieval intent"
            report(
                f"Warning: the ResponseSelector for {about} has no examples to learn from "
                f"(examples are written '<retrieval intent>/<response key>'); it selects nothing"
            )
            continue
        report(f"Trained the response selector '{selector.key}' on {len(keys)} response keys")
        selectors.append(selector)
    return selectors


def _load_selectors(path: Path, settings: PipelineSettings) -> list[ResponseSelector]:
    if not path.exists():
        return []
    classifiers = pickled.load(path)
    if not isinstance(classifiers, dict) or not all(
        isinstance(c, TextClassifier) for c in classifiers.values()
    ):
        raise ValueError("response selector file does not hold TextClassifiers")
    return [
        ResponseSelector(s, classifiers[s.key]) for s in settings.selectors if s.key in classifiers
    ]
