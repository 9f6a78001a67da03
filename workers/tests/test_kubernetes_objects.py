"""The objects the Kubernetes runner sends, checked against the Kubernetes schema and for what
they must and must not hold (no consumer secrets, the signed links, labels, settings)."""

from __future__ import annotations

import kubernetes_validate
import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.training.models import Deployment, ModelVersion, TrainingJob
from workers import kubernetes as kube

KUBERNETES_VERSION = "1.35.0"


def valid(manifest: dict) -> dict:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    return manifest


@pytest.fixture
def pods(settings) -> kube.PodSettings:
    settings.STUDIO_KUBERNETES_NAMESPACE = "studio-test"
    settings.STUDIO_KUBERNETES_IMAGE = "registry.example/studio:1.2"
    settings.STUDIO_KUBERNETES_WEB_URL = "http://studio-web:8000/"
    return kube.PodSettings.from_settings()


@pytest.fixture
def job(assistant) -> TrainingJob:
    version = ModelVersion.objects.create(
        assistant=assistant, number=3, input_files={"domain.yml": "intents: [greet]\n"}
    )
    return TrainingJob.objects.create(
        assistant=assistant, version=version, status="running", attempts=2
    )


@pytest.fixture
def deployment(assistant) -> Deployment:
    version = ModelVersion.objects.create(
        assistant=assistant,
        number=4,
        input_files={"endpoints.yml": "action_endpoint:\n  url: http://actions:5055/webhook\n"},
        model_file="models/alpha/4.tar.gz",
    )
    return Deployment.objects.create(
        assistant=assistant, version=version, status="starting", attempts=1
    )


def env_names(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container["env"]}


def test_a_training_is_a_job_and_a_secret_that_kubernetes_accepts(pods, job):
    secret, manifest = kube.training_objects(pods, job, "training-host-1", {"API_KEY": "s3cr3t"})
    valid(secret)
    valid(manifest)
    assert manifest["metadata"]["name"] == secret["metadata"]["name"] == f"studio-train-{job.pk}-2"
    spec = manifest["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["ttlSecondsAfterFinished"] == 3600
    labels = manifest["metadata"]["labels"]
    assert labels["studio/job"] == str(job.pk) and labels["studio/attempt"] == "2"
    assert labels["studio/assistant"] == "alpha" and labels["studio/version"] == "3"
    assert labels["app.kubernetes.io/managed-by"] == "studio"
    assert spec["template"]["metadata"]["labels"] == labels
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    (fetch,) = pod["initContainers"]
    (train,) = pod["containers"]
    assert fetch["image"] == train["image"] == "registry.example/studio:1.2"
    assert fetch["command"][:4] == ["python", "-m", "workers.pod", "fetch"]
    assert train["command"][:3] == ["python", "/studio/pod.py", "train"]
    assert train["command"][train["command"].index("--") + 1 :] == [
        *("python", "-m", "engine", "train", "/studio/project"),
        *("--out", "/studio/out", "--fixed-model-name", "alpha-3"),
        # The training cache: entries through the signed link in $STUDIO_CACHE_URL.
        *("--cache", "/studio/cache", "--cache-url-env", "STUDIO_CACHE_URL"),
    ]
    assert "--upload-env" in train["command"] and train["workingDir"] == "/studio/project"
    # Every value comes from the Secret: nothing secret in the Job itself.
    for container in (fetch, train):
        names = env_names(container)
        assert names["API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
        assert "value" not in names["STUDIO_INPUT_URL"]
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "s3cr3t" not in str(manifest)
    values = secret["stringData"]
    assert values["API_KEY"] == "s3cr3t"
    assert values["STUDIO_INPUT_URL"].startswith("http://studio-web:8000/pods/training/")
    assert values["STUDIO_OUTPUT_URL"].endswith("/model")
    assert values["STUDIO_CACHE_URL"].startswith("http://studio-web:8000/pods/training/")
    assert values["STUDIO_CACHE_URL"].endswith("/cache")
    assert "SECRET_KEY" not in values and "DATABASE_URL" not in values


def test_a_bot_is_a_deployment_a_service_and_a_secret(pods, deployment):
    secret, manifest, service = kube.bot_objects(pods, deployment, "running-1", {}, "tok")
    for item in (secret, manifest, service):
        valid(item)
    name = f"studio-bot-{deployment.pk}-1"
    assert {item["metadata"]["name"] for item in (secret, manifest, service)} == {name}
    assert manifest["spec"]["replicas"] == 1
    selector = manifest["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector
    assert selector.items() <= manifest["spec"]["template"]["metadata"]["labels"].items()
    (bot,) = manifest["spec"]["template"]["spec"]["containers"]
    probe = bot["readinessProbe"]["exec"]["command"]
    assert probe == ["python", "/studio/pod.py", "ready", "--port", "5005"]
    assert bot["command"][:4] == ["python", "-m", "engine", "serve"]
    assert "0.0.0.0" in bot["command"]
    assert env_names(bot)["ENGINE_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == (
        "ENGINE_AUTH_TOKEN"
    )
    assert "tok" not in str(manifest)
    assert secret["stringData"]["ENGINE_AUTH_TOKEN"] == "tok"
    assert "action_endpoint" in secret["stringData"]["endpoints.yml"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 5005, "targetPort": "http"}]


def test_with_kafka_the_bots_events_go_to_studios_topic(pods, deployment, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = "kafka:9092"
    settings.KAFKA_TOPIC = "rasa-events"
    secret, _, _ = kube.bot_objects(pods, deployment, "running-1", {}, "")
    endpoints = secret["stringData"]["endpoints.yml"]
    assert "type: kafka" in endpoints and "kafka:9092" in endpoints and "rasa-events" in endpoints
    assert "action_endpoint" in endpoints


def test_a_rasa_pro_image_trains_and_serves_with_the_rasa_commands(settings, job, deployment):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_KUBERNETES_TRAINING_IMAGE = "rasa/rasa-pro:3.12.0"
    pods = kube.PodSettings.from_settings()
    secret, manifest = kube.training_objects(pods, job, "c", {"RASA_PRO_LICENSE": "lic"})
    assert "STUDIO_CACHE_URL" not in secret["stringData"]  # Rasa trains as it does
    pod = manifest["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == "studio:latest"  # pod.py comes from Studio's
    train = pod["containers"][0]
    assert train["image"] == "rasa/rasa-pro:3.12.0"
    after = train["command"][train["command"].index("--") + 1 :]
    assert after[:2] == ["rasa", "train"] and "--cache" not in after
    assert "/studio/project/domain.yml" in after and "alpha-3" in after
    _, bot_manifest, _ = kube.bot_objects(pods, deployment, "c", {}, "")
    bot = bot_manifest["spec"]["template"]["spec"]["containers"][0]
    assert bot["image"] == "rasa/rasa-pro:3.12.0"  # the bot image defaults to the training one
    assert bot["command"][:2] == ["rasa", "run"]
    assert "ENGINE_AUTH_TOKEN" not in env_names(bot)


def test_settings_and_the_pod_template_shape_every_pod(settings, tmp_path, job, deployment):
    template = tmp_path / "pods.yaml"
    template.write_text(
        "metadata:\n  annotations: {team: bots}\n"
        "spec:\n"
        "  tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]\n"
        "  priorityClassName: low\n"
        "training:\n"
        "  spec:\n"
        "    containers:\n"
        "    - name: train\n"
        "      resources: {requests: {cpu: '4', memory: 16Gi}, limits: {memory: 32Gi}}\n"
        "bot:\n"
        "  metadata:\n    labels: {tier: bots, studio/job: spoofed}\n"
    )
    settings.STUDIO_KUBERNETES_POD_TEMPLATE = str(template)
    settings.STUDIO_KUBERNETES_SERVICE_ACCOUNT = "studio-pods"
    settings.STUDIO_KUBERNETES_IMAGE_PULL_SECRETS = ["registry-login"]
    settings.STUDIO_KUBERNETES_NODE_SELECTOR = ["pool=studio"]
    pods = kube.PodSettings.from_settings()
    _, manifest = valid_pair(kube.training_objects(pods, job, "c", {}))
    pod = manifest["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "studio-pods"
    assert pod["imagePullSecrets"] == [{"name": "registry-login"}]
    assert pod["nodeSelector"] == {"pool": "studio"}
    assert pod["tolerations"][0]["key"] == "gpu" and pod["priorityClassName"] == "low"
    train = pod["containers"][0]
    assert train["resources"]["requests"]["cpu"] == "4"
    assert train["command"][:3] == ["python", "/studio/pod.py", "train"]  # merged, not replaced
    assert manifest["spec"]["template"]["metadata"]["annotations"] == {"team": "bots"}
    _, bot_manifest, _ = kube.bot_objects(pods, deployment, "c", {}, "")
    valid(bot_manifest)
    labels = bot_manifest["spec"]["template"]["metadata"]["labels"]
    assert labels["tier"] == "bots"
    assert (
        bot_manifest["spec"]["template"]["spec"]["containers"][0]["resources"]
        == (kube.RESOURCES["bot"])
    )


def valid_pair(pair):
    for item in pair:
        valid(item)
    return pair


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "a mapping with the keys"),
        ("spec: [unclosed\n", "pods.yaml"),
        ("x: 1\n", "x"),
    ],
)
def test_a_bad_pod_template_is_named_in_the_error(tmp_path, text, message):
    path = tmp_path / "pods.yaml"
    path.write_text(text)
    with pytest.raises(ImproperlyConfigured, match="STUDIO_KUBERNETES_POD_TEMPLATE") as caught:
        kube.load_pod_template(str(path))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("alpha", "alpha"),
        ("Ünïcode bank", "n-code-bank"),
        ("-lead-and-trail-", "lead-and-trail"),
        ("x" * 80, "x" * 63),
        ("training-host.example.org-1234-abcdef", "training-host.example.org-1234-abcdef"),
    ],
)
def test_label_values_are_what_kubernetes_allows(text, value):
    assert kube.label_value(text) == value


def test_merging_lists_of_named_things_merges_by_name():
    base = {"containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}]}
    extra = {"containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}, {"name": "b"}]}
    merged = kube.merge(base, extra)
    assert merged["containers"][0]["image"] == "x"
    assert merged["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]
    assert merged["containers"][1] == {"name": "b"}
    assert base["containers"][0]["env"] == [{"name": "A", "value": "1"}]  # untouched


def test_a_reconnected_log_skips_the_lines_it_already_has():
    cursor = kube.LogCursor()
    first = ["t1 one", "t2 two", "t2 two again"]
    assert [cursor.take(line) for line in first] == ["one", "two", "two again"]
    cursor.restart()
    replay = [*first, "t2 third at t2", "t3 three"]
    assert [cursor.take(line) for line in replay] == [None, None, None, "third at t2", "three"]


def test_log_timestamps_compare_in_time_order_whatever_their_length():
    cursor = kube.LogCursor()
    first = ["2026-12-03T09:10:11.45Z one", "2026-12-03T09:10:11.5Z two"]
    assert [cursor.take(line) for line in first] == ["one", "two"]
    cursor.restart()
    later = [*first, "2026-12-03T09:10:12Z three", "2026-12-03T09:10:12.000000001Z four"]
    assert [cursor.take(line) for line in later] == [None, None, "three", "four"]
