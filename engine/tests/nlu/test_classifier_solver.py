"""The intent classifier's solver: near the exact optimum of its objective on small problems
(Newton-CG), and SAGA when the coefficients would not fit a truncated Newton method."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from engine.nlu.classifier import NEWTON_MAX_PARAMETERS, TextClassifier
from engine.tests.nlu.test_embeddings import templated
from engine.tests.nlu.test_merged_columns import _matrix


def test_a_small_classifier_lands_near_the_exact_optimum():
    data = templated(n_intents=20, per_intent=20)
    texts = [ex.text for ex in data.examples]
    labels = [ex.intent for ex in data.examples]
    ours = TextClassifier(c=10.0).fit(texts, labels)
    features = ours._featurize_fit(texts)
    index = {label: i for i, label in enumerate(ours.labels)}
    # The same objective solved to a tolerance far below the classifier's.
    exact = LogisticRegression(
        C=10.0, solver="lbfgs", tol=1e-10, max_iter=10_000, class_weight="balanced"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exact.fit(features, [index[label] for label in labels])
    probe = [*texts, "something else entirely", "move it please", "xyzzy"]
    optimum = exact.predict_proba(_matrix(ours, probe, features.shape[1]))
    # Newton-CG at the classifier's tolerance (1e-4) ends 0.0003 away on this data; L-BFGS at
    # the same tolerance stopped 0.006 away.
    np.testing.assert_allclose(ours.probabilities(probe), optimum, atol=2e-3)


def test_the_solver_is_newton_cg_up_to_a_million_coefficients_then_saga():
    classifier = TextClassifier()
    classifier.labels = [f"intent_{i}" for i in range(100)]
    assert classifier._solver(NEWTON_MAX_PARAMETERS // 100) == "newton-cg"
    assert classifier._solver(NEWTON_MAX_PARAMETERS // 100 + 1) == "saga"
