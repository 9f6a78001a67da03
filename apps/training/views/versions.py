"""The training pages: train a version and follow its job (or cancel it), the versions list
(rename, make live) and a version's downloads (model, input files, training log)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows.models import Flow
from apps.flows.services import stable
from apps.flows.services import status as publication
from apps.projects.access import assistant_view, can_cancel_training
from apps.projects.content.archives import zip_files
from apps.projects.shortcuts import render_form
from apps.training import services
from apps.training.forms import TrainForm, VersionForm
from apps.training.models import IllegalTransition, ModelVersion, TrainingJob


def _flow_choices(assistant, form: TrainForm) -> list[dict]:
    """The train page's per-flow table: each flow, what it can be trained from, and the
    choice (as posted, else its draft)."""
    posted = form.chosen_sources() if form.is_bound else {}
    stables = stable.last_stables(assistant)
    rows = []
    for flow in publication.annotate_status(Flow.objects.filter(assistant=assistant)):
        last = stables.get(flow.name)
        state = publication.status_of(flow)
        rows.append(
            {
                "flow": flow,
                "field": f"{TrainForm.SOURCE_PREFIX}{flow.name}",
                "status_label": publication.LABELS[state],
                "stable": last,
                "stable_when": stable.when(last) if last else "",
                "published": flow.published_definition is not None,
                "chosen": posted.get(flow.name, stable.DRAFT),
            }
        )
    return rows


@assistant_view(Cap.TRAIN)
def train(request, assistant):
    readiness = services.check_readiness(assistant)
    form = TrainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.request_training(assistant, request.user, **form.training_options())
        except services.TrainingRefused as exc:
            readiness = services.Readiness(exc.problems, readiness.warnings)
        else:
            isolated = " in isolation (a personal version only you can try)"
            messages.success(
                request,
                f"Version {job.version.number} was queued for training"
                f"{isolated if job.version.isolated else ''}.",
            )
            if job.superseded:
                numbers = ", ".join(str(old.version.number) for old in job.superseded)
                messages.info(
                    request,
                    f"It replaces the queued training of version {numbers}: an assistant keeps "
                    "only its newest queued training.",
                )
            return redirect("training:job", assistant.name, job.pk)
    jobs = TrainingJob.objects.filter(assistant=assistant).select_related(
        "version", "requested_by"
    )[:20]
    return render_form(
        request,
        "training/train.html",
        {
            "assistant": assistant,
            "form": form,
            "readiness": readiness,
            "jobs": jobs,
            "flow_rows": _flow_choices(assistant, form),
            "sources": stable.SOURCES,
        },
    )


def _job(assistant, job_id) -> TrainingJob:
    return get_object_or_404(
        TrainingJob.objects.select_related("version"), pk=job_id, assistant=assistant
    )


@assistant_view(Cap.VIEW_ASSISTANT)
def job(request, assistant, job_id):
    job = _job(assistant, job_id)
    context = {
        "assistant": assistant,
        "job": job,
        "can_cancel": can_cancel_training(request.user, job),
    }
    if request.htmx:
        return render(request, "training/_job_status.html", context)
    return render(request, "training/job.html", context)


@assistant_view(Cap.TRAIN)
@require_POST
def cancel_job(request, assistant, job_id):
    job = _job(assistant, job_id)
    if job.is_finished:
        messages.error(request, f"The training has already {job.status}.")
        return redirect("training:job", assistant.name, job.pk)
    if not can_cancel_training(request.user, job):
        raise PermissionDenied(
            "Only the person who asked for this training, or a SuperUser, may cancel it."
        )
    try:
        job.request_cancel()
    except IllegalTransition as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Cancelling the training.")
    return redirect("training:job", assistant.name, job.pk)


def version_or_404(assistant, number) -> ModelVersion:
    return get_object_or_404(ModelVersion, assistant=assistant, number=number)


@assistant_view(Cap.TRY)
def versions(request, assistant):
    live = services.live_deployment(assistant)
    rows = ModelVersion.objects.filter(assistant=assistant).select_related("job", "created_by")
    return render(
        request,
        "training/versions.html",
        {"assistant": assistant, "versions": rows, "live": live},
    )


@assistant_view(Cap.TRAIN)
def edit_version(request, assistant, number):
    version = version_or_404(assistant, number)
    form = VersionForm(request.POST or None, instance=version)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {version.label}.")
        return redirect("training:versions", assistant.name)
    return render(
        request,
        "training/version_edit.html",
        {"assistant": assistant, "version": version, "form": form},
    )


@assistant_view(Cap.TRAIN)
@require_POST
def deploy_version(request, assistant, number):
    version = version_or_404(assistant, number)
    if not version.is_trained:
        messages.error(request, f"{version.label} has not been trained.")
        return redirect("training:versions", assistant.name)
    if version.isolated:
        messages.error(
            request,
            f"{version.label} was trained in isolation: it is a personal version and never "
            "becomes the live one. Train the same flows without isolation to make them live.",
        )
        return redirect("training:versions", assistant.name)
    services.deploy(version)
    messages.success(request, f"Starting {version.label}; it goes live as soon as it answers.")
    return redirect("training:versions", assistant.name)


def model_response(version: ModelVersion):
    if not version.is_trained:
        raise Http404("This version has no model yet.")
    try:
        handle = default_storage.open(version.model_file, "rb")
    except OSError:
        raise Http404("The model file is missing from storage.") from None
    return FileResponse(
        handle, as_attachment=True, filename=f"{version.assistant.name}-{version.number}.tar.gz"
    )


def input_response(version: ModelVersion):
    response = HttpResponse(zip_files(version.input_contents), content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="{version.assistant.name}-{version.number}-input.zip"'
    )
    return response


@assistant_view(Cap.EXPORT)
def download_model(request, assistant, number):
    return model_response(version_or_404(assistant, number))


@assistant_view(Cap.EXPORT)
def download_input(request, assistant, number):
    return input_response(version_or_404(assistant, number))


@assistant_view(Cap.TRY)
def version_log(request, assistant, number):
    version = version_or_404(assistant, number)
    job = getattr(version, "job", None)
    response = HttpResponse(job.log if job else "", content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{assistant.name}-{number}-training.log"'
    return response
