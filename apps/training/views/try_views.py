"""Try your assistant: chat with a trained version's bot, restart the conversation, start a
flow with preset slots, switch versions, download the transcript; the inspector beside it."""

import json
import re
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows.views.translations import language_label
from apps.projects.access import assistant_view
from apps.training import bot, selectors, services
from apps.training.forms import MessageForm, StartFlowForm, limits
from apps.training.inspector import active_form, path_of, slot_rows, stack_frames, turns_of
from apps.training.models import Deployment
from apps.training.views.versions import version_or_404
from engine import formats


def _sender_id(request, assistant) -> str:
    key = f"try-sender-{assistant.pk}"
    if key not in request.session:
        request.session[key] = f"studio-{request.user.pk}-{uuid.uuid4().hex[:10]}"
    return request.session[key]


def version_languages(version) -> list[str]:
    """The languages the version was trained with (its config.yml): the default one first.
    None when it was trained without additional languages."""
    if version is None:
        return []
    try:
        config = formats.ConfigFile.parse(
            (version.input_files or {}).get("config.yml") or "", "config.yml"
        )
    except formats.FormatError:
        return []
    default = config.language if isinstance(config.language, str) else None
    extra = [c for c in config.additional_languages if c and c != default]
    if not default or not extra:
        return []
    return [default, *dict.fromkeys(extra)]


def _language_key(assistant) -> str:
    return f"try-language-{assistant.pk}"


def _session_language(request, assistant, version) -> str | None:
    """The language picked for this chat, when the version speaks it."""
    code = request.session.get(_language_key(assistant))
    return code if code in version_languages(version) else None


def _speak(request, assistant, version, deployment, sender) -> None:
    """After a restart, the conversation speaks the picked language again (when it is not the
    default one, which a new conversation starts in)."""
    code = _session_language(request, assistant, version)
    languages = version_languages(version)
    if code and languages and code != languages[0]:
        bot.set_language(deployment, sender, code)


def _chosen(request, assistant):
    """The version being tried and its deployment: ?version=N, else the live one, else the
    newest trained version."""
    number = request.GET.get("version") or request.POST.get("version")
    if number:
        if not re.fullmatch(r"[0-9]{1,18}", str(number)):
            raise Http404("No such version.")
        version = version_or_404(assistant, int(number))
        if version.isolated and version.created_by_id != request.user.pk:
            # Someone's personal version (trained in isolation): theirs alone to try.
            raise Http404("No such version.")
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
    turns = turns_of(tracker)
    flows = list(selectors.flow_names(assistant))
    languages = version_languages(version)
    slots = tracker.get("slots") if isinstance(tracker, dict) else None
    speaking = slots.get("language") if isinstance(slots, dict) else None
    if not isinstance(speaking, str):
        speaking = _session_language(request, assistant, version)
    return {
        "languages": [(code, language_label(code)) for code in languages],
        "language": speaking if speaking in languages else (languages[0] if languages else None),
        "language_name": language_label(speaking) if speaking in languages else "",
        "assistant": assistant,
        "version": version,
        "deployment": deployment,
        "failed_deployment": failed,
        "is_live_version": version is not None and version == live_version,
        "can_start": version is not None and _may_start(request, version, live_version),
        "sender_id": sender,
        "tracker": tracker,
        "turns": turns,
        # The steps the conversation ran, per flow: the canvas beside the chat marks them.
        "path": path_of(turns),
        "slot_rows": slot_rows(tracker),
        "stack_frames": stack_frames(tracker),
        "active_form": active_form(tracker),
        "forms": selectors.form_names(assistant),
        "tracker_json": json.dumps(tracker, indent=2, default=str)[:200000],
        "error": error,
        "versions": selectors.versions_tryable_by(assistant, request.user).exclude(model_file=""),
        "flows": flows,
        "slots": selectors.slot_names(assistant),
        "message_max_length": limits.TEXT,
    }


@assistant_view(Cap.TRY)
def try_page(request, assistant):
    version, deployment = _chosen(request, assistant)
    context = _chat_context(request, assistant, version, deployment)
    template = "training/_chat.html" if request.htmx else "training/try.html"
    return render(request, template, context)


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
                    language=_session_language(request, assistant, version),
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
            sender = _sender_id(request, assistant)
            bot.restart(deployment, sender)
            _speak(request, assistant, version, deployment, sender)
        except bot.BotUnavailable as exc:
            error, bot_failed = str(exc), True
    return _chat_answer(request, assistant, version, deployment, error, bot_failed=bot_failed)


@assistant_view(Cap.TRY)
@require_POST
def try_start_flow(request, assistant):
    version, deployment = _chosen(request, assistant)
    form = StartFlowForm(
        request.POST,
        flows=selectors.flow_names(assistant),
        slots=selectors.slot_names(assistant),
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
                _speak(request, assistant, version, deployment, sender)
                bot.start_flow(
                    deployment, sender, form.cleaned_data["flow"], form.cleaned_data["slots"]
                )
            except bot.BotUnavailable as exc:
                error, bot_failed = str(exc), True
    return _chat_answer(request, assistant, version, deployment, error, bot_failed=bot_failed)


@assistant_view(Cap.TRY)
@require_POST
def try_language(request, assistant):
    """Speak another of the version's languages: set the conversation's ``language`` slot (as
    Rasa switches a conversation's language) and send it with each message."""
    version, deployment = _chosen(request, assistant)
    error = _live_or_error(deployment)
    bot_failed = False
    code = request.POST.get("language") or ""
    languages = version_languages(version)
    if error is None:
        if code not in languages:
            error = (
                f"language: '{code[:40]}' is not one of this version's languages "
                f"({', '.join(languages) or 'it has only its default language'})."
            )
        else:
            request.session[_language_key(assistant)] = code
            try:
                bot.set_language(deployment, _sender_id(request, assistant), code)
            except bot.BotUnavailable as exc:
                error, bot_failed = str(exc), True
    return _chat_answer(request, assistant, version, deployment, error, bot_failed=bot_failed)


def _may_start(request, version, live_version) -> bool:
    """Starting a version's bot makes it the live one, which needs TRAIN. Whoever may only TRY
    can start the live version's bot again (after it stopped), and nothing else. A personal
    (isolated) version never goes live: its owner, the only one who sees it, may start it."""
    if version.isolated:
        return version.created_by_id == request.user.pk
    return Cap.TRAIN in request.caps or version == live_version


@assistant_view(Cap.TRY)
@require_POST
def try_version(request, assistant):
    """Try another version: start its bot if it is not running."""
    version, _deployment = _chosen(request, assistant)
    if version is None or not version.is_trained:
        raise Http404("No trained version to try.")
    if not _may_start(request, version, services.live_version(assistant)):
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
