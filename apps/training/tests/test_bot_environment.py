"""What bots and trainings see of the consumer's environment, with real consumer processes and a
real local action server: only the operator's allow-list and the assistant's own secrets.

The consumer runs with canary values in the variables that hold Studio's own secrets; the
version's endpoints.yml names them as ${VAR} (as it could be stored before these names were
checked), and none may reach the action server, the stored output or the Try page."""

from __future__ import annotations

import http.server
import json
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.test import Client

from apps.accounts.roles import Role
from apps.projects import content, secrets
from apps.training import services
from apps.training.models import Deployment, ModelVersion, TrainingJob
from tests.support.processes import manage, stop, wait_for
from workers.training import TrainingConsumer, write_project

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CANARIES = {
    "SECRET_KEY": "canary-secret-key-0123456789abcdef0123456789abcdef",
    "KAFKA_SASL_PASSWORD": "canary-kafka-password",
    "STUDIO_S3_SECRET_ACCESS_KEY": "canary-s3-secret",
    "OIDC_RP_CLIENT_SECRET": "canary-oidc-secret",
}
SHARED_SECRETS_KEY = "secrets-key-shared-by-the-test-and-its-consumers"
ALLOWED = {"STUDIO_BOT_ENV": "PUBLIC_GREETING", "PUBLIC_GREETING": "allowed-greeting-value"}
OWN_SECRET = "own-secret-value-of-checker"

CHECKER = {
    "config.yml": "recipe: default.v1\nlanguage: en\npipeline: []\npolicies: []\n",
    "domain.yml": (
        'version: "3.1"\nintents: [greet, check]\nactions: [action_check]\n'
        "responses:\n  utter_hello:\n  - text: Hello there.\n"
    ),
    "data/flows.yml": (
        'version: "3.1"\nflows:\n'
        "  say_hello:\n    description: Greet.\n    nlu_trigger: [greet]\n"
        "    steps:\n      - action: utter_hello\n"
        "  run_check:\n    description: Run the check.\n    nlu_trigger: [check]\n"
        "    steps:\n      - action: action_check\n"
    ),
    "data/nlu.yml": (
        'version: "3.1"\nnlu:\n'
        "  - intent: greet\n    examples: |\n      - hello\n      - hi\n      - hey there\n"
        "  - intent: check\n    examples: |\n      - check it\n      - run the check\n"
        "      - please check\n      - check now\n"
    ),
}


@pytest.fixture(autouse=True)
def shared_settings(settings):
    settings.STUDIO_SECRETS_KEY = SHARED_SECRETS_KEY
    settings.STUDIO_BOT_ENV = ["PUBLIC_GREETING"]


@pytest.fixture
def checker(make_assistant):
    assistant = make_assistant("checker")
    content.import_files(assistant, CHECKER)
    secrets.set_secret(assistant, "ACTIONS_TOKEN", OWN_SECRET)
    return assistant


@pytest.fixture
def action_server():
    """A real HTTP action server on 127.0.0.1 that records every request's headers."""
    requests: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            requests.append({"headers": dict(self.headers.items()), "body": body.decode()})
            answer = b'{"events": [], "responses": [{"text": "checked"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhook", requests
    finally:
        server.shutdown()
        server.server_close()


def trained_version(assistant, endpoints_yml: str) -> ModelVersion:
    """A trained version whose stored endpoints.yml is `endpoints_yml`, with a queued bot."""
    job = services.request_training(assistant, None)
    version = job.version
    with tempfile.TemporaryDirectory() as tmp:
        from engine.train import train_project

        write_project(version.input_files, Path(tmp) / "project")
        archive = train_project(Path(tmp) / "project", Path(tmp) / "out", fixed_model_name="m")
        with open(archive.path, "rb") as handle:
            name = default_storage.save(f"models/{assistant.name}/1.tar.gz", File(handle))
    TrainingJob.objects.filter(pk=job.pk).update(status=TrainingJob.Status.SUCCEEDED)
    version.input_files = {**version.input_files, "endpoints.yml": endpoints_yml}
    version.model_file = name
    version.save()
    services.deploy(version)
    return version


def running_consumer(**env):
    return manage(
        "running_consumer", "--worker-id", "runner-1", "--interval", "0.2",
        **CANARIES, **ALLOWED, STUDIO_SECRETS_KEY=SHARED_SECRETS_KEY, **env,
    )  # fmt: skip


def settled(version):
    return Deployment.objects.filter(version=version, status__in=["live", "failed"]).first()


def assert_no_canary(text: str) -> None:
    for name, value in CANARIES.items():
        assert value not in text, f"{name}'s value leaked"


def people(make_user, assistant):
    business, developer = Client(), Client()
    business.force_login(make_user("biz", grants={assistant: [Role.BUSINESS_USER]}))
    developer.force_login(make_user("dev", grants={assistant: [Role.DEVELOPER]}))
    return business, developer


def test_the_workers_secrets_never_reach_the_action_server_or_the_try_page(
    checker,
    action_server,
    make_user,
):
    url, requests = action_server
    leaky = (
        f'action_endpoint:\n  url: "{url}"\n  headers:\n'
        '    X-Leak-Secret-Key: "${SECRET_KEY}"\n'
        '    X-Leak-Kafka-Password: "${KAFKA_SASL_PASSWORD}"\n'
        '    X-Leak-S3-Secret: "${STUDIO_S3_SECRET_ACCESS_KEY}"\n'
        '    X-Leak-Oidc: "${OIDC_RP_CLIENT_SECRET}"\n'
    )
    version = trained_version(checker, leaky)
    business, developer = people(make_user, checker)
    runner = running_consumer()
    try:
        deployment = wait_for(lambda: settled(version), 90, what="the bot to start or fail")
        if deployment.status == "live":
            business.post(
                "/a/checker/try/message", {"version": version.number, "message": "check it"}
            )
        try_pages = [
            c.get(f"/a/checker/try?version={version.number}").content.decode()
            for c in (business, developer)
        ]
    finally:
        output = stop(runner)
    deployment.refresh_from_db()
    assert_no_canary(json.dumps(requests))
    assert_no_canary(deployment.error)
    for page in try_pages:
        assert_no_canary(page)
    assert deployment.status == "failed", output
    assert "SECRET_KEY" in deployment.error  # the bot says which variable it lacks


def test_a_bot_gets_the_allowed_variables_and_its_own_secrets_behind_its_token(
    checker,
    action_server,
    make_user,
):
    url, requests = action_server
    endpoints = (
        f'action_endpoint:\n  url: "{url}"\n  headers:\n'
        '    X-Allowed: "${PUBLIC_GREETING}"\n'
        '    X-Own: "${ACTIONS_TOKEN}"\n'
    )
    version = trained_version(checker, endpoints)
    business, _ = people(make_user, checker)
    runner = running_consumer()
    try:
        deployment = wait_for(lambda: settled(version), 90, what="the bot to start or fail")
        assert deployment.status == "live", deployment.error
        response = business.post(
            "/a/checker/try/message", {"version": version.number, "message": "check it"}
        )
        assert response.status_code in (200, 302), response.content.decode()
        # Only the web relay knows the bot's token: anyone else on the machine gets 401.
        bot_url = deployment.bot_url
        assert httpx.get(f"{bot_url}/status").status_code == 401
        assert httpx.get(f"{bot_url}/conversations/someone/tracker").status_code == 401
        assert (
            httpx.post(
                f"{bot_url}/webhooks/rest/webhook", json={"sender": "x", "message": "hi"}
            ).status_code
            == 401
        )
        assert deployment.bot_token and deployment.bot_token not in json.dumps(requests)
        page = business.get(f"/a/checker/try?version={version.number}").content.decode()
        assert deployment.bot_token not in page
    finally:
        output = stop(runner)
    assert len(requests) == 1, output
    headers = requests[0]["headers"]
    assert headers["X-Allowed"] == ALLOWED["PUBLIC_GREETING"]
    assert headers["X-Own"] == OWN_SECRET
    assert_no_canary(json.dumps(requests))
    assert "checked" in page


def test_custom_actions_cannot_reach_a_blocked_network(checker, action_server):
    url, requests = action_server
    version = trained_version(checker, f'action_endpoint:\n  url: "{url}"\n')
    runner = running_consumer(STUDIO_BLOCKED_NETWORKS="127.0.0.0/8")
    try:
        deployment = wait_for(lambda: settled(version), 90, what="the bot to start or fail")
        assert deployment.status == "live", deployment.error
        from apps.training import bot

        bot.send_message(deployment, "someone", "check it")
    finally:
        output = stop(runner)
    assert requests == [], output


def test_a_crashed_bots_output_hides_secrets_and_is_shown_to_managers_only(
    checker,
    make_user,
):
    # The engine cannot read the secret as a number and dies printing it.
    endpoints = 'action_endpoint:\n  url: "http://127.0.0.1:9/"\n  timeout: "${ACTIONS_TOKEN}"\n'
    version = trained_version(checker, endpoints)
    business, developer = people(make_user, checker)
    runner = running_consumer()
    try:
        deployment = wait_for(lambda: settled(version), 90, what="the bot to start or fail")
    finally:
        output = stop(runner)
    assert deployment.status == "failed", output
    assert OWN_SECRET not in deployment.error
    assert "could not convert string to float: '[hidden]'" in deployment.error
    developer_page = developer.get(f"/a/checker/try?version={version.number}").content.decode()
    business_page = business.get(f"/a/checker/try?version={version.number}").content.decode()
    assert "What it printed" in developer_page and "[hidden]" in developer_page
    assert "Its bot failed to start." in business_page
    assert "What it printed" not in business_page and "Traceback" not in business_page


def test_a_training_gets_a_minimal_environment_and_its_log_hides_secrets(
    checker,
    settings,
    monkeypatch,
    make_user,
):
    for name, value in {**CANARIES, **ALLOWED}.items():
        monkeypatch.setenv(name, value)
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_TRAIN_COMMAND = (
        f"{sys.executable} -c \"import os; print('names', sorted(os.environ)); "
        "print('own', os.environ.get('ACTIONS_TOKEN')); raise SystemExit(3)\""
    )
    job = services.request_training(checker, None)
    TrainingConsumer(once=True, worker_id="w").run()
    job.refresh_from_db()
    assert job.status == "failed"
    names = next(line for line in job.log.splitlines() if line.startswith("names"))
    for name in CANARIES:
        assert f"'{name}'" not in names
    assert "'DATABASE_URL'" not in names and "'DJANGO_SETTINGS_MODULE'" not in names
    assert "'PUBLIC_GREETING'" in names and "'ACTIONS_TOKEN'" in names
    assert "own [hidden]" in job.log and OWN_SECRET not in job.log + job.error
    business, developer = people(make_user, checker)
    assert "own [hidden]" in developer.get(f"/a/checker/training/{job.pk}").content.decode()
    business_page = business.get(f"/a/checker/training/{job.pk}").content.decode()
    assert "The training failed." in business_page
    assert "own [hidden]" not in business_page and "exited with code 3" not in business_page
