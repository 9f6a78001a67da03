"""What config.yml's ``pipeline`` asks of the NLU beyond intents and entities.

Three components change the NLU: ``FallbackClassifier`` (``threshold``, by default calibrated
on a held-out split during training, Rasa's 0.3 when the data is too small to hold some out;
``ambiguity_threshold``, default 0.1), ``ResponseSelector`` (``retrieval_intent``, default
none: one selector over every retrieval intent, reported under ``default``; ``ranking_length``,
default 10) and ``SentenceEmbeddingFeaturizer`` (``model``, default ``all-MiniLM-L6-v2``;
``weight`` of the embedding beside the TF-IDF features, default 1.0; other keys are refused).
The other components (tokenizers, featurizers, intent classifiers, entity extractors) are all
served by the engine's one NLU and their settings are not read.

`PipelineSettings.from_config` checks the values it reads and raises `PipelineError` naming the
component's index and the key (``pipeline[3].threshold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.formats.config import EMBEDDING_COMPONENT
from engine.nlu.embeddings import DEFAULT_MODEL, MODELS, EmbeddingUnavailable, model_identity

__all__ = [
    "DEFAULT_AMBIGUITY_THRESHOLD",
    "DEFAULT_FALLBACK_THRESHOLD",
    "DEFAULT_SELECTOR_KEY",
    "EMBEDDING_COMPONENT",
    "EmbeddingSettings",
    "FallbackSettings",
    "PipelineError",
    "PipelineSettings",
    "SelectorSettings",
]

#: Rasa's defaults (``DEFAULT_NLU_FALLBACK_THRESHOLD`` and ``..._AMBIGUITY_THRESHOLD``).
DEFAULT_FALLBACK_THRESHOLD = 0.3
DEFAULT_AMBIGUITY_THRESHOLD = 0.1
#: The key of a ResponseSelector that names no retrieval intent (Rasa's
#: ``RESPONSE_SELECTOR_DEFAULT_INTENT``).
DEFAULT_SELECTOR_KEY = "default"
DEFAULT_RANKING_LENGTH = 10
EMBEDDING_MODELS = tuple(MODELS)
EMBEDDING_OPTIONS = frozenset({"name", "model", "weight", "alias"})


class PipelineError(ValueError):
    """A pipeline component's setting the NLU cannot use; `path` is its key path in config.yml
    (``pipeline[3].threshold``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class FallbackSettings:
    """A ``FallbackClassifier``: below `threshold`, or with the two best intents closer than
    `ambiguity_threshold`, the intent becomes ``nlu_fallback``. `threshold` None: the one the
    intent classifier calibrated (`resolved`)."""

    threshold: float | None = None
    ambiguity_threshold: float = DEFAULT_AMBIGUITY_THRESHOLD

    def resolved(self, calibrated: float | None) -> FallbackSettings:
        """These settings with a threshold: the one set, else `calibrated`, else Rasa's."""
        if self.threshold is not None:
            return self
        threshold = DEFAULT_FALLBACK_THRESHOLD if calibrated is None else calibrated
        return FallbackSettings(threshold, self.ambiguity_threshold)


@dataclass(frozen=True)
class EmbeddingSettings:
    """A ``SentenceEmbeddingFeaturizer``: the intent classifier also reads `model`'s sentence
    embedding, scaled by `weight` (each TF-IDF block has unit length)."""

    model: str = DEFAULT_MODEL
    weight: float = 1.0

    def identity(self) -> dict[str, Any]:
        """What the featuriser reads: these settings and the installed model's identity."""
        return {**self.as_dict(), "weights": model_identity(self.model)}

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "weight": self.weight}


@dataclass(frozen=True)
class SelectorSettings:
    """A ``ResponseSelector`` for `retrieval_intent` (None: over all retrieval intents)."""

    retrieval_intent: str | None = None
    ranking_length: int = DEFAULT_RANKING_LENGTH

    @property
    def key(self) -> str:
        """The key of its prediction in ``parse_data["response_selector"]``."""
        return self.retrieval_intent or DEFAULT_SELECTOR_KEY


@dataclass(frozen=True)
class PipelineSettings:
    fallback: FallbackSettings | None = None
    selectors: tuple[SelectorSettings, ...] = ()
    embedding: EmbeddingSettings | None = None

    @property
    def empty(self) -> bool:
        return self.fallback is None and not self.selectors and self.embedding is None

    @classmethod
    def from_config(cls, pipeline: list[Any] | None) -> PipelineSettings:
        """The settings of config.yml's ``pipeline`` list; raises `PipelineError`."""
        if pipeline is None:
            return cls()
        if not isinstance(pipeline, list):
            raise PipelineError("pipeline", f"must be a list, not {type(pipeline).__name__}")
        fallback: FallbackSettings | None = None
        embedding: EmbeddingSettings | None = None
        selectors: dict[str, SelectorSettings] = {}
        for index, component in enumerate(pipeline):
            if not isinstance(component, dict):
                continue  # the project validation reports malformed entries
            where = f"pipeline[{index}]"
            name = component.get("name")
            if name == "FallbackClassifier":
                fallback = _fallback(component, where)
            elif name == "ResponseSelector":
                selector = _selector(component, where)
                # Two selectors with one key: the later one's prediction is the one kept.
                selectors.pop(selector.key, None)
                selectors[selector.key] = selector
            elif name == EMBEDDING_COMPONENT:
                embedding = _embedding(component, where)
        return cls(fallback, tuple(selectors.values()), embedding)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "fallback": None
            if self.fallback is None
            else {
                "threshold": self.fallback.threshold,
                "ambiguity_threshold": self.fallback.ambiguity_threshold,
            },
            "selectors": [
                {"retrieval_intent": s.retrieval_intent, "ranking_length": s.ranking_length}
                for s in self.selectors
            ],
        }
        if self.embedding is not None:  # left out when unused: fingerprints stay as before
            found["embedding"] = self.embedding.as_dict()
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PipelineSettings:
        """The settings `as_dict` wrote (an older model without any: empty settings)."""
        data = data or {}
        raw_fallback = data.get("fallback")
        fallback = None
        if isinstance(raw_fallback, dict):
            threshold = raw_fallback.get("threshold")
            fallback = FallbackSettings(
                None if threshold is None else float(threshold),
                float(raw_fallback.get("ambiguity_threshold", DEFAULT_AMBIGUITY_THRESHOLD)),
            )
        selectors = tuple(
            SelectorSettings(
                item.get("retrieval_intent"),
                int(item.get("ranking_length", DEFAULT_RANKING_LENGTH)),
            )
            for item in data.get("selectors") or []
            if isinstance(item, dict)
        )
        raw_embedding = data.get("embedding")
        embedding = None
        if isinstance(raw_embedding, dict):
            embedding = EmbeddingSettings(
                str(raw_embedding.get("model", DEFAULT_MODEL)),
                float(raw_embedding.get("weight", 1.0)),
            )
        return cls(fallback, selectors, embedding)


def _fraction(
    component: dict[str, Any], key: str, default: float | None, where: str
) -> float | None:
    value = component.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PipelineError(f"{where}.{key}", f"must be a number, not {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise PipelineError(f"{where}.{key}", f"must be between 0 and 1, not {value}")
    return float(value)


def _fallback(component: dict[str, Any], where: str) -> FallbackSettings:
    ambiguity = _fraction(component, "ambiguity_threshold", DEFAULT_AMBIGUITY_THRESHOLD, where)
    assert ambiguity is not None
    return FallbackSettings(
        threshold=_fraction(component, "threshold", None, where), ambiguity_threshold=ambiguity
    )


def _embedding(component: dict[str, Any], where: str) -> EmbeddingSettings:
    unknown = sorted(str(key) for key in set(component) - EMBEDDING_OPTIONS)
    if unknown:
        raise PipelineError(
            f"{where}.{unknown[0]}",
            f"is not an option of {EMBEDDING_COMPONENT} (its options: model, weight)",
        )
    model = component.get("model", DEFAULT_MODEL)
    if model not in EMBEDDING_MODELS:
        raise PipelineError(
            f"{where}.model",
            f"must be one of {', '.join(EMBEDDING_MODELS)} (the models shipped in a Python "
            f"package), not {model!r}",
        )
    weight = component.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise PipelineError(f"{where}.weight", f"must be a number above 0, not {weight!r}")
    try:
        model_identity(str(model))
    except EmbeddingUnavailable as exc:
        raise PipelineError(f"{where}.model", str(exc)) from exc
    return EmbeddingSettings(str(model), float(weight))


def _selector(component: dict[str, Any], where: str) -> SelectorSettings:
    intent = component.get("retrieval_intent")
    if intent is not None and (not isinstance(intent, str) or not intent.strip()):
        raise PipelineError(
            f"{where}.retrieval_intent", f"must be the name of an intent, not {intent!r}"
        )
    if isinstance(intent, str) and "/" in intent:
        raise PipelineError(
            f"{where}.retrieval_intent",
            f"names the retrieval intent itself ('{intent.split('/')[0]}'), not '{intent}'",
        )
    length = component.get("ranking_length", DEFAULT_RANKING_LENGTH)
    if length is None:
        length = DEFAULT_RANKING_LENGTH
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise PipelineError(
            f"{where}.ranking_length", f"must be a whole number of at least 0, not {length!r}"
        )
    return SelectorSettings(intent.strip() if isinstance(intent, str) else None, length)
