"""Starting a version's bot from the Try page makes it the live version, so it needs TRAIN,
like "Make live". Whoever may only TRY can start the live version's bot again, nothing else."""

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.training import services
from apps.training.models import Deployment, ModelVersion


@pytest.fixture
def versions(assistant):
    """Versions 1 and 2 of alpha, both trained; version 1's bot was live and has stopped."""
    made = [
        ModelVersion.objects.create(
            assistant=assistant,
            number=number,
            input_files={"domain.yml": "intents: [a]\n"},
            model_file=f"models/alpha/{number}.tar.gz",
            trained_at=timezone.now(),
        )
        for number in (1, 2)
    ]
    Deployment.objects.create(
        assistant=assistant,
        version=made[0],
        status=Deployment.Status.STOPPED,
        live_at=timezone.now(),
        stopped_at=timezone.now(),
    )
    return made


def start(client, number):
    return client.post(reverse("training:try_version", args=["alpha"]), {"version": number})


def queued(version):
    return Deployment.objects.filter(version=version, status=Deployment.Status.QUEUED).exists()


@pytest.mark.parametrize(
    "grant", [pytest.param("global", id="global"), pytest.param("alpha", id="on-alpha")]
)
def test_a_business_user_cannot_make_another_version_live(
    client, make_user, assistant, versions, grant
):
    if grant == "global":
        user = make_user("biz", Role.BUSINESS_USER)
    else:
        user = make_user("biz", grants={assistant: [Role.BUSINESS_USER]})
    client.force_login(user)
    assert start(client, 2).status_code == 403
    assert not versions[1].deployments.exists()
    assert services.live_version(assistant) == versions[0]
    # Without a version named, the newest trained one (version 2) is not theirs to start either.
    assert client.post(reverse("training:try_version", args=["alpha"])).status_code == 403
    assert not versions[1].deployments.exists()


def test_a_business_user_may_start_the_live_versions_bot_again(
    client, make_user, assistant, versions
):
    client.force_login(make_user("biz", Role.BUSINESS_USER))
    response = start(client, 1)
    assert response.status_code == 302
    assert queued(versions[0])
    assert not versions[1].deployments.exists()


def test_a_business_user_cannot_start_anything_before_a_version_was_ever_live(
    client, make_user, assistant, versions
):
    Deployment.objects.all().delete()
    client.force_login(make_user("biz", Role.BUSINESS_USER))
    assert start(client, 1).status_code == 403
    assert not Deployment.objects.exists()


def test_whoever_may_train_starts_any_trained_version(client, make_user, assistant, versions):
    client.force_login(make_user("builder", grants={assistant: [Role.FLOW_BUILDER]}))
    assert start(client, 2).status_code == 302
    assert queued(versions[1])


def test_the_try_page_offers_to_start_only_what_the_role_may_start(
    client, make_user, assistant, versions
):
    url = reverse("training:try", args=["alpha"])
    start_url = reverse("training:try_version", args=["alpha"])
    client.force_login(make_user("biz", Role.BUSINESS_USER))
    other = client.get(url, {"version": 2}).content.decode()
    assert start_url not in other
    assert "needs a role that can train" in other
    live = client.get(url, {"version": 1}).content.decode()
    assert start_url in live and "Start Version 1" in live
    assert "makes it the live version" not in live

    client.force_login(make_user("builder", Role.FLOW_BUILDER))
    other = client.get(url, {"version": 2}).content.decode()
    assert start_url in other and "Starting it makes it the live version." in other
