"""Regex and lookup-table entity extraction, and entity synonym mapping."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.nlu.data import TrainingExample
from engine.nlu.tokenizer import Token, tokenize

__all__ = [
    "REGEX_EXTRACTOR",
    "SYNONYM_MAPPER",
    "PatternExtractor",
    "PatternMatch",
    "SynonymMapper",
]

REGEX_EXTRACTOR = "RegexEntityExtractor"
SYNONYM_MAPPER = "EntitySynonymMapper"

_KIND_ORDER = {"regex": 0, "lookup": 1}


@dataclass(frozen=True, slots=True)
class PatternMatch:
    start: int
    end: int
    name: str  # regex name or lookup entity name
    kind: str  # "regex" or "lookup"
    is_entity: bool  # True when ``name`` is an entity the assistant knows


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


class PatternExtractor:
    """Matches regexes and lookup tables in a message.

    * Regexes: every pattern is matched case-insensitively and only where it is not glued to
      other word characters (``(?<!\\w)(?:pattern)(?!\\w)``), like Rasa's RegexEntityExtractor
      with word boundaries. Invalid patterns are skipped (reported through ``warn``).
    * Lookup tables: whole-token, case- and whitespace-insensitive matching of the values.

    All matches are exposed (:meth:`matches`) so the CRF can use them as features; only matches
    whose name is an entity name become entities (:meth:`extract`), and overlapping ones are
    resolved longest first (then leftmost, then regex before lookup, then by name).
    """

    def __init__(
        self,
        regexes: Mapping[str, Sequence[str]],
        lookups: Mapping[str, Sequence[str]],
        entity_names: Iterable[str],
        *,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.regexes = {name: list(patterns) for name, patterns in sorted(regexes.items())}
        self.lookups = {name: list(values) for name, values in sorted(lookups.items())}
        self.entity_names = set(entity_names) | set(self.lookups)
        self._compiled: list[tuple[str, re.Pattern[str]]] = []
        for name, patterns in self.regexes.items():
            for pattern in patterns:
                try:
                    compiled = re.compile(f"(?<!\\w)(?:{pattern})(?!\\w)", re.IGNORECASE)
                except (re.error, RecursionError, OverflowError) as exc:
                    if warn:
                        warn(f"Skipping invalid regex {pattern!r} for {name!r}: {exc}")
                    continue
                self._compiled.append((name, compiled))
        self._lookup: dict[str, str] = {}
        self._first_tokens: set[str] = set()  # a match can only start at one of these
        self._max_tokens = 0
        for name, values in self.lookups.items():
            for value in values:
                key = _normalise(value)
                value_tokens = tokenize(key)
                if not value_tokens:
                    continue
                self._lookup.setdefault(key, name)
                self._first_tokens.add(value_tokens[0].text)
                self._max_tokens = max(self._max_tokens, len(value_tokens))

    @property
    def feature_names(self) -> list[str]:
        """Names that can appear in matches (for reporting)."""
        return sorted({name for name, _ in self._compiled} | set(self.lookups))

    def matches(self, text: str, tokens: Sequence[Token] | None = None) -> list[PatternMatch]:
        """Every regex and lookup match in ``text`` (may overlap)."""
        found: list[PatternMatch] = []
        for name, compiled in self._compiled:
            is_entity = name in self.entity_names
            for m in compiled.finditer(text):
                if m.end() > m.start():
                    found.append(PatternMatch(m.start(), m.end(), name, "regex", is_entity))
        if self._lookup:
            if tokens is None:
                tokens = tokenize(text)
            n_tokens = len(tokens)
            for i in range(n_tokens):
                if tokens[i].text.casefold() not in self._first_tokens:
                    continue
                start = tokens[i].start
                for j in range(min(n_tokens, i + self._max_tokens) - 1, i - 1, -1):
                    end = tokens[j].end
                    looked_up = self._lookup.get(_normalise(text[start:end]))
                    if looked_up is not None:
                        found.append(PatternMatch(start, end, looked_up, "lookup", True))
        return found

    def extract(
        self, text: str, tokens: Sequence[Token] | None = None
    ) -> tuple[list[dict[str, Any]], list[PatternMatch]]:
        """Non-overlapping entities in Rasa's format, plus all raw matches."""
        raw = self.matches(text, tokens)
        candidates = sorted(
            (m for m in raw if m.is_entity),
            key=lambda m: (m.start - m.end, m.start, _KIND_ORDER[m.kind], m.name),
        )
        chosen: list[PatternMatch] = []
        for m in candidates:
            if all(m.end <= c.start or m.start >= c.end for c in chosen):
                chosen.append(m)
        chosen.sort(key=lambda m: m.start)
        entities = [
            {
                "entity": m.name,
                "start": m.start,
                "end": m.end,
                "value": text[m.start : m.end],
                "extractor": REGEX_EXTRACTOR,
            }
            for m in chosen
        ]
        return entities, raw


class SynonymMapper:
    """Maps entity values to canonical values (case-insensitive on the extracted value).

    Sources: the ``synonyms`` section (canonical -> synonyms) and annotated examples whose
    ``value`` differs from the annotated text, as Rasa's EntitySynonymMapper does.
    """

    def __init__(self, synonyms: Mapping[str, str] | None = None) -> None:
        self.synonyms: dict[str, str] = dict(synonyms or {})

    @classmethod
    def from_training_data(
        cls,
        synonyms: Mapping[str, Sequence[str]],
        examples: Iterable[TrainingExample],
    ) -> SynonymMapper:
        mapper = cls()
        for ex in examples:
            for span in ex.entities:
                annotated = ex.text[span.start : span.end]
                if annotated:
                    mapper.add(annotated, span.value)
        for canonical, variants in sorted(synonyms.items()):
            for variant in variants:
                mapper.add(variant, canonical)
        return mapper

    def add(self, original: str, replacement: str) -> None:
        if original != replacement:
            self.synonyms[str(original).lower()] = str(replacement)

    def apply(self, entities: list[dict[str, Any]]) -> None:
        for entity in entities:
            key = str(entity.get("value")).lower()
            if key in self.synonyms:
                entity["value"] = self.synonyms[key]
                entity.setdefault("processors", []).append(SYNONYM_MAPPER)
