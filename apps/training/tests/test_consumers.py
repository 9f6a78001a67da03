"""The model service with real consumer processes (training, running) on the test database."""

import json
import signal
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from apps.projects import content
from apps.projects.content.archives import read_project_dir
from apps.training import services
from apps.training.models import Deployment, ModelVersion, TrainingJob
from apps.training.schedules import reap
from demo import HARBOR_BANK as DEMO_DIR
from tests.support.processes import manage, pid_alive, stop, wait_for
from workers.training import TrainingConsumer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bank(make_assistant):
    assistant = make_assistant("harbor_bank")
    content.import_files(assistant, read_project_dir(DEMO_DIR))
    return assistant


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == parent and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def live_deployment(assistant):
    return Deployment.objects.filter(assistant=assistant, status="live").first()


def test_the_demo_trains_goes_live_and_answers_through_the_web_relay(admin_client, bank):
    job = services.request_training(bank, None)
    trainer = manage("training_consumer", "--once", "--worker-id", "trainer-1")
    assert trainer.wait(240) == 0, stop(trainer)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert "Model written to" in job.log
    version = ModelVersion.objects.get(assistant=bank)
    assert version.model_id and default_storage.exists(version.model_file)

    runner = manage("running_consumer", "--worker-id", "runner-1", "--interval", "0.2")
    try:
        deployment = wait_for(lambda: live_deployment(bank), 120, what="the bot to go live")
        response = admin_client.post(
            "/a/harbor_bank/try/message", {"message": "hello"}, HTTP_HX_REQUEST="true"
        )
        page = response.content.decode()
        assert response.status_code == 200, page
        assert "I can check balances, send money" in page
        assert "<code>greet</code>" in page  # the inspector shows the recognised intent
        spool = Path(settings.STUDIO_EVENT_SPOOL_DIR) / f"harbor_bank.{deployment.pk}.jsonl"
        events = [json.loads(line) for line in spool.read_text().splitlines()]
        user = next(e for e in events if e["event"] == "user")
        assert user["text"] == "hello" and user["metadata"]["assistant_id"] == "harbor_bank"
    finally:
        output = stop(runner)
    deployment.refresh_from_db()
    # A consumer that is stopped hands its bot back, so another consumer brings it up again.
    assert deployment.status == "queued", output


def test_a_killed_training_consumer_loses_nothing_and_the_job_finishes_once(bank, settings):
    job = services.request_training(bank, None)
    first = manage("training_consumer", "--worker-id", "doomed", "--interval", "0.2")
    wait_for(lambda: TrainingJob.objects.get(pk=job.pk).status == "running", 60, what="the claim")
    trainings = wait_for(lambda: children_of(first.pid), 30, what="the training process")
    first.send_signal(signal.SIGKILL)
    first.wait()
    # Its training child dies with it (no orphan keeps training).
    wait_for(lambda: not any(pid_alive(pid) for pid in trainings), 15, what="the orphan to die")
    assert TrainingJob.objects.get(pk=job.pk).status == "running"

    settings.STUDIO_LEASE_SECONDS = 1
    time.sleep(1.5)
    assert reap()["jobs_requeued"] == 1
    second = manage("training_consumer", "--once", "--worker-id", "survivor")
    assert second.wait(240) == 0, stop(second)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker_id) == ("succeeded", 2, "survivor")
    assert ModelVersion.objects.filter(assistant=bank).count() == 1
    stored = default_storage.listdir("models/harbor_bank")[1]
    assert stored == [Path(job.version.model_file).name]


def test_a_killed_running_consumer_gets_its_bot_back(admin_client, bank, settings):
    services.request_training(bank, None)
    trainer = manage("training_consumer", "--once", "--worker-id", "t")
    assert trainer.wait(240) == 0, stop(trainer)
    first = manage("running_consumer", "--worker-id", "r-doomed", "--interval", "0.2")
    deployment = wait_for(lambda: live_deployment(bank), 120, what="the bot to go live")
    first.send_signal(signal.SIGKILL)
    first.wait()

    def bot_down():
        try:
            httpx.get(deployment.bot_url + "/status", timeout=0.5)
        except httpx.HTTPError:
            return True
        return False

    wait_for(bot_down, 15, what="the orphaned bot to stop")
    settings.STUDIO_LEASE_SECONDS = 1
    time.sleep(1.5)
    assert reap()["deployments_requeued"] == 1
    second = manage("running_consumer", "--worker-id", "r-second", "--interval", "0.2")
    try:
        back = wait_for(lambda: live_deployment(bank), 120, what="the bot to come back")
        assert back.pk == deployment.pk and back.consumer_id == "r-second" and back.attempts == 2
        response = admin_client.post(
            "/a/harbor_bank/try/message", {"message": "hello"}, HTTP_HX_REQUEST="true"
        )
        assert "I can check balances" in response.content.decode()
    finally:
        stop(second)


def test_six_jobs_on_two_consumers_all_finish_at_most_two_at_once(tiny, make_assistant):
    from apps.training.tests.conftest import TINY

    # Six assistants: one assistant keeps only its newest queued training.
    assistants = [tiny]
    for n in range(2, 7):
        assistants.append(make_assistant(f"tiny{n}"))
        content.import_files(assistants[-1], TINY)
    # Both consumers are up before the jobs are queued, and each exits after three trainings,
    # so both take part however slowly one starts on a busy machine (with --once, a late one
    # could find the queue already empty).
    consumers = [
        manage("training_consumer", "--max-tasks", "3", "--interval", "0.1", "--worker-id", f"c{i}")
        for i in (1, 2)
    ]
    for consumer in consumers:
        assert consumer.wait_for_line("started", 120), stop(consumer)
    jobs = [services.request_training(assistant, None) for assistant in assistants]
    for consumer in consumers:
        assert consumer.wait(300) == 0, stop(consumer)
    finished = list(TrainingJob.objects.filter(pk__in=[j.pk for j in jobs]))
    assert [j.status for j in finished] == ["succeeded"] * 6
    assert sorted(j.worker_id for j in finished) == ["c1"] * 3 + ["c2"] * 3
    moments = sorted(
        [(j.started_at, 1) for j in finished] + [(j.finished_at, -1) for j in finished]
    )
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    assert peak == 2


def test_a_failing_training_shows_its_error_and_log(admin_client, tiny, settings):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_TRAIN_COMMAND = (
        f"{sys.executable} -c \"print('loading the project'); print('boom: no GPU in the toaster'); "
        'raise SystemExit(3)"'
    )
    job = services.request_training(tiny, None)
    TrainingConsumer(once=True, worker_id="w").run()
    job.refresh_from_db()
    assert job.status == "failed"
    assert "exited with code 3" in job.error
    page = admin_client.get(f"/a/tiny/training/{job.pk}").content.decode()
    assert "boom: no GPU in the toaster" in page and "exited with code 3" in page
    assert not ModelVersion.objects.exclude(model_file="").exists()


def test_a_training_past_the_timeout_fails_saying_so_and_its_process_is_stopped(tiny, settings):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_HEARTBEAT_SECONDS = 1
    settings.STUDIO_TRAINING_TIMEOUT = 1
    settings.STUDIO_RASA_TRAIN_COMMAND = (
        f'{sys.executable} -c "import os, time; print(os.getpid(), flush=True); time.sleep(120)"'
    )
    job = services.request_training(tiny, None)
    TrainingConsumer(once=True, worker_id="w").run()
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == "Training took longer than STUDIO_TRAINING_TIMEOUT."
    assert not pid_alive(int(job.log.strip().splitlines()[0]))


def test_cancelling_a_running_training_stops_its_process(tiny, settings):
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_HEARTBEAT_SECONDS = 1
    settings.STUDIO_RASA_TRAIN_COMMAND = (
        f'{sys.executable} -c "import os, time; print(os.getpid(), flush=True); time.sleep(120)"'
    )
    job = services.request_training(tiny, None)
    worker = TrainingConsumer(once=True, worker_id="w")
    thread = threading.Thread(target=worker.run)
    thread.start()
    log = wait_for(
        lambda: TrainingJob.objects.get(pk=job.pk).log.strip(), 30, what="the child's pid"
    )
    child = int(log.splitlines()[0])
    assert pid_alive(child)
    TrainingJob.objects.get(pk=job.pk).request_cancel()
    thread.join(30)
    assert not thread.is_alive()
    assert TrainingJob.objects.get(pk=job.pk).status == "cancelled"
    assert not pid_alive(child)
