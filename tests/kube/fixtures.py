"""pytest fixtures for a local Kubernetes cluster (no Django import).

Use them from a ``conftest.py``::

    from tests.kube.fixtures import fake_cluster, kube_api, kubeconfig  # noqa: F401
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kube.apiserver import FakeCluster, FakeImage

ROOT = Path(__file__).resolve().parents[2]


def studio_image() -> FakeImage:
    """Studio's image: its code importable (``python -m workers.pod``) and its directory."""
    # `python` on its PATH is this interpreter, as in the image (pod.py runs the training
    # command, `python -m engine ...`, as a child of its own).
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "/usr/bin")])
    return FakeImage(
        env={"PATH": path, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}, workdir=str(ROOT)
    )


@pytest.fixture
def fake_cluster() -> Iterator[FakeCluster]:
    """A cluster that knows the image ``studio``, with every duration scaled down tenfold."""
    with FakeCluster(images={"studio": studio_image()}, time_scale=0.1) as cluster:
        yield cluster


@pytest.fixture
def kubeconfig(fake_cluster: FakeCluster, tmp_path: Path) -> Path:
    return fake_cluster.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube_api(kubeconfig: Path):
    """A ``kubernetes.client.ApiClient`` for the fake cluster (the global configuration is left
    alone)."""
    from kubernetes import config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    yield api
    api.close()
