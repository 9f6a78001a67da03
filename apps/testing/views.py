"""The Tests page: an assistant's e2e test cases (list, YAML editor, cases made of Try
conversations and reviewed conversations) and its test runs (queue, progress, results)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.ingestion.models import Conversation
from apps.projects.access import assistant_view
from apps.testing import builder, services, suites
from apps.testing.forms import CaseFileForm, RunForm
from apps.testing.models import TestRun
from apps.training import bot
from apps.training.models import IllegalTransition, ModelVersion
from apps.training.views.try_views import _chosen, _live_or_error, _sender_id


def _trained_versions(assistant):
    return ModelVersion.objects.filter(assistant=assistant).exclude(model_file="")


@assistant_view(Cap.VIEW_FLOWS)
def tests_page(request, assistant):
    files = suites.case_files(assistant)
    results = services.last_results(assistant)
    versions = list(_trained_versions(assistant))
    shown = [v.number for v in versions[:5]]
    rows = []
    for entry in files:
        for case in entry.cases:
            last = results.get((entry.path, case.name), {})
            rows.append({"file": entry, "case": case, "results": [(n, last.get(n)) for n in shown]})
    live = services.resolve_version(assistant, None)
    return render(
        request,
        "testing/tests.html",
        {
            "assistant": assistant,
            "files": files,
            "rows": rows,
            "shown_versions": shown,
            "versions": versions,
            "default_version": live.number if live else None,
            "runs": TestRun.objects.filter(assistant=assistant).select_related("version")[:20],
        },
    )


def _editor(request, assistant, form, *, problems=None, source=None, status=200):
    return render(
        request,
        "testing/edit.html",
        {"assistant": assistant, "form": form, "problems": problems or [], "source": source},
        status=status,
    )


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def edit_file(request, assistant):
    """GET ?file=tests/x.yml: the file in the editor (no file: a new one). POST: save it, only
    when it parses as e2e test cases; otherwise the editor again with the problems."""
    if request.method != "POST":
        path = request.GET.get("file", "")
        if path:
            text = suites.test_files(assistant).get(path)
            if text is None or not suites.is_case_file(path, text):
                raise Http404("No such test case file.")
            form = CaseFileForm(initial={"path": path, "text": text, "original": path})
        else:
            form = CaseFileForm(initial={"path": suites.new_file_path(assistant, "new_cases")})
        return _editor(request, assistant, form)
    form = CaseFileForm(request.POST)
    if not form.is_valid():
        return _editor(request, assistant, form, status=400)
    data = form.cleaned_data
    try:
        suites.save_file(assistant, data["path"], data["text"], replaces=data["original"] or None)
    except suites.SuiteError as exc:
        return _editor(request, assistant, form, problems=exc.problems, status=400)
    messages.success(request, f"Saved {data['path']}.")
    return redirect(reverse("testing:tests", args=[assistant.name]))


@assistant_view(Cap.EDIT_FLOWS)
@require_POST
def delete_file(request, assistant):
    path = request.POST.get("file", "")
    if suites.delete_file(assistant, path):
        messages.success(request, f"Deleted {path}.")
    else:
        messages.error(request, f"There is no test case file {path!r} to delete.")
    return redirect(reverse("testing:tests", args=[assistant.name]))


def _prefilled(request, assistant, events, name, source):
    """The editor holding the case made of `events`, for changes before saving."""
    try:
        text = services.case_from_events(assistant, events, name)
    except builder.NothingToTest as exc:
        messages.error(request, str(exc))
        return None
    form = CaseFileForm(initial={"path": suites.new_file_path(assistant, name), "text": text})
    return _editor(request, assistant, form, source=source)


def _try_events(request, assistant):
    """(the Try session's events, the version) or (None, error message)."""
    version, deployment = _chosen(request, assistant)
    error = _live_or_error(deployment)
    if error:
        return None, error
    try:
        tracker = bot.tracker(deployment, _sender_id(request, assistant))
    except bot.BotUnavailable as exc:
        return None, str(exc)
    return list(tracker.get("events") or []), version


def _try_name(moment: datetime) -> str:
    return builder.case_name(f"try_{timezone.localtime(moment):%Y%m%d_%H%M%S}")


def _started(events: list) -> datetime:
    """When the Try conversation began (its first timestamped event), so that the editor and
    the download name the same conversation's case alike; now if no event says."""
    for event in events:
        stamp = event.get("timestamp") if isinstance(event, dict) else None
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            with contextlib.suppress(OverflowError, OSError, ValueError):
                return datetime.fromtimestamp(stamp, tz=UTC)
    return timezone.now()


@assistant_view(Cap.TRY)
def from_try(request, assistant):
    events, version = _try_events(request, assistant)
    back = reverse("training:try", args=[assistant.name])
    if events is None:
        messages.error(request, version)
        return redirect(back)
    source = {"label": f"your conversation on Try your assistant ({version.label})", "url": back}
    page = _prefilled(request, assistant, events, _try_name(_started(events)), source)
    return page or redirect(back)


@assistant_view(Cap.TRY)
def try_download(request, assistant):
    """The Try conversation as an e2e test file (YAML), for download."""
    events, version = _try_events(request, assistant)
    if events is None:
        return HttpResponse(version, status=409, content_type="text/plain")
    name = _try_name(_started(events))
    try:
        text = services.case_from_events(assistant, events, name)
    except builder.NothingToTest as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    response = HttpResponse(text, content_type="application/x-yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{assistant.name}-{name}.yml"'
    return response


@assistant_view(Cap.VIEW_CONVERSATIONS)
def from_conversation(request, assistant, conversation_id):
    conversation = get_object_or_404(Conversation, assistant=assistant, pk=conversation_id)
    events = list(
        conversation.events.order_by("timestamp", "position", "id").values_list("data", flat=True)
    )
    back = reverse("ingestion:detail", args=[assistant.name, conversation.pk])
    source = {"label": f"conversation {conversation.pk} ({conversation.sender_id})", "url": back}
    name = builder.case_name(f"conversation_{conversation.pk}")
    page = _prefilled(request, assistant, events, name, source)
    return page or redirect(back)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.TRAIN)
@require_POST
def start_run(request, assistant):
    form = RunForm(request.POST)
    back = reverse("testing:tests", args=[assistant.name])
    if not form.is_valid():
        messages.error(request, "Choose a trained version to run the tests against.")
        return redirect(back)
    version = ModelVersion.objects.filter(
        assistant=assistant, number=form.cleaned_data["version"]
    ).first()
    if version is None:
        messages.error(request, "There is no such version.")
        return redirect(back)
    try:
        run = services.request_run(assistant, version, request.user)
    except services.RunRefused as exc:
        messages.error(request, str(exc))
        return redirect(back)
    return redirect(reverse("testing:run", args=[assistant.name, run.pk]))


def _run_or_404(assistant, run_id) -> TestRun:
    return get_object_or_404(
        TestRun.objects.select_related("version", "requested_by"), assistant=assistant, pk=run_id
    )


def _case_rows(run: TestRun) -> list[dict]:
    rows = []
    for case in run.results:
        failure = case.get("failure") or {}
        rows.append(
            {
                **case,
                "path": services.case_path(case.get("file")),
                "step_number": failure["step"] + 1
                if isinstance(failure.get("step"), int)
                else None,
                "expected_json": json.dumps(failure.get("expected"), indent=2, default=str),
                "actual_json": json.dumps(failure.get("actual"), indent=2, default=str),
            }
        )
    return rows


@assistant_view(Cap.VIEW_FLOWS)
def run_detail(request, assistant, run_id):
    run = _run_or_404(assistant, run_id)
    context = {"assistant": assistant, "run": run, "cases": _case_rows(run)}
    template = "testing/_run_status.html" if request.htmx else "testing/run.html"
    return render(request, template, context)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.TRAIN)
@require_POST
def cancel_run(request, assistant, run_id):
    run = _run_or_404(assistant, run_id)
    try:
        run.request_cancel()
    except IllegalTransition as exc:
        messages.error(request, str(exc).replace("job", "test run"))
    return redirect(reverse("testing:run", args=[assistant.name, run.pk]))
