"""Training in merged columns (engine.nlu.classifier.MergedColumns): identical feature columns
train as one, and the classifier is the one training on every column gives."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from engine.nlu.classifier import MergedColumns, TextClassifier
from engine.tests.nlu.test_embeddings import templated

# Columns 0, 2 and 4 are equal, 1 is empty, 3 and 5 differ only in one value.
FEATURES = sp.csr_matrix(
    np.array(
        [
            [0.5, 0.0, 0.5, 0.2, 0.5, 0.2],
            [0.0, 0.0, 0.0, 0.7, 0.0, 0.7],
            [0.3, 0.0, 0.3, 0.0, 0.3, 0.1],
        ],
        dtype=np.float32,
    )
)


def test_equal_columns_merge_and_empty_ones_are_left_out():
    columns = MergedColumns(FEATURES)
    assert columns.width == 3  # {0, 2, 4}, {3}, {5}
    reduced = columns.reduce(FEATURES).toarray()
    assert reduced.dtype == np.float32
    # Three equal columns x become one sqrt(3) * x.
    np.testing.assert_allclose(
        reduced[:, 0], np.sqrt(3) * FEATURES[:, [0]].toarray().ravel(), rtol=1e-6
    )
    weights = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    expanded = columns.expand(weights)
    assert expanded.shape == (2, 6)
    assert (expanded[:, 1] == 0).all()  # the empty column
    np.testing.assert_allclose(
        expanded[:, [0, 2, 4]], np.repeat(weights[:, [0]] / np.sqrt(3), 3, axis=1)
    )
    # The same scores in either space, and project undoes expand.
    np.testing.assert_allclose(reduced @ weights.T, FEATURES.toarray() @ expanded.T, rtol=1e-6)
    np.testing.assert_allclose(columns.project(expanded), weights)


def test_merging_trains_the_model_that_all_columns_train():
    data = templated(n_intents=6, per_intent=12)
    texts = [ex.text for ex in data.examples]
    labels = [ex.intent for ex in data.examples]
    merged = TextClassifier(c=3.0).fit(texts, labels)
    features = merged._featurize_fit(texts)  # the same vectorizers, fitted again
    assert MergedColumns(features).width < features.shape[1] / 2  # most columns merge
    # What training on every column gives, from zero, with the same solver and settings.
    index = {label: i for i, label in enumerate(merged.labels)}
    assert merged._model is not None
    solver = merged._model.solver
    plain = LogisticRegression(C=3.0, solver=solver, tol=1e-4, class_weight="balanced")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain.fit(features, [index[label] for label in labels])
    probe = [*texts, "something else entirely", "move it please", "xyzzy"]
    ours = merged.probabilities(probe)
    theirs = plain.predict_proba(_matrix(merged, probe, features.shape[1]))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()


def _matrix(classifier: TextClassifier, texts: list[str], width: int) -> sp.csr_matrix:
    """The classifier's features of `texts` as a sparse matrix."""
    rows = classifier._feature_rows(texts)
    indptr = np.cumsum([0, *(len(c) for c, _v in rows)])
    values = np.concatenate([v for _c, v in rows])
    columns = np.concatenate([c for c, _v in rows])
    return sp.csr_matrix((values, columns, indptr), shape=(len(texts), width))
