"""`kill -9` of `manage.py ingest --source file` in the middle of its work: nothing is lost and
nothing is doubled. The child process uses the test database (a file copy of it on SQLite,
whose test database lives in memory)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from apps.ingestion.models import Conversation, Event, FileSpoolPosition
from demo.conversations import random_conversations

pytestmark = pytest.mark.slow

ROOT = Path(settings.BASE_DIR)


class ChildDatabase:
    def __init__(self, tmp_path):
        self.sqlite = connection.vendor == "sqlite"
        self.file = tmp_path / "child.sqlite3"

    def url(self) -> str:
        if self.sqlite:
            connection.ensure_connection()
            with sqlite3.connect(self.file) as target:
                connection.connection.backup(target)
            return f"sqlite:///{self.file}"
        s = connection.settings_dict
        auth = quote(s["USER"] or "", safe="")
        if s["PASSWORD"]:
            auth += ":" + quote(s["PASSWORD"], safe="")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"

    def count(self) -> int:
        if not self.sqlite:
            return Event.objects.count()
        with sqlite3.connect(self.file, timeout=30) as db:
            return db.execute("SELECT count(*) FROM ingestion_event").fetchone()[0]

    def bring_back(self) -> None:
        if self.sqlite:
            with sqlite3.connect(self.file) as source:
                source.backup(connection.connection)


def test_kill_9_in_the_middle_loses_and_doubles_nothing(transactional_db, make_assistant, tmp_path):
    make_assistant("alpha")
    spool = tmp_path / "events"
    spool.mkdir()
    total = 0
    with (spool / "alpha.jsonl").open("wb") as handle:
        for conversation in random_conversations(400, assistant_id="alpha", start=1.7e9):
            for line in conversation.messages():
                handle.write(line + b"\n")
                total += 1
    database = ChildDatabase(tmp_path)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database.url(),
        "STUDIO_VAR_DIR": str(tmp_path / "var"),
    }
    command = [
        sys.executable,
        "manage.py",
        "ingest",
        "--source",
        "file",
        "--spool-dir",
        str(spool),
        "--batch-size",
        "150",
        "--interval",
        "0.05",
    ]
    kills = 0
    for _ in range(3):
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            before = database.count()
            deadline = time.monotonic() + 60
            while database.count() <= before and database.count() < total:
                assert child.poll() is None, child.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the ingester stored nothing"
                time.sleep(0.02)
            if database.count() >= total:
                break
            os.kill(child.pid, signal.SIGKILL)  # mid-stream, very likely mid-batch
            kills += 1
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(10)
            child.stderr.close()
    # Start again and let it finish.
    finished = subprocess.run(
        [*command, "--once"], cwd=ROOT, env=env, capture_output=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr.decode()[-3000:]
    database.bring_back()
    assert kills >= 1
    assert Event.objects.count() == total
    assert Event.objects.values("fingerprint").distinct().count() == total
    assert Conversation.objects.filter(has_session_start=False).count() == 0
    assert Conversation.objects.count() == 400
    assert FileSpoolPosition.objects.get().offset == (spool / "alpha.jsonl").stat().st_size
