"""The classifier's prediction path multiplies each text's features by the coefficients without
building a sparse matrix: its scores must be those of the sparse product, to the last bit, and
its features those scikit-learn's vectorizers compute."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.nlu import NluModel, TextClassifier
from engine.tests.nlu.banking import banking_data
from engine.tests.nlu.test_embeddings import EMBEDDING, four_intents

TEXTS = [
    "how much money is left in my account",
    "please move 80 from checking to savings",
    "my card got stolen",
    "",
    "   ",
    "?!",
    "zzzz qqqq xylophone",
    "yes",
    "transfer transfer transfer money money",
    "Ünïcödé wörds and 日本語",
]


def _sparse_scores(clf: TextClassifier, texts: list[str]) -> np.ndarray:
    """The linear scores as a sparse feature matrix times the coefficients."""
    rows = clf._feature_rows(texts)
    width = clf._model.coef_.shape[1]  # type: ignore[union-attr]
    indptr = np.cumsum([0, *(len(c) for c, _v in rows)])
    matrix = sp.csr_matrix(
        (np.concatenate([v for _c, v in rows]), np.concatenate([c for c, _v in rows]), indptr),
        shape=(len(texts), width),
    )
    weights = np.ascontiguousarray(clf._model.coef_.T)  # type: ignore[union-attr]
    return np.asarray(matrix @ weights)


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def banking() -> TextClassifier:
    return NluModel.train(banking_data()).classifier


def test_scores_equal_the_sparse_product_bit_for_bit(banking: TextClassifier) -> None:
    assert banking._model is not None
    weights = np.ascontiguousarray(banking._model.coef_.T)
    scores = banking._linear_scores(TEXTS, weights)
    expected = _sparse_scores(banking, TEXTS)
    assert scores.dtype == expected.dtype
    assert np.array_equal(scores, expected)
    probabilities = banking.probabilities(TEXTS)
    assert np.array_equal(probabilities, _softmax(expected + banking._model.intercept_))
    # One text at a time gives the same rows as all at once.
    for i, text in enumerate(TEXTS):
        assert np.array_equal(banking.probabilities([text])[0], probabilities[i])


def test_features_are_scikit_learns(banking: TextClassifier) -> None:
    assert banking._word is not None and banking._char is not None
    reference = sp.hstack(
        [banking._word.transform(TEXTS), banking._char.transform(TEXTS)], format="csr"
    ).toarray()
    rows = banking._feature_rows(TEXTS)
    ours = np.zeros_like(reference)
    for i, (columns, values) in enumerate(rows):
        assert list(columns) == sorted(set(columns))  # ascending, each column once
        ours[i, columns] = values
    assert np.allclose(ours, reference, rtol=1e-5, atol=1e-7)
    assert banking.rank_many([]) == []


def test_an_embedded_model_scores_as_the_sparse_product() -> None:
    clf = NluModel.train(four_intents(), pipeline=[EMBEDDING]).classifier
    assert clf._model is not None
    texts = ["relocate funds", "chilly or warm", "", "book a flight to paris"]
    weights = np.ascontiguousarray(clf._model.coef_.T)
    assert np.array_equal(clf._linear_scores(texts, weights), _sparse_scores(clf, texts))
    # The embedding's columns follow the n-grams'.
    assert clf._word is not None and clf._char is not None
    ngrams = len(clf._word.vocabulary_) + len(clf._char.vocabulary_)
    columns, _values = clf._feature_rows(["relocate funds"])[0]
    assert columns.max() >= ngrams


def test_rankings_order_ties_by_label_name() -> None:
    from engine.nlu.classifier import _by_confidence

    row = np.array([0.2, 0.5, 0.2, 0.1, 0.5, 0.0])
    expected = [1, 4, 0, 2, 3, 5]
    assert _by_confidence(row, ["a", "b", "c", "d", "e", "f"]) == expected
    # Labels out of name order: ties still go by name.
    assert _by_confidence(row, ["c", "e", "a", "d", "b", "f"]) == [4, 1, 2, 0, 3, 5]
