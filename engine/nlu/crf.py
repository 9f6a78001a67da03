"""Conditional random field entity extractor (CRFsuite through python-crfsuite).

Tagging scheme: one CRF over BILOU tags whose label also carries the role and the group, so a
single model predicts entity, role and group together. A tag is ``<prefix>-<json>`` where the
prefix is one of ``B I L U`` and the JSON is ``[entity, role, group]`` (role and group may be
null), e.g. ``B-["account","source",null]``; ``O`` is outside. The JSON keeps arbitrary entity
names unambiguous. Decoding is tolerant: a change of label or a ``B``/``U`` starts a new entity,
``L``/``U`` ends one, a stray ``I``/``L`` starts one.

Confidence of an entity is the smallest per-token marginal probability of its predicted tags.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import pycrfsuite

from engine.nlu.data import TrainingExample
from engine.nlu.patterns import PatternMatch
from engine.nlu.tokenizer import Token, tokenize

__all__ = ["CRF_EXTRACTOR", "CrfEntityExtractor", "bilou_tags", "token_features"]

CRF_EXTRACTOR = "CRFEntityExtractor"
OUTSIDE = "O"


def _label(prefix: str, entity: str, role: str | None, group: str | None) -> str:
    return f"{prefix}-{json.dumps([entity, role, group])}"


def _safe(text: str) -> str:
    """CRFsuite needs valid UTF-8: replace lone surrogates."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _parse_label(tag: str) -> tuple[str, tuple[str, str | None, str | None]]:
    entity, role, group = json.loads(tag[2:])
    return tag[0], (entity, role, group)


def bilou_tags(example: TrainingExample, tokens: Sequence[Token]) -> list[str]:
    """BILOU tags for ``tokens`` of an annotated example (tokens partly covered count as in)."""
    tags = [OUTSIDE] * len(tokens)
    for span in sorted(example.entities, key=lambda s: (s.start, s.end)):
        idx = [i for i, t in enumerate(tokens) if t.start < span.end and t.end > span.start]
        if not idx or any(tags[i] != OUTSIDE for i in idx):
            continue  # no token under the span, or overlapping annotations: keep the first
        if len(idx) == 1:
            tags[idx[0]] = _label("U", span.entity, span.role, span.group)
            continue
        tags[idx[0]] = _label("B", span.entity, span.role, span.group)
        for i in idx[1:-1]:
            tags[i] = _label("I", span.entity, span.role, span.group)
        tags[idx[-1]] = _label("L", span.entity, span.role, span.group)
    return tags


def _shape(word: str) -> str:
    out: list[str] = []
    for ch in word:
        if ch.isupper():
            c = "X"
        elif ch.islower():
            c = "x"
        elif ch.isdigit():
            c = "d"
        elif ch.isalpha():
            c = "a"  # letters without case (CJK, Devanagari...)
        else:
            c = ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)[:8]


@lru_cache(maxsize=65536)
def _own_features(text: str) -> tuple[str, ...]:
    text = _safe(text)
    low = text.lower()
    feats = [
        f"w={low}",
        f"p2={low[:2]}",
        f"p3={low[:3]}",
        f"s2={low[-2:]}",
        f"s3={low[-3:]}",
        f"sh={_shape(text)}",
    ]
    if text.isdigit():
        feats.append("digit")
    elif any(ch.isdigit() for ch in text):
        feats.append("hasdigit")
    if text.istitle():
        feats.append("title")
    elif text.isupper():
        feats.append("upper")
    if not any(ch.isalnum() for ch in text):
        feats.append("punct")
    return tuple(feats)


@lru_cache(maxsize=65536)
def _neighbour_features(text: str) -> tuple[tuple[str, ...], ...]:
    """What a token says to its neighbours, per offset -2, -1, +1, +2: its word, and at -1/+1
    its shape too. Cached per text like `_own_features`, so building an example's features
    formats no string a training set has already formatted."""
    own = _own_features(text)
    word, shape = own[0], own[5]
    return (f"-2{word}",), (f"-1{word}", f"-1{shape}"), (f"1{word}", f"1{shape}"), (f"2{word}",)


def token_features(
    tokens: Sequence[Token], matches: Sequence[PatternMatch] = ()
) -> list[list[str]]:
    """CRFsuite feature strings for each token, including neighbours and pattern matches."""
    own = [_own_features(t.text) for t in tokens]
    around = [_neighbour_features(t.text) for t in tokens]
    pats: list[list[str]] = [[] for _ in tokens]
    if matches:
        for m in matches:
            for i, t in enumerate(tokens):
                if t.start < m.end and t.end > m.start:
                    pats[i].append(_safe(f"pat={m.kind}:{m.name}"))
    n = len(tokens)
    out: list[list[str]] = []
    for i in range(n):
        feats = ["bias", *own[i], *pats[i]]
        if i == 0:
            feats.append("BOS")
        if i == n - 1:
            feats.append("EOS")
        # The words at -2..+2, with the shapes and pattern matches at -1 and +1.
        if i >= 2:
            feats.extend(around[i - 2][0])
        if i >= 1:
            feats.extend(around[i - 1][1])
            feats.extend(f"-1{p}" for p in pats[i - 1])
        if i + 1 < n:
            feats.extend(around[i + 1][2])
            feats.extend(f"1{p}" for p in pats[i + 1])
        if i + 2 < n:
            feats.extend(around[i + 2][3])
        out.append(feats)
    return out


class _QuietTrainer(pycrfsuite.Trainer):  # type: ignore[misc]  # the library has no types
    """python-crfsuite's trainer without its log: the base class parses every line crfsuite
    prints, verbose or not (about 6% of training the demo's extractor), and nothing reads it."""

    def message(self, message: str) -> None:
        pass


class CrfEntityExtractor:
    """Trains on annotated examples and extracts entities with roles and groups."""

    def __init__(self, *, c1: float = 0.05, c2: float = 0.01, max_iterations: int = 40) -> None:
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.model_bytes: bytes | None = None
        self._tagger: pycrfsuite.Tagger | None = None
        self._lock = threading.Lock()

    @property
    def trained(self) -> bool:
        return self.model_bytes is not None

    def train(
        self,
        examples: Sequence[TrainingExample],
        pattern_matches: Sequence[Sequence[PatternMatch]] | None = None,
        tokens: Sequence[Sequence[Token]] | None = None,
    ) -> bool:
        """Train; returns False (and stays untrained) when no example has an entity."""
        self.model_bytes = None
        self._tagger = None
        if not any(ex.entities for ex in examples):
            return False
        trainer = _QuietTrainer(algorithm="lbfgs", verbose=False)
        trainer.set_params(
            {
                "c1": self.c1,
                "c2": self.c2,
                "max_iterations": self.max_iterations,
                "feature.possible_transitions": True,
            }
        )
        for k, ex in enumerate(examples):
            toks = tokens[k] if tokens is not None else tokenize(ex.text)
            if not toks:
                continue
            matches = pattern_matches[k] if pattern_matches is not None else ()
            trainer.append(token_features(toks, matches), bilou_tags(ex, toks))
        fd, path = tempfile.mkstemp(suffix=".crfsuite")
        os.close(fd)
        try:
            trainer.train(path)
            with open(path, "rb") as fh:
                self.set_model_bytes(fh.read())
        finally:
            os.unlink(path)
        return True

    def set_model_bytes(self, data: bytes) -> None:
        self.model_bytes = data
        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(data)
        self._tagger = tagger

    def extract(
        self, text: str, tokens: Sequence[Token], matches: Sequence[PatternMatch] = ()
    ) -> list[dict[str, Any]]:
        if self._tagger is None or not tokens:
            return []
        features = token_features(tokens, matches)
        with self._lock:
            self._tagger.set(features)
            tags = self._tagger.tag()
            probs = [self._tagger.marginal(tag, i) for i, tag in enumerate(tags)]
        entities: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None

        def close() -> None:
            nonlocal current
            if current is not None:
                entities.append(self._entity(text, tokens, current))
                current = None

        for i, tag in enumerate(tags):
            if tag == OUTSIDE:
                close()
                continue
            prefix, key = _parse_label(tag)
            if current is not None and (key != current["key"] or prefix in "BU"):
                close()
            if current is None:
                current = {"key": key, "first": i, "last": i, "probs": []}
            current["last"] = i
            current["probs"].append(probs[i])
            if prefix in "LU":
                close()
        close()
        return entities

    @staticmethod
    def _entity(text: str, tokens: Sequence[Token], span: dict[str, Any]) -> dict[str, Any]:
        entity, role, group = span["key"]
        start, end = tokens[span["first"]].start, tokens[span["last"]].end
        confidence = float(min(span["probs"]))
        out: dict[str, Any] = {
            "entity": entity,
            "start": start,
            "end": end,
            "confidence_entity": confidence,
        }
        if role is not None:
            out["role"] = role
            out["confidence_role"] = confidence
        if group is not None:
            out["group"] = group
            out["confidence_group"] = confidence
        out["value"] = text[start:end]
        out["extractor"] = CRF_EXTRACTOR
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tagger"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        if self.model_bytes is not None:
            self.set_model_bytes(self.model_bytes)
