"""The test helpers' child processes: a chatty child never blocks on its own output."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import Drained, stop

# Far more than a pipe holds (64 KiB on Linux): a child whose pipe nobody reads blocks on the
# write that fills it, and never gets to "done".
CHATTY = "import sys\nfor n in range(4000):\n    print('line', n, 'x' * 100)\nprint('done')\n"


def test_a_child_that_prints_more_than_a_pipe_holds_runs_to_its_end():
    process = Drained([sys.executable, "-c", CHATTY])
    try:
        assert process.wait(60) == 0
    finally:
        stop(process)
    printed = process.printed().splitlines()
    assert len(printed) == 4001 and printed[-1] == "done"
    assert printed[1234].startswith("line 1234 ")


def test_it_waits_for_a_line_and_says_when_the_output_ended_without_it():
    process = Drained([sys.executable, "-c", CHATTY + "import time\ntime.sleep(30)\n"])
    try:
        assert process.wait_for_line("done", 60)
    finally:
        stop(process)
    quiet = Drained([sys.executable, "-c", "print('started')"])
    assert not quiet.wait_for_line("ready", 60)
    assert quiet.wait(10) == 0 and quiet.printed() == "started\n"


def _var_dir_of(env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The VAR_DIR that the test settings give a process started with `env`, and its env."""
    show = (
        "import os, django; django.setup(); from django.conf import settings; "
        "print(settings.VAR_DIR); print(os.environ['STUDIO_TEST_VAR_WORKER'])"
    )
    env = {**env, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", show], env=env, capture_output=True, text=True, check=True
    )
    var_dir, worker = done.stdout.split()
    return var_dir, {**env, "STUDIO_VAR_DIR": var_dir, "STUDIO_TEST_VAR_WORKER": worker}


def test_each_pytest_worker_has_its_own_var_folder_that_its_children_share(tmp_path):
    # A worker's consumers prune the files no version in its own database names: two workers
    # sharing one folder would delete each other's model copies in the middle of a test.
    base = {
        k: v for k, v in os.environ.items() if k not in ("STUDIO_VAR_DIR", "STUDIO_TEST_VAR_WORKER")
    }
    run = {**base, "STUDIO_VAR_DIR": str(tmp_path)}
    first, child = _var_dir_of({**run, "PYTEST_XDIST_WORKER": "gw0"})
    second, _ = _var_dir_of({**run, "PYTEST_XDIST_WORKER": "gw1"})
    assert Path(first) == tmp_path / "gw0" and Path(second) == tmp_path / "gw1"
    # A worker's child (started with the worker's environment) uses the worker's folder.
    assert _var_dir_of(child)[0] == first
