import pytest
from django.urls import reverse

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.training import services
from apps.training.models import TrainingJob

pytestmark = pytest.mark.django_db


def test_it_snapshots_the_files_and_queues(tiny, admin_user):
    job = services.request_training(tiny, admin_user, name="first")
    version = job.version
    assert (job.status, version.number, version.label) == ("queued", 1, "first")
    assert "say_hello" in version.input_files["data/flows.yml"]
    # The bot's events must route back here: assistant_id is the assistant's name.
    config = version.input_files["config.yml"]
    assert "assistant_id: tiny" in config and "# kept comment" in config
    assert services.request_training(tiny, admin_user).version.number == 2


def test_an_invalid_assistant_is_refused_with_its_problems(assistant, admin_user):
    with pytest.raises(services.TrainingRefused) as refused:
        services.request_training(assistant, admin_user)
    assert "no flows and no NLU data" in str(refused.value.problems[0])
    assert not TrainingJob.objects.exists()


def test_the_train_page_disables_training_while_invalid(admin_client, assistant):
    page = admin_client.get(reverse("training:train", args=["alpha"])).content.decode()
    assert "Fix these before training" in page and 'disabled aria-disabled="true"' in page
    response = admin_client.post(reverse("training:train", args=["alpha"]), {})
    assert response.status_code == 400 and not TrainingJob.objects.exists()


def test_the_train_page_queues_and_shows_the_job(admin_client, tiny):
    response = admin_client.post(reverse("training:train", args=["tiny"]), {"name": "v-one"})
    job = TrainingJob.objects.get()
    assert response["Location"] == reverse("training:job", args=["tiny", job.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "Waiting for a training consumer" in page and "Cancel training" in page


def test_only_the_requester_or_a_superuser_may_cancel(client, make_user, tiny):
    alice = make_user("alice", Role.FLOW_BUILDER)
    bob = make_user("bob", Role.FLOW_BUILDER)
    job = services.request_training(tiny, alice)
    client.force_login(bob)
    assert client.post(reverse("training:cancel", args=["tiny", job.pk])).status_code == 403
    client.force_login(alice)
    assert client.post(reverse("training:cancel", args=["tiny", job.pk])).status_code == 302
    assert TrainingJob.objects.get(pk=job.pk).status == "cancelled"


def test_the_api_queues_reports_and_refuses(client, admin_user, tiny, assistant):
    _, secret = ApiToken.issue(admin_user, "ci")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    response = client.post(
        "/api/v1/assistants/tiny/train", {"name": "ci"}, content_type="application/json", **auth
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["version"], body["assistant"]) == ("queued", 1, "tiny")
    assert client.get(f"/api/v1/training-jobs/{body['id']}", **auth).json()["status"] == "queued"
    refused = client.post(
        "/api/v1/assistants/alpha/train", {}, content_type="application/json", **auth
    )
    assert refused.status_code == 400 and refused.json()["errors"]
    assert client.get("/api/v1/assistants/tiny/versions/latest/model", **auth).status_code == 404
    assert client.get("/api/v1/assistants/tiny/versions/x1/model", **auth).status_code == 404
    assert (
        client.get("/api/v1/assistants/tiny/versions/1/input", **auth)["Content-Type"]
        == "application/zip"
    )


def test_a_training_job_of_another_assistant_is_not_found(client, make_user, tiny, make_assistant):
    job = services.request_training(tiny, None)
    other = make_assistant("other")
    outsider = make_user("out", grants={other: [Role.SUPERUSER]})
    _, secret = ApiToken.issue(outsider, "t")
    response = client.get(f"/api/v1/training-jobs/{job.pk}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 404


def test_the_train_page_links_each_problem_to_where_it_is_fixed(admin_client, tiny):
    from apps.flows.models import Flow

    flow = Flow.objects.get(assistant=tiny, name="say_hello")
    flow.definition = {**flow.definition, "steps": [{"action": "utter_missing"}]}
    flow.save(update_fields=["definition"])
    page = admin_client.get(reverse("training:train", args=["tiny"])).content.decode()
    assert "action &#x27;utter_missing&#x27; is not defined" in page
    assert f'href="{reverse("flows:detail", args=["tiny", "say_hello"])}"' in page


def test_the_train_command_queues_or_explains(tiny, assistant):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("train", "tiny", stdout=out)
    assert "Queued training job" in out.getvalue()
    assert TrainingJob.objects.get().version.assistant == tiny
    with pytest.raises(CommandError, match="nothing was queued"):
        call_command("train", "alpha", stderr=StringIO())
    with pytest.raises(CommandError, match="No assistant called 'ghost'"):
        call_command("train", "ghost")


def test_the_orchestrator_registers_its_schedules_once(db):
    from io import StringIO

    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("orchestrate", "--schedules-only", stdout=StringIO())
    call_command("orchestrate", "--schedules-only", stdout=StringIO())
    names = list(Schedule.objects.values_list("func", flat=True))
    assert names.count("apps.training.schedules.reap") == 1


def test_a_schedule_under_the_task_s_old_path_is_brought_up_to_date(db):
    from django_q.models import Schedule

    from apps.training import schedules

    Schedule.objects.create(
        name=schedules.REAP_SCHEDULE,
        func="apps.training.tasks.reap",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        repeats=-1,
    )
    Schedule.objects.create(
        name="renamed by hand", func="apps.training.tasks.reap", schedule_type=Schedule.MINUTES
    )
    schedules.ensure_schedules()
    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert "apps.training.tasks.reap" not in funcs
    assert Schedule.objects.get(name=schedules.REAP_SCHEDULE).func == "apps.training.schedules.reap"


def test_the_snapshot_is_the_project_the_checks_passed(make_assistant) -> None:
    """The request dumps the exported project before the checks look at it, with no copy:
    neither the dump nor the checks change it (the demo, with flows, slots, NLU and actions)."""
    import pickle

    from apps.projects import content
    from apps.projects.content.archives import read_project_dir
    from demo import HARBOR_BANK

    assistant = make_assistant("harbor")
    content.import_files(assistant, read_project_dir(HARBOR_BANK))
    chosen = services.training_flows(assistant)
    project = services.training_project(assistant, chosen)
    exported = pickle.dumps(project)
    snapshot = services.snapshot_files(assistant, chosen=chosen, project=project)
    assert pickle.dumps(project) == exported
    assert services.check_readiness(assistant, chosen=chosen, project=project).ok
    assert pickle.dumps(project) == exported
    job = services.request_training(assistant, None)
    assert job.version.input_files == snapshot
