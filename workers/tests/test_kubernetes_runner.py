"""The Kubernetes runner against a local API server (tests/kube): its kubelet really runs the
pods' containers, so a training fetches its input from the web, trains with the engine and sends
the model back; a bot fetches its model, serves it, and Try reaches it through its Service."""

from __future__ import annotations

import shlex
import signal
import sys
import threading

import pytest
from django.core.files.storage import default_storage

from apps.projects import content
from apps.training import bot as bot_api
from apps.training import services
from apps.training.models import Deployment, ModelVersion, TrainingJob
from apps.training.schedules import reap
from apps.training.tests.conftest import TINY
from tests.support.processes import free_port, manage, stop, wait_for
from workers import kubernetes as kube
from workers.running import RunningConsumer
from workers.training import TrainingConsumer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
NAMESPACE = "studio"


@pytest.fixture
def on_the_cluster(settings, kubeconfig, live_server, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_RUNNER = "kubernetes"
    settings.STUDIO_KUBERNETES_KUBECONFIG = str(kubeconfig)
    settings.STUDIO_KUBERNETES_NAMESPACE = NAMESPACE
    settings.STUDIO_KUBERNETES_IMAGE = "studio"
    settings.STUDIO_KUBERNETES_WEB_URL = live_server.url
    settings.STUDIO_KUBERNETES_BOT_PORT = port = free_port()
    settings.STUDIO_KUBERNETES_BOT_URL = "http://127.0.0.1:{port}"
    settings.STUDIO_HEARTBEAT_SECONDS = 1
    settings.STUDIO_BOT_START_TIMEOUT = 60
    return port


@pytest.fixture
def tiny(make_assistant):
    assistant = make_assistant("tiny")
    content.import_files(assistant, TINY)
    return assistant


def python_command(code: str) -> str:
    """A STUDIO_RASA_*_COMMAND that runs `code` (the 'Rasa' image is Studio's, here)."""
    return shlex.join(["python", "-c", code])


def objects(cluster, plural: str) -> list[str]:
    return sorted(item["metadata"]["name"] for item in cluster.list(plural, namespace=NAMESPACE))


def train_once(**kwargs) -> TrainingConsumer:
    consumer = TrainingConsumer(once=True, runner=kube.KubernetesRunner(), **kwargs)
    consumer.run()
    return consumer


def test_a_training_runs_as_a_job_and_its_model_comes_back(on_the_cluster, fake_cluster, tiny):
    job = services.request_training(tiny, None)
    train_once(worker_id="trainer-1")
    job.refresh_from_db()
    assert job.status == "succeeded", job.error + job.log
    assert "[studio] fetched" in job.log  # the init container's log, then the training's
    assert "[studio] sent tiny-1.tar.gz" in job.log
    version = ModelVersion.objects.get(pk=job.version_id)
    assert version.model_file == services.model_storage_name(job)
    assert version.model_id and default_storage.exists(version.model_file)
    (sent,) = fake_cluster.created["Job"]
    assert sent["metadata"]["labels"]["studio/consumer"] == "trainer-1"
    # Done with: the Job and its Secret are gone, and the trained version's bot is queued.
    assert objects(fake_cluster, "jobs") == objects(fake_cluster, "secrets") == []
    assert Deployment.objects.filter(version=version, status="queued").exists()


def test_a_failing_training_fails_its_row_with_the_jobs_reason_and_log(
    on_the_cluster, fake_cluster, tiny, settings
):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_TRAIN_COMMAND = python_command(
        "import sys; print('the domain is broken', flush=True); sys.exit(3)"
    )
    job = services.request_training(tiny, None)
    train_once()
    job.refresh_from_db()
    assert job.status == "failed"
    assert "BackoffLimitExceeded" in job.error
    assert "exited with code 3" in job.error
    assert "the domain is broken" in job.log
    assert not ModelVersion.objects.get(pk=job.version_id).model_file


def run_in_thread(consumer) -> threading.Thread:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


# The built-in engine's training, as a STUDIO_RASA_TRAIN_COMMAND would run Rasa's.
ENGINE_TRAINING = (
    "sys.exit(subprocess.call([sys.executable, '-m', 'engine', 'train', '{project}',"
    " '--out', '{out}', '--fixed-model-name', '{name}']))"
)


def job_lists(cluster) -> int:
    """How many times the Jobs were listed (not watched)."""
    return sum(1 for method, path in cluster.requests if "/jobs?" in path and "watch=" not in path)


def test_after_410_gone_the_runner_lists_the_job_again_and_sees_it_end(
    on_the_cluster, fake_cluster, tiny, settings
):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_TRAIN_COMMAND = python_command(
        "import subprocess, sys, time\nprint('half-way', flush=True)\ntime.sleep(5)\n"
        + ENGINE_TRAINING
    )
    job = services.request_training(tiny, None)
    thread = run_in_thread(TrainingConsumer(once=True, runner=kube.KubernetesRunner()))
    wait_for(lambda: "half-way" in TrainingJob.objects.get(pk=job.pk).log, 60, what="the log")
    lists = job_lists(fake_cluster)
    # The API server loses its watch history (as when it restarts): the watch ends, and
    # watching again from the resourceVersion the runner had is answered 410 Gone.
    fake_cluster.fail_next("GET", r"/jobs$", 410, message="too old resource version")
    fake_cluster.compact()
    wait_for(lambda: job_lists(fake_cluster) > lists, 10, what="the Job listed again")
    thread.join(120)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error + job.log


SLOW_TRAINING = python_command("import time\nprint('working', flush=True)\ntime.sleep(300)")


def test_cancelling_deletes_the_job_and_its_pod(on_the_cluster, fake_cluster, tiny, settings):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_TRAIN_COMMAND = SLOW_TRAINING
    job = services.request_training(tiny, None)
    thread = run_in_thread(TrainingConsumer(once=True, runner=kube.KubernetesRunner()))
    wait_for(lambda: "working" in TrainingJob.objects.get(pk=job.pk).log, 60, what="the log")
    TrainingJob.objects.get(pk=job.pk).request_cancel()
    thread.join(60)
    assert not thread.is_alive()
    job.refresh_from_db()
    assert job.status == "cancelled"
    fake_cluster.wait_for(lambda: not fake_cluster.list("pods", namespace=NAMESPACE), 30)
    assert objects(fake_cluster, "jobs") == objects(fake_cluster, "secrets") == []


def test_a_consumer_killed_mid_training_loses_nothing(
    on_the_cluster, fake_cluster, tiny, settings, kubeconfig, live_server
):
    settings.STUDIO_ENGINE = "rasa"
    # The first attempt hangs; the second one trains with the built-in engine.
    marker = settings.MEDIA_ROOT.parent / "first-attempt"
    settings.STUDIO_RASA_TRAIN_COMMAND = python_command(
        "import os, sys, subprocess, time\n"
        f"marker = {str(marker)!r}\n"
        "if not os.path.exists(marker):\n"
        "    open(marker, 'w').close(); print('hanging', flush=True); time.sleep(300)\n"
        + ENGINE_TRAINING
    )
    job = services.request_training(tiny, None)
    consumer = manage(
        "training_consumer",
        "--once",
        "--worker-id",
        "doomed",
        STUDIO_RUNNER="kubernetes",
        STUDIO_ENGINE="rasa",
        STUDIO_RASA_TRAIN_COMMAND=settings.STUDIO_RASA_TRAIN_COMMAND,
        STUDIO_KUBERNETES_KUBECONFIG=str(kubeconfig),
        STUDIO_KUBERNETES_NAMESPACE=NAMESPACE,
        STUDIO_KUBERNETES_IMAGE="studio",
        STUDIO_KUBERNETES_WEB_URL=live_server.url,
        STUDIO_HEARTBEAT_SECONDS="1",
    )
    try:
        wait_for(lambda: "hanging" in TrainingJob.objects.get(pk=job.pk).log, 90, what="a pod")
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(10)
    finally:
        output = stop(consumer)
    orphan = f"studio-train-{job.pk}-1"
    assert objects(fake_cluster, "jobs") == [orphan], output
    # Its lease runs out: the row is requeued, and the orchestrator reaps the orphan Job.
    TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at="2000-01-01T00:00:00Z")
    assert reap()["jobs_requeued"] == 1
    counts = kube.reconcile()
    assert counts["objects_deleted"] == 2  # the Job and its Secret
    assert objects(fake_cluster, "jobs") == []
    train_once(worker_id="survivor")
    job.refresh_from_db()
    assert job.status == "succeeded", job.error + job.log
    assert job.attempts == 2
    assert [item["metadata"]["name"] for item in fake_cluster.created["Job"]] == [
        orphan,
        f"studio-train-{job.pk}-2",
    ]


def test_the_reconciliation_requeues_rows_whose_objects_vanished(on_the_cluster, tiny):
    job = services.request_training(tiny, None)
    TrainingJob.objects.filter(pk=job.pk).update(
        status="running", attempts=1, worker_id="gone", started_at="2000-01-01T00:00:00Z"
    )
    fresh = services.request_training(tiny, None)  # just claimed: its Job may not exist yet
    TrainingJob.objects.filter(pk=fresh.pk).update(status="running", attempts=1)
    counts = kube.reconcile()
    assert counts["jobs_requeued"] == 1
    assert TrainingJob.objects.get(pk=job.pk).status == "queued"
    assert TrainingJob.objects.get(pk=fresh.pk).status == "running"


def trained(tiny) -> ModelVersion:
    """A version of `tiny` trained by the built-in engine on this machine."""
    import subprocess
    import tempfile
    from pathlib import Path

    from django.core.files import File

    from workers.training import model_id_of, write_project

    version = ModelVersion.objects.create(
        assistant=tiny, number=1, input_files=dict(TINY) | {"endpoints.yml": ""}
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_project(TINY, root / "project")
        subprocess.run(
            [
                *(sys.executable, "-m", "engine", "train", str(root / "project")),
                *("--out", str(root), "--fixed-model-name", "tiny-1"),
            ],
            check=True,
            capture_output=True,
        )
        archive = root / "tiny-1.tar.gz"
        with archive.open("rb") as handle:
            version.model_file = default_storage.save("models/tiny/1.tar.gz", File(handle))
        version.model_id = model_id_of(archive)
    version.save()
    return version


def serve_once() -> RunningConsumer:
    consumer = RunningConsumer(once=True, runner=kube.KubernetesRunner(), worker_id="runner-1")
    consumer.setup()
    assert consumer.step()
    return consumer


def test_a_bot_is_a_deployment_that_try_reaches_through_its_service(
    on_the_cluster, fake_cluster, tiny
):
    version = trained(tiny)
    deployment = services.deploy(version)
    consumer = serve_once()
    deployment.refresh_from_db()
    assert deployment.status == "live", deployment.error
    assert deployment.bot_url == f"http://127.0.0.1:{on_the_cluster}"
    name = f"studio-bot-{deployment.pk}-1"
    assert objects(fake_cluster, "deployments") == objects(fake_cluster, "services") == [name]
    replies = bot_api.send_message(deployment, "k8s-user", "hello")
    assert replies[0]["text"] == "Hello from the tiny bot!"
    # The bot refuses callers without its token (only the relay has it).
    import httpx

    assert httpx.get(f"{deployment.bot_url}/status").status_code == 401
    deployment.request_stop()
    consumer.tend()
    deployment.refresh_from_db()
    assert deployment.status == "stopped"
    for plural in ("deployments", "services", "secrets"):
        assert objects(fake_cluster, plural) == []


def test_a_bot_whose_image_cannot_be_pulled_fails_with_the_pods_reason(
    on_the_cluster, fake_cluster, tiny, settings
):
    settings.STUDIO_KUBERNETES_BOT_IMAGE = "registry.example/missing:1"
    deployment = services.deploy(trained(tiny))
    serve_once()
    deployment.refresh_from_db()
    assert deployment.status == "failed"
    assert "The bot did not start" in deployment.error
    assert "registry.example/missing:1" in deployment.error
    assert "ErrImagePull" in deployment.error or "ImagePullBackOff" in deployment.error
    assert objects(fake_cluster, "deployments") == []


def test_a_bot_that_never_gets_ready_fails_after_the_start_timeout(
    on_the_cluster, fake_cluster, tiny, settings
):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_RUN_COMMAND = python_command("import time; time.sleep(300)")
    settings.STUDIO_BOT_START_TIMEOUT = 5
    deployment = services.deploy(trained(tiny))
    serve_once()
    deployment.refresh_from_db()
    assert deployment.status == "failed"
    assert "The bot did not start" in deployment.error
    assert "Ready" in deployment.error  # the pod's condition, as Kubernetes reports it
    assert objects(fake_cluster, "deployments") == objects(fake_cluster, "secrets") == []


def test_every_object_the_runner_sent_is_valid_kubernetes(on_the_cluster, fake_cluster, tiny):
    import kubernetes_validate

    services.request_training(tiny, None)
    train_once()
    deployment = services.deploy(ModelVersion.objects.get(assistant=tiny))
    consumer = serve_once()
    consumer.teardown()
    assert Deployment.objects.get(pk=deployment.pk).status == "queued"  # handed back
    sent = [item for items in fake_cluster.created.values() for item in items]
    assert {item["kind"] for item in sent} >= {"Job", "Secret", "Deployment", "Service"}
    for item in sent:
        kubernetes_validate.validate(item, "1.35.0", strict=True)


def test_a_bot_that_crashes_fails_at_once_with_its_exit_code(
    on_the_cluster, fake_cluster, tiny, settings
):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_RUN_COMMAND = python_command(
        "import sys; print('no licence found', flush=True); sys.exit(4)"
    )
    settings.STUDIO_BOT_START_TIMEOUT = 120  # it must not take this long to say so
    deployment = services.deploy(trained(tiny))
    serve_once()
    deployment.refresh_from_db()
    assert deployment.status == "failed"
    assert "exited with code 4" in deployment.error
    assert "no licence found" in deployment.error, (
        deployment.error
    )  # the bot's own output, from its pod's log


def test_an_object_left_from_an_earlier_try_is_replaced(on_the_cluster, fake_cluster, tiny):
    job = services.request_training(tiny, None)
    name = f"studio-train-{job.pk}-1"
    kube.KubernetesRunner().cluster.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {}}
    )
    train_once()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert [item["metadata"]["name"] for item in fake_cluster.created["Secret"]] == [name, name]


def test_a_refusal_by_the_api_server_fails_the_training_with_its_message(
    on_the_cluster, fake_cluster, tiny
):
    job = services.request_training(tiny, None)
    fake_cluster.fail_next("POST", r"/jobs$", 403, message='jobs.batch is forbidden: User "x"')
    train_once()
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("Kubernetes refused the Job: jobs.batch is forbidden")
    assert objects(fake_cluster, "secrets") == []  # what was created for it is gone again
