"""Training and running workflows. Requests only validate, snapshot and queue: the work itself
happens in the consumers (workers/training.py, workers/running.py)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from ruamel.yaml import YAML

from apps.projects import content
from apps.projects.models import Assistant
from apps.projects.secrets import allowed_env_names
from apps.training.models import Deployment, ModelVersion, TrainingJob
from engine import formats


class TrainingRefused(Exception):
    """The assistant has problems that would make training fail."""

    def __init__(self, problems: list[formats.Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class Readiness:
    errors: list[formats.Problem]
    warnings: list[formats.Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_readiness(assistant: Assistant) -> Readiness:
    """What stands between the assistant and a successful training."""
    try:
        project = content.export_project(assistant)
    except formats.FormatError as exc:
        return Readiness(exc.problems, [])
    problems = formats.validate_project(project)
    problems += formats.check_project_env(project, allowed_env_names(assistant))
    errors = [p for p in problems if p.severity == "error"]
    if not project.flows and not project.nlu.intents:
        errors.append(
            formats.Problem(None, None, "", "The assistant has no flows and no NLU data yet.")
        )
    return Readiness(errors, [p for p in problems if p.severity != "error"])


def _with_assistant_id(config_text: str, assistant_id: str) -> str:
    """config.yml with `assistant_id` set to the assistant's name, comments kept: the name is
    what routes the bot's events back to this assistant."""
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(config_text) if config_text.strip() else None
    if data is None:
        data = {}
    if data.get("assistant_id") == assistant_id:
        return config_text
    data["assistant_id"] = assistant_id
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def snapshot_files(assistant: Assistant) -> dict[str, str]:
    files = content.export_files(assistant)
    files["config.yml"] = _with_assistant_id(files.get("config.yml", ""), assistant.name)
    return files


@transaction.atomic
def request_training(
    assistant: Assistant, user, *, name: str = "", description: str = ""
) -> TrainingJob:
    """Validate, snapshot the assistant's files into a new version, and queue its training."""
    readiness = check_readiness(assistant)
    if not readiness.ok:
        raise TrainingRefused(readiness.errors)
    files = snapshot_files(assistant)
    # Lock the assistant row so two requests at once don't take the same version number.
    Assistant.objects.select_for_update().filter(pk=assistant.pk).first()
    number = (
        ModelVersion.objects.filter(assistant=assistant).aggregate(n=Max("number"))["n"] or 0
    ) + 1
    version = ModelVersion.objects.create(
        assistant=assistant,
        number=number,
        name=name,
        description=description,
        input_files=files,
        fingerprint=hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
        created_by=user,
    )
    return TrainingJob.objects.create(assistant=assistant, version=version, requested_by=user)


def can_cancel(job: TrainingJob, user) -> bool:
    from apps.accounts.access import global_caps
    from apps.accounts.roles import Cap

    return job.requested_by_id == user.pk or Cap.MANAGE_USERS in global_caps(user)


@transaction.atomic
def deploy(version: ModelVersion) -> Deployment:
    """Queue a bot for a trained version, unless one is already starting or live."""
    if not version.is_trained:
        raise ValueError("This version has not been trained.")
    existing = (
        Deployment.objects.select_for_update()
        .filter(
            version=version,
            status__in=[
                Deployment.Status.QUEUED,
                Deployment.Status.STARTING,
                Deployment.Status.LIVE,
            ],
        )
        .first()
    )
    return existing or Deployment.objects.create(assistant=version.assistant, version=version)


def live_deployment(assistant: Assistant) -> Deployment | None:
    return (
        Deployment.objects.live()
        .filter(assistant=assistant)
        .select_related("version")
        .order_by("-live_at")
        .first()
    )


def current_deployment(version: ModelVersion) -> Deployment | None:
    return (
        Deployment.objects.filter(version=version)
        .exclude(status__in=[Deployment.Status.STOPPED, Deployment.Status.FAILED])
        .order_by("-created_at")
        .first()
    )


def latest_trained(assistant: Assistant) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(assistant=assistant)
        .exclude(model_file="")
        .order_by("-number")
        .first()
    )
