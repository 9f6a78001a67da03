"""Reusable text classifier: word + character n-gram TF-IDF features and logistic regression."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from engine.nlu.embeddings import SentenceEmbedder
from engine.nlu.pipeline import EmbeddingSettings
from engine.nlu.tokenizer import WORD_PATTERN

__all__ = ["C_GRID", "DEFAULT_C", "MergedColumns", "TextClassifier", "Tuning"]

Ranking = list[dict[str, Any]]


#: The regularisation strengths tried on the held-out split (``C`` of the logistic regression).
C_GRID = (1.0, 3.0, 10.0, 30.0)
#: Without tuning (too little data to hold some out): the strength used.
DEFAULT_C = 10.0
#: The share of each intent's examples held out for tuning (intents with at least
#: ``MIN_PER_LABEL`` examples), and the least held-out examples worth tuning on.
HELD_OUT_SHARE = 0.2
MIN_PER_LABEL = 5
MIN_HELD_OUT = 30
#: The calibrated fallback threshold lets at most this share of the held-out messages that
#: were classified right fall back.
FALLBACK_LOSS = 0.05
THRESHOLD_RANGE = (0.05, 0.9)
#: Above this many coefficients (features x labels) SAGA trains instead of Newton-CG (memory
#: and time: each Newton step solves a linear system in all the coefficients).
NEWTON_MAX_PARAMETERS = 1_000_000
SAGA_EPOCHS = 6
SAGA_TUNING_EPOCHS = 3


@functools.cache
def thread_pools() -> ThreadpoolController:
    """The BLAS and OpenMP thread pools of this process, found once: looking for them scans
    every loaded library (up to about 10 ms, paid by each training otherwise; the training consumer
    finds them before it forks its trainings). A library loaded after the first training is not
    among them: the engine loads its BLAS with numpy, before any."""
    return ThreadpoolController()


@dataclass
class Tuning:
    """What training chose on the held-out split (None without one)."""

    c: float
    scores: dict[float, float] = field(default_factory=dict)
    held_out: int = 0
    threshold: float | None = None

    def describe(self) -> str:
        if not self.held_out:
            return f"C={self.c:g} (too few examples to hold some out for tuning)"
        tried = ", ".join(f"C={c:g}: {score:.3f}" for c, score in sorted(self.scores.items()))
        text = f"C={self.c:g} chosen on {self.held_out} held-out examples (accuracy {tried})"
        if self.threshold is not None:
            text += f"; fallback threshold calibrated to {self.threshold:.3f}"
        return text


class TextClassifier:
    """Classify short texts into labels and return a confidence ranking.

    Features are TF-IDF weighted word n-grams and ``char_wb`` character n-grams (robust to typos
    and inflections), with `embedding` also a sentence embedding (`engine.nlu.embeddings`); the
    model is a multinomial logistic regression with a fixed random state, so training on the
    same data always gives the same model.

    With ``c=None`` the regularisation strength is chosen from `C_GRID` by accuracy on a
    held-out split (a fixed share of each label's examples, drawn with `random_state`), and the
    confidence below which `FALLBACK_LOSS` of the correctly classified held-out messages fall is
    kept as `calibrated_threshold`; the final model is then trained on all the examples.

    With no labels :meth:`rank` returns ``[]``; with a single label it always returns that label
    with confidence 1.0 (there is nothing to discriminate).
    """

    def __init__(
        self,
        *,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 4),
        c: float | None = DEFAULT_C,
        max_iter: int = 100,
        min_df_threshold: int = 1000,
        ranking_length: int = 10,
        random_state: int = 42,
        embedding: EmbeddingSettings | None = None,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.c = c
        self.max_iter = max_iter
        self.min_df_threshold = min_df_threshold
        self.ranking_length = ranking_length
        self.random_state = random_state
        self.embedding = embedding
        self.labels: list[str] = []
        self.tuning: Tuning | None = None
        self._word: TfidfVectorizer | None = None
        self._char: TfidfVectorizer | None = None
        self._embedder: SentenceEmbedder | None = None
        self._model: LogisticRegression | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_weights", None)  # derived from the model's coefficients
        state.pop("_analyzers", None)  # derived from the vectorizers
        return state

    @property
    def calibrated_threshold(self) -> float | None:
        """The fallback threshold calibrated on the held-out split (None without one)."""
        tuning = getattr(self, "tuning", None)
        return None if tuning is None else tuning.threshold

    # -- training -----------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TextClassifier:
        if len(texts) != len(labels):
            raise ValueError("texts and labels must have the same length")
        self.labels = sorted(set(labels))
        self._word = self._char = self._model = self._embedder = None
        self._weights: np.ndarray | None = None
        self._analyzers: dict[int, Any] = {}
        self.tuning = None
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
        if self.embedding is not None:
            self._embedder = SentenceEmbedder(self.embedding.model)
        features = self._featurize_fit(list(texts))
        if features is None:
            return self  # nothing to learn from: every label is equally likely
        index = {label: i for i, label in enumerate(self.labels)}
        y = np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
        # The problem is small: BLAS/OpenMP threads only add synchronisation cost, and they slow
        # training down by an order of magnitude when the other cores are busy.
        columns = MergedColumns(features)
        solver = self._solver(columns.width)
        with warnings.catch_warnings(), thread_pools().limit(limits=1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            c, start = self._tune(features, y, solver)
            model = self._model = self._logistic(c, solver, final=True)
            if start is not None:
                model.coef_, model.intercept_ = columns.project(start[0]), start[1]
            model.fit(columns.reduce(features), y)
            model.coef_ = columns.expand(model.coef_)
            model.n_features_in_ = features.shape[1]
        return self

    def _solver(self, n_features: int) -> str:
        """Newton-CG for small problems; SAGA for large ones.

        Up to `NEWTON_MAX_PARAMETERS` coefficients a truncated Newton method converges in a
        handful of steps, each a few Hessian-vector products (two sparse products each):
        against L-BFGS at the same tolerance it trains the demo's classifier in half the CPU
        and lands nearer the exact optimum (L-BFGS spends as long in its own bookkeeping as in
        the loss). Above, on a CLINC150-shaped set (150 intents x 43,000 n-grams), it took 60%
        longer than SAGA and 170 MB more, and L-BFGS would keep about 25 float64 copies of the
        coefficients (2 GB); SAGA keeps one gradient per example."""
        return "newton-cg" if n_features * len(self.labels) <= NEWTON_MAX_PARAMETERS else "saga"

    def _logistic(self, c: float, solver: str, *, final: bool) -> LogisticRegression:
        if solver == "saga":
            # Each SAGA epoch costs one pass over the examples per intent: a few epochs per
            # grid point (each continuing from the previous solution), more for the final fit.
            max_iter = SAGA_EPOCHS if final else SAGA_TUNING_EPOCHS
            tol = 1e-3
        else:
            max_iter, tol = self.max_iter, 1e-4
        return LogisticRegression(
            C=c,
            solver=solver,
            max_iter=max_iter,
            tol=tol,
            class_weight="balanced",
            random_state=self.random_state,
            warm_start=True,
        )

    def _held_out(self, y: np.ndarray) -> np.ndarray:
        """The indices of the held-out examples: a fixed share of each label's examples, for
        labels with at least `MIN_PER_LABEL` (deterministic: drawn with `random_state`)."""
        rng = np.random.RandomState(self.random_state)
        chosen: list[np.ndarray] = []
        for label in range(len(self.labels)):
            members = np.flatnonzero(y == label)
            if len(members) >= MIN_PER_LABEL:
                k = max(1, int(len(members) * HELD_OUT_SHARE))
                chosen.append(rng.permutation(members)[:k])
        return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)

    def _tune(
        self, features: sp.csr_matrix, y: np.ndarray, solver: str
    ) -> tuple[float, tuple[np.ndarray, np.ndarray] | None]:
        """The C to train with and the coefficients to start from (None: from zero)."""
        if self.c is not None:
            return self.c, None
        held = self._held_out(y)
        train = np.setdiff1d(np.arange(len(y)), held)
        if len(held) < MIN_HELD_OUT or len(np.unique(y[train])) < len(self.labels):
            self.tuning = Tuning(DEFAULT_C)
            return DEFAULT_C, None
        # On the examples kept for training, more columns are identical (or empty) than on all.
        x_train = features[train]
        columns = MergedColumns(x_train)
        x_train, y_train = columns.reduce(x_train), y[train]
        x_held, y_held = columns.reduce(features[held]), y[held]
        # Increasing C, each fit starting from the previous one's solution (warm start).
        model = self._logistic(C_GRID[0], solver, final=False)
        scores: dict[float, float] = {}
        best: tuple[float, float, np.ndarray, tuple[np.ndarray, np.ndarray]] | None = None
        for c in C_GRID:
            model.set_params(C=c)
            model.fit(x_train, y_train)
            probabilities = model.predict_proba(x_held)
            score = float(np.mean(probabilities.argmax(axis=1) == y_held))
            scores[c] = score
            if best is None or score > best[1]:
                coefficients = columns.expand(model.coef_)
                best = (c, score, probabilities, (coefficients, model.intercept_.copy()))
            if score == 1.0:
                break  # no larger C can do better, and ties go to the smaller C
        assert best is not None
        c, _score, probabilities, start = best
        predicted = probabilities.argmax(axis=1)
        confidence = probabilities.max(axis=1)
        right = confidence[predicted == y_held]
        threshold = None
        if len(right):
            low, high = THRESHOLD_RANGE
            threshold = round(float(np.clip(np.quantile(right, FALLBACK_LOSS), low, high)), 4)
        self.tuning = Tuning(c, scores, len(held), threshold)
        return c, start

    def _featurize_fit(self, texts: list[str]) -> sp.csr_matrix | None:
        parts = []
        for attr in ("_word", "_char"):
            vectorizer = getattr(self, attr)
            try:
                parts.append(vectorizer.fit_transform(texts))
            except ValueError:  # empty vocabulary (e.g. texts made only of punctuation)
                setattr(self, attr, None)
        if self._embedder is not None:
            parts.append(self._embedded(self._embedder.fit_transform(texts)))
        return sp.hstack(parts, format="csr") if parts else None

    def _embedded(self, vectors: np.ndarray) -> sp.csr_matrix:
        assert self.embedding is not None
        return sp.csr_matrix(vectors * np.float32(self.embedding.weight))

    def _blocks(self) -> list[tuple[Any, int]]:
        """The feature blocks in column order: (vectorizer or embedder, width)."""
        blocks: list[tuple[Any, int]] = [
            (v, len(v.vocabulary_)) for v in (self._word, self._char) if v is not None
        ]
        embedder = getattr(self, "_embedder", None)
        if embedder is not None:
            blocks.append((embedder, -1))
        return blocks

    def _feature_rows(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's non-zero features: (columns ascending, values), the word n-grams' TF-IDF
        first, then the character n-grams', then the weighted sentence embedding."""
        parts: list[list[tuple[np.ndarray, np.ndarray]]] = []
        offset = 0
        for block, width in self._blocks():
            if width < 0:
                assert self.embedding is not None
                embedded = block.transform(texts) * np.float32(self.embedding.weight)
                part = []
                for vector in embedded:
                    columns = np.flatnonzero(vector)
                    part.append((columns + offset, vector[columns]))
                parts.append(part)
            else:
                analyzers = self.__dict__.setdefault("_analyzers", {})
                analyze = analyzers.get(id(block))
                if analyze is None:  # built once per vectorizer (fit starts a new cache)
                    analyze = analyzers[id(block)] = block.build_analyzer()
                parts.append([(c + offset, v) for c, v in _tfidf_rows(block, analyze, texts)])
                offset += width
        if len(parts) == 1:
            return parts[0]
        return [
            (np.concatenate([c for c, _v in row]), np.concatenate([v for _c, v in row]))
            for row in zip(*parts, strict=True)
        ]

    def _linear_scores(self, texts: list[str], weights: np.ndarray) -> np.ndarray:
        """``features @ weights`` (without the intercept), one row per text, in the dtype the
        sparse product gives and summed feature by feature in column order as it does, so the
        figures are the same to the last bit; building a sparse matrix per message cost more
        than the product."""
        rows = []
        for columns, values in self._feature_rows(texts):
            if len(columns):
                rows.append(np.add.reduce(values[:, None] * weights[columns], axis=0))
            else:
                rows.append(np.zeros(weights.shape[1], dtype=np.result_type(values, weights)))
        if not rows:
            return np.zeros((0, weights.shape[1]), dtype=weights.dtype)
        return np.stack(rows)

    # -- prediction ---------------------------------------------------------------------------

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Array of shape (len(texts), len(self.labels)) with class probabilities."""
        if not self.labels:
            return np.zeros((len(texts), 0))
        if self._model is None:
            n = len(self.labels)
            return np.full((len(texts), n), 1.0 / n)
        # The softmax of the linear scores, as the model's predict_proba, with the coefficients
        # kept transposed and contiguous: predict_proba multiplies by a transposed view, which
        # costs a copy of every coefficient per call (20 ms with 150 intents).
        weights = getattr(self, "_weights", None)
        if weights is None:
            weights = self._weights = np.ascontiguousarray(self._model.coef_.T)
        scores = self._linear_scores(list(texts), weights) + self._model.intercept_
        if scores.shape[1] == 1:  # two labels: one score, the second label's log-odds
            scores = np.hstack([np.zeros_like(scores), scores])
        scores -= scores.max(axis=1, keepdims=True)
        probabilities: np.ndarray = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
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


class MergedColumns:
    """The columns of a feature matrix with identical values merged, and empty ones left out,
    for training a linear model with an L2 penalty in fewer dimensions (issue 20).

    ``k`` identical columns ``x`` become one column ``sqrt(k) * x``: a weight ``v`` on it
    scores as weights ``v / sqrt(k)`` on each of the ``k`` (`expand`) at the same penalty, and
    those equal weights are the ones training on all ``k`` finds, so the model is the same. An
    empty column's weight stays 0. Each n-gram seen in one example only is one such column,
    so on a small data set most of them merge: the demo's 4,254 n-grams train as 1,737.

    One sparse matrix ``M`` (columns x merged columns, ``1 / sqrt(k)`` at each column's
    merged column) does all three: ``X @ M`` (`reduce`), ``V @ M.T`` (`expand`) and
    ``W @ M`` (`project`, the inverse of `expand` on weights equal within each merged column).
    """

    def __init__(self, features: sp.spmatrix) -> None:
        by_column = sp.csc_matrix(features)
        by_column.sort_indices()
        indptr, indices, data = by_column.indptr, by_column.indices, by_column.data
        n = by_column.shape[1]
        merged = np.full(n, -1, dtype=np.int64)
        seen: dict[tuple[bytes, bytes], int] = {}
        for column in range(n):
            start, end = indptr[column], indptr[column + 1]
            if start < end:
                key = (indices[start:end].tobytes(), data[start:end].tobytes())
                merged[column] = seen.setdefault(key, len(seen))
        kept = np.flatnonzero(merged >= 0)
        sizes = np.bincount(merged[kept], minlength=len(seen))
        scale = 1.0 / np.sqrt(sizes[merged[kept]])
        self.width = len(seen)
        self.matrix = sp.csr_matrix((scale, (kept, merged[kept])), shape=(n, self.width))
        self._features_matrix = self.matrix.astype(features.dtype)

    def reduce(self, features: sp.spmatrix) -> sp.csr_matrix:
        """The features in the merged columns (in their dtype)."""
        return sp.csr_matrix(features @ self._features_matrix)

    def expand(self, weights: np.ndarray) -> np.ndarray:
        """Weights on the merged columns (one row per label) as weights on the columns."""
        return np.asarray((self.matrix @ weights.T).T)

    def project(self, weights: np.ndarray) -> np.ndarray:
        """Weights on the columns as weights on the merged columns (exact for weights that
        `expand` gave)."""
        return np.asarray((self.matrix.T @ weights.T).T)


def _by_confidence(row: np.ndarray, labels: Sequence[str]) -> list[int]:
    """Label indices, highest confidence first; ties by label name so the order is stable."""
    if _ascending(labels):  # as `fit` keeps them: the index order is the name order
        return np.argsort(-row, kind="stable").tolist()  # type: ignore[no-any-return]
    return sorted(range(len(row)), key=lambda i: (-row[i], labels[i]))


def _ascending(labels: Sequence[str]) -> bool:
    return list(labels) == sorted(labels)


def _tfidf_rows(
    vectorizer: TfidfVectorizer, analyze: Any, texts: list[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each text's row of ``vectorizer.transform(texts)`` (sublinear tf, idf, L2 norm) as
    (columns ascending, float32 values), without the vectorizer's input validation, which costs
    about a millisecond a call: most of a message's parse."""
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    idf = vectorizer.idf_
    rows = []
    for text in texts:
        counts: dict[int, int] = {}
        for gram in analyze(text):
            column = vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = sorted(counts)
        row = np.log(np.array([counts[c] for c in columns], dtype=np.float32)) + 1.0
        row *= idf[columns]
        norm = float(np.sqrt(np.dot(row, row)))
        if norm > 0:
            row /= norm
        rows.append((np.array(columns, dtype=np.int64), row.astype(np.float32)))
    return rows
