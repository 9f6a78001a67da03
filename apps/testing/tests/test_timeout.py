"""A test run that outlives STUDIO_TRAINING_TIMEOUT is stopped and fails saying so (the consumer
follows test runs with the same loop as trainings)."""

import sys

import pytest

from apps.testing.models import TestRun
from apps.training import services
from workers.runners import ChildProcess
from workers.training import TrainingConsumer

pytestmark = pytest.mark.django_db


def test_a_test_run_past_the_timeout_is_stopped_and_fails_saying_so(tiny, settings):
    settings.STUDIO_TRAINING_TIMEOUT = 1
    settings.STUDIO_HEARTBEAT_SECONDS = 1
    version = services.request_training(tiny, None).version
    TestRun.objects.create(assistant=tiny, version=version)
    run = TestRun.objects.claim_next("w")
    assert run is not None
    child = ChildProcess(
        [sys.executable, "-c", "import time; print('start', flush=True); time.sleep(120)"]
    )
    consumer = TrainingConsumer(once=True, worker_id="w")
    assert consumer._follow(run, child) == "lost"
    run.refresh_from_db()
    assert run.status == TestRun.Status.FAILED
    assert run.error == "The test run took longer than STUDIO_TRAINING_TIMEOUT."
    assert child.poll() is not None  # stopped
