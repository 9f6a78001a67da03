"""Comparisons share the training queue's claim and lease: a consumer that stops heartbeating
loses the comparison to another, and can no longer record anything on it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.comparison.models import Comparison
from apps.training.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def comparison(make_assistant):
    assistant = make_assistant("tiny")
    base, candidate = (
        ModelVersion.objects.create(assistant=assistant, number=n, model_file=f"m/{n}")
        for n in (1, 2)
    )
    return Comparison.objects.create(assistant=assistant, base=base, candidate=candidate)


def test_a_stale_comparison_is_taken_over_and_the_first_worker_cannot_finish_it(comparison):
    first = Comparison.objects.claim_next("w1")
    assert first == comparison and first.status == "running" and first.attempts == 1
    assert Comparison.objects.claim_next("w2") is None  # nothing else queued
    assert first.heartbeat("halfway", ["line one"])

    Comparison.objects.filter(pk=first.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert Comparison.requeue_stale(timedelta(seconds=60)) == 1
    second = Comparison.objects.claim_next("w2")
    assert second.worker_id == "w2" and second.attempts == 2

    assert not first.heartbeat("still here")
    assert not first.finish(Comparison.Status.SUCCEEDED, result={"from": "w1"})
    assert second.finish(Comparison.Status.SUCCEEDED, result={"from": "w2"})
    comparison.refresh_from_db()
    assert comparison.result == {"from": "w2"} and "line one" in comparison.log
