"""The test helpers' child processes: a chatty child never blocks on its own output."""

import sys

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
