"""The running consumer: holds one bot at a time for a deployment.

It claims a queued deployment, fetches the model from storage, starts the bot, waits until the
bot answers, marks it live and retires the assistant's previous bot (an isolated deployment, a
personal version's bot, leaves the assistant's live bot alone). While it holds the bot it
heartbeats the row; when the row asks it to stop (idle, replaced, or stopped by a person) it
stops the bot and is free again. Local bots publish their events to the ingestion spool.

Swap, don't restart (issue 20): the consumer of a live built-in bot on this machine takes the
assistant's next queued deployment itself when that version runs with the same endpoints and
secrets, and loads its model into the running bot (Rasa's ``PUT /model``, engine.server.swap)
instead of starting another: the conversations keep their trackers. Only once the bot answers
with the new model is the new deployment live and the old one retired; a model that fails to
load fails the new deployment (saying why) and the old one goes on answering. Free consumers
leave such deployments to it for a few seconds (`Deployment.objects.claim_new_bot`). Bots in
Kubernetes pods are not swapped: a pod reads no storage (it fetches its one model through a
signed link at start), so a new version gets a new pod as before.

While a training or a bot is on its way, the consumer polls every few hundredths of a second
instead of its `--interval`, and a bot queued on this machine wakes it at once
(`apps.training.wakeup`), so a new model is live moments after its training ends.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import json
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.projects.secrets import bot_env, scrubber
from apps.training import services
from apps.training.bot import request as bot_request
from apps.training.models import Deployment, TrainingJob
from apps.training.wakeup import Waker
from engine import formats
from workers.base import Worker
from workers.kubernetes import KubernetesRunner, RunnerError
from workers.runners import LocalBot, Runner, get_runner, preload_engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])


def bot_endpoints(endpoints_text: str, spool_file: Path) -> str:
    """The version's endpoints.yml with its event broker pointed at the local spool (Rasa's
    file broker), so Studio ingests the conversations people have with the bot."""
    return formats.with_event_broker(endpoints_text, {"type": "file", "path": str(spool_file)})


#: How often a consumer polls while a training or a bot is on its way (else `--interval`).
EXPECTING_POLL_SECONDS = 0.02
#: How long after it was queued a bot counts as "on its way".
EXPECTING_WINDOW_SECONDS = 30


def _digest(env: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()


class RunningConsumer(Worker):
    kind = "running"

    def __init__(self, *, runner: Runner | KubernetesRunner | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runner = runner or get_runner()

    def setup(self) -> None:
        if self.runner.local and self.runner.engine == "builtin":
            preload_engine()
        self.held: Deployment | None = None
        self.bot: Any = None  # a LocalBot or the Kubernetes runner's PodBot
        self.output: collections.deque[str] = collections.deque(maxlen=200)
        self.scrub: Callable[[str], str] = scrubber()
        self.workdir = Path(settings.VAR_DIR) / "bots" / self.worker_id
        # Swaps need a built-in bot this consumer can reach with a path on this machine.
        self.can_swap = bool(self.runner.local and self.runner.engine == "builtin")
        self.bot_env_digest = ""  # the secrets the held bot was started with
        self.next_tend = 0.0
        self.declined: set[int] = set()  # queued bots left to a new process (see `swap`)
        self.waker = Waker("running")  # a bot queued on this machine wakes it at once

    # -- loop ---------------------------------------------------------------------------

    def step(self) -> bool:
        """Start a queued bot if this consumer holds none (True); else swap the next version's
        model into the held bot (True), or tend the held bot (False)."""
        if self.held is not None:
            if self.can_swap and self.held.status == Deployment.Status.LIVE:
                successor = Deployment.objects.claim_swap(
                    self.worker_id, self.held, exclude=self.declined
                )
                if successor is not None:
                    self.swap(successor)
                    return True
            if time.monotonic() >= self.next_tend:
                self.next_tend = time.monotonic() + min(self.interval, 1.0)
                self.tend()
            return False
        deployment = Deployment.objects.claim_new_bot(self.worker_id, leave_swaps=self.can_swap)
        if deployment is None:
            return False
        self.start(deployment)
        return True

    def sleep(self, seconds: float) -> None:
        """Idle: poll quickly while a training or a bot is on its way (a new model is then
        live moments after its training ends), else wait `seconds`."""
        if self._work_expected():
            seconds = min(seconds, EXPECTING_POLL_SECONDS)
        self.waker.sleep(seconds, self.stopping)

    def _work_expected(self) -> bool:
        """A training is running, or a bot was queued moments ago (not one that has waited
        long for a free consumer: that one is claimed at the normal pace)."""
        recent = timezone.now() - timedelta(seconds=EXPECTING_WINDOW_SECONDS)
        deployments = Deployment.objects.filter(
            status=Deployment.Status.QUEUED, created_at__gte=recent
        )
        trainings = TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING)
        if self.held is not None:
            if not self.can_swap:
                return False  # only a swap would make this consumer take more work
            deployments = deployments.filter(assistant_id=self.held.assistant_id)
            trainings = trainings.filter(assistant_id=self.held.assistant_id)
        return trainings.exists() or deployments.exists()

    def teardown(self) -> None:
        # Shutting down: hand the bot back so another consumer brings it up again.
        if self.held is not None:
            self._stop_bot()
            self.held.hand_back()
            self.held = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- a bot's life -------------------------------------------------------------------

    def start(self, deployment: Deployment) -> None:
        version = deployment.version
        self.say(
            f"starting {deployment.assistant.name} v{version.number} (deployment {deployment.pk})"
        )
        self.output.clear()
        self.scrub = scrubber(deployment.assistant_id)
        env = bot_env(deployment.assistant_id)
        self.bot_env_digest = _digest(env)
        try:
            if isinstance(self.runner, KubernetesRunner):
                self.bot = self.runner.start_bot(deployment, self.worker_id, env)
            else:
                self.bot = self._start_here(deployment, self.runner, env)
        except OSError as exc:
            deployment.end(Deployment.Status.FAILED, f"Cannot fetch the model: {exc}")
            return
        except RunnerError as exc:
            deployment.end(Deployment.Status.FAILED, str(exc))
            return
        self.held = deployment
        if not self._wait_until_ready():
            reason = self.bot.reason()
            self._stop_bot()
            deployment.end(
                Deployment.Status.FAILED, self._printed(f"The bot did not start: {reason}")
            )
            self.held = None
            return
        # Only the relay (apps.training.bot) and the bot know the token; the built-in engine
        # then refuses every other caller.
        if deployment.mark_live(self.bot.url, self.bot.token):
            # The new bot is live: only now retire the assistant's previous one (an isolated
            # bot, a person's own version, retires only that person's previous isolated bot).
            deployment.retire_others()
            isolated = " (isolated: the live bot stays)" if deployment.isolated else ""
            self.say(f"deployment {deployment.pk} live at {self.bot.url}{isolated}")
        else:
            self.tend()

    def _start_here(self, deployment: Deployment, runner: Runner, env: dict[str, str]) -> LocalBot:
        """A child of this consumer on a free port, its events going to the local spool."""
        version = deployment.version
        self.workdir.mkdir(parents=True, exist_ok=True)
        model = self._fetch_model(version.model_file)
        spool = Path(settings.STUDIO_EVENT_SPOOL_DIR)
        spool.mkdir(parents=True, exist_ok=True)
        endpoints = self.workdir / "endpoints.yml"
        endpoints.write_text(
            bot_endpoints(
                version.input_files.get("endpoints.yml", ""),
                spool / f"{deployment.assistant.name}.{deployment.pk}.jsonl",
            )
        )
        port = free_port()
        token = secrets.token_urlsafe(32) if runner.engine == "builtin" else ""
        child = runner.serve(
            model,
            port,
            endpoints,
            env=env,
            token=token,
            blocked_networks=settings.STUDIO_BLOCKED_NETWORKS,
        )
        return LocalBot(child, f"http://127.0.0.1:{port}", token)

    def swap(self, successor: Deployment) -> None:
        """Load `successor`'s model into the held live bot (claimed by `claim_swap`): live and
        the held deployment retired once the bot answers with it; failed, saying why, with the
        held one still live, when it does not load."""
        held, bot = self.held, self.bot
        assert held is not None and bot is not None
        version = successor.version
        self.say(
            f"swapping {successor.assistant.name} v{version.number} (deployment "
            f"{successor.pk}) into the bot of deployment {held.pk}"
        )
        if _digest(bot_env(successor.assistant_id)) != self.bot_env_digest:
            # The assistant's secrets changed since the bot started: it needs a new process.
            self.declined.add(successor.pk)
            successor.hand_back()
            return
        try:
            model = self._fetch_model(version.model_file)
            response = self._put_model(bot, model, [held, successor])
        except OSError as exc:
            successor.end(Deployment.Status.FAILED, f"Cannot fetch the model: {exc}")
            return
        except httpx.HTTPError as exc:
            successor.end(
                Deployment.Status.FAILED,
                f"The live bot did not answer PUT /model: {type(exc).__name__}",
            )
            return
        self.output.extend(bot.new_lines())
        if response.status_code != 204:
            try:
                message = str(response.json().get("message") or response.text)
            except ValueError:
                message = response.text
            successor.end(
                Deployment.Status.FAILED,
                self.scrub(
                    f"The model did not load into the live bot (deployment {held.pk} goes on "
                    f"answering): {response.status_code} {message[:2000]}"
                ),
            )
            self.say(f"deployment {successor.pk}: the model did not load; {held.pk} stays live")
            return
        if not successor.mark_live(bot.url, bot.token):
            # Stopped by a person during the swap: the bot goes back to the held row's model.
            self.say(f"deployment {successor.pk} was stopped during the swap; swapping back")
            successor.end(Deployment.Status.STOPPED)
            try:
                back = self._put_model(bot, self._fetch_model(held.version.model_file), [held])
                swapped_back = back.status_code == 204
            except (OSError, httpx.HTTPError):
                swapped_back = False
            if not swapped_back:  # a bot serving another model than its row says: stop it
                held.request_stop()
            return
        held.end(Deployment.Status.STOPPED)
        successor.retire_others()
        self.held = successor
        self.next_tend = 0.0
        self.say(f"deployment {successor.pk} live at {bot.url} (swapped into the running bot)")

    def _put_model(self, bot: Any, model: Path, rows: list[Deployment]) -> httpx.Response:
        """Rasa's PUT /model on `bot`, heartbeating `rows` while the bot loads the model (a
        large one may take longer than a lease)."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            call = pool.submit(
                bot_request,
                "PUT",
                f"{bot.url}/model",
                json={"model_file": str(model)},
                # In a header, not the query: an HTTP client's log shows the URL.
                headers={"Authorization": f"Bearer {bot.token}"} if bot.token else None,
                timeout=settings.STUDIO_BOT_START_TIMEOUT,
            )
            while True:
                try:
                    return call.result(timeout=settings.STUDIO_HEARTBEAT_SECONDS)
                except concurrent.futures.TimeoutError:
                    for row in rows:
                        row.heartbeat()
                    self.touch_liveness()

    def _fetch_model(self, name: str) -> Path:
        """A local copy of the model archive (kept between restarts of the same bot); copies
        of archives whose versions are gone are dropped first."""
        services.prune_model_cache()
        cache = services.model_cache_path(name)
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(".part")
            with default_storage.open(name, "rb") as source, partial.open("wb") as target:
                shutil.copyfileobj(source, target)
            partial.rename(cache)
        return cache

    def _wait_until_ready(self) -> bool:
        # Called by start() once the bot is started and held.
        assert self.held is not None and self.bot is not None
        deadline = time.monotonic() + settings.STUDIO_BOT_START_TIMEOUT
        next_beat = 0.0
        while time.monotonic() < deadline and not self.stopping.is_set():
            self.output.extend(self.bot.new_lines())
            if self.bot.exited() is not None:
                return False
            if time.monotonic() >= next_beat:
                if self.held.heartbeat() is None:
                    return False
                self.touch_liveness()
                next_beat = time.monotonic() + settings.STUDIO_HEARTBEAT_SECONDS
            if self.bot.is_ready():
                return True
            time.sleep(0.05 if self.runner.local else 0.5)
        return False

    def tend(self) -> None:
        """Heartbeat the held deployment; stop the bot when asked or when it died."""
        deployment, bot = self.held, self.bot
        # Only called while a bot is held, and a held bot always has its bot.
        assert deployment is not None and bot is not None
        self.output.extend(bot.new_lines())
        status = deployment.heartbeat()
        if status is None:
            self.say(f"deployment {deployment.pk} was taken over; stopping its bot here")
            self._release()
        elif status == Deployment.Status.STOPPING:
            self._stop_bot()
            deployment.end(Deployment.Status.STOPPED)
            self.say(f"deployment {deployment.pk} stopped")
            self.held = None
        elif (exited := bot.exited()) is not None:
            self._stop_bot()
            deployment.end(Deployment.Status.FAILED, self._printed(f"The bot stopped: {exited}"))
            self.say(f"deployment {deployment.pk}: {exited}")
            self.held = None

    def _printed(self, headline: str) -> str:
        """What the bot printed, with the secret values it may hold hidden."""
        return self.scrub(headline + "\n" + "\n".join(self.output))

    def _release(self) -> None:
        self._stop_bot()
        self.held = None

    def _stop_bot(self) -> None:
        if self.bot is not None:
            self.bot.stop(grace=10)
            self.output.extend(self.bot.new_lines())
            self.bot = None
