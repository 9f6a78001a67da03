"""Retrieval intents: the fallback decision and the response selectors.

A retrieval intent's examples are written with their response key, ``chitchat/ask_name``. The
intent classifier learns the retrieval intent (``chitchat``); a `ResponseSelector` learns which
response key (``chitchat/ask_name``) a message asks for, among the examples of its retrieval
intent (or of all retrieval intents when it names none), with the same classifier as intents.

Its prediction goes into ``parse_data["response_selector"]`` in Rasa's shape::

    {"all_retrieval_intents": ["chitchat", "faq"],
     "chitchat": {
        "response": {"responses": [{"text": "I am the help desk bot."}], "confidence": 0.93,
                     "intent_response_key": "chitchat/ask_name",
                     "utter_action": "utter_chitchat/ask_name",
                     "template_name": "utter_chitchat/ask_name"},
        "ranking": [{"confidence": 0.93, "intent_response_key": "chitchat/ask_name"}, ...]}}

``responses`` are the domain's variations of ``utter_<response key>`` as Rasa writes them;
a response key without one answers with its own name as text (Rasa's fallback). A selector
without any example selects nothing and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.nlu.classifier import TextClassifier
from engine.nlu.pipeline import FallbackSettings, SelectorSettings

__all__ = [
    "NLU_FALLBACK_INTENT",
    "RESPONSE_DELIMITER",
    "UTTER_PREFIX",
    "ResponseSelector",
    "apply_fallback",
    "base_intent",
    "should_fall_back",
]

#: Rasa's ``DEFAULT_NLU_FALLBACK_INTENT_NAME``.
NLU_FALLBACK_INTENT = "nlu_fallback"
#: Rasa's ``RESPONSE_IDENTIFIER_DELIMITER``.
RESPONSE_DELIMITER = "/"
UTTER_PREFIX = "utter_"


def base_intent(intent: str) -> str:
    """``chitchat/ask_name`` -> ``chitchat``; other intents unchanged."""
    return intent.split(RESPONSE_DELIMITER, 1)[0]


def should_fall_back(
    settings: FallbackSettings, intent: dict[str, Any], ranking: list[dict[str, Any]]
) -> bool:
    """Whether Rasa's FallbackClassifier predicts ``nlu_fallback`` for this classification:
    the best confidence is below the threshold, or the two best are closer than the ambiguity
    threshold."""
    confidence = float(intent.get("confidence") or 0.0)
    settings = settings.resolved(None)
    if confidence < float(settings.threshold or 0.0):
        return True
    if len(ranking) >= 2:
        first = float(ranking[0].get("confidence", 1.0))
        second = float(ranking[1].get("confidence", 1.0))
        return first - second < settings.ambiguity_threshold
    return False


def apply_fallback(settings: FallbackSettings, parse: dict[str, Any]) -> None:
    """Turn `parse` into ``nlu_fallback`` (at the threshold's confidence, prepended to the
    ranking; the classified intents stay in it) when `should_fall_back`."""
    ranking = parse.setdefault("intent_ranking", [])
    settings = settings.resolved(None)
    if not should_fall_back(settings, parse.get("intent") or {}, ranking):
        return
    parse["intent"] = {"name": NLU_FALLBACK_INTENT, "confidence": settings.threshold}
    ranking.insert(0, {"name": NLU_FALLBACK_INTENT, "confidence": settings.threshold})


class ResponseSelector:
    """Chooses the response key of one retrieval intent (or of all: ``retrieval_intent`` None)."""

    def __init__(self, settings: SelectorSettings, classifier: TextClassifier | None = None):
        self.settings = settings
        self.classifier = classifier or TextClassifier(ranking_length=settings.ranking_length)

    @property
    def key(self) -> str:
        return self.settings.key

    @property
    def response_keys(self) -> list[str]:
        return list(self.classifier.labels)

    def fit(self, texts: Sequence[str], intents: Sequence[str]) -> ResponseSelector:
        """Learn from the examples (full intents such as ``chitchat/ask_name``) it covers."""
        wanted = self.settings.retrieval_intent
        pairs = [
            (text, intent)
            for text, intent in zip(texts, intents, strict=True)
            if RESPONSE_DELIMITER in intent and (wanted is None or base_intent(intent) == wanted)
        ]
        self.classifier.fit([t for t, _ in pairs], [i for _, i in pairs])
        return self

    def predict(
        self, text: str, responses: dict[str, list[dict[str, Any]]]
    ) -> dict[str, Any] | None:
        """The selector's entry of ``parse_data["response_selector"]`` for `text` (see the
        module docstring), None when it learnt no response key; `responses` are the domain's,
        by response name."""
        ranking = self.classifier.rank(text, top_k=self.settings.ranking_length)
        if not ranking:
            return None
        best = ranking[0]
        key = str(best["name"])
        utter_action = f"{UTTER_PREFIX}{key}"
        found = responses.get(utter_action)
        return {
            "response": {
                "responses": [dict(v) for v in found] if found else [{"text": key}],
                "confidence": float(best["confidence"]),
                "intent_response_key": key,
                "utter_action": utter_action,
                "template_name": utter_action,
            },
            "ranking": [
                {"confidence": float(item["confidence"]), "intent_response_key": item["name"]}
                for item in ranking
            ],
        }
