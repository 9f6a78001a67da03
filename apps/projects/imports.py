"""Imports that do not finish in the request: a full replace waiting for its confirmation on the
page, and large uploads imported in the background.

An upload above STUDIO_IMPORT_BACKGROUND_BYTES, or holding more than
STUDIO_IMPORT_BACKGROUND_ITEMS items, is stored as an `ImportJob` and queued; the orchestrator
(a django-q2 cluster) runs `run_queued_imports`, which claims each queued job, imports it with
the same all-or-nothing `content.import_files` as the request would, and records progress and a
log on the row. On any problem the assistant is left exactly as it was.
"""

from __future__ import annotations

import io
import logging
import zipfile
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.flows.models import CustomAction, Flow, Response, Slot
from apps.nlu.models import Entity, Intent, LookupTable, Regex, Synonym
from apps.projects import content
from apps.projects.models import Assistant, AssistantFiles, ImportJob
from engine import formats

log = logging.getLogger(__name__)

#: What a full replace deletes, by kind: (label, model, name of the upload's items).
_KINDS = (
    ("flows", Flow, lambda p: [f.id for f in p.flows]),
    ("responses", Response, lambda p: [r.name for r in p.domain.responses]),
    ("slots", Slot, lambda p: [s.name for s in p.domain.slots]),
    ("custom actions", CustomAction, lambda p: [a.name for a in p.domain.actions]),
    (
        "intents",
        Intent,
        lambda p: [i.name for i in p.domain.intents] + [b.intent for b in p.nlu.intents],
    ),
    ("entities", Entity, lambda p: [e.name for e in p.domain.entities]),
    ("synonyms", Synonym, lambda p: [s.name for s in p.nlu.synonyms]),
    ("regexes", Regex, lambda p: [r.name for r in p.nlu.regexes]),
    ("lookup tables", LookupTable, lambda p: [lk.name for lk in p.nlu.lookups]),
)


def pack(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(
                path, data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
            )
    return buffer.getvalue()


def unpack(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def byte_count(files: dict[str, bytes | str]) -> int:
    return sum(
        len(v.encode("utf-8", "surrogatepass") if isinstance(v, str) else v) for v in files.values()
    )


def item_count(project: formats.Project) -> int:
    """Rows the import writes: flows, responses, slots, actions, intents, entities, examples..."""
    domain = project.domain
    return (
        len(project.flows)
        + len(domain.responses)
        + len(domain.slots)
        + len(domain.actions)
        + len(domain.intents)
        + len(domain.entities)
        + sum(len(block.examples) for block in project.nlu.intents)
        + len(project.nlu.synonyms)
        + len(project.nlu.regexes)
        + len(project.nlu.lookups)
    )


def too_big_for_the_request(size: int, items: int | None = None) -> bool:
    if size > settings.STUDIO_IMPORT_BACKGROUND_BYTES:
        return True
    return items is not None and items > settings.STUDIO_IMPORT_BACKGROUND_ITEMS


def removed_by_replace(assistant: Assistant, uploaded: formats.Project) -> dict[str, list[str]]:
    """What a full replace with `uploaded` would delete: the stored items, by kind, that the
    upload does not have."""
    removes: dict[str, list[str]] = {}
    for label, model, names in _KINDS:
        kept = set(names(uploaded))
        stored = model.objects.filter(assistant=assistant).values_list("name", flat=True)
        gone = sorted(name for name in stored if name not in kept)
        if gone:
            removes[label] = gone
    files = AssistantFiles.objects.filter(assistant=assistant).first()
    removes.update(_stories_removed(files, uploaded))
    # Files kept verbatim (documents, tests, code, stories...) go by path.
    if files is not None:
        stored_paths = {*files.other_files, *files.binary_files}
        gone_files = sorted(stored_paths - set(uploaded.kept_files))
        if gone_files:
            removes["files"] = gone_files
    return removes


def _stories_removed(
    files: AssistantFiles | None, uploaded: formats.Project
) -> dict[str, list[str]]:
    """The stored stories and rules (kept in the assistant's files) that the upload has not."""
    stored = formats.load_stories(files.other_files if files else {})
    given = formats.load_stories(uploaded.other_files)
    removes: dict[str, list[str]] = {}
    for label in ("stories", "rules"):
        kept = {block.name for block in getattr(given, label)}
        gone = sorted({block.name for block in getattr(stored, label)} - kept)
        if gone:
            removes[label] = gone
    return removes


def problem_dict(problem: formats.Problem) -> dict:
    return {
        "file": problem.file,
        "line": problem.line,
        "path": problem.path,
        "message": problem.message,
        "severity": problem.severity,
    }


def problem_text(problem: dict) -> str:
    return str(formats.Problem(**problem))


def create_job(
    assistant: Assistant,
    files: dict[str, bytes | str],
    *,
    partial: bool,
    user=None,
    items: int = 0,
    removes: dict | None = None,
    confirm: bool = False,
    notes: list[formats.Problem] | None = None,
) -> ImportJob:
    """Store the upload as a job: awaiting confirmation (`confirm`), else queued.

    What the reading of the upload found and the files cannot carry is kept on the job too, so
    its import reports exactly what an import in the request would: the entries that were not
    read (`files.skipped` of a `formats.FolderFiles`, such as a link in a zip to a file that is
    not in it) and the `notes` (warnings such as the files the location options leave out)."""
    size = byte_count(files)
    job = ImportJob.objects.create(
        assistant=assistant,
        requested_by=user if user is not None and user.is_authenticated else None,
        partial=partial,
        upload=pack(files),
        skipped=dict(getattr(files, "skipped", {})),
        notes=[problem_dict(note) for note in notes or []],
        file_count=len(files),
        byte_count=size,
        item_count=items,
        background=too_big_for_the_request(size, items),
        removes=removes or {},
        status=ImportJob.Status.AWAITING_CONFIRMATION if confirm else ImportJob.Status.QUEUED,
        log=_line(f"{len(files)} files uploaded ({size} bytes, {items} items)"),
    )
    if not confirm:
        _enqueue()
    return job


def job_files(job: ImportJob) -> formats.FolderFiles:
    """The job's uploaded files, with the entries of the upload that were not read."""
    files = formats.FolderFiles()
    files.update(unpack(job.upload))
    files.skipped.update(job.skipped)
    return files


def load_job(job: ImportJob) -> formats.Project:
    """The job's upload read as the request read it: the same files, the same warnings."""
    uploaded = formats.load_project_files(job_files(job))
    uploaded.load_warnings.extend(formats.Problem(**note) for note in job.notes)
    return uploaded


def queue(job: ImportJob) -> None:
    job.status = ImportJob.Status.QUEUED
    job.background = True
    job.log += _line("queued")
    job.save(update_fields=["status", "background", "log"])
    _enqueue()


def queue_and_claim(job: ImportJob) -> ImportJob | None:
    """A confirmed small import, run in the request: queued and claimed at once (None if
    someone else took it)."""
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.AWAITING_CONFIRMATION).update(
        status=ImportJob.Status.QUEUED
    )
    return claim(job.pk)


def _enqueue() -> None:
    def send():
        from django_q.tasks import async_task

        async_task("apps.projects.imports.run_queued_imports", task_name="studio: imports")

    transaction.on_commit(send)


def _line(message: str) -> str:
    return f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}\n"


def claim(job_id: int | None = None) -> ImportJob | None:
    """Mark the oldest queued job (or `job_id`, when queued) running; None when there is none."""
    queued = ImportJob.objects.filter(status=ImportJob.Status.QUEUED)
    if job_id is not None:
        queued = queued.filter(pk=job_id)
    for job_pk in queued.order_by("created_at", "id").values_list("pk", flat=True)[:20]:
        now = timezone.now()
        won = ImportJob.objects.filter(pk=job_pk, status=ImportJob.Status.QUEUED).update(
            status=ImportJob.Status.RUNNING, started_at=now, heartbeat_at=now
        )
        if won:
            return ImportJob.objects.get(pk=job_pk)
    return None


def run(job: ImportJob) -> ImportJob:
    """Import a claimed (running) job; all or nothing. Returns the job, done or failed."""

    def progress(percent: int, message: str) -> None:
        job.progress = percent
        job.log += _line(message)
        ImportJob.objects.filter(pk=job.pk).update(
            progress=percent, log=job.log, heartbeat_at=timezone.now()
        )

    try:
        files = job_files(job)
        uploaded = load_job(job)
        report = content.import_files(
            job.assistant, files, partial=job.partial, progress=progress, uploaded=uploaded
        )
    except formats.FormatError as exc:
        job.status = ImportJob.Status.FAILED
        job.errors = [problem_dict(p) for p in exc.problems]
        job.log += _line(f"refused: {len(exc.problems)} problems; nothing was changed")
        job.log += "".join(f"  {p}\n" for p in exc.problems[:200])
    except Exception:
        log.exception("import job %s failed", job.pk)
        job.status = ImportJob.Status.FAILED
        job.errors = [
            problem_dict(formats.Problem(None, None, "", "the import failed unexpectedly"))
        ]
        job.log += _line("failed unexpectedly; nothing was changed")
    else:
        job.status = ImportJob.Status.DONE
        job.imported = report.counts
        job.warnings = [problem_dict(p) for p in report.warnings]
        summary = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        job.log += _line(f"imported: {summary}")
        job.progress = 100
    job.finished_at = timezone.now()
    job.upload = b""  # the files are in the assistant now, or refused: not kept
    job.save()
    return job


def requeue_stale() -> int:
    """Jobs left running by an orchestrator that was stopped (the import is one transaction,
    so nothing of it was written): queued again."""
    stale = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"] * 2)
    return ImportJob.objects.filter(status=ImportJob.Status.RUNNING, heartbeat_at__lt=stale).update(
        status=ImportJob.Status.QUEUED
    )


#: A full replace not confirmed (nor cancelled) within this long is dropped with its files.
UNCONFIRMED_TTL = timedelta(days=1)


def drop_unconfirmed(now=None) -> int:
    """Uploads that waited for their replace to be confirmed for longer than UNCONFIRMED_TTL:
    cancelled, and their stored files let go."""
    cutoff = (now or timezone.now()) - UNCONFIRMED_TTL
    return ImportJob.objects.filter(
        status=ImportJob.Status.AWAITING_CONFIRMATION, created_at__lt=cutoff
    ).update(
        status=ImportJob.Status.CANCELLED,
        upload=b"",
        finished_at=timezone.now(),
        log="Not confirmed within a day: cancelled, the uploaded files were dropped.\n",
    )


def run_queued_imports(max_jobs: int = 50) -> int:
    """The orchestrator's task: import queued jobs, oldest first, and drop uploads that were
    never confirmed. Returns how many it ran."""
    requeue_stale()
    drop_unconfirmed()
    done = 0
    while done < max_jobs:
        job = claim()
        if job is None:
            break
        run(job)
        done += 1
    return done


def ensure_schedules() -> None:
    """Every minute, in case a queued job's task was lost."""
    from apps.projects.periodic import ensure_schedule

    ensure_schedule(
        "studio: run queued imports", "apps.projects.imports.run_queued_imports", minutes=1
    )
