"""`GET /api/v1/assistants/<name>/versions`: the model versions the CLI's `studio versions`
lists, with a personal API token."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.roles import Cap, Role, caps_of
from apps.training import services
from apps.training.models import Deployment, ModelVersion, TrainingJob

pytestmark = pytest.mark.django_db


def get(client, token, name="tiny"):
    return client.get(f"/api/v1/assistants/{name}/versions", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def token(make_user):
    return ApiToken.issue(make_user("dev", Role.DEVELOPER), "ci")[1]


def test_versions_newest_first_with_status_and_live(client, tiny, token):
    first = services.request_training(tiny, None)
    ModelVersion.objects.filter(pk=first.version_id).update(
        model_file="models/tiny/1.tar.gz", trained_at=timezone.now(), name="release"
    )
    TrainingJob.objects.filter(pk=first.pk).update(status=TrainingJob.Status.SUCCEEDED)
    Deployment.objects.create(
        assistant=tiny,
        version=first.version,
        status=Deployment.Status.LIVE,
        bot_url="http://127.0.0.1:9",
        live_at=timezone.now(),
    )
    second = services.request_training(tiny, None)
    response = get(client, token)
    assert response.status_code == 200
    rows = response.json()
    assert [(r["number"], r["name"], r["training_status"], r["live"]) for r in rows] == [
        (second.version.number, "", "queued", False),
        (first.version.number, "release", "succeeded", True),
    ]
    assert rows[1]["trained_at"] and rows[0]["trained_at"] is None


def test_a_foreign_assistant_is_not_found(client, tiny, make_assistant, make_user):
    mine = make_assistant("mine")
    token = ApiToken.issue(make_user("o", grants={mine: [Role.DEVELOPER]}), "ci")[1]
    assert get(client, token).status_code == 404
    assert get(client, token, "mine").json() == []


@pytest.mark.parametrize("role", list(Role))
def test_every_role_as_its_capabilities_say(client, tiny, make_user, role):
    token = ApiToken.issue(make_user(f"u-{role.value}", role), "ci")[1]
    expected = 200 if Cap.TRY in caps_of([role]) else 403
    assert get(client, token).status_code == expected
