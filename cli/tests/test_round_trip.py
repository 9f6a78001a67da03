"""The whole way through, with the `studio` executable against a running Studio: config ->
login -> upload a real project -> download gives it back -> link -> push config -> pull ->
versions -> model download -> conversations export.

Each test needs the GraphQL operations it drives to be in Studio's schema; until they are
served the test says which are missing (skipped), and from then on it runs.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
import yaml

from cli.tests.support import Cli
from studio_cli.errors import ExitCode

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROJECT = Path(__file__).resolve().parents[2] / "engine" / "tests" / "rasa_projects" / "calm-basic"
CLI_OPERATIONS = (
    "uploadModernAssistant",
    "exportAsEncodedYaml",
    "assistantByName",
    "deleteAssistant",
)
CI_OPERATIONS = ("modelDownloadUrls", "rawConversations")


def require_operations(*names: str) -> None:
    from apps.projects.graphql.schema import schema

    sdl = schema.as_str()
    missing = [name for name in names if f"{name}(" not in sdl]
    if missing:
        pytest.skip(f"Studio's schema does not serve {', '.join(missing)} yet")


@pytest.fixture
def signed_in(home, tmp_path, live_server, make_user):
    from apps.accounts.roles import Role

    make_user("dev", Role.DEVELOPER, Role.CONVERSATION_VIEWER)
    work = tmp_path / "work"
    work.mkdir()
    cli = Cli(home, work)
    cli("config", "--url", live_server.url)
    cli("login", "--username", "dev", "--password", "pw")
    return cli


def copy_project(target: Path) -> Path:
    shutil.copytree(PROJECT, target)
    return target


def flows_of(root: Path) -> dict:
    flows = {}
    for file in sorted((root / "data").rglob("*.yml")):
        flows.update((yaml.safe_load(file.read_text()) or {}).get("flows") or {})
    return flows


def test_upload_download_link_push_pull(signed_in, tmp_path):
    require_operations(*CLI_OPERATIONS)
    cli = signed_in
    project = copy_project(tmp_path / "project")
    cli("upload", "calm-basic", cwd=project)
    again = cli("upload", "calm-basic", cwd=project, check=False)
    assert again.returncode == ExitCode.REFUSED and "already has" in again.stderr

    cli("download", "calm-basic")
    downloaded = cli.cwd / "calm-basic"
    assert flows_of(downloaded).keys() == flows_of(project).keys()
    assert (
        yaml.safe_load((downloaded / "config.yml").read_text())["pipeline"]
        == (yaml.safe_load((project / "config.yml").read_text())["pipeline"])
    )
    domain = yaml.safe_load((downloaded / "domain.yml").read_text())
    assert set(yaml.safe_load((project / "domain.yml").read_text()).get("slots") or {}) <= set(
        domain.get("slots") or {}
    )
    assert (downloaded / "prompts").is_dir()

    cli("link", "calm-basic", cwd=project)
    link = yaml.safe_load((project / ".rasa" / "studio.yml").read_text())
    assert link["assistant_name"] == "calm-basic" and link["linked_at"].endswith("Z")

    config = project / "config.yml"
    config.write_text(config.read_text().replace("language: en", "language: de"))
    cli("push", "config", cwd=project)
    config.write_text(config.read_text().replace("language: de", "language: fr"))
    cli("pull", "config", cwd=project)
    assert yaml.safe_load(config.read_text())["language"] == "de"
    cli("pull", cwd=project)
    assert flows_of(project).keys() == flows_of(downloaded).keys()

    cli("upload", "calm-basic", "--dangerously-delete-existing", cwd=project)

    # Studio's engine trains the downloaded assistant when it is importable (here, through
    # PYTHONPATH; from a Studio checkout, by itself).
    trained = cli(
        "train",
        "calm-basic",
        "--project",
        "to-train",
        "--out",
        "models",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    assert "built-in engine" in trained.stdout
    assert list((cli.cwd / "models").glob("*.tar.gz"))


def test_versions_model_download_and_conversations_export(signed_in, tmp_path):
    require_operations(*CLI_OPERATIONS, *CI_OPERATIONS)
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from apps.ingestion.models import Conversation, Event
    from apps.projects.models import Assistant
    from apps.training.models import ModelVersion

    cli = signed_in
    cli("upload", "calm-basic", cwd=copy_project(tmp_path / "project"))
    assistant = Assistant.objects.get(name="calm-basic")
    archive = b"model archive bytes" * 1000
    name = default_storage.save("models/calm-basic/1.tar.gz", ContentFile(archive))
    ModelVersion.objects.create(
        assistant=assistant,
        number=1,
        name="v1",
        model_file=name,
        trained_at=timezone.now(),
        input_files={"config.yml": "recipe: default.v1\n"},
    )
    listed = cli("versions", "calm-basic")
    assert listed.stdout.split("\t")[:2] == ["1", "v1"]

    target = tmp_path / "model.tar.gz"
    cli("model", "download", "calm-basic", "v1", "-o", str(target))
    assert target.read_bytes() == archive
    missing = cli("model", "download", "calm-basic", "v9", check=False)
    assert missing.returncode == ExitCode.NOT_FOUND

    started = timezone.now() - timedelta(hours=1)
    conversation = Conversation.objects.create(
        assistant=assistant,
        sender_id="s1",
        started_at=started,
        last_event_at=started,
        event_count=1,
    )
    Event.objects.create(
        conversation=conversation,
        type="user",
        timestamp=started,
        fingerprint=uuid4(),
        data={"event": "user", "text": "hello"},
        text="hello",
    )
    out = tmp_path / "conversations.jsonl"
    cli("conversations", "export", "calm-basic", "-o", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1 and "hello" in json.dumps(lines[0])
