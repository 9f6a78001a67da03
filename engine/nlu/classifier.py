"""Reusable text classifier: word + character n-gram TF-IDF features and logistic regression."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from engine.nlu.tokenizer import WORD_PATTERN

__all__ = ["TextClassifier"]

Ranking = list[dict[str, Any]]


class TextClassifier:
    """Classify short texts into labels and return a confidence ranking.

    Features are TF-IDF weighted word n-grams and ``char_wb`` character n-grams (robust to typos
    and inflections); the model is a multinomial logistic regression with a fixed random state,
    so training on the same data always gives the same model.

    With no labels :meth:`rank` returns ``[]``; with a single label it always returns that label
    with confidence 1.0 (there is nothing to discriminate).
    """

    def __init__(
        self,
        *,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 4),
        c: float = 10.0,
        max_iter: int = 100,
        min_df_threshold: int = 1000,
        ranking_length: int = 10,
        random_state: int = 42,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.c = c
        self.max_iter = max_iter
        self.min_df_threshold = min_df_threshold
        self.ranking_length = ranking_length
        self.random_state = random_state
        self.labels: list[str] = []
        self._word: TfidfVectorizer | None = None
        self._char: TfidfVectorizer | None = None
        self._model: LogisticRegression | None = None

    # -- training -----------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TextClassifier:
        if len(texts) != len(labels):
            raise ValueError("texts and labels must have the same length")
        self.labels = sorted(set(labels))
        self._word = self._char = self._model = None
        if len(self.labels) < 2:
            return self
        # On large data sets n-grams seen only once add many parameters and little signal.
        min_df = 2 if len(texts) >= self.min_df_threshold else 1
        self._word = TfidfVectorizer(
            analyzer="word",
            ngram_range=self.word_ngrams,
            token_pattern=WORD_PATTERN,
            lowercase=True,
            sublinear_tf=True,
            min_df=min_df,
            dtype=np.float32,
        )
        self._char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngrams,
            lowercase=True,
            sublinear_tf=True,
            min_df=min_df,
            dtype=np.float32,
        )
        features = self._featurize_fit(list(texts))
        if features is None:
            return self  # nothing to learn from: every label is equally likely
        index = {label: i for i, label in enumerate(self.labels)}
        y = np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
        self._model = LogisticRegression(
            C=self.c,
            solver="lbfgs",
            max_iter=self.max_iter,
            tol=1e-4,
            class_weight="balanced",
            random_state=self.random_state,
        )
        # The problem is small: BLAS/OpenMP threads only add synchronisation cost, and they slow
        # training down by an order of magnitude when the other cores are busy.
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._model.fit(features, y)
        return self

    def _featurize_fit(self, texts: list[str]) -> sp.csr_matrix | None:
        parts = []
        for attr in ("_word", "_char"):
            vectorizer = getattr(self, attr)
            try:
                parts.append(vectorizer.fit_transform(texts))
            except ValueError:  # empty vocabulary (e.g. texts made only of punctuation)
                setattr(self, attr, None)
        return sp.hstack(parts, format="csr") if parts else None

    def _featurize(self, texts: list[str]) -> sp.csr_matrix:
        parts = [v.transform(texts) for v in (self._word, self._char) if v is not None]
        return sp.hstack(parts, format="csr")

    # -- prediction ---------------------------------------------------------------------------

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Array of shape (len(texts), len(self.labels)) with class probabilities."""
        if not self.labels:
            return np.zeros((len(texts), 0))
        if self._model is None:
            n = len(self.labels)
            return np.full((len(texts), n), 1.0 / n)
        probabilities: np.ndarray = self._model.predict_proba(self._featurize(list(texts)))
        return probabilities

    def rank_many(self, texts: Sequence[str], top_k: int | None = None) -> list[Ranking]:
        k = self.ranking_length if top_k is None else top_k
        probs = self.probabilities(texts)
        rankings: list[Ranking] = []
        for row in probs:
            order = _by_confidence(row, self.labels)
            if k > 0:
                order = order[:k]
            rankings.append([{"name": self.labels[i], "confidence": float(row[i])} for i in order])
        return rankings

    def rank(self, text: str, top_k: int | None = None) -> Ranking:
        """Labels with confidences, best first (at most ``top_k``, default ``ranking_length``)."""
        return self.rank_many([text], top_k)[0]

    def predict(self, text: str) -> dict[str, Any]:
        """The best label as ``{"name", "confidence"}`` (``name`` is None without labels)."""
        ranking = self.rank(text, top_k=1)
        return ranking[0] if ranking else {"name": None, "confidence": 0.0}


def _by_confidence(row: np.ndarray, labels: Sequence[str]) -> list[int]:
    """Label indices, highest confidence first; ties by label name so the order is stable."""
    return sorted(range(len(row)), key=lambda i: (-row[i], labels[i]))
