"""Issue 19, item 1: what a training takes of each flow (its draft, last stable version or last
published definition), recorded on the version; trainings in isolation (personal versions whose
bot never replaces the live one, tried only by their owner)."""

import copy
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.flows import services as flow_services
from apps.flows.models import Flow
from apps.flows.services import stable, status
from apps.training import services
from apps.training.models import Deployment, ModelVersion, TrainingJob
from engine import formats

pytestmark = pytest.mark.django_db


def _flow(assistant, name) -> Flow:
    return Flow.objects.get(assistant=assistant, name=name)


def _edit(flow: Flow, steps: list) -> Flow:
    definition = copy.deepcopy(flow.definition)
    definition["steps"] = steps
    return flow_services.save_flow(flow, definition, user=None, summary="Edited")


def _trained_flows(job) -> dict[str, list]:
    """{flow id: steps} of the flows.yml the version was snapshotted with."""
    files = {"data/flows.yml": job.version.input_files["data/flows.yml"]}
    return {flow.id: flow.steps for flow in formats.load_project_files(files).flows}


@pytest.fixture
def three_states(tiny):
    """say_hello: published as utter_hello, saved stable as [utter_hello, utter_bye], its draft
    now utter_bye; say_bye: a draft, never stable or published."""
    hello = _flow(tiny, "say_hello")
    status.publish([hello])
    hello = _edit(hello, [{"action": "utter_hello"}, {"action": "utter_bye"}])
    stable.save_stable(hello, user=None, comment="Greets and says bye")
    _edit(hello, [{"action": "utter_bye"}])
    return tiny


HELLO = {
    "draft": [{"action": "utter_bye"}],
    "stable": [{"action": "utter_hello"}, {"action": "utter_bye"}],
    "published": [{"action": "utter_hello"}],
}


@pytest.mark.parametrize("source", ["draft", "stable", "published"])
def test_the_trained_flows_yml_has_exactly_the_chosen_definition(three_states, source):
    job = services.request_training(three_states, None, flows={"say_hello": source})
    trained = _trained_flows(job)
    assert trained["say_hello"] == HELLO[source]
    assert trained["say_bye"] == [{"action": "utter_bye"}]  # not chosen: its draft
    recorded = job.version.flow_sources
    assert recorded["say_hello"]["source"] == source
    assert recorded["say_bye"] == {"source": "draft", "at": "", "comment": ""}
    if source == "stable":
        assert recorded["say_hello"]["comment"] == "Greets and says bye"
        assert recorded["say_hello"]["at"]


def test_the_default_trains_every_draft_as_before(three_states):
    job = services.request_training(three_states, None)
    assert _trained_flows(job)["say_hello"] == HELLO["draft"]
    assert {r["source"] for r in job.version.flow_sources.values()} == {"draft"}
    published = services.request_training(three_states, None, include_drafts=False)
    assert list(_trained_flows(published)) == ["say_hello"]
    assert published.version.flow_sources == {
        "say_hello": {
            "source": "published",
            "at": _flow(three_states, "say_hello").published_at.isoformat(),
            "comment": "",
        }
    }


def test_a_flow_without_a_stable_version_cannot_train_one(three_states):
    with pytest.raises(services.TrainingRefused) as refused:
        services.request_training(three_states, None, flows={"say_bye": "stable"})
    (problem,) = refused.value.problems
    assert problem.message.startswith("Flow say_bye has no stable version")
    with pytest.raises(services.TrainingRefused) as refused:
        services.request_training(three_states, None, flows={"say_bye": "published"})
    assert refused.value.problems[0].message.startswith("Flow say_bye was never published")
    with pytest.raises(services.TrainingRefused) as refused:
        services.request_training(three_states, None, flows={"nope": "draft", "say_bye": "x"})
    messages = [p.message for p in refused.value.problems]
    assert "There is no flow nope to train." in messages
    assert any(m.startswith("Flow say_bye: 'x' is not a choice") for m in messages)
    assert not TrainingJob.objects.exists()


def test_a_stable_version_linking_to_a_deleted_flow_is_a_clear_error(tiny):
    hello = _edit(_flow(tiny, "say_hello"), [{"action": "utter_hello"}, {"link": "say_bye"}])
    stable.save_stable(hello, user=None, comment="Hands over to say_bye")
    _edit(hello, [{"action": "utter_hello"}])
    flow_services.delete_flow(_flow(tiny, "say_bye"))
    assert services.check_readiness(tiny).ok  # the drafts are fine
    with pytest.raises(services.TrainingRefused) as refused:
        services.request_training(tiny, None, flows={"say_hello": "stable"})
    messages = [p.message for p in refused.value.problems]
    assert any(
        "linked flow 'say_bye' does not exist" in m
        and "in the stable version of" in m
        and "of flow say_hello" in m
        for m in messages
    ), messages


def test_the_train_page_chooses_per_flow_and_the_versions_page_shows_it(admin_client, three_states):
    url = reverse("training:train", args=["tiny"])
    page = admin_client.get(url).content.decode()
    assert 'name="source:say_hello"' in page and 'name="source:say_bye"' in page
    assert "Greets and says bye" in page  # say_hello's last stable version
    # say_bye has no stable version and was never published: those options are disabled.
    assert '<option value="stable" disabled>Last stable version (none)</option>' in page
    answer = admin_client.post(
        url,
        {
            "name": "mixed",
            "flows": "choose",
            "source:say_hello": "stable",
            "source:say_bye": "draft",
        },
    )
    assert answer.status_code == 302
    job = TrainingJob.objects.get()
    assert _trained_flows(job)["say_hello"] == HELLO["stable"]
    versions = admin_client.get(reverse("training:versions", args=["tiny"])).content.decode()
    assert "Flows: 1 draft, 1 stable version" in versions
    assert "<code>say_hello</code>: stable version of" in versions
    assert "(Greets and says bye)" in versions
    # The per-flow choices count only with "Choose for each flow".
    admin_client.post(url, {"name": "all", "source:say_hello": "stable"})
    assert _trained_flows(TrainingJob.objects.order_by("-pk")[0])["say_hello"] == HELLO["draft"]


def test_the_train_page_names_the_flow_of_an_impossible_choice(admin_client, three_states):
    answer = admin_client.post(
        reverse("training:train", args=["tiny"]), {"flows": "choose", "source:say_bye": "stable"}
    )
    assert answer.status_code == 400
    assert "Flow say_bye has no stable version" in answer.content.decode()
    assert not TrainingJob.objects.exists()


# --------------------------------------------------------------------------------------------
# Test in isolation


def _trained(job, model_file="models/tiny/x.tar.gz"):
    """The job's training succeeded (as a training consumer records it): its bot is queued."""
    TrainingJob.objects.filter(pk=job.pk).update(status="running", worker_id="w")
    job.refresh_from_db()
    assert services.record_trained_model(job, model_file, "model-id")
    return Deployment.objects.get(version=job.version)


def _goes_live(deployment, url):
    """A running consumer brought the bot up (claim, mark live, retire others)."""
    Deployment.objects.filter(pk=deployment.pk).update(status="starting", consumer_id="c")
    deployment.refresh_from_db()
    assert deployment.mark_live(url)
    deployment.retire_others()
    deployment.refresh_from_db()
    return deployment


def test_an_isolated_training_never_replaces_the_live_bot(tiny, make_user):
    alice, bob = make_user("alice", Role.FLOW_BUILDER), make_user("bob", Role.FLOW_BUILDER)
    shared = _goes_live(_trained(services.request_training(tiny, alice)), "http://127.0.0.1:1")
    mine = services.request_training(tiny, alice, isolated=True)
    assert mine.version.isolated
    isolated = _trained(mine)
    assert isolated.isolated
    isolated = _goes_live(isolated, "http://127.0.0.1:2")
    shared.refresh_from_db()
    assert shared.status == "live" and isolated.status == "live"
    assert services.live_deployment(tiny) == shared
    assert services.live_version(tiny) == shared.version
    assert services.latest_trained(tiny) == shared.version
    # Bob's isolated bot leaves Alice's alone; Alice's next one retires her earlier one.
    bobs = _goes_live(_trained(services.request_training(tiny, bob, isolated=True)), "http://b")
    again = _goes_live(_trained(services.request_training(tiny, alice, isolated=True)), "http://c")
    statuses = dict(Deployment.objects.values_list("pk", "status"))
    assert statuses[isolated.pk] == "stopping"
    assert statuses[bobs.pk] == statuses[again.pk] == statuses[shared.pk] == "live"
    # A new shared version retires the live one, never the isolated bots.
    newer = _goes_live(_trained(services.request_training(tiny, bob)), "http://d")
    statuses = dict(Deployment.objects.values_list("pk", "status"))
    assert statuses[shared.pk] == "stopping" and statuses[newer.pk] == "live"
    assert statuses[bobs.pk] == statuses[again.pk] == "live"
    # The idle reaper stops isolated bots as it stops the others.
    Deployment.objects.filter(pk=bobs.pk).update(last_used_at=timezone.now() - timedelta(days=1))
    assert Deployment.stop_idle(timedelta(hours=1)) == 1
    assert Deployment.objects.get(pk=bobs.pk).status == "stopping"


def test_queued_isolated_trainings_supersede_only_their_owners(tiny, make_user):
    alice, bob = make_user("alice", Role.FLOW_BUILDER), make_user("bob", Role.FLOW_BUILDER)
    shared = services.request_training(tiny, alice)
    alices = services.request_training(tiny, alice, isolated=True)
    bobs = services.request_training(tiny, bob, isolated=True)
    assert alices.superseded == [] and bobs.superseded == []
    alices_next = services.request_training(tiny, alice, isolated=True)
    assert [j.pk for j in alices_next.superseded] == [alices.pk]
    statuses = dict(TrainingJob.objects.values_list("pk", "status"))
    assert statuses[shared.pk] == statuses[bobs.pk] == "queued"
    with pytest.raises(services.TrainingRefused, match="1 problem"):
        services.request_training(tiny, None, isolated=True)


def test_an_isolated_version_is_labelled_and_cannot_be_made_live(client, tiny, make_user):
    alice, bob = make_user("alice", Role.DEVELOPER), make_user("bob", Role.DEVELOPER)
    job = services.request_training(tiny, alice, isolated=True)
    version = job.version
    ModelVersion.objects.filter(pk=version.pk).update(model_file="models/tiny/i.tar.gz")
    TrainingJob.objects.filter(pk=job.pk).update(status="succeeded")
    job_url = reverse("training:job", args=["tiny", job.pk])
    client.force_login(bob)
    job_page = client.get(job_url).content.decode()
    assert "trained in isolation" in job_page and "only alice can try it" in job_page
    assert "Try this version" not in job_page
    page = client.get(reverse("training:versions", args=["tiny"])).content.decode()
    assert "isolated · alice" in page
    assert f'?version={version.number}">Try</a>' not in page  # not bob's to try
    answer = client.post(reverse("training:deploy", args=["tiny", version.number]), follow=True)
    assert "was trained in isolation" in answer.content.decode()
    assert not Deployment.objects.exists()
    client.force_login(alice)
    page = client.get(reverse("training:versions", args=["tiny"])).content.decode()
    assert f'?version={version.number}">Try</a>' in page
    assert "Try this version" in client.get(job_url).content.decode()


def test_the_train_page_trains_in_isolation(admin_client, admin_user, three_states):
    answer = admin_client.post(
        reverse("training:train", args=["tiny"]),
        {"flows": "choose", "source:say_hello": "stable", "isolated": "on"},
        follow=True,
    )
    assert "queued for training in isolation" in answer.content.decode()
    version = ModelVersion.objects.get()
    assert version.isolated and version.created_by == admin_user
    assert version.flow_sources["say_hello"]["source"] == "stable"


# --------------------------------------------------------------------------------------------
# The API and the command


def test_the_api_chooses_per_flow_and_trains_in_isolation(client, admin_user, three_states):
    from apps.accounts.models import ApiToken

    _, secret = ApiToken.issue(admin_user, "ci")

    def train(body):
        return client.post(
            "/api/v1/assistants/tiny/train",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )

    answer = train({"flows": {"say_hello": "stable"}, "isolated": True})
    assert answer.status_code == 202, answer.json()
    job = TrainingJob.objects.get(pk=answer.json()["id"])
    assert _trained_flows(job)["say_hello"] == HELLO["stable"]
    assert job.version.isolated and job.version.created_by == admin_user
    refused = train({"flows": {"say_bye": "stable"}})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"].startswith("Flow say_bye has no stable version")
    assert train({"flows": {"say_bye": "latest"}}).status_code == 400
    (listed,) = client.get(
        "/api/v1/assistants/tiny/versions", HTTP_AUTHORIZATION=f"Bearer {secret}"
    ).json()
    assert listed["isolated"] is True
    assert listed["flow_sources"]["say_hello"]["source"] == "stable"


def test_the_command_chooses_per_flow(three_states):
    from io import StringIO

    from django.core.management import CommandError, call_command

    call_command("train", "tiny", "--flow", "say_hello=published", stdout=StringIO())
    job = TrainingJob.objects.get()
    assert _trained_flows(job)["say_hello"] == HELLO["published"]
    with pytest.raises(CommandError, match="nothing was queued"):
        call_command("train", "tiny", "--flow", "say_bye=stable", stderr=StringIO())
    with pytest.raises(CommandError, match="write FLOW=SOURCE"):
        call_command("train", "tiny", "--flow", "say_bye", stderr=StringIO())
