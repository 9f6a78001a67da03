"""The engine's trained-object files (engine.pickled): written as plain pickles, and the files
joblib wrote for models trained before still read."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest

from engine import pickled

VALUE = {"weights": np.arange(3000, dtype=np.float64).reshape(30, 100), "labels": ["a", "b"]}


def _same(loaded: dict) -> None:
    np.testing.assert_array_equal(loaded["weights"], VALUE["weights"])
    assert loaded["labels"] == VALUE["labels"]


def test_a_file_it_writes_is_a_plain_pickle(tmp_path):
    path = tmp_path / "model.joblib"
    pickled.dump(VALUE, path)
    _same(pickle.loads(path.read_bytes()))
    _same(pickled.load(path))
    _same(joblib.load(path))  # still readable where joblib reads it


def test_a_file_joblib_wrote_still_loads(tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(VALUE, path)
    with pytest.raises(Exception):  # noqa: B017 (plain pickle cannot read it)
        _same(pickle.loads(path.read_bytes()))
    _same(pickled.load(path))
