"""Test runs executed by real training consumers (processes on the test database): a Try
conversation saved as a test case passes against its own version and fails, with the failing
step, expected and actual, against a version whose response changed; the command and its JUnit
report; a run whose consumer died is requeued and finished by another."""

import html
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from apps.flows.models import Response
from apps.projects.models import AssistantFiles
from apps.testing.models import TestRun
from apps.testing.schedules import reap
from apps.training import services
from apps.training.models import Deployment, ModelVersion
from tests.support.processes import ROOT, manage, process_env, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def train(assistant) -> ModelVersion:
    job = services.request_training(assistant, None)
    trainer = manage("training_consumer", "--once", "--worker-id", "trainer")
    assert trainer.wait(240) == 0, stop(trainer)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return ModelVersion.objects.get(pk=job.version_id)


def saved_from_try(admin_client, assistant) -> str:
    """Chat with the live bot on Try, then save the conversation as a test case."""
    runner = manage("running_consumer", "--worker-id", "runner", "--interval", "0.2")
    try:
        wait_for(
            lambda: Deployment.objects.filter(assistant=assistant, status="live").exists(),
            120,
            what="the bot to go live",
        )
        answer = admin_client.post(
            "/a/tiny/try/message", {"message": "hello"}, HTTP_HX_REQUEST="true"
        ).content.decode()
        assert "Hello from the tiny bot!" in answer
        download = admin_client.get("/a/tiny/tests/from-try.yml")
        editor = admin_client.get("/a/tiny/tests/from-try").content.decode()
    finally:
        stop(runner)
    assert download.status_code == 200 and download["Content-Disposition"].endswith('.yml"')
    text = html.unescape(re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", editor, re.S).group(1))
    path = html.unescape(re.search(r'name="path" value="([^"]+)"', editor).group(1))
    assert download.content.decode() == text
    assert "- user: hello" in text and "flow_started: say_hello" in text
    assert "utter_name: utter_hello" in text and "text_matches: ^Hello from the tiny bot!$" in text
    saved = admin_client.post("/a/tiny/tests/edit", {"path": path, "text": text, "original": ""})
    assert saved.status_code == 302
    assert AssistantFiles.objects.get(assistant=assistant).other_files[path] == text
    return path


def run_on_a_consumer(admin_client, version) -> TestRun:
    response = admin_client.post("/a/tiny/tests/run", {"version": version.number})
    run = TestRun.objects.get(pk=int(response["Location"].rsplit("/", 1)[1]))
    assert run.status == "queued"
    consumer = manage("training_consumer", "--once", "--worker-id", "tester")
    assert consumer.wait(120) == 0, stop(consumer)
    run.refresh_from_db()
    assert run.worker_id == "tester" and run.attempts == 1
    return run


def test_a_try_conversation_passes_on_its_version_and_fails_once_the_response_changed(
    admin_client, tiny
):
    first = train(tiny)
    path = saved_from_try(admin_client, tiny)

    passed = run_on_a_consumer(admin_client, first)
    assert passed.status == "passed", passed.error or passed.log
    assert (passed.case_count, passed.done_count, passed.passed_count) == (1, 1, 1)
    (case,) = passed.results
    assert case["status"] == "passed" and case["file"].endswith(path)
    assert {"user": "hello"} in case["transcript"]
    assert "progress: 1/1 passed" in passed.log

    Response.objects.filter(assistant=tiny, name="utter_hello").update(
        variations=[{"text": "Greetings, human."}]
    )
    second = train(tiny)
    failed = run_on_a_consumer(admin_client, second)
    assert failed.status == "failed" and failed.failed_count == 1
    failure = failed.results[0]["failure"]
    assert failure["step"] == 0 and failure["line"] is not None
    assert "no bot message matches '^Hello from the tiny bot!$'" in failure["message"]
    assert "utter_hello: 'Greetings, human.'" in failure["actual"]
    assert "bot utter_hello: 'Greetings, human.'" in failed.results[0]["events"]

    page = admin_client.get(f"/a/tiny/tests/runs/{failed.pk}").content.decode()
    assert "Step 1" in page and "Greetings, human." in page and "Expected" in page
    listing = admin_client.get("/a/tiny/tests").content.decode()
    assert 'title="last result on version 1">passed' in listing
    assert 'title="last result on version 2">failed' in listing
    versions = admin_client.get("/a/tiny/versions").content.decode()
    assert (
        f"/a/tiny/tests/runs/{passed.pk}" in versions
        and f"/a/tiny/tests/runs/{failed.pk}" in versions
    )


def run_tests(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "run_tests", *args],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )


CASE = """test_cases:
  - test_case: greets
    steps:
      - user: hello
        assertions:
          - flow_started: say_hello
          - bot_uttered:
              text_matches: ^Hello from the tiny bot!$
  - test_case: says_bye
    steps:
      - user: bye
        assertions:
          - bot_uttered:
              utter_name: utter_bye
              text_matches: ^Farewell$
"""


def test_the_command_waits_for_a_consumer_prints_the_cases_and_writes_junit(tiny, tmp_path):
    train(tiny)
    AssistantFiles.objects.get(assistant=tiny).put_kept_file("tests/cases.yml", CASE.encode())
    report = tmp_path / "junit.xml"

    # No consumer: it says so, within its timeout, and cancels the run.
    lonely = run_tests("tiny", "--timeout", "1")
    assert lonely.returncode == 1
    assert "no training consumer took it" in lonely.stderr and "--inline" in lonely.stderr
    assert TestRun.objects.get().status == "cancelled"

    consumer = manage("training_consumer", "--interval", "0.2", "--worker-id", "ci-consumer")
    try:
        done = run_tests("tiny", "--version", "1", "--junit", str(report))
    finally:
        stop(consumer)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "PASS tests/cases.yml::greets" in lines
    failing = next(line for line in lines if line.startswith("FAIL tests/cases.yml::says_bye"))
    assert "(step 1, line 13)" in failing and "^Farewell$" in failing
    assert lines[-1] == "Failed: 1 passed, 1 failed"
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = suite.find("testcase[@name='says_bye']/failure")
    assert "Bye now." in failure.text

    # --inline needs no consumer; a suite that passes exits 0.
    AssistantFiles.objects.get(assistant=tiny).put_kept_file(
        "tests/cases.yml", CASE.replace("^Farewell$", "^Bye now\\.$").encode()
    )
    inline = run_tests("tiny", "--inline")
    assert inline.returncode == 0, inline.stdout + inline.stderr
    assert inline.stdout.splitlines()[-1] == "Passed: 2 passed, 0 failed"


def test_a_killed_consumer_loses_nothing_its_run_is_requeued_and_finished_once(tiny, settings):
    version = train(tiny)
    slow = "test_cases:\n" + "".join(
        f"  - test_case: greets_{n}\n    steps:\n      - user: hello\n"
        "        assertions:\n          - flow_started: say_hello\n"
        for n in range(400)
    )
    AssistantFiles.objects.get(assistant=tiny).put_kept_file("tests/many.yml", slow.encode())
    from apps.testing import services as testing

    run = testing.request_run(tiny, version)
    doomed = manage("training_consumer", "--worker-id", "doomed", "--interval", "0.2")
    wait_for(lambda: TestRun.objects.get(pk=run.pk).status == "running", 60, what="the claim")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    settings.STUDIO_LEASE_SECONDS = 1
    time.sleep(1.5)
    assert reap() == {"test_runs_requeued": 1}
    survivor = manage("training_consumer", "--once", "--worker-id", "survivor")
    assert survivor.wait(240) == 0, stop(survivor)
    run.refresh_from_db()
    assert (run.status, run.attempts, run.worker_id) == ("passed", 2, "survivor")
    assert run.passed_count == 400 and len(run.results) == 400


#: Enough cases that the run, heartbeating every second, is still going when the test sees its
#: first progress and cancels it (2,000 at the default 5 s heartbeat once ran to the end first).
CANCELLED_RUN_CASES = 6_000


def test_cancelling_a_running_test_run_stops_it_and_stores_no_results(tiny):
    version = train(tiny)
    many = "test_cases:\n" + "".join(
        f"  - test_case: greets_{n}\n    steps:\n      - user: hello\n"
        "        assertions:\n          - flow_started: say_hello\n"
        for n in range(CANCELLED_RUN_CASES)
    )
    AssistantFiles.objects.get(assistant=tiny).put_kept_file("tests/many.yml", many.encode())
    from apps.testing import services as testing

    run = testing.request_run(tiny, version)
    consumer = manage(
        "training_consumer", "--worker-id", "c", "--interval", "0.2", STUDIO_HEARTBEAT_SECONDS="1"
    )
    try:
        wait_for(lambda: TestRun.objects.get(pk=run.pk).done_count > 0, 120, what="progress")
        run.refresh_from_db()
        run.request_cancel()
        wait_for(lambda: TestRun.objects.get(pk=run.pk).is_finished, 60, what="the cancel")
    finally:
        output = stop(consumer)
    run.refresh_from_db()
    assert run.status == "cancelled", output
    assert run.results == [] and 0 < run.done_count < CANCELLED_RUN_CASES
