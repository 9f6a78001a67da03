import json
import re
import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows.models import Flow, Slot
from apps.projects.access import assistant_caps, assistant_view
from apps.projects.content.archives import zip_files
from apps.training import bot, services
from apps.training.inspector import slot_rows, stack_frames, turns_of
from apps.training.models import Deployment, IllegalTransition, ModelVersion, TrainingJob
from engine import formats

limits = formats.limits  # length limits, one place for every field

# -- Train ------------------------------------------------------------------------------------


class TrainForm(forms.Form):
    name = forms.CharField(max_length=limits.TITLE, required=False, label="Version name (optional)")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=limits.DESCRIPTION
    )


@assistant_view(Cap.TRAIN)
def train(request, assistant):
    readiness = services.check_readiness(assistant)
    form = TrainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.request_training(assistant, request.user, **form.cleaned_data)
        except services.TrainingRefused as exc:
            readiness = services.Readiness(exc.problems, readiness.warnings)
        else:
            messages.success(request, f"Version {job.version.number} was queued for training.")
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
    return render(
        request,
        "training/train.html",
        {"assistant": assistant, "form": form, "readiness": readiness, "jobs": jobs},
        status=400 if request.method == "POST" else 200,
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
        "can_cancel": services.can_cancel(job, request.user),
        # Raw output of the training: for those who manage the assistant's settings only.
        "can_see_log": Cap.MANAGE_SETTINGS in assistant_caps(request.user, assistant),
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
    if not services.can_cancel(job, request.user):
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


# -- Versions ---------------------------------------------------------------------------------


class VersionForm(forms.ModelForm):
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=limits.DESCRIPTION
    )

    class Meta:
        model = ModelVersion
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


def _version(assistant, number) -> ModelVersion:
    return get_object_or_404(ModelVersion, assistant=assistant, number=number)


@assistant_view(Cap.TRY)
def versions(request, assistant):
    live = services.live_deployment(assistant)
    rows = ModelVersion.objects.filter(assistant=assistant).select_related("job", "created_by")
    caps = assistant_caps(request.user, assistant)
    return render(
        request,
        "training/versions.html",
        {
            "assistant": assistant,
            "versions": rows,
            "live": live,
            "can_train": Cap.TRAIN in caps,
            "can_export": Cap.EXPORT in caps,
        },
    )


@assistant_view(Cap.TRAIN)
def edit_version(request, assistant, number):
    version = _version(assistant, number)
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
    version = _version(assistant, number)
    if not version.is_trained:
        messages.error(request, f"{version.label} has not been trained.")
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
    response = HttpResponse(zip_files(version.input_files), content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="{version.assistant.name}-{version.number}-input.zip"'
    )
    return response


@assistant_view(Cap.EXPORT)
def download_model(request, assistant, number):
    return model_response(_version(assistant, number))


@assistant_view(Cap.EXPORT)
def download_input(request, assistant, number):
    return input_response(_version(assistant, number))


@assistant_view(Cap.TRY)
def version_log(request, assistant, number):
    version = _version(assistant, number)
    job = getattr(version, "job", None)
    response = HttpResponse(job.log if job else "", content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{assistant.name}-{number}-training.log"'
    return response


# -- Try your assistant -----------------------------------------------------------------------


def _sender_id(request, assistant) -> str:
    key = f"try-sender-{assistant.pk}"
    if key not in request.session:
        request.session[key] = f"studio-{request.user.pk}-{uuid.uuid4().hex[:10]}"
    return request.session[key]


def _chosen(request, assistant):
    """The version being tried and its deployment: ?version=N, else the live one, else the
    newest trained version."""
    number = request.GET.get("version") or request.POST.get("version")
    if number:
        if not re.fullmatch(r"[0-9]{1,18}", str(number)):
            raise Http404("No such version.")
        version = _version(assistant, int(number))
    else:
        live = services.live_deployment(assistant)
        version = live.version if live else services.latest_trained(assistant)
    deployment = services.current_deployment(version) if version else None
    return version, deployment


def _chat_context(request, assistant, version, deployment, error=None, *, bot_failed=False):
    """What the chat and the inspector show. The conversation is read from the bot even after
    a mistake in the form (it stays on screen with the error); not when the bot just failed."""
    sender = _sender_id(request, assistant)
    tracker = {}
    if deployment and deployment.status == deployment.Status.LIVE and not bot_failed:
        try:
            tracker = bot.tracker(deployment, sender)
        except bot.BotUnavailable as exc:
            error = error or str(exc)
    failed = None
    if version is not None and deployment is None:
        # Why the version's bot is not running, if its last start failed.
        latest = Deployment.objects.filter(version=version).order_by("-created_at", "-id").first()
        if latest is not None and latest.status == Deployment.Status.FAILED:
            failed = latest
    live_version = services.live_version(assistant) if version is not None else None
    return {
        "assistant": assistant,
        "version": version,
        "deployment": deployment,
        "failed_deployment": failed,
        "is_live_version": version is not None and version == live_version,
        "can_start": version is not None and _may_start(request.user, version, live_version),
        # What a failed bot printed: for those who manage the assistant's settings only.
        "can_see_output": Cap.MANAGE_SETTINGS in assistant_caps(request.user, assistant),
        "sender_id": sender,
        "tracker": tracker,
        "turns": turns_of(tracker),
        "slot_rows": slot_rows(tracker),
        "stack_frames": stack_frames(tracker),
        "tracker_json": json.dumps(tracker, indent=2, default=str)[:200000],
        "error": error,
        "versions": ModelVersion.objects.filter(assistant=assistant).exclude(model_file=""),
        "flows": Flow.objects.filter(assistant=assistant).values_list("name", flat=True),
        "slots": Slot.objects.filter(assistant=assistant).values_list("name", flat=True),
        "message_max_length": limits.TEXT,
    }


@assistant_view(Cap.TRY)
def try_page(request, assistant):
    version, deployment = _chosen(request, assistant)
    context = _chat_context(request, assistant, version, deployment)
    template = "training/_chat.html" if request.htmx else "training/try.html"
    return render(request, template, context)


class MessageForm(forms.Form):
    message = forms.CharField(max_length=limits.TEXT, strip=True)
    # The title of the quick-reply button that sent `message` (its payload), if one did.
    title = forms.CharField(max_length=limits.TEXT, required=False)


def _chat_answer(request, assistant, version, deployment, error, *, bot_failed=False):
    """The chat after a message, a restart or a flow start: the chat partial for htmx, else
    (the form was posted without JavaScript) back to the page, with the error as a message."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        url = reverse("training:try", args=[assistant.name])
        return redirect(f"{url}?version={version.number}" if version else url)
    context = _chat_context(request, assistant, version, deployment, error, bot_failed=bot_failed)
    return render(request, "training/_chat.html", context, status=200 if error is None else 400)


def _live_or_error(deployment):
    if deployment is None or deployment.status != deployment.Status.LIVE:
        return "The bot is not running yet."
    return None


@assistant_view(Cap.TRY)
@require_POST
def try_message(request, assistant):
    version, deployment = _chosen(request, assistant)
    form = MessageForm(request.POST)
    error = _live_or_error(deployment)
    bot_failed = False
    if error is None:
        if not form.is_valid():
            error = "Type a message first."
        else:
            try:
                bot.send_message(
                    deployment,
                    _sender_id(request, assistant),
                    form.cleaned_data["message"],
                    button_title=form.cleaned_data["title"] or None,
                )
            except bot.BotUnavailable as exc:
                error, bot_failed = str(exc), True
    return _chat_answer(request, assistant, version, deployment, error, bot_failed=bot_failed)


@assistant_view(Cap.TRY)
@require_POST
def try_restart(request, assistant):
    version, deployment = _chosen(request, assistant)
    error = _live_or_error(deployment)
    bot_failed = False
    if error is None:
        try:
            bot.restart(deployment, _sender_id(request, assistant))
        except bot.BotUnavailable as exc:
            error, bot_failed = str(exc), True
    return _chat_answer(request, assistant, version, deployment, error, bot_failed=bot_failed)


class StartFlowForm(forms.Form):
    flow = forms.CharField(max_length=255)
    slots = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Preset slots as JSON, e.g. {"account_type": "savings"}',
    )

    def __init__(self, *args, flows, slots, **kwargs):
        super().__init__(*args, **kwargs)
        self.flow_ids, self.slot_names = set(flows), set(slots)

    def clean_flow(self):
        flow = self.cleaned_data["flow"]
        if flow not in self.flow_ids:
            raise forms.ValidationError(f"There is no flow {flow!r}.")
        return flow

    def clean_slots(self):
        raw = self.cleaned_data["slots"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Preset slots are not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f'{exc.msg}). Write an object such as {{"account_type": "savings"}}.'
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                "Preset slots must be a JSON object of slot names and values, such as "
                '{"account_type": "savings"}.'
            )
        unknown = sorted(set(value) - self.slot_names)
        if unknown:
            raise forms.ValidationError(
                f"Unknown slot(s) in the preset slots: {', '.join(unknown)}."
            )
        return value


@assistant_view(Cap.TRY)
@require_POST
def try_start_flow(request, assistant):
    version, deployment = _chosen(request, assistant)
    form = StartFlowForm(
        request.POST,
        flows=Flow.objects.filter(assistant=assistant).values_list("name", flat=True),
        slots=Slot.objects.filter(assistant=assistant).values_list("name", flat=True),
    )
    error = _live_or_error(deployment)
    bot_failed = False
    if error is None:
        if not form.is_valid():
            error = " ".join(" ".join(errs) for errs in form.errors.values())
        else:
            sender = _sender_id(request, assistant)
            try:
                bot.restart(deployment, sender)
                bot.start_flow(
                    deployment, sender, form.cleaned_data["flow"], form.cleaned_data["slots"]
                )
            except bot.BotUnavailable as exc:
                error, bot_failed = str(exc), True
    return _chat_answer(request, assistant, version, deployment, error, bot_failed=bot_failed)


def _may_start(user, version, live_version) -> bool:
    """Starting a version's bot makes it the live one, which needs TRAIN. Whoever may only TRY
    can start the live version's bot again (after it stopped), and nothing else."""
    return Cap.TRAIN in assistant_caps(user, version.assistant) or version == live_version


@assistant_view(Cap.TRY)
@require_POST
def try_version(request, assistant):
    """Try another version: start its bot if it is not running."""
    version, _deployment = _chosen(request, assistant)
    if version is None or not version.is_trained:
        raise Http404("No trained version to try.")
    if not _may_start(request.user, version, services.live_version(assistant)):
        raise PermissionDenied(
            f"Starting {version.label} would make it the live version, which your role does "
            "not allow: it can only start the live version again."
        )
    services.deploy(version)
    return redirect(reverse("training:try", args=[assistant.name]) + f"?version={version.number}")


@assistant_view(Cap.TRY)
def try_transcript(request, assistant):
    version, deployment = _chosen(request, assistant)
    if _live_or_error(deployment):
        return HttpResponse("The bot is not running.", status=409, content_type="text/plain")
    sender = _sender_id(request, assistant)
    try:
        tracker = bot.tracker(deployment, sender)
    except bot.BotUnavailable as exc:
        return HttpResponse(str(exc), status=502, content_type="text/plain")
    body = {"assistant": assistant.name, "version": version.number, "sender_id": sender, **tracker}
    response = HttpResponse(
        json.dumps(body, indent=2, default=str), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{assistant.name}-{sender}.json"'
    return response
