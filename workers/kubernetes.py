"""The Kubernetes runner (STUDIO_RUNNER=kubernetes): trainings are Jobs, bots are Deployments.

The consumers keep their roles: a training consumer claims a job, creates its Job, streams the
pod's log onto the row and heartbeats it until the Job ends; a running consumer claims a
deployment, creates the bot's Deployment and Service, waits until the pod is ready, marks the
row live and tends it. What the pods need comes in a Secret per object (the assistant's secrets,
signed links to Studio's web for the input, the model and the training cache:
apps/training/pods.py), never from the consumer's environment; the pods hold no database or
storage credentials.

Objects are named `studio-train-<job>-<attempt>` and `studio-bot-<deployment>-<attempt>` and
carry labels naming the assistant, version, row and attempt. The orchestrator reconciles every
minute (`reconcile`): objects whose row no longer holds that attempt are deleted (a consumer
killed mid-training leaves its Job behind; the row is requeued by the lease reaper and trained
again as a new attempt), and rows whose objects vanished are requeued.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.training import pods as links
from apps.training.models import Deployment, TrainingJob
from engine import formats
from engine.__main__ import AUTH_TOKEN_VARIABLE
from workers.runners import template_command

log = logging.getLogger(__name__)

MANAGED_BY = "app.kubernetes.io/managed-by"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED = {MANAGED_BY: "studio"}
WORK = "/studio"
PROJECT, OUT, MODEL = f"{WORK}/project", f"{WORK}/out", f"{WORK}/model/model.tar.gz"
CACHE = f"{WORK}/cache"  # a training pod's copy of the entries of the cache it uses
CONFIG = f"{WORK}/config"
POD_SCRIPT = f"{WORK}/pod.py"
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# Why a pod will not come up by itself: a bot that reports one of these fails at once.
HOPELESS = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "CrashLoopBackOff",
}
WATCH_SECONDS = 30


def label_value(text: object) -> str:
    """`text` as a label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric ends."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text))[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def merge(base: Any, extra: Any) -> Any:
    """`extra` deep-merged into a copy of `base`: mappings merge, lists of named things
    (containers, volumes, env) merge by name, anything else is replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(extra, list) and _named(base) and _named(extra):
        extras = {item["name"]: item for item in extra}
        merged_list = [merge(item, extras.pop(item["name"], {})) for item in base]
        return merged_list + [copy.deepcopy(item) for item in extras.values()]
    return copy.deepcopy(extra)


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def load_pod_template(path: str) -> dict[str, Any]:
    """STUDIO_KUBERNETES_POD_TEMPLATE: a YAML mapping with `metadata` and `spec` (merged into
    every pod), and `training` / `bot` (the same, for those pods only)."""
    if not path:
        return {}
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise ImproperlyConfigured(f"STUDIO_KUBERNETES_POD_TEMPLATE {path}: {exc}") from None
    if data is None:
        return {}
    allowed = {"metadata", "spec", "training", "bot"}
    if not isinstance(data, dict) or set(data) - allowed:
        found = sorted(data) if isinstance(data, dict) else repr(data)
        raise ImproperlyConfigured(
            f"STUDIO_KUBERNETES_POD_TEMPLATE {path}: a mapping with the keys "
            f"{', '.join(sorted(allowed))} (found {found})."
        )
    return data


# -- the objects ------------------------------------------------------------------------------


@dataclass
class PodSettings:
    """What every pod gets from the settings (read once, when the runner is made)."""

    namespace: str
    image: str
    training_image: str
    bot_image: str
    pull_policy: str
    pull_secrets: list[str]
    service_account: str
    node_selector: dict[str, str]
    template: dict[str, Any]
    web_url: str
    bot_port: int
    bot_url: str
    job_ttl: int
    engine: str
    cache: bool = False

    @property
    def training_cache(self) -> bool:
        """Whether training pods reuse the assistant's training cache (the built-in engine's)."""
        return self.cache and self.engine == "builtin"

    @classmethod
    def from_settings(cls) -> PodSettings:
        image = settings.STUDIO_KUBERNETES_IMAGE
        training_image = settings.STUDIO_KUBERNETES_TRAINING_IMAGE or image
        return cls(
            namespace=settings.STUDIO_KUBERNETES_NAMESPACE or own_namespace(),
            image=image,
            training_image=training_image,
            bot_image=settings.STUDIO_KUBERNETES_BOT_IMAGE or training_image,
            pull_policy=settings.STUDIO_KUBERNETES_IMAGE_PULL_POLICY,
            pull_secrets=list(settings.STUDIO_KUBERNETES_IMAGE_PULL_SECRETS),
            service_account=settings.STUDIO_KUBERNETES_SERVICE_ACCOUNT,
            node_selector=dict(
                pair.split("=", 1) for pair in settings.STUDIO_KUBERNETES_NODE_SELECTOR
            ),
            template=load_pod_template(settings.STUDIO_KUBERNETES_POD_TEMPLATE),
            web_url=settings.STUDIO_KUBERNETES_WEB_URL.rstrip("/"),
            bot_port=settings.STUDIO_KUBERNETES_BOT_PORT,
            bot_url=settings.STUDIO_KUBERNETES_BOT_URL,
            job_ttl=settings.STUDIO_KUBERNETES_JOB_TTL_SECONDS,
            engine=settings.STUDIO_ENGINE,
            cache=settings.STUDIO_TRAINING_CACHE,
        )

    def link(self, purpose: str, row: TrainingJob | Deployment) -> str:
        """A signed link to Studio's web for one attempt of a row (apps/training/pods.py)."""
        return self.web_url + links.signed_path(purpose, row.pk, row.attempts)


def own_namespace() -> str:
    try:
        return IN_CLUSTER_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


SECURE_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
RESOURCES = {
    "training": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "8Gi"}},
    "bot": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
    "fetch": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
}


def _secret_env(secret: str, keys: list[str]) -> list[dict[str, Any]]:
    plain = [
        {"name": "HOME", "value": f"{WORK}/home"},
        {"name": "TMPDIR", "value": f"{WORK}/tmp"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    return plain + [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for key in keys
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key)
    ]


def _pod_spec(
    pods: PodSettings, kind: str, containers: list[dict[str, Any]], fetch: dict[str, Any]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [fetch],
        "containers": containers,
    }
    if pods.service_account:
        spec["serviceAccountName"] = pods.service_account
    if pods.pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in pods.pull_secrets]
    if pods.node_selector:
        spec["nodeSelector"] = dict(pods.node_selector)
    template = pods.template
    spec = merge(spec, template.get("spec") or {})
    merged: dict[str, Any] = merge(spec, (template.get(kind) or {}).get("spec") or {})
    return merged


def _pod_metadata(pods: PodSettings, kind: str, labels: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": dict(labels)}
    for extra in (pods.template.get("metadata"), (pods.template.get(kind) or {}).get("metadata")):
        metadata = merge(metadata, extra or {})
    metadata["labels"] = {**metadata.get("labels", {}), **labels}  # ours always win
    return metadata


def _container(
    pods: PodSettings, name: str, image: str, command: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": pods.pull_policy,
        "command": command,
        "securityContext": dict(SECURE_CONTAINER),
        "volumeMounts": [{"name": "work", "mountPath": WORK}],
        **extra,
    }


def _fetch_container(
    pods: PodSettings, variable: str, into: str, *, extract: bool, env: list[dict[str, Any]]
) -> dict[str, Any]:
    command = ["python", "-m", "workers.pod", "fetch", "--url-env", variable]
    command += ["--extract"] if extract else []
    command += ["--into", into, "--copy-self", POD_SCRIPT]
    return _container(
        pods, "fetch", pods.image, command, env=env, resources=copy.deepcopy(RESOURCES["fetch"])
    )


def _labels(kind: str, row: TrainingJob | Deployment, consumer: str) -> dict[str, str]:
    key = "studio/job" if kind == "training" else "studio/deployment"
    return {
        **MANAGED,
        NAME_LABEL: f"studio-{kind}",
        "studio/assistant": label_value(row.assistant.name),
        "studio/version": str(row.version.number),
        key: str(row.pk),
        "studio/attempt": str(row.attempts),
        "studio/consumer": label_value(consumer),
    }


def _secret(name: str, labels: dict[str, str], values: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": labels},
        "type": "Opaque",
        "stringData": dict(values),
    }


def training_command(pods: PodSettings, model_name: str) -> list[str]:
    """What the training container runs after the fetch: pod.py around the engine's command."""
    if pods.engine == "rasa":
        train = template_command(
            settings.STUDIO_RASA_TRAIN_COMMAND, project=PROJECT, out=OUT, name=model_name
        )
    else:
        train = ["python", "-m", "engine", "train", PROJECT, "--out", OUT]
        train += ["--fixed-model-name", model_name]
        if pods.training_cache:  # entries come from the storage, one by one, through the web
            train += ["--cache", CACHE, "--cache-url-env", "STUDIO_CACHE_URL"]
    wrapper = ["python", POD_SCRIPT, "train", "--out", OUT, "--name", model_name]
    return [*wrapper, "--upload-env", "STUDIO_OUTPUT_URL", "--", *train]


def training_objects(
    pods: PodSettings, job: TrainingJob, consumer: str, env: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Secret and the Job of one attempt of a training."""
    name = f"studio-train-{job.pk}-{job.attempts}"
    labels = _labels("training", job, consumer)
    values = {
        **env,
        "STUDIO_INPUT_URL": pods.link("training-input", job),
        "STUDIO_OUTPUT_URL": pods.link("training-model", job),
    }
    if pods.training_cache:
        values["STUDIO_CACHE_URL"] = pods.link("training-cache", job)
    secret_env = _secret_env(name, sorted(values))
    model_name = f"{job.assistant.name}-{job.version.number}"
    train = _container(
        pods,
        "train",
        pods.training_image,
        training_command(pods, model_name),
        workingDir=PROJECT,
        env=secret_env,
        resources=copy.deepcopy(RESOURCES["training"]),
    )
    fetch = _fetch_container(pods, "STUDIO_INPUT_URL", PROJECT, extract=True, env=secret_env)
    spec = {**_pod_spec(pods, "training", [train], fetch), "restartPolicy": "Never"}
    job_object = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": settings.STUDIO_TRAINING_TIMEOUT,
            "ttlSecondsAfterFinished": pods.job_ttl,
            "template": {"metadata": _pod_metadata(pods, "training", labels), "spec": spec},
        },
    }
    return _secret(name, labels, values), job_object


def bot_command(pods: PodSettings) -> list[str]:
    port = str(pods.bot_port)
    if pods.engine == "rasa":
        return template_command(
            settings.STUDIO_RASA_RUN_COMMAND,
            model=MODEL,
            port=port,
            endpoints=f"{CONFIG}/endpoints.yml",
        )
    command = ["python", "-m", "engine", "serve", MODEL, "--host", "0.0.0.0", "--port", port]
    command += ["--endpoints", f"{CONFIG}/endpoints.yml", "--auth-webhooks"]
    return [*command, "--blocked-networks", ",".join(settings.STUDIO_BLOCKED_NETWORKS)]


def pod_endpoints(endpoints_text: str) -> str:
    """The version's endpoints.yml, its events sent to Studio's Kafka topic when Studio reads
    one (KAFKA_BOOTSTRAP_SERVERS), so the ingester sees the conversations people have."""
    if not settings.KAFKA_BOOTSTRAP_SERVERS:
        return endpoints_text
    broker: dict[str, Any] = {
        "type": "kafka",
        "url": settings.KAFKA_BOOTSTRAP_SERVERS,
        "topic": settings.KAFKA_TOPIC,
        "security_protocol": settings.KAFKA_SECURITY_PROTOCOL,
    }
    if settings.KAFKA_SECURITY_PROTOCOL.startswith("SASL_"):
        broker["sasl_mechanism"] = settings.KAFKA_SASL_MECHANISM
        broker["sasl_username"] = settings.KAFKA_SASL_USERNAME
        broker["sasl_password"] = settings.KAFKA_SASL_PASSWORD or ""
    return formats.with_event_broker(endpoints_text, broker)


def bot_objects(
    pods: PodSettings, deployment: Deployment, consumer: str, env: dict[str, str], token: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The Secret, the Deployment and the Service of one attempt of a bot."""
    name = f"studio-bot-{deployment.pk}-{deployment.attempts}"
    labels = _labels("bot", deployment, consumer)
    selector = {
        MANAGED_BY: "studio",
        "studio/deployment": labels["studio/deployment"],
        "studio/attempt": labels["studio/attempt"],
    }
    values = {
        **env,
        "STUDIO_MODEL_URL": pods.link("bot-model", deployment),
    }
    if token:
        values[AUTH_TOKEN_VARIABLE] = token
    secret = _secret(name, labels, values)
    secret["stringData"]["endpoints.yml"] = pod_endpoints(
        deployment.version.input_files.get("endpoints.yml", "")
    )
    secret_env = _secret_env(name, sorted(values))
    port = pods.bot_port
    bot = _container(
        pods,
        "bot",
        pods.bot_image,
        bot_command(pods),
        env=secret_env,
        ports=[{"name": "http", "containerPort": port}],
        readinessProbe={
            "exec": {"command": ["python", POD_SCRIPT, "ready", "--port", str(port)]},
            "periodSeconds": 3,
            "timeoutSeconds": 3,
            "failureThreshold": 2,
        },
        resources=copy.deepcopy(RESOURCES["bot"]),
    )
    bot["volumeMounts"].append({"name": "config", "mountPath": CONFIG, "readOnly": True})
    fetch = _fetch_container(pods, "STUDIO_MODEL_URL", MODEL, extract=False, env=secret_env)
    spec = _pod_spec(pods, "bot", [bot], fetch)
    spec["volumes"].append(
        {
            "name": "config",
            "secret": {
                "secretName": name,
                "items": [{"key": "endpoints.yml", "path": "endpoints.yml"}],
            },
        }
    )
    deployment_object = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": _pod_metadata(pods, "bot", labels), "spec": spec},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }
    return secret, deployment_object, service


# -- talking to the API server ------------------------------------------------------------------


class Cluster:
    """The API clients for the runner's namespace (in-cluster config, or a kubeconfig)."""

    def __init__(self, namespace: str, kubeconfig: str = "") -> None:
        from kubernetes import client, config

        if kubeconfig:
            configuration = client.Configuration()
            config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            configuration = client.Configuration()
            try:
                config.load_incluster_config(client_configuration=configuration)
            except config.ConfigException:
                config.load_kube_config(client_configuration=configuration)
        self.api = client.ApiClient(configuration)
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.namespace = namespace

    def create(self, manifest: dict[str, Any]) -> None:
        kind, ns = manifest["kind"], self.namespace
        create = {
            "Secret": self.core.create_namespaced_secret,
            "Service": self.core.create_namespaced_service,
            "Job": self.batch.create_namespaced_job,
            "Deployment": self.apps.create_namespaced_deployment,
        }[kind]
        create(ns, manifest)

    def delete(self, kind: str, name: str) -> bool:
        """Delete an object (its pods in the background); False when it was already gone."""
        from kubernetes.client.exceptions import ApiException

        delete = {
            "Secret": self.core.delete_namespaced_secret,
            "Service": self.core.delete_namespaced_service,
            "Job": self.batch.delete_namespaced_job,
            "Deployment": self.apps.delete_namespaced_deployment,
        }[kind]
        try:
            delete(name, self.namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def listed(self, kind: str, selector: str) -> list[Any]:
        lister = {
            "Secret": self.core.list_namespaced_secret,
            "Service": self.core.list_namespaced_service,
            "Job": self.batch.list_namespaced_job,
            "Deployment": self.apps.list_namespaced_deployment,
            "Pod": self.core.list_namespaced_pod,
        }[kind]
        return list(lister(self.namespace, label_selector=selector).items)

    def pods(self, selector: str) -> list[Any]:
        """The pods with these labels, newest first."""
        pods = self.listed("Pod", selector)
        return sorted(pods, key=lambda pod: pod.metadata.creation_timestamp or 0, reverse=True)


def watch_objects(
    list_function: Callable[..., Any],
    namespace: str,
    stopping: threading.Event,
    **selector: str,
) -> Iterator[tuple[str, Any]]:
    """("LISTED"|"ADDED"|"MODIFIED"|"DELETED", object) for the selected objects, until
    `stopping` is set: a list, then a watch from its resourceVersion; after a 410 Gone (the
    history was compacted) it lists again. Network errors wait a second and go on."""
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    version = None
    while not stopping.is_set():
        try:
            if version is None:
                listed = list_function(namespace, **selector)
                version = listed.metadata.resource_version
                for item in listed.items:
                    yield "LISTED", item
                if not listed.items:
                    yield "LISTED", None
            stream = watch.Watch().stream(
                list_function,
                namespace,
                resource_version=version,
                timeout_seconds=WATCH_SECONDS,
                **selector,
            )
            for event in stream:
                version = event["object"].metadata.resource_version or version
                yield event["type"], event["object"]
                if stopping.is_set():
                    return
        except ApiException as exc:
            if exc.status == 410:
                version = None  # too old: start again from a fresh list
                continue
            log.warning("Kubernetes watch: %s", exc)
            stopping.wait(1)
        except Exception as exc:  # the connection dropped, the API server restarted...
            log.warning("Kubernetes watch: %s", exc)
            stopping.wait(1)


class PodLogs:
    """Follows the log of one container of the newest pod with some labels, in a thread, into a
    list read without blocking. It reconnects when the stream drops, skipping the lines it
    already has (by their timestamps), until the container has terminated or `stop()` is called.
    The init container `fetch` comes first: when a pod never gets further, its log says why."""

    def __init__(self, cluster: Cluster, selector: str, container: str) -> None:
        self.cluster, self.selector, self.container = cluster, selector, container
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def new_lines(self) -> list[str]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        for container in ("fetch", self.container):
            cursor = LogCursor()
            while not self._stopping.is_set():
                try:
                    state = self._read_until_it_ends(container, cursor)
                except Exception as exc:  # the API server is away: try again
                    log.debug("pod log of %s: %s", self.selector, exc)
                    state = "unknown"
                if state == "terminated":
                    break
                if state == "gone":
                    return
                self._stopping.wait(1)

    def _read_until_it_ends(self, container: str, cursor: LogCursor) -> str:
        """Follow the container's log while there is one; then its state (see
        _container_state), or 'absent' while the pod does not exist yet."""
        pod = next(iter(self.cluster.pods(self.selector)), None)
        if pod is None:
            return "absent"
        if _container_state(pod, container) == "waiting":
            return "waiting"
        self._follow(pod.metadata.name, container, cursor)
        return _container_state(pod_now(self.cluster, pod), container)

    def _follow(self, pod: str, container: str, cursor: LogCursor) -> None:
        from kubernetes.client.exceptions import ApiException

        cursor.restart()
        try:
            response = self.cluster.core.read_namespaced_pod_log(
                pod,
                self.cluster.namespace,
                container=container,
                follow=True,
                timestamps=True,
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status in (400, 404):  # it never ran (its pod failed first), or is gone
                return
            raise
        try:
            for raw in response:
                text = cursor.take(raw.decode("utf-8", "replace").rstrip("\n"))
                if text is not None:
                    with self._lock:
                        self._lines.append(text)
                if self._stopping.is_set():
                    return
        finally:
            response.release_conn()


class LogCursor:
    """Where a log was read up to: lines come with RFC 3339 timestamps, and a reconnected stream
    starts from the beginning again; lines at or before the cursor are skipped."""

    def __init__(self) -> None:
        self.stamp = ""
        self.at_stamp = 0  # lines taken with exactly that timestamp
        self._replayed = 0

    def take(self, line: str) -> str | None:
        stamp, _, text = line.partition(" ")
        stamp = comparable_stamp(stamp)
        if stamp < self.stamp:
            return None
        if stamp == self.stamp:
            self._replayed += 1
            if self._replayed <= self.at_stamp:
                return None
            self.at_stamp += 1
            return text
        self.stamp, self.at_stamp, self._replayed = stamp, 1, 1
        return text

    def restart(self) -> None:
        self._replayed = 0


def comparable_stamp(stamp: str) -> str:
    """An RFC 3339 timestamp that compares as text in time order: its fraction padded to
    nanoseconds (the kubelet trims trailing zeros, so '11.5Z' is after '11.45Z')."""
    match = re.fullmatch(r"([^.Z+]+)(?:\.(\d+))?(.*)", stamp)
    if match is None:
        return stamp
    whole, fraction, zone = match.groups()
    return f"{whole}.{(fraction or '').ljust(9, '0')}{zone}"


def pod_now(cluster: Cluster, pod: Any) -> Any | None:
    from kubernetes.client.exceptions import ApiException

    try:
        return cluster.core.read_namespaced_pod(pod.metadata.name, cluster.namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _statuses(pod: Any) -> list[Any]:
    status = pod.status
    return [*(status.init_container_statuses or []), *(status.container_statuses or [])]


def _container_state(pod: Any | None, container: str) -> str:
    """'gone' (no pod), 'waiting', 'running' or 'terminated' (a failed init container means the
    later ones will never run: 'terminated' for them too)."""
    if pod is None:
        return "gone"
    if pod.status.phase in ("Succeeded", "Failed") and container != "fetch":
        return "terminated"
    for status in _statuses(pod):
        if status.name == container and status.state is not None:
            if status.state.terminated is not None:
                return "terminated"
            if status.state.running is not None:
                return "running"
    return "waiting"


def pod_reason(pod: Any | None) -> str:
    """Why a pod is not (or no longer) doing its work, as Kubernetes says it."""
    if pod is None:
        return "Its pod is gone."
    reasons = []
    for status in _statuses(pod):
        state, last = status.state, status.last_state
        if state and state.waiting and state.waiting.reason not in (None, "PodInitializing"):
            reasons.append(f"{status.name}: {state.waiting.reason} {state.waiting.message or ''}")
        terminated = (state and state.terminated) or (last and last.terminated)
        if terminated and terminated.exit_code:
            reasons.append(
                f"{status.name}: exited with code {terminated.exit_code}"
                f" ({terminated.reason or 'Error'}) {terminated.message or ''}"
            )
    for condition in pod.status.conditions or []:
        if condition.status != "True" and (condition.reason or condition.message):
            reasons.append(f"{condition.type}: {condition.reason or ''} {condition.message or ''}")
    return "; ".join(reason.strip() for reason in reasons) or f"Pod phase {pod.status.phase}."


# -- trainings and bots -------------------------------------------------------------------------


class RunnerError(Exception):
    """Kubernetes refused to create what a training or bot needs; the message says why."""


def _refusal(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            import json

            return str(json.loads(body).get("message") or body)
        except (ValueError, AttributeError):
            return str(body)[:1000]
    return str(exc)


class PodTraining:
    """A training's Job, behind the methods of a local child (`new_lines`, `poll`,
    `finish_reading`, `stop`). A thread watches the Job; `poll()` is its exit code once it has
    ended: 0 succeeded, 1 failed (`reason` says why), -1 the Job was deleted."""

    def __init__(self, cluster: Cluster, name: str, selector: str) -> None:
        self.cluster, self.name, self.selector = cluster, name, selector
        self.returncode: int | None = None
        self.reason = ""
        self._stopping = threading.Event()
        self._ended = threading.Event()
        self.logs = PodLogs(cluster, selector, "train")
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        for event, job in watch_objects(
            self.cluster.batch.list_namespaced_job,
            self.cluster.namespace,
            self._stopping,
            field_selector=f"metadata.name={self.name}",
        ):
            if event == "DELETED" or job is None:
                self._end(-1, "Its Job was deleted.")
            else:
                self._read(job)
            if self._ended.is_set():
                return

    def _read(self, job: Any) -> None:
        status = job.status
        if status is None:
            return
        if status.succeeded:
            self._end(0, "")
            return
        failed = [c for c in status.conditions or [] if c.type == "Failed" and c.status == "True"]
        if status.failed or failed:
            reason = "; ".join(f"{c.reason}: {c.message}" for c in failed) or "The pod failed."
            try:
                pod = next(iter(self.cluster.pods(self.selector)), None)
                reason += f" ({pod_reason(pod)})" if pod is not None else ""
            except Exception as exc:
                log.debug("reading the pod of %s: %s", self.name, exc)
            self._end(1, reason)

    def _end(self, code: int, reason: str) -> None:
        if not self._ended.is_set():
            self.returncode, self.reason = code, reason
            self._ended.set()

    @property
    def pid(self) -> str:
        return self.name

    def new_lines(self) -> list[str]:
        return self.logs.new_lines()

    def poll(self) -> int | None:
        return self.returncode

    def finish_reading(self, timeout: float = 10) -> None:
        self.logs.join(timeout)

    def stop(self, grace: float = 10) -> int:
        """Delete the Job (its pod in the background) and its Secret."""
        self._stopping.set()
        self.logs.stop()
        for kind in ("Job", "Secret"):
            try:
                self.cluster.delete(kind, self.name)
            except Exception as exc:  # the reconciliation deletes it later
                log.warning("Could not delete %s %s: %s", kind, self.name, exc)
        self._end(-15, "Stopped.")
        return self.returncode if self.returncode is not None else -15


class PodBot:
    """A bot's Deployment and Service, behind the methods the running consumer uses: `url`,
    `token`, `is_ready()`, `exited()` (why it will not serve, or None), `new_lines()`, `stop()`."""

    def __init__(self, cluster: Cluster, name: str, selector: str, url: str, token: str) -> None:
        self.cluster, self.name, self.selector = cluster, name, selector
        self.url, self.token = url, token
        self._ready = False
        self._failure: str | None = None
        self._pod: Any = None
        self._stopping = threading.Event()
        self.logs = PodLogs(cluster, selector, "bot")
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        pods: dict[str, Any] = {}
        for event, pod in watch_objects(
            self.cluster.core.list_namespaced_pod,
            self.cluster.namespace,
            self._stopping,
            label_selector=self.selector,
        ):
            if pod is None:
                continue
            if event == "DELETED":
                pods.pop(pod.metadata.name, None)
            else:
                pods[pod.metadata.name] = pod
            self._read(list(pods.values()))

    def _read(self, pods: list[Any]) -> None:
        self._ready = any(_is_ready(pod) for pod in pods)
        newest = max(pods, key=lambda pod: pod.metadata.creation_timestamp or 0, default=None)
        self._pod = newest
        if newest is not None and not self._ready:
            for status in _statuses(newest):
                waiting = status.state and status.state.waiting
                terminated = status.state and status.state.terminated
                if waiting and waiting.reason in HOPELESS:
                    self._failure = pod_reason(newest)
                if status.name == "fetch" and terminated and terminated.exit_code:
                    self._failure = pod_reason(newest)

    def is_ready(self) -> bool:
        return self._ready

    def exited(self) -> str | None:
        return self._failure

    def reason(self) -> str:
        """Why the bot is not ready, as its pod says, with the last lines a crashed bot
        printed (its log streams only while it runs)."""
        try:
            pod = next(iter(self.cluster.pods(self.selector)), None)
        except Exception:
            pod = self._pod
        return pod_reason(pod) + "".join(f"\n{line}" for line in self._last_words(pod))

    def _last_words(self, pod: Any, lines: int = 20) -> list[str]:
        status = next((s for s in _statuses(pod) if s.name == "bot"), None) if pod else None
        if status is None or not status.restart_count:
            return []
        try:
            text = self.cluster.core.read_namespaced_pod_log(
                pod.metadata.name,
                self.cluster.namespace,
                container="bot",
                previous=True,
                tail_lines=lines,
            )
        except Exception as exc:
            log.debug("the previous log of %s: %s", pod.metadata.name, exc)
            return []
        return str(text).splitlines()

    def new_lines(self) -> list[str]:
        return self.logs.new_lines()

    def stop(self, grace: float = 10) -> None:
        self._stopping.set()
        self.logs.stop()
        for kind in ("Deployment", "Service", "Secret"):
            try:
                self.cluster.delete(kind, self.name)
            except Exception as exc:  # the reconciliation deletes it later
                log.warning("Could not delete %s %s: %s", kind, self.name, exc)


def _is_ready(pod: Any) -> bool:
    return any(
        condition.type == "Ready" and condition.status == "True"
        for condition in pod.status.conditions or []
    )


class KubernetesRunner:
    """Starts trainings as Jobs and bots as Deployments (see the module's docstring)."""

    local = False

    def __init__(self, pods: PodSettings | None = None, cluster: Cluster | None = None) -> None:
        self.pods = pods or PodSettings.from_settings()
        self._cluster = cluster

    @property
    def engine(self) -> str:
        return self.pods.engine

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = Cluster(self.pods.namespace, settings.STUDIO_KUBERNETES_KUBECONFIG)
        return self._cluster

    def _create(self, manifests: list[dict[str, Any]]) -> None:
        """Create the objects in order; an object left from an earlier try of the same attempt
        is replaced. On a refusal, what was created is deleted again."""
        from kubernetes.client.exceptions import ApiException

        created: list[dict[str, Any]] = []
        try:
            for manifest in manifests:
                try:
                    self.cluster.create(manifest)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    self.cluster.delete(manifest["kind"], manifest["metadata"]["name"])
                    self.cluster.create(manifest)
                created.append(manifest)
        except ApiException as exc:
            for manifest in reversed(created):
                self.cluster.delete(manifest["kind"], manifest["metadata"]["name"])
            kind = manifests[len(created)]["kind"]
            raise RunnerError(f"Kubernetes refused the {kind}: {_refusal(exc)}") from None

    def start_training(self, job: TrainingJob, consumer: str, env: dict[str, str]) -> PodTraining:
        secret, job_object = training_objects(self.pods, job, consumer, env)
        self._create([secret, job_object])
        selector = f"studio/job={job.pk},studio/attempt={job.attempts},{MANAGED_BY}=studio"
        return PodTraining(self.cluster, job_object["metadata"]["name"], selector)

    def start_bot(
        self, deployment: Deployment, consumer: str, env: dict[str, str], token: str = ""
    ) -> PodBot:
        if self.engine == "builtin":
            token = token or secrets.token_urlsafe(32)  # the engine then refuses other callers
        secret, deployment_object, service = bot_objects(
            self.pods, deployment, consumer, env, token
        )
        self._create([secret, service, deployment_object])
        name = deployment_object["metadata"]["name"]
        selector = (
            f"studio/deployment={deployment.pk},studio/attempt={deployment.attempts},"
            f"{MANAGED_BY}=studio"
        )
        url = self.pods.bot_url.format(
            service=name, namespace=self.pods.namespace, port=self.pods.bot_port
        )
        return PodBot(self.cluster, name, selector, url, token)


# -- the orchestrator's reconciliation --------------------------------------------------------


def _row_key(item: Any, row_label: str) -> tuple[int, int] | None:
    labels = item.metadata.labels or {}
    try:
        return int(labels[row_label]), int(labels["studio/attempt"])
    except (KeyError, ValueError):
        return None


def reconcile(runner: KubernetesRunner | None = None) -> dict[str, int]:
    """Delete objects whose row no longer holds their attempt; requeue rows (older than the
    lease) whose objects are gone. A no-op unless STUDIO_RUNNER=kubernetes."""
    if runner is None:
        if settings.STUDIO_RUNNER != "kubernetes":
            return {}
        runner = KubernetesRunner()
    cluster = runner.cluster
    counts = {"objects_deleted": 0, "jobs_requeued": 0, "deployments_requeued": 0}
    kinds = {
        "training": ("studio/job", ("Job", "Secret")),
        "bot": ("studio/deployment", ("Deployment", "Service", "Secret")),
    }
    live = {
        "training": set(
            TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING).values_list(
                "pk", "attempts"
            )
        ),
        "bot": set(Deployment.objects.holding_a_bot().values_list("pk", "attempts")),
    }
    present: dict[str, set[tuple[int, int]]] = {"training": set(), "bot": set()}
    for kind, (row_label, object_kinds) in kinds.items():
        selector = f"{MANAGED_BY}=studio,{NAME_LABEL}=studio-{kind}"
        for object_kind in object_kinds:
            for item in cluster.listed(object_kind, selector):
                key = _row_key(item, row_label)
                if key is not None and key in live[kind]:
                    if object_kind in ("Job", "Deployment"):
                        present[kind].add(key)
                    continue
                if cluster.delete(object_kind, item.metadata.name):
                    counts["objects_deleted"] += 1
    settled = timezone.now() - timedelta(seconds=settings.STUDIO_LEASE_SECONDS)
    for pk, attempts in live["training"] - present["training"]:
        counts["jobs_requeued"] += TrainingJob.objects.filter(
            pk=pk, attempts=attempts, status=TrainingJob.Status.RUNNING, started_at__lt=settled
        ).update(
            status=TrainingJob.Status.QUEUED,
            worker_id="",
            progress="Requeued: its Kubernetes Job was gone.",
        )
    for pk, attempts in live["bot"] - present["bot"]:
        counts["deployments_requeued"] += Deployment.objects.filter(
            pk=pk,
            attempts=attempts,
            status__in=[Deployment.Status.STARTING, Deployment.Status.LIVE],
            started_at__lt=settled,
        ).update(status=Deployment.Status.QUEUED, consumer_id="", bot_url="")
    return counts


RECONCILE_SCHEDULE = "studio: reconcile Kubernetes objects with their rows"


def ensure_schedules() -> None:
    from apps.projects.periodic import ensure_schedule

    ensure_schedule(RECONCILE_SCHEDULE, "workers.kubernetes.reconcile", minutes=1)
