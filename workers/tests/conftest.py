"""The local Kubernetes cluster for the Kubernetes runner's tests."""

from tests.kube.fixtures import fake_cluster, kube_api, kubeconfig  # noqa: F401 - fixtures
