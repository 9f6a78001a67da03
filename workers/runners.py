"""Where training and bots run: the local runner here, the Kubernetes one in kubernetes.py.

The local runner starts child processes on this machine, the built-in engine (`python -m
engine train|serve`), or with STUDIO_ENGINE=rasa the configured `rasa train` / `rasa run`
commands of a local Rasa installation. With STUDIO_RUNNER=kubernetes, `get_runner()` gives the
Kubernetes runner instead (trainings as Jobs, bots as Deployments), whose handles have the same
methods as the local ones: a training's `new_lines`, `poll`, `finish_reading`, `stop`, and a
bot's `url`, `token`, `is_ready`, `exited`, `new_lines`, `stop`.

Children never inherit the consumer's environment (it holds SECRET_KEY, DATABASE_URL and the
broker, storage and sign-on secrets): they get `child_environment()`, a few harmless variables
plus what the caller names (the operator's STUDIO_BOT_ENV and the assistant's own secrets).

Children die with their consumer (PR_SET_PDEATHSIG), so a consumer killed with SIGKILL leaves no
orphan training or bot behind; its row is requeued by the orchestrator and done again elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from django.conf import settings

from apps.training.bot import request as bot_request
from engine.__main__ import AUTH_TOKEN_VARIABLE

PR_SET_PDEATHSIG = 1
# What a child gets of the consumer's environment: nothing secret.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
# Thread pools that numpy's BLAS starts at import do not survive a fork (the child waits on
# threads it does not have); the engine trains on one thread anyway.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a training or a bot: never the consumer's own."""
    env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    env.update(extra or {})
    return env


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()  # its own process group, so stopping it stops its children too


class ChildProcess:
    """A child whose output lines are collected by a thread and read without blocking."""

    def __init__(
        self, argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
    ):
        self.argv = argv
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=child_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            preexec_fn=_die_with_parent,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.process.pid

    def new_lines(self) -> list[str]:
        lines = []
        while True:
            try:
                lines.append(self._lines.get_nowait())
            except queue.Empty:
                return lines

    def poll(self) -> int | None:
        return self.process.poll()

    def finish_reading(self, timeout: float = 5) -> None:
        self._reader.join(timeout)

    def stop(self, grace: float = 10) -> int:
        """SIGTERM the child's process group, SIGKILL after `grace` seconds."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.process.wait()


class ForkedChild(ChildProcess):
    """The built-in engine run in a fork of the consumer, which imported the engine (and
    scikit-learn) once at start: each training or bot then starts in milliseconds instead of
    paying the imports again. Same interface as ChildProcess."""

    def __init__(
        self, argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
    ):
        self.argv = argv
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                # The consumer's objects (Django, the engine, scikit-learn) are left out of the
                # child's garbage collections: scanning them cost a training up to 0.1 s of CPU.
                gc.freeze()
                os.close(read_fd)
                _die_with_parent()
                os.dup2(write_fd, 1)
                os.dup2(write_fd, 2)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
                sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
                if cwd is not None:
                    os.chdir(cwd)
                # Nothing of the consumer's environment stays (the engine's endpoints.yml
                # expands ${NAME} from it).
                environment = child_environment(env)
                os.environ.clear()
                os.environ.update(environment)
                from engine.__main__ import main

                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code or 0)
        os.close(write_fd)
        self._pid = pid
        self._returncode: int | None = None
        self._stream = os.fdopen(read_fd, "r", errors="replace")
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stream:
            self._lines.put(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self._pid

    def poll(self) -> int | None:
        if self._returncode is None:
            pid, status = os.waitpid(self._pid, os.WNOHANG)
            if pid:
                self._returncode = os.waitstatus_to_exitcode(status)
        return self._returncode

    def _wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._returncode

    def stop(self, grace: float = 10) -> int:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pid, signal.SIGTERM)
            if self._wait(grace) is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._pid, signal.SIGKILL)
                self._wait(30)
        return self._returncode if self._returncode is not None else -9


def preload_engine() -> None:
    """Import the built-in engine in the consumer, so forked children start warm."""
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    import engine.__main__
    import engine.server
    import engine.train  # noqa: F401


class Training(Protocol):
    """A training under way: a local child, or the Kubernetes runner's PodTraining."""

    def new_lines(self) -> list[str]: ...
    def poll(self) -> int | None: ...
    def finish_reading(self, timeout: float = 5) -> None: ...
    def stop(self, grace: float = 10) -> int: ...


@dataclass
class Runner:
    """Builds the commands that train a project and serve a model."""

    engine: str = "builtin"
    rasa_train_command: str = ""
    rasa_run_command: str = ""
    local = True  # children of this machine (the Kubernetes runner's pods are not)

    def train(
        self,
        project_dir: Path,
        out_dir: Path,
        model_name: str,
        *,
        env: dict[str, str] | None = None,
        cache: Path | None = None,
    ) -> tuple[ChildProcess, Path]:
        """Start training; returns the child and the path the archive will have. `env` is
        all the child gets besides `child_environment()`'s few variables; the built-in engine
        reuses the unchanged components it finds in the `cache` directory."""
        archive = out_dir / f"{model_name}.tar.gz"
        if self.engine == "rasa":
            argv = template_command(
                self.rasa_train_command, project=project_dir, out=out_dir, name=model_name
            )
            return ChildProcess(argv, cwd=project_dir, env={**(env or {}), **self._env()}), archive
        args = ["train", str(project_dir), "--out", str(out_dir), "--fixed-model-name", model_name]
        if cache is not None:
            args += ["--cache", str(cache)]
        return ForkedChild(args, cwd=project_dir, env=env), archive

    def serve(
        self,
        model: Path,
        port: int,
        endpoints: Path,
        *,
        env: dict[str, str] | None = None,
        token: str = "",
        blocked_networks: list[str] | None = None,
    ) -> ChildProcess:
        """Start a bot. `env` is what its endpoints.yml may expand; `token` is the bot's API
        token (given in the environment, not on the command line); `blocked_networks` the
        CIDRs its custom actions may not reach."""
        env = dict(env or {})
        if self.engine == "rasa":
            argv = template_command(
                self.rasa_run_command, model=model, port=port, endpoints=endpoints
            )
            return ChildProcess(argv, cwd=model.parent, env={**env, **self._env()})
        if token:
            env[AUTH_TOKEN_VARIABLE] = token
        args = ["serve", str(model), "--host", "127.0.0.1", "--port", str(port)]
        args += ["--endpoints", str(endpoints), "--auth-webhooks"]
        if blocked_networks is not None:
            args += ["--blocked-networks", ",".join(blocked_networks)]
        return ForkedChild(args, cwd=model.parent, env=env)

    @staticmethod
    def _env() -> dict[str, str]:
        # The child runs in the project's folder; the built-in engine is imported from here.
        path = [str(settings.BASE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        return {"PYTHONPATH": os.pathsep.join(path)}


def template_command(command: str, **values: object) -> list[str]:
    """A command setting (STUDIO_RASA_TRAIN_COMMAND...) split into argv, {names} filled in."""
    return [part.format(**{k: str(v) for k, v in values.items()}) for part in shlex.split(command)]


class LocalBot:
    """A bot that is a child of the running consumer, on 127.0.0.1, behind the methods the
    consumer uses for any bot (the Kubernetes runner's PodBot has the same)."""

    def __init__(self, child: ChildProcess, url: str, token: str) -> None:
        self.child, self.url, self.token = child, url, token

    def is_ready(self) -> bool:
        try:
            # The token in a header: a query string shows in HTTP clients' logs.
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            status = bot_request("GET", f"{self.url}/status", headers=headers, timeout=1)
            return status.status_code == 200
        except httpx.HTTPError:
            return False

    def exited(self) -> str | None:
        code = self.child.poll()
        return None if code is None else f"The bot exited with code {code}."

    def reason(self) -> str:
        return self.exited() or "It did not answer on /status within STUDIO_BOT_START_TIMEOUT."

    def new_lines(self) -> list[str]:
        return self.child.new_lines()

    def stop(self, grace: float = 10) -> None:
        self.child.stop(grace=grace)


def get_runner() -> Any:
    """The runner STUDIO_RUNNER names: this machine's children, or Kubernetes objects."""
    if settings.STUDIO_RUNNER == "kubernetes":
        from workers.kubernetes import KubernetesRunner

        return KubernetesRunner()
    return Runner(
        engine=settings.STUDIO_ENGINE,
        rasa_train_command=settings.STUDIO_RASA_TRAIN_COMMAND,
        rasa_run_command=settings.STUDIO_RASA_RUN_COMMAND,
    )
