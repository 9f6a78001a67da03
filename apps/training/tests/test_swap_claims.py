"""Which consumer takes a queued bot: the consumer of the live bot swaps a compatible version's
model in (`claim_swap`); free consumers leave such a bot to it for a while (`claim_new_bot`)."""

from datetime import timedelta

from django.utils import timezone

from apps.training.models import SWAP_CLAIM_GRACE, Deployment, ModelVersion


def queued(live, *, endpoints=None, isolated=False, created_by=None, assistant=None):
    assistant = assistant or live.assistant
    files = dict(live.version.input_files)
    if endpoints is not None:
        files["endpoints.yml"] = endpoints
    number = (ModelVersion.objects.filter(assistant=assistant).count() or 0) + 1
    version = ModelVersion.objects.create(
        assistant=assistant,
        number=number,
        input_files=files,
        model_file=f"models/{assistant.name}/{number}.tar.gz",
        isolated=isolated,
        created_by=created_by,
    )
    return Deployment.objects.create(assistant=assistant, version=version, isolated=isolated)


def hold(live, consumer="holder"):
    Deployment.objects.filter(pk=live.pk).update(consumer_id=consumer, heartbeat_at=timezone.now())
    live.refresh_from_db()
    return live


def test_the_holder_of_the_live_bot_claims_a_version_with_the_same_endpoints(live):
    live = hold(live)
    same = queued(live)
    claimed = Deployment.objects.claim_swap("holder", live)
    assert claimed == same
    assert (claimed.status, claimed.consumer_id, claimed.attempts) == ("starting", "holder", 1)
    assert Deployment.objects.claim_swap("holder", live) is None  # taken once


def test_other_endpoints_another_assistant_or_a_personal_version_are_not_swapped_in(
    live, make_assistant, make_user
):
    live = hold(live)
    queued(live, endpoints="action_endpoint:\n  url: http://actions:5055/webhook\n")
    queued(live, assistant=make_assistant("other"))
    queued(live, isolated=True, created_by=make_user("dana"))
    assert Deployment.objects.claim_swap("holder", live) is None


def test_a_declined_bot_is_not_claimed_again(live):
    live = hold(live)
    same = queued(live)
    assert Deployment.objects.claim_swap("holder", live, exclude={same.pk}) is None


def test_a_free_consumer_leaves_a_swappable_bot_to_the_holder_for_a_while(live):
    live = hold(live)
    same = queued(live)
    other = queued(live, endpoints="# other endpoints\n")
    # The bot that needs a new process is taken at once; the swappable one is left.
    assert Deployment.objects.claim_new_bot("free", leave_swaps=True) == other
    assert Deployment.objects.claim_new_bot("free", leave_swaps=True) is None
    # Without swaps (Kubernetes, Rasa) nothing is left to anyone.
    assert Deployment.objects.claim_new_bot("free", leave_swaps=False) == same


def test_a_swappable_bot_waits_only_so_long_or_while_the_holder_heartbeats(live, settings):
    live = hold(live)
    same = queued(live)
    Deployment.objects.filter(pk=same.pk).update(
        created_at=timezone.now() - SWAP_CLAIM_GRACE - timedelta(seconds=1)
    )
    assert Deployment.objects.claim_new_bot("free", leave_swaps=True) == same

    fresh = queued(live)
    Deployment.objects.filter(pk=live.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.STUDIO_LEASE_SECONDS + 1)
    )
    # The live bot's consumer stopped heartbeating: no one would swap it in.
    assert Deployment.objects.claim_new_bot("free", leave_swaps=True) == fresh
