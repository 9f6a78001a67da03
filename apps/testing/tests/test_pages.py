"""The Tests page, its YAML editor and the cases made of conversations (no consumer here)."""

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.ingestion.tests import factories
from apps.projects.content import export_files
from apps.projects.models import AssistantFiles
from apps.testing import suites
from apps.testing.models import TestRun
from apps.training.models import ModelVersion

pytestmark = pytest.mark.django_db

CASES = """test_cases:
  - test_case: greets
    steps:
      - user: hello
        assertions:
          - bot_uttered:
              utter_name: utter_hello
  - test_case: says_bye
    steps:
      - user: bye
      - utter: utter_bye
"""
BROKEN = """test_cases:
  - test_case: broken
    steps:
      - user: hello
        assertions:
          - bot_uttered_something: yes
"""


def kept(assistant):
    return AssistantFiles.objects.get(assistant=assistant).other_files


def save(client, path, text, original=""):
    return client.post("/a/tiny/tests/edit", {"path": path, "text": text, "original": original})


def test_a_saved_file_is_kept_under_tests_listed_with_its_cases_and_exported(admin_client, tiny):
    response = save(admin_client, "tests/e2e/greetings.yml", CASES)
    assert response.status_code == 302
    assert kept(tiny)["tests/e2e/greetings.yml"] == CASES
    page = admin_client.get("/a/tiny/tests").content.decode()
    assert "tests/e2e/greetings.yml" in page and "greets" in page and "says_bye" in page
    # Where export puts it: the round trip keeps it unchanged.
    assert export_files(tiny)["tests/e2e/greetings.yml"] == CASES


def test_an_invalid_file_is_refused_with_its_line_and_nothing_is_saved(admin_client, tiny):
    response = save(admin_client, "tests/broken.yml", BROKEN)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert "tests/broken.yml, line 6" in page and "bot_uttered_something" in page
    assert (
        "tests/broken.yml"
        not in AssistantFiles.objects.get_or_create(assistant=tiny)[0].other_files
    )
    # Invalid YAML too.
    response = save(admin_client, "tests/broken.yml", "test_cases:\n  - test_case: [\n")
    assert response.status_code == 400 and "line" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    ["data/flows.yml", "tests/../domain.yml", "tests/x.txt", "tests/conftest.yml", "/tests/a.yml"],
)
def test_only_case_files_under_tests_may_be_saved(admin_client, tiny, path):
    response = save(admin_client, path, CASES)
    assert response.status_code == 400
    assert path not in AssistantFiles.objects.get(assistant=tiny).other_files


def test_a_fixture_of_a_conftest_file_is_known_to_the_cases_of_its_folder(admin_client, tiny):
    files = AssistantFiles.objects.get(assistant=tiny)
    files.put_kept_file(
        "tests/conftest.yml", b"fixtures:\n  - premium:\n      - membership: premium\n"
    )
    text = CASES.replace(
        "  - test_case: greets\n", "  - test_case: greets\n    fixtures: [premium]\n"
    )
    assert save(admin_client, "tests/premium.yml", text).status_code == 302
    unknown = text.replace("[premium]", "[gold]")
    response = save(admin_client, "tests/gold.yml", unknown)
    assert response.status_code == 400 and "gold" in response.content.decode()


def test_editing_renames_and_a_new_file_may_not_overwrite_another(admin_client, tiny):
    save(admin_client, "tests/a.yml", CASES)
    save(admin_client, "tests/b.yml", CASES.replace("greets", "other"))
    assert save(admin_client, "tests/a.yml", CASES).status_code == 400  # a new file, taken
    editor = admin_client.get("/a/tiny/tests/edit?file=tests/a.yml").content.decode()
    assert "says_bye" in editor
    assert save(admin_client, "tests/c.yml", CASES, original="tests/a.yml").status_code == 302
    files = kept(tiny)
    assert "tests/a.yml" not in files and files["tests/c.yml"] == CASES
    assert admin_client.post("/a/tiny/tests/delete", {"file": "tests/c.yml"}).status_code == 302
    assert "tests/c.yml" not in kept(tiny)
    # Only case files can be deleted here.
    files = AssistantFiles.objects.get(assistant=tiny)
    files.put_kept_file("tests/test_stories.yml", b"stories: []\n")
    admin_client.post("/a/tiny/tests/delete", {"file": "tests/test_stories.yml"})
    assert "tests/test_stories.yml" in kept(tiny)


def test_a_conversation_in_review_opens_in_the_editor_as_a_test_case(client, tiny, make_user):
    conversation = factories.stored_conversation(tiny, sender_id="reviewed-sender")
    conversation.reviewed_at = timezone.now()
    conversation.save()
    client.force_login(make_user("boss", Role.SUPERUSER))
    page = client.get(f"/a/tiny/tests/from-conversation/{conversation.pk}").content.decode()
    assert "Made of" in page and f"conversation {conversation.pk}" in page
    assert "- user: send 50 to Joe" in page and "value: Joe" in page
    assert "flow_started: transfer_money" in page
    assert "utter_name: utter_ask_confirm" in page
    assert f"tests/e2e/conversation_{conversation.pk}.yml" in page
    detail = client.get(f"/a/tiny/conversations/{conversation.pk}").content.decode()
    assert f"/a/tiny/tests/from-conversation/{conversation.pk}" in detail


def test_a_run_is_refused_without_test_cases_or_a_trained_model(admin_client, tiny):
    version = ModelVersion.objects.create(assistant=tiny, number=1, model_file="models/x.tar.gz")
    response = admin_client.post("/a/tiny/tests/run", {"version": 1}, follow=True)
    assert "has no test cases" in response.content.decode()
    save(admin_client, "tests/a.yml", CASES)
    ModelVersion.objects.create(assistant=tiny, number=2)
    response = admin_client.post("/a/tiny/tests/run", {"version": 2}, follow=True)
    assert "has no trained model" in response.content.decode()
    assert not TestRun.objects.exists()
    response = admin_client.post("/a/tiny/tests/run", {"version": 1})
    run = TestRun.objects.get()
    assert response["Location"] == f"/a/tiny/tests/runs/{run.pk}"
    assert (run.version, run.status, run.case_count) == (version, "queued", 2)
    assert run.files == {"tests/a.yml": CASES}
    page = admin_client.get(f"/a/tiny/tests/runs/{run.pk}").content.decode()
    assert "Waiting for a training consumer" in page
    admin_client.post(f"/a/tiny/tests/runs/{run.pk}/cancel")
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_the_api_starts_a_run_and_reports_it(client, tiny, make_user):
    from apps.accounts.models import ApiToken

    user = make_user("ci", Role.DEVELOPER)
    _, secret = ApiToken.issue(user, "ci")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    ModelVersion.objects.create(assistant=tiny, number=1, model_file="models/x.tar.gz")
    AssistantFiles.objects.get(assistant=tiny).put_kept_file("tests/a.yml", CASES.encode())
    response = client.post(
        "/api/v1/assistants/tiny/test-runs",
        {"version": "latest"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["version"], body["status"], body["case_count"], body["passed"]) == (
        1,
        "queued",
        2,
        None,
    )
    run = TestRun.objects.get(pk=body["id"])
    TestRun.objects.filter(pk=run.pk).update(
        status="failed",
        failed_count=1,
        passed_count=1,
        results=[{"name": "greets", "status": "failed"}],
    )
    polled = client.get(f"/api/v1/assistants/tiny/test-runs/{run.pk}", **auth).json()
    assert polled["passed"] is False and polled["results"] == [
        {"name": "greets", "status": "failed"}
    ]
    listed = client.get("/api/v1/assistants/tiny/test-runs", **auth).json()
    assert [r["id"] for r in listed] == [run.pk]
    refused = client.post(
        "/api/v1/assistants/tiny/test-runs",
        {"version": "99"},
        content_type="application/json",
        **auth,
    )
    assert refused.status_code == 400 and "version" in refused.json()


def test_the_versions_page_shows_each_versions_last_test_run(admin_client, tiny):
    version = ModelVersion.objects.create(assistant=tiny, number=1, model_file="models/x.tar.gz")
    run = TestRun.objects.create(
        assistant=tiny, version=version, status="passed", case_count=3, passed_count=3
    )
    page = admin_client.get("/a/tiny/versions").content.decode()
    assert f"/a/tiny/tests/runs/{run.pk}" in page and "3/3" in page


def test_the_listing_says_which_file_cannot_be_read(admin_client, tiny):
    AssistantFiles.objects.get(assistant=tiny).put_kept_file("tests/bad.yml", BROKEN.encode())
    page = admin_client.get("/a/tiny/tests").content.decode()
    assert "tests/bad.yml cannot be read" in page and "line 6" in page
    assert suites.case_files(tiny)[0].problems
