"""The running consumer: holds one bot at a time for a deployment.

It claims a queued deployment, fetches the model from storage, starts the bot, waits until the
bot answers, marks it live and retires the assistant's previous bot (an isolated deployment, a
personal version's bot, leaves the assistant's live bot alone). While it holds the bot it
heartbeats the row; when the row asks it to stop (idle, replaced, or stopped by a person) it
stops the bot and is free again. Local bots publish their events to the ingestion spool.
"""

from __future__ import annotations

import collections
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.files.storage import default_storage

from apps.projects.secrets import bot_env, scrubber
from apps.training import services
from apps.training.models import Deployment
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

    # -- loop ---------------------------------------------------------------------------

    def step(self) -> bool:
        """Start a queued bot if this consumer holds none (True), else tend the held one."""
        if self.held is not None:
            self.tend()
            return False
        deployment = Deployment.objects.claim_next(self.worker_id)
        if deployment is None:
            return False
        self.start(deployment)
        return True

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
        try:
            if isinstance(self.runner, KubernetesRunner):
                self.bot = self.runner.start_bot(
                    deployment, self.worker_id, bot_env(deployment.assistant_id)
                )
            else:
                self.bot = self._start_here(deployment, self.runner)
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

    def _start_here(self, deployment: Deployment, runner: Runner) -> LocalBot:
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
            env=bot_env(deployment.assistant_id),
            token=token,
            blocked_networks=settings.STUDIO_BLOCKED_NETWORKS,
        )
        return LocalBot(child, f"http://127.0.0.1:{port}", token)

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
