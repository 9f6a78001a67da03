"""A local Kubernetes API server with a small controller manager and kubelet, for the Kubernetes
runner's tests: see ``tests.kube.apiserver``."""
