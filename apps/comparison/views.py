"""Comparing a version with the live one, making a version live after seeing the comparison,
and replaying a conversation (a reviewed one, or the current Try session) against a version."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.comparison import services
from apps.comparison.models import Comparison, Replay
from apps.comparison.replay import turns_of_events
from apps.comparison.summary import content_kinds, summary_lines
from apps.ingestion.models import Conversation
from apps.projects.access import assistant_view
from apps.training import bot
from apps.training import services as training
from apps.training.models import ModelVersion
from apps.training.views.try_views import _chosen, _sender_id
from apps.training.views.versions import version_or_404


def _comparison(assistant, comparison_id) -> Comparison:
    return get_object_or_404(
        Comparison.objects.select_related("candidate", "base", "requested_by"),
        pk=comparison_id,
        assistant=assistant,
    )


@assistant_view(Cap.TRY, write=Cap.TRAIN)
@require_POST
def compare(request, assistant, number):
    """Queue the comparison of version `number` with the live version."""
    candidate = version_or_404(assistant, number)
    try:
        comparison, created = services.request_comparison(candidate, request.user)
    except services.Refused as exc:
        messages.error(request, str(exc))
        return redirect("training:versions", assistant.name)
    if not created:
        messages.info(request, "This comparison is already running: here it is.")
    return redirect("comparison:detail", assistant.name, comparison.pk)


@assistant_view(Cap.TRY)
def detail(request, assistant, comparison_id):
    comparison = _comparison(assistant, comparison_id)
    context = {
        "assistant": assistant,
        "comparison": comparison,
        "result": comparison.result,
        "content_kinds": content_kinds(comparison.result),
        "summary": summary_lines(comparison.result) if comparison.is_finished else [],
        "live": training.live_version(assistant),
    }
    if request.htmx:
        return render(request, "comparison/_comparison.html", context)
    return render(request, "comparison/detail.html", context)


@assistant_view(Cap.TRAIN)
def make_live(request, assistant, number):
    """The confirmation before a version goes live: the last comparison with the live version
    (or the offer to run one), and the button that makes it live."""
    version = version_or_404(assistant, number)
    if not version.is_trained or version.isolated:
        # The versions page explains why (the same refusals as "Make live" itself).
        messages.error(
            request,
            f"{version.label} has not been trained."
            if not version.is_trained
            else f"{version.label} was trained in isolation and never becomes the live one.",
        )
        return redirect("training:versions", assistant.name)
    live = training.live_version(assistant)
    comparison = services.latest_comparison(version, live)
    return render(
        request,
        "comparison/make_live.html",
        {
            "assistant": assistant,
            "version": version,
            "live": live,
            "comparison": comparison,
            "summary": summary_lines(comparison.result)
            if comparison and comparison.is_finished
            else [],
        },
    )


# -- replays ----------------------------------------------------------------------------------


def _trained_versions(request, assistant):
    rows = ModelVersion.objects.filter(assistant=assistant).exclude(model_file="")
    return [v for v in rows if not v.isolated or v.created_by_id == request.user.pk]


def _version_from_post(request, assistant) -> ModelVersion | None:
    number = request.POST.get("version", "")
    if not number.isdigit():
        return None
    return ModelVersion.objects.filter(assistant=assistant, number=int(number)).first()


@assistant_view(Cap.VIEW_CONVERSATIONS, write=Cap.TRY)
def replay_conversation(request, assistant, conversation_id):
    """GET: the form to replay a conversation against a version, and its earlier replays;
    POST: queue the replay."""
    conversation = get_object_or_404(Conversation, pk=conversation_id, assistant=assistant)
    error = ""
    if request.method == "POST":
        version = _version_from_post(request, assistant)
        if version is None:
            error = "Choose a trained version of this assistant to replay against."
        else:
            try:
                replay = services.request_replay(
                    version,
                    request.user,
                    turns=services.conversation_turns(conversation),
                    label=f"conversation {conversation}",
                    conversation=conversation,
                )
            except services.Refused as exc:
                error = str(exc)
            else:
                return redirect("comparison:replay", assistant.name, conversation.pk, replay.pk)
    return render(
        request,
        "comparison/replay_start.html",
        {
            "assistant": assistant,
            "conversation": conversation,
            "versions": _trained_versions(request, assistant),
            "replays": Replay.objects.filter(conversation=conversation).select_related("version"),
            "error": error,
        },
        status=400 if error else 200,
    )


def _replay_page(request, assistant, replay):
    context = {
        "assistant": assistant,
        "replay": replay,
        "result": replay.result,
    }
    if request.htmx:
        return render(request, "comparison/_replay.html", context)
    return render(request, "comparison/replay.html", context)


@assistant_view(Cap.VIEW_CONVERSATIONS)
def replay(request, assistant, conversation_id, replay_id):
    found = get_object_or_404(
        Replay.objects.select_related("version"),
        pk=replay_id,
        assistant=assistant,
        conversation_id=conversation_id,
    )
    return _replay_page(request, assistant, found)


@assistant_view(Cap.TRY)
@require_POST
def replay_try(request, assistant):
    """Queue the replay of the current Try session against the version posted as `against`."""
    tried, deployment = _chosen(request, assistant)
    number = request.POST.get("against", "")
    version = (
        ModelVersion.objects.filter(assistant=assistant, number=int(number)).first()
        if number.isdigit()
        else None
    )
    if version is None:
        messages.error(request, "Choose a trained version to replay the conversation against.")
        return redirect("training:try", assistant.name)
    if deployment is None or deployment.status != deployment.Status.LIVE:
        messages.error(request, "The bot of the tried version is not running: nothing to replay.")
        return redirect("training:try", assistant.name)
    try:
        tracker = bot.tracker(deployment, _sender_id(request, assistant))
        replay = services.request_replay(
            version,
            request.user,
            turns=turns_of_events(tracker.get("events") or []),
            label=f"Try session on {tried.label}",
        )
    except (bot.BotUnavailable, services.Refused) as exc:
        messages.error(request, str(exc))
        return redirect("training:try", assistant.name)
    return redirect("comparison:try_replay", assistant.name, replay.pk)


@assistant_view(Cap.TRY)
def try_replay(request, assistant, try_replay_id):
    found = get_object_or_404(
        Replay.objects.select_related("version"),
        pk=try_replay_id,
        assistant=assistant,
        conversation__isnull=True,
    )
    if found.requested_by_id != request.user.pk:
        raise Http404("No such replay.")  # a Try session is its tester's own
    return _replay_page(request, assistant, found)
