"""An assistant keeps only its newest queued training: a new request supersedes the queued
one (cancelled, with the reason on its job page); a claimed one is never replaced."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.accounts.models import ApiToken
from apps.training import services
from apps.training.models import TrainingJob

pytestmark = pytest.mark.django_db


def test_a_second_request_supersedes_the_queued_one_with_a_reason(admin_client, admin_user, tiny):
    first = services.request_training(tiny, admin_user)
    second = services.request_training(tiny, admin_user)
    first.refresh_from_db()
    assert (first.status, second.status) == ("cancelled", "queued")
    assert [job.pk for job in second.superseded] == [first.pk]
    assert "Superseded by version 2" in first.error and "by admin" in first.error
    assert list(TrainingJob.objects.filter(status="queued")) == [second]

    page = admin_client.get(reverse("training:job", args=["tiny", first.pk])).content.decode()
    assert "Cancelled" in page and "Superseded by version 2" in page
    # A consumer gets the newest only.
    assert TrainingJob.objects.claim_next("w").pk == second.pk
    assert TrainingJob.objects.claim_next("w") is None


def test_a_claimed_training_is_never_replaced(admin_user, tiny):
    running = services.request_training(tiny, admin_user)
    assert TrainingJob.objects.claim_next("consumer-1").pk == running.pk
    queued = services.request_training(tiny, admin_user)
    assert queued.superseded == []
    newest = services.request_training(tiny, admin_user)
    assert [job.pk for job in newest.superseded] == [queued.pk]
    statuses = dict(TrainingJob.objects.values_list("pk", "status"))
    assert statuses == {running.pk: "running", queued.pk: "cancelled", newest.pk: "queued"}
    # The consumer still owns its job and finishes it.
    running.refresh_from_db()
    assert running.finish("succeeded")


def test_other_assistants_queues_are_untouched(admin_user, tiny, make_assistant):
    from apps.projects import content
    from apps.training.tests.conftest import TINY

    other = make_assistant("other")
    content.import_files(other, TINY)
    mine = services.request_training(tiny, admin_user)
    theirs = services.request_training(other, admin_user)
    assert theirs.superseded == []
    assert TrainingJob.objects.get(pk=mine.pk).status == "queued"


def test_the_api_says_which_training_it_superseded(client, admin_user, tiny):
    _, secret = ApiToken.issue(admin_user, "ci")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    url = "/api/v1/assistants/tiny/train"
    first = client.post(url, {}, content_type="application/json", **auth).json()
    assert first["superseded"] == []
    second = client.post(url, {}, content_type="application/json", **auth)
    assert second.status_code == 202 and second.json()["superseded"] == [first["id"]]
    old = client.get(f"/api/v1/training-jobs/{first['id']}", **auth).json()
    assert old["status"] == "cancelled" and "Superseded by version 2" in old["error"]


def test_the_train_page_and_command_say_so(admin_client, tiny):
    url = reverse("training:train", args=["tiny"])
    admin_client.post(url, {"name": "one"})
    response = admin_client.post(url, {"name": "two"}, follow=True)
    assert "It replaces the queued training of version 1" in response.content.decode()

    out = StringIO()
    call_command("train", "tiny", stdout=out)
    assert "It supersedes the queued training job" in out.getvalue()
    assert TrainingJob.objects.filter(status="queued").count() == 1
