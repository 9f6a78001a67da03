"""What config.yml's ``pipeline`` asks of the NLU beyond intents and entities.

Two components change the parse: ``FallbackClassifier`` (``threshold``, default 0.3;
``ambiguity_threshold``, default 0.1) and ``ResponseSelector`` (``retrieval_intent``, default
none: one selector over every retrieval intent, reported under ``default``; ``ranking_length``,
default 10). The other components (tokenizers, featurizers, intent classifiers, entity
extractors) are all served by the engine's one NLU and their settings are not read.

`PipelineSettings.from_config` checks the values it reads and raises `PipelineError` naming the
component's index and the key (``pipeline[3].threshold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_AMBIGUITY_THRESHOLD",
    "DEFAULT_FALLBACK_THRESHOLD",
    "DEFAULT_SELECTOR_KEY",
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
    `ambiguity_threshold`, the intent becomes ``nlu_fallback``."""

    threshold: float = DEFAULT_FALLBACK_THRESHOLD
    ambiguity_threshold: float = DEFAULT_AMBIGUITY_THRESHOLD


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

    @property
    def empty(self) -> bool:
        return self.fallback is None and not self.selectors

    @classmethod
    def from_config(cls, pipeline: list[Any] | None) -> PipelineSettings:
        """The settings of config.yml's ``pipeline`` list; raises `PipelineError`."""
        if pipeline is None:
            return cls()
        if not isinstance(pipeline, list):
            raise PipelineError("pipeline", f"must be a list, not {type(pipeline).__name__}")
        fallback: FallbackSettings | None = None
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
        return cls(fallback, tuple(selectors.values()))

    def as_dict(self) -> dict[str, Any]:
        return {
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

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PipelineSettings:
        """The settings `as_dict` wrote (an older model without any: empty settings)."""
        data = data or {}
        raw_fallback = data.get("fallback")
        fallback = None
        if isinstance(raw_fallback, dict):
            fallback = FallbackSettings(
                float(raw_fallback.get("threshold", DEFAULT_FALLBACK_THRESHOLD)),
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
        return cls(fallback, selectors)


def _fraction(component: dict[str, Any], key: str, default: float, where: str) -> float:
    value = component.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PipelineError(f"{where}.{key}", f"must be a number, not {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise PipelineError(f"{where}.{key}", f"must be between 0 and 1, not {value}")
    return float(value)


def _fallback(component: dict[str, Any], where: str) -> FallbackSettings:
    return FallbackSettings(
        threshold=_fraction(component, "threshold", DEFAULT_FALLBACK_THRESHOLD, where),
        ambiguity_threshold=_fraction(
            component, "ambiguity_threshold", DEFAULT_AMBIGUITY_THRESHOLD, where
        ),
    )


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
