"""Training and running workflows. Requests only validate, snapshot and queue: the work itself
happens in the consumers (workers/training.py, workers/running.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.flows.models import Flow
from apps.flows.services import stable
from apps.projects import content
from apps.projects.models import Assistant
from apps.projects.secrets import allowed_env_names
from apps.training import wakeup
from apps.training.models import Deployment, ModelVersion, TrainingJob
from engine import formats

log = logging.getLogger(__name__)


class TrainingRefused(Exception):
    """The assistant has problems that would make training fail."""

    def __init__(self, problems: list[formats.Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


#: Rasa does not train without a config file, and neither does Studio (no silent default).
NO_CONFIG = (
    "The assistant has no config.yml, and training needs one: write it on the assistant's "
    "config.yml / endpoints.yml page, or import the project with its config.yml."
)


@dataclass
class Readiness:
    errors: list[formats.Problem]
    warnings: list[formats.Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


#: What a training of only published flows says when no flow is published.
NOTHING_PUBLISHED = (
    "No flow is published, and this training includes only published flows: publish flows on "
    "the Flows page, or include drafts."
)

_MISSING_FLOW = re.compile(r"^(linked|called) flow '([^']+)' does not exist")


def _left_out(problem: formats.Problem, drafts: set[str]) -> formats.Problem:
    """A link or call into a flow that a published-only training leaves out, said as such
    (the validator only knows that the flow is missing)."""
    match = _MISSING_FLOW.match(problem.message)
    if match is None or match.group(2) not in drafts:
        return problem
    verb, target = ("links to" if match.group(1) == "linked" else "calls"), match.group(2)
    return dataclasses.replace(
        problem,
        message=f"{verb} flow '{target}', which is a draft: training only published flows "
        f"leaves it out. Publish {target}, or include drafts.",
    )


def training_flows(
    assistant: Assistant, *, include_drafts: bool = True, flows: dict[str, str] | None = None
) -> stable.TrainingFlows:
    """The definition each flow of a training comes from: `flows` maps flow ids to "draft",
    "stable" or "published" (apps.flows.services.stable); the flows it does not name are
    trained as they are now, or, without `include_drafts`, as last published (never published:
    left out)."""
    default = stable.DRAFT if include_drafts else stable.PUBLISHED
    return stable.training_flows(assistant, flows, default=default)


def training_project(assistant: Assistant, chosen: stable.TrainingFlows) -> formats.Project:
    """The assistant's project with exactly the chosen definition of each flow."""
    return content.export_project(assistant, flow_definitions=chosen.definitions)


_FLOW_PATH = re.compile(r"^flows\.([^.\[]+)")


def _in_chosen(problem: formats.Problem, chosen: stable.TrainingFlows) -> formats.Problem:
    """A problem of a flow trained from its stable or published definition says so (the
    draft on the canvas may well be fine)."""
    match = _FLOW_PATH.match(problem.path or "")
    if match is None:
        return problem
    choice = chosen.flows.get(match.group(1))
    if choice is None or choice.source == stable.DRAFT:
        return problem
    what = "stable version" if choice.source == stable.STABLE else "published definition"
    saved = f" of {choice.at[:16].replace('T', ' ')}" if choice.at else ""
    return dataclasses.replace(
        problem,
        message=f"{problem.message} (in the {what}{saved} of flow {match.group(1)}, which "
        "this training takes instead of its draft)",
    )


def _choice_problems(chosen: stable.TrainingFlows) -> list[formats.Problem]:
    return [formats.Problem(None, None, "", message) for message in chosen.problems]


def check_readiness(
    assistant: Assistant,
    *,
    include_drafts: bool = True,
    flows: dict[str, str] | None = None,
    chosen: stable.TrainingFlows | None = None,
    project: formats.Project | None = None,
) -> Readiness:
    """What stands between the assistant and a successful training (of all flows as they are
    now, of only the published ones as they were published, or of the definition chosen for
    each flow: see `training_flows`). `project`: the `training_project` of `chosen`, when the
    caller has it already."""
    if chosen is None:
        chosen = training_flows(assistant, include_drafts=include_drafts, flows=flows)
    if chosen.problems:
        return Readiness(_choice_problems(chosen), [])
    if project is None:
        try:
            project = training_project(assistant, chosen)
        except formats.FormatError as exc:
            return Readiness(exc.problems, [])
    problems = formats.validate_project(project)
    problems += formats.check_project_env(project, allowed_env_names(assistant))
    problems = [_in_chosen(p, chosen) for p in problems]
    if not include_drafts:
        published = {flow.id for flow in project.flows}
        drafts = set(Flow.objects.filter(assistant=assistant).values_list("name", flat=True))
        problems = [_left_out(p, drafts - published) for p in problems]
    errors = [p for p in problems if p.severity == "error"]
    has_flows = not include_drafts and Flow.objects.filter(assistant=assistant).exists()
    if not project.flows and has_flows:
        errors.append(formats.Problem(None, None, "", NOTHING_PUBLISHED))
    elif not project.flows and not project.nlu.intents:
        errors.append(
            formats.Problem(None, None, "", "The assistant has no flows and no NLU data yet.")
        )
    if project.config is None:
        errors.append(formats.Problem("config.yml", None, "", NO_CONFIG))
    return Readiness(errors, [p for p in problems if p.severity != "error"])


def snapshot_files(
    assistant: Assistant,
    *,
    include_drafts: bool = True,
    chosen: stable.TrainingFlows | None = None,
    project: formats.Project | None = None,
) -> dict[str, str]:
    if chosen is None:
        chosen = training_flows(assistant, include_drafts=include_drafts)
    if project is None:
        project = training_project(assistant, chosen)
    files = formats.dump_project(project)
    files["config.yml"] = formats.with_assistant_id(files.get("config.yml", ""), assistant.name)
    return files


#: An isolated training is a person's own: it needs to know whose.
ISOLATED_NEEDS_A_PERSON = (
    "A training in isolation is a personal version: it must be requested by a signed-in person."
)


@transaction.atomic
def request_training(
    assistant: Assistant,
    user,
    *,
    name: str = "",
    description: str = "",
    include_drafts: bool = True,
    flows: dict[str, str] | None = None,
    isolated: bool = False,
) -> TrainingJob:
    """Validate, snapshot the assistant's files into a new version, and queue its training.

    `include_drafts` False trains only the published flows, each with the definition it was
    last published with; drafts are left out of the trained files (and a link or call into
    one is a validation error). `flows` chooses, per flow id, its "draft", last "stable"
    version or last "published" definition (the others as `include_drafts` says); what each
    flow came from is recorded on the version (`flow_sources`).

    `isolated` ("test in isolation") makes a personal version: once trained its bot starts
    without retiring the assistant's live one, it never becomes the live version, and only
    `user` can try it.

    An assistant has at most one queued training (and each person at most one queued training
    in isolation): the new request supersedes (cancels, with the reason on its job page) the
    one still waiting in the queue, so repeated requests cannot pile up. A training a consumer
    has already claimed is not touched (it finishes, or is cancelled on request). The
    superseded jobs are in the returned job's `superseded` list."""
    if isolated and (user is None or not user.is_authenticated):
        raise TrainingRefused([formats.Problem(None, None, "", ISOLATED_NEEDS_A_PERSON)])
    chosen = training_flows(assistant, include_drafts=include_drafts, flows=flows)
    # The project is exported once, for the snapshot and the checks (issue 20: the request is
    # on the path from an edit to its first reply). It is dumped before the checks look at it,
    # so no copy of it is needed to keep the snapshot what was exported (dumping only reads).
    project = None
    files: dict[str, str] = {}
    if not chosen.problems:
        try:
            project = training_project(assistant, chosen)
        except formats.FormatError as exc:
            raise TrainingRefused(exc.problems) from None
        files = snapshot_files(assistant, chosen=chosen, project=project)
    readiness = check_readiness(
        assistant, include_drafts=include_drafts, chosen=chosen, project=project
    )
    if not readiness.ok:
        raise TrainingRefused(readiness.errors)
    binary = content.binary_files_base64(assistant)
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
        input_binary_files=binary,
        fingerprint=_fingerprint(files, binary),
        created_by=user,
        flow_sources=chosen.records,
        isolated=isolated,
    )
    job = TrainingJob.objects.create(assistant=assistant, version=version, requested_by=user)
    job.superseded = _supersede_queued(job, user)
    wakeup.wake("training")
    return job


def _fingerprint(files: dict[str, str], binary: dict[str, str]) -> str:
    """The input's hash; a version without binary files keeps the hash of its text files."""
    data = [files, binary] if binary else files
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _supersede_queued(job: TrainingJob, user) -> list[TrainingJob]:
    """Cancel the assistant's other queued trainings in favour of `job`. Compare-and-swap on
    the status: a job a consumer claims meanwhile (queued -> running) is left alone."""
    queued = TrainingJob.objects.filter(
        assistant=job.assistant,
        status=TrainingJob.Status.QUEUED,
        version__isolated=job.version.isolated,
    )
    if job.version.isolated:  # a person's own trainings in isolation only
        queued = queued.filter(version__created_by=job.version.created_by)
    waiting = list(queued.exclude(pk=job.pk).select_related("version"))
    by = f" by {user.get_username()}" if user is not None else ""
    superseded = []
    for old in waiting:
        reason = (
            f"Superseded by version {job.version.number} (training job {job.pk}), requested"
            f"{by} at {job.created_at:%Y-%m-%d %H:%M:%S} UTC before this one left the queue: "
            "an assistant keeps only its newest queued training."
        )
        if TrainingJob.objects.filter(pk=old.pk, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.CANCELLED,
            finished_at=job.created_at,
            error=reason,
            progress="Superseded by a newer training request.",
        ):
            old.status, old.error = TrainingJob.Status.CANCELLED, reason
            superseded.append(old)
    return superseded


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
    if existing is not None:
        return existing
    deployment = Deployment.objects.create(
        assistant=version.assistant, version=version, isolated=version.isolated
    )
    wakeup.wake("running")
    return deployment


def model_storage_name(job: TrainingJob) -> str:
    """Where the archive of this attempt of a training is stored (each attempt its own name, so
    a worker that lost its lease never overwrites the archive of the one that took over)."""
    return f"models/{job.assistant.name}/{job.version.number}-{job.pk}-{job.attempts}.tar.gz"


def record_trained_model(job: TrainingJob, model_file: str, model_id: str) -> bool:
    """A training succeeded and its archive is stored as `model_file`: record it on the job's
    version and queue its bot, in one short transaction, if the job's worker still owns the
    job (compare-and-swap). False when the lease was lost meanwhile (the worker that took over
    stores its own archive)."""
    version = job.version
    with transaction.atomic():
        if not job.finish(TrainingJob.Status.SUCCEEDED):
            return False
        ModelVersion.objects.filter(pk=version.pk).update(
            model_file=model_file, model_id=model_id, trained_at=timezone.now()
        )
        version.refresh_from_db()
        deploy(version)
    return True


def live_deployment(assistant: Assistant) -> Deployment | None:
    """The bot of the assistant's live version (isolated bots are never that)."""
    return (
        Deployment.objects.live()
        .shared()
        .filter(assistant=assistant)
        .select_related("version")
        .order_by("-live_at")
        .first()
    )


def live_version(assistant: Assistant) -> ModelVersion | None:
    """The version that is live, or was live last (its bot may have stopped since)."""
    deployment = (
        Deployment.objects.shared()
        .filter(assistant=assistant, live_at__isnull=False)
        .select_related("version")
        .order_by("-live_at", "-id")
        .first()
    )
    return deployment.version if deployment else None


def current_deployment(version: ModelVersion) -> Deployment | None:
    return (
        Deployment.objects.filter(version=version)
        .exclude(status__in=[Deployment.Status.STOPPED, Deployment.Status.FAILED])
        .order_by("-created_at")
        .first()
    )


def latest_trained(assistant: Assistant) -> ModelVersion | None:
    """The newest trained version of the assistant (not a personal, isolated one)."""
    return (
        ModelVersion.objects.filter(assistant=assistant, isolated=False)
        .exclude(model_file="")
        .order_by("-number")
        .first()
    )


# -- Stored model archives and the consumers' local copies -----------------------------------


def model_cache_root() -> Path:
    return Path(settings.VAR_DIR) / "model-cache"


def model_cache_path(name: str) -> Path:
    """Where a running consumer keeps its copy of the stored model archive `name`."""
    return model_cache_root() / name


def forget_model_files(names) -> None:
    """Delete stored model archives whose versions are gone, and this machine's copies of them.
    (Consumers elsewhere drop theirs with prune_model_cache.)"""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.exception("Could not delete the stored model archive %s", name)
        model_cache_path(name).unlink(missing_ok=True)


def forget_model_files_of(sender, assistant, **kwargs) -> None:
    """On `apps.projects.services.assistant_deleting`: the assistant's stored model archives
    (which embed its training data) and their local copies go once the deletion commits."""
    archives = list(assistant.versions.exclude(model_file="").values_list("model_file", flat=True))
    transaction.on_commit(lambda: forget_model_files(archives))


def prune_model_cache() -> int:
    """Remove local copies of model archives that no version names any more (e.g. the
    assistant was deleted); returns how many. Files are listed before the versions are read,
    so a copy made meanwhile for a new version is never taken for a stale one."""
    root = model_cache_root()
    if not root.is_dir():
        return 0
    cached = {
        path.relative_to(root).as_posix(): path
        for path in root.rglob("*")
        if path.is_file() and not path.name.endswith(".part")
    }
    if not cached:
        return 0
    known = set(
        ModelVersion.objects.filter(model_file__in=list(cached)).values_list(
            "model_file", flat=True
        )
    )
    stale = [path for name, path in cached.items() if name not in known]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
