"""A real bot for the Try page's tests: a Rasa project trained by the built-in engine and served
by ``python -m engine serve`` as a child process."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.support.processes import ROOT, Drained, free_port, stop, wait_for_http

#: A small CALM assistant: a pizza flow whose size question has quick-reply buttons.
PIZZA_PROJECT = ROOT / "engine" / "tests" / "serving" / "tiny_project"


def project_files(project: Path = PIZZA_PROJECT) -> dict[str, str]:
    """The project's files by relative path, as Studio imports them."""
    return {
        str(path.relative_to(project)): path.read_text() for path in sorted(project.rglob("*.yml"))
    }


class ServedBot:
    """Train `project` into `work_dir` and serve it; `url` is its Rasa HTTP API."""

    def __init__(self, work_dir: Path, project: Path = PIZZA_PROJECT) -> None:
        from engine.train import train_project

        model = train_project(project, work_dir / "model", fixed_model_name="bot").path
        self.model = model  # the archive it serves
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = Drained(
            [sys.executable, "-m", "engine", "serve", str(model), "--port", str(port)],
            cwd=ROOT,
        )
        wait_for_http(
            self.url + "/status", self.process, timeout=120, ok=lambda status: status == 200
        )

    def tracker(self, sender_id: str) -> dict:
        return httpx.get(f"{self.url}/conversations/{sender_id}/tracker", timeout=10).json()

    def stop(self) -> str:
        return stop(self.process)


def live_on(assistant, bot_url: str):
    """Give `assistant` the pizza project and make its version 1 live on the bot at `bot_url`
    (as a running consumer would once the bot answers). Returns the assistant."""
    from django.utils import timezone

    from apps.projects import content
    from apps.training import services
    from apps.training.models import Deployment, ModelVersion

    content.import_files(assistant, project_files())
    job = services.request_training(assistant, None)
    ModelVersion.objects.filter(pk=job.version_id).update(
        model_file=f"models/{assistant.name}/1.tar.gz", trained_at=timezone.now()
    )
    Deployment.objects.create(
        assistant=assistant,
        version=job.version,
        status=Deployment.Status.LIVE,
        bot_url=bot_url,
        live_at=timezone.now(),
    )
    return assistant
