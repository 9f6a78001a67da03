"""The demo assistant, trained and served by the command line, passes its e2e tests over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from engine.e2e import run_test_cases_http
from engine.formats import load_test_files
from tests.support.processes import free_port, stop

from .conftest import DEMO_PROJECT, REPO

pytestmark = pytest.mark.slow

#: The demo's endpoints.yml without its action_endpoint, and with events written to a file.
ENDPOINTS = """
event_broker:
  type: file
  path: {events}
"""


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 60 s:\n{log.read_text()}")


def test_the_demo_trains_serves_and_passes_every_e2e_case_over_http(tmp_path, engine_env) -> None:
    trained = subprocess.run(
        [sys.executable, "-m", "engine", "train", str(DEMO_PROJECT), "--out", str(tmp_path),
         "--fixed-model-name", "demo"],
        cwd=REPO, env=engine_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    model = tmp_path / "demo.tar.gz"
    assert model.is_file()

    events_file = tmp_path / "events.jsonl"
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(ENDPOINTS.format(events=events_file))
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", str(model), "--port", str(port),
             "--endpoints", str(endpoints), "--seed", "3"],
            cwd=REPO, env=engine_env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/status", process, log)
        cases = load_test_files([DEMO_PROJECT / "tests" / "e2e"])
        assert len(cases) == 36
        results = run_test_cases_http(cases, url)
        transcript = {r.name: r.transcript for r in results if not r.passed}
        assert [(r.name, r.failure) for r in results if not r.passed] == [], transcript
        assert len({r.name for r in results}) == 36
        # The same cases through the command line.
        command = subprocess.run(
            [sys.executable, "-m", "engine", "test", url, "--e2e", str(DEMO_PROJECT / "tests" / "e2e")],
            cwd=REPO, env=engine_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert command.returncode == 0, command.stdout + command.stderr
        assert command.stdout.splitlines()[-1] == "36 passed, 0 failed"
    finally:
        stop(process)

    served = log.read_text()
    assert "No action_endpoint: custom actions do nothing" in served
    # A custom action without an action server is reported once per action, not per run.
    assert served.count("custom action 'action_check_balance' did nothing") == 1
    # Every case (run twice) had its own conversation, and its events reached the broker.
    published = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert len({p["sender_id"] for p in published}) == 72
