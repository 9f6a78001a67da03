"""The training consumer: claims queued training jobs and trains them, one at a time."""

from __future__ import annotations

import json
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from apps.projects.secrets import bot_env, scrubber
from apps.training import services
from apps.training.models import LeasedWork, ModelVersion, TrainingJob
from apps.training.wakeup import Waker
from workers.base import Worker
from workers.kubernetes import KubernetesRunner, RunnerError
from workers.runners import Runner, Training, get_runner, preload_engine
from workers.testing import run_next_test_run
from workers.training_cache import prune_stored, training_cache

#: How often the consumer looks at a local training child's output and exit.
LOCAL_POLL_SECONDS = 0.01


def write_project(files: dict[str, str] | dict[str, str | bytes], root: Path) -> None:
    """Write the files under `root`: text as UTF-8, bytes (a PDF document) as they are."""
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def model_id_of(archive: Path | IO[bytes]) -> str:
    """The model_id in the archive's metadata.json ('' when there is none, e.g. other engines)."""
    try:
        source = {"name": archive} if isinstance(archive, Path) else {"fileobj": archive}
        # Member by member, not getmembers(): the built-in engine writes metadata.json first,
        # so the rest of the archive is not decompressed.
        with tarfile.open(mode="r:gz", **source) as tar:
            for member in tar:
                if member.name.lstrip("./") == "metadata.json":
                    handle = tar.extractfile(member)
                    return str(json.load(handle).get("model_id", "")) if handle else ""
    except (tarfile.TarError, OSError, ValueError):
        pass
    return ""


def preload_training() -> None:
    """Import what a training imports on its way (the engine imports these lazily), so each
    forked training child starts with them: about 0.1 s of CPU per training otherwise, on the
    path from an edit to its first reply."""
    import engine.dialogue
    import engine.llm
    import engine.nlu
    import engine.policies
    import engine.remote_cache  # noqa: F401
    from engine.dialogue.model import default_flows
    from engine.nlu.classifier import TextClassifier

    # What every training reads or looks for, once: the pattern flows and responses (about
    # 10 ms to parse), and on a small fit, the thread pools the classifier limits (up to about
    # 10 ms to find) and the dataframe plug-ins scikit-learn looks up in the installed
    # packages on its first check of an input (about 15 ms).
    default_flows()
    TextClassifier(c=1.0).fit(["hello there", "good morning", "bye now", "see you"], list("aabb"))


class TrainingConsumer(Worker):
    kind = "training"

    def __init__(self, *, runner: Runner | KubernetesRunner | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runner = runner or get_runner()

    def setup(self) -> None:
        if self.runner.local and self.runner.engine == "builtin":
            preload_engine()
            preload_training()
        self.waker = Waker("training")

    def sleep(self, seconds: float) -> None:
        """Idle until `seconds` pass or a training is requested on this machine (a wake-up:
        `apps.training.wakeup`); other work (test runs, comparisons) waits for the next poll."""
        self.waker.sleep(seconds, self.stopping)

    def step(self) -> bool:
        """Run the first queued piece of work, in this order: a training (the oldest), an e2e
        test run, a comparison or replay (workers/comparison.py). True if there was one."""
        return any(run() for run in (self._train_next, self._test_next, self._compare_next))

    def _train_next(self) -> bool:
        job = TrainingJob.objects.claim_next(self.worker_id)
        if job is None:
            return False
        self.say(f"training {job.assistant.name} version {job.version.number} (job {job.pk})")
        self.train(job)
        return True

    def _test_next(self) -> bool:
        return run_next_test_run(self)

    def _compare_next(self) -> bool:
        from workers.comparison import run_next

        return run_next(self.worker_id, self.touch_liveness, self.say)

    def train(self, job: TrainingJob) -> None:
        if isinstance(self.runner, KubernetesRunner):
            self._train_in_cluster(job, self.runner)
        else:
            self._train_here(job, self.runner)

    def _train_in_cluster(self, job: TrainingJob, runner: KubernetesRunner) -> None:
        """A Kubernetes Job trains it; its pod sends the model to the web, which stores it
        under services.model_storage_name(job)."""
        try:
            training = runner.start_training(job, self.worker_id, bot_env(job.assistant_id))
        except RunnerError as exc:
            job.finish(TrainingJob.Status.FAILED, error=str(exc))
            self.say(f"job {job.pk} failed: {exc}")
            return
        try:
            if self._follow(job, training, scrubber(job.assistant_id)) != "done":
                return
            if training.poll() != 0:
                self._fail(job, f"The training Job failed: {training.reason}")
                return
            self._record_stored(job)
        finally:
            training.stop()
            if runner.pods.training_cache:  # the pod stored what it trained: keep the bounds
                prune_stored(job.assistant_id, self.say)

    def _record_stored(self, job: TrainingJob) -> None:
        name = services.model_storage_name(job)
        try:
            with default_storage.open(name, "rb") as handle:
                model_id = model_id_of(handle)
        except OSError:
            job.finish(
                TrainingJob.Status.FAILED,
                error="The training finished, but its model never reached Studio "
                "(see the log for the pod's upload).",
            )
            return
        if services.record_trained_model(job, name, model_id):
            self.say(f"job {job.pk} succeeded: {name}")
        else:
            default_storage.delete(name)
            self.say(f"job {job.pk} finished here but was taken over; discarded {name}")

    def _train_here(self, job: TrainingJob, runner: Runner) -> None:
        version = job.version
        with tempfile.TemporaryDirectory(prefix="studio-train-") as tmp:
            project, out = Path(tmp) / "project", Path(tmp) / "out"
            write_project(version.input_contents, project)
            out.mkdir()
            cache = training_cache(job.assistant_id) if runner.engine == "builtin" else None
            child, archive = runner.train(
                project,
                out,
                f"{job.assistant.name}-{version.number}",
                env=bot_env(job.assistant_id),
                cache=cache.download(self.say) if cache is not None else None,
            )
            outcome = self._follow(job, child, scrubber(job.assistant_id))
            if cache is not None:
                cache.upload(self.say)
            if outcome != "done":
                return
            returncode = child.poll()
            if returncode != 0 or not archive.exists():
                self._fail(job, f"Training exited with code {returncode}.")
                return
            self._store(job, version, archive)

    def _fail(self, job: TrainingJob, headline: str) -> None:
        """The training failed: the error is `headline` and the log's last lines."""
        tail = "\n".join(job_log_tail(job))
        job.finish(TrainingJob.Status.FAILED, error=f"{headline}\n{tail}")
        self.say(f"job {job.pk} failed: {headline}")

    def _follow(
        self,
        job: LeasedWork,
        child: Training,
        scrub: Callable[[str], str] = lambda text: text,
    ) -> str:
        """Stream the child's output onto the job (secret values hidden by `scrub`),
        heartbeating, until it exits. Returns 'done', or 'lost' when the job was cancelled or
        taken away (the child is stopped)."""
        interval = settings.STUDIO_HEARTBEAT_SECONDS
        deadline = time.monotonic() + settings.STUDIO_TRAINING_TIMEOUT
        next_beat = 0.0
        pending: list[str] = []
        while True:
            pending.extend(map(scrub, child.new_lines()))
            finished = child.poll() is not None
            if finished:
                child.finish_reading()
                pending.extend(map(scrub, child.new_lines()))
            now = time.monotonic()
            if finished or now >= next_beat:
                progress = pending[-1] if pending else None
                if not job.heartbeat(progress=progress, log_lines=pending):
                    child.stop()
                    self._settle_lost(job)
                    return "lost"
                self.touch_liveness()
                pending = []
                next_beat = now + interval
            if finished:
                return "done"
            if now > deadline:
                child.stop()
                what = "Training" if isinstance(job, TrainingJob) else "The test run"
                job.finish(
                    TrainingJob.Status.FAILED,
                    error=f"{what} took longer than STUDIO_TRAINING_TIMEOUT.",
                )
                return "lost"
            # A child of this machine is looked at often (its exit costs no query); a pod's
            # state comes from its watcher thread.
            time.sleep(LOCAL_POLL_SECONDS if self.runner.local else 0.1)

    def _settle_lost(self, job: LeasedWork) -> None:
        row = (
            type(job)
            .objects.filter(pk=job.pk)
            .values("cancel_requested", "worker_id", "status")
            .first()
        )
        if row and row["cancel_requested"] and row["worker_id"] == job.worker_id:
            job.finish(TrainingJob.Status.CANCELLED, error="Cancelled on request.")
            self.say(f"job {job.pk} cancelled")
        else:
            self.say(f"job {job.pk} was taken over by another worker; dropping it")

    def _store(self, job: TrainingJob, version: ModelVersion, archive: Path) -> None:
        # Upload outside any transaction (it can be slow); record it in a short one.
        with archive.open("rb") as handle:
            name = default_storage.save(services.model_storage_name(job), File(handle))
        if services.record_trained_model(job, name, model_id_of(archive)):
            self.say(f"job {job.pk} succeeded: {name}")
        else:
            # The lease was lost while uploading: the worker that took over stores its own.
            default_storage.delete(name)
            self.say(f"job {job.pk} finished here but was taken over; discarded {name}")


def job_log_tail(job: TrainingJob, lines: int = 30) -> list[str]:
    log = TrainingJob.objects.filter(pk=job.pk).values_list("log", flat=True).first() or ""
    return log.splitlines()[-lines:]
