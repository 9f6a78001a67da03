from datetime import timedelta

import pytest
from django.utils import timezone

from apps.training import services
from apps.training.models import Deployment, IllegalTransition, ModelVersion, TrainingJob

pytestmark = pytest.mark.django_db


def queued_job(assistant, number=1):
    version = ModelVersion.objects.create(assistant=assistant, number=number, input_files={})
    return TrainingJob.objects.create(assistant=assistant, version=version)


def test_jobs_are_claimed_oldest_first_and_only_once(assistant):
    first, second = queued_job(assistant, 1), queued_job(assistant, 2)
    claimed = TrainingJob.objects.claim_next("w1")
    assert claimed.pk == first.pk and claimed.status == "running" and claimed.attempts == 1
    assert TrainingJob.objects.claim_next("w2").pk == second.pk
    assert TrainingJob.objects.claim_next("w3") is None


def test_a_worker_that_lost_its_lease_cannot_finish_the_job(assistant):
    queued_job(assistant)
    mine = TrainingJob.objects.claim_next("w1")
    TrainingJob.objects.filter(pk=mine.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert TrainingJob.requeue_stale(timedelta(seconds=60)) == 1
    theirs = TrainingJob.objects.claim_next("w2")
    assert theirs.attempts == 2
    assert not mine.heartbeat()
    assert not mine.finish(TrainingJob.Status.SUCCEEDED)
    assert theirs.finish(TrainingJob.Status.SUCCEEDED)
    assert TrainingJob.objects.get(pk=mine.pk).worker_id == "w2"


def test_fresh_heartbeats_keep_the_lease(assistant):
    queued_job(assistant)
    job = TrainingJob.objects.claim_next("w1")
    assert job.heartbeat(progress="step 1", log_lines=["a", "b"])
    assert TrainingJob.requeue_stale(timedelta(seconds=60)) == 0
    job.refresh_from_db()
    assert job.log == "a\nb\n" and job.progress == "step 1"


def test_cancelling(assistant):
    waiting = queued_job(assistant, 1)
    waiting.request_cancel()
    assert TrainingJob.objects.get(pk=waiting.pk).status == "cancelled"
    queued_job(assistant, 2)
    running = TrainingJob.objects.claim_next("w1")
    running.request_cancel()
    assert not running.heartbeat()  # the worker learns it must stop
    assert running.finish(TrainingJob.Status.CANCELLED)
    with pytest.raises(IllegalTransition):
        TrainingJob.objects.get(pk=running.pk).request_cancel()
    with pytest.raises(IllegalTransition):
        running.finish("running")


def test_deployments_go_live_and_retire(assistant):
    version = ModelVersion.objects.create(assistant=assistant, number=1, model_file="m.tar.gz")
    deployment = services.deploy(version)
    assert services.deploy(version) == deployment  # no second bot for the same version
    claimed = Deployment.objects.claim_next("r1")
    assert claimed.mark_live("http://127.0.0.1:1")
    assert services.live_deployment(assistant) == claimed
    claimed.request_stop()
    assert claimed.heartbeat() == "stopping"
    assert claimed.end(Deployment.Status.STOPPED)
    assert services.live_deployment(assistant) is None


def test_stale_and_idle_bots(assistant):
    version = ModelVersion.objects.create(assistant=assistant, number=1, model_file="m.tar.gz")
    services.deploy(version)
    live = Deployment.objects.claim_next("r1")
    live.mark_live("http://127.0.0.1:1")
    Deployment.objects.filter(pk=live.pk).update(last_used_at=timezone.now() - timedelta(hours=2))
    assert Deployment.stop_idle(timedelta(hours=1)) == 1
    assert Deployment.objects.get(pk=live.pk).status == "stopping"
    Deployment.objects.filter(pk=live.pk).update(
        status="live", heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert Deployment.requeue_stale(timedelta(seconds=60)) == 1
    assert Deployment.objects.get(pk=live.pk).status == "queued"
    with pytest.raises(ValueError, match="has not been trained"):
        services.deploy(ModelVersion.objects.create(assistant=assistant, number=2))
