import signal
import threading

from workers.base import Worker


class Counting(Worker):
    kind = "counting"

    def __init__(self, work, **kwargs):
        super().__init__(**kwargs)
        self.work = list(work)
        self.done = []

    def step(self):
        if not self.work:
            return False
        self.done.append(self.work.pop(0))
        return True


def test_once_drains_the_queue_then_exits(tmp_path, db):
    alive = tmp_path / "alive"
    worker = Counting([1, 2, 3], once=True, liveness_file=alive)
    assert worker.run() == 0
    assert worker.done == [1, 2, 3]
    assert alive.exists()


def test_max_tasks_stops_early(db):
    worker = Counting([1, 2, 3], once=True, max_tasks=2)
    worker.run()
    assert worker.done == [1, 2]


def test_the_first_stop_signal_finishes_the_current_unit(db):
    class StopsMidway(Counting):
        def step(self):
            did = super().step()
            if self.done == [1]:
                signal.raise_signal(signal.SIGTERM)  # as if an operator stopped the pod now
            return did

    worker = StopsMidway([1, 2, 3], interval=0.01)
    worker.run()
    assert worker.done == [1]
    assert worker.stopping.is_set()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def test_an_idle_worker_sleeps_until_stopped(tmp_path, db):
    """With nothing to do (and not --once) the worker neither spins nor exits: it sleeps for
    its interval, and a stop request wakes it and ends the loop."""

    class Sleepy(Counting):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps = 0
            self.naps = []
            self.asleep = threading.Event()

        def step(self):
            self.steps += 1
            return super().step()

        def sleep(self, seconds):
            self.naps.append(seconds)
            self.asleep.set()
            super().sleep(seconds)

    worker = Sleepy([], interval=3600, liveness_file=tmp_path / "alive")
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run()), daemon=True)
    thread.start()
    assert worker.asleep.wait(60), "the idle worker never went to sleep"
    assert thread.is_alive() and outcome == []
    worker.request_stop()
    thread.join(60)
    assert not thread.is_alive(), "a stop request did not wake the sleeping worker"
    assert outcome == [0]
    assert worker.steps == 1 and worker.naps == [3600]
    assert worker.done == [] and (tmp_path / "alive").exists()


def test_the_command_touches_the_liveness_file_it_is_given(tmp_path, db):
    from io import StringIO

    from django.core.management import call_command

    alive = tmp_path / "probe" / "alive"
    call_command("training_consumer", "--once", "--liveness-file", str(alive), stdout=StringIO())
    assert alive.exists()
