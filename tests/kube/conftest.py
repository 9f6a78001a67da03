from tests.kube.fixtures import fake_cluster, kube_api, kubeconfig  # noqa: F401
