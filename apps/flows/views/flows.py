"""The flows list: create, duplicate, rename and delete a flow; a flow's history of versions,
and restoring one."""

from __future__ import annotations

import difflib

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows import selectors, services
from apps.flows.forms.flow import FlowCreateForm, FlowRenameForm
from apps.flows.models import Flow, FlowVersion
from apps.flows.services import patterns, status
from apps.flows.views.revision import RevisionMissing, posted_revision, revision_missing_page
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid
from apps.projects.forms import ConfirmNameForm
from apps.projects.models import AssistantFiles
from engine import formats

FLOWS_PER_PAGE = 100


def flow_or_404(assistant, flow_name: str) -> Flow:
    return get_object_or_404(Flow, assistant=assistant, name=flow_name)


STATUS_FILTERS = [
    ("", "Any status"),
    (status.DRAFT, status.LABELS[status.DRAFT]),
    (status.PUBLISHED, status.LABELS[status.PUBLISHED]),
    (status.CHANGED, status.LABELS[status.CHANGED]),
]


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def flow_list(request, assistant):
    """The user flows (patterns have their own tab), searchable and filtered by status."""
    query = (request.GET.get("q") or "").strip()
    wanted = request.GET.get("status") or ""
    if wanted not in status.LABELS:
        wanted = ""
    flows = Flow.objects.filter(assistant=assistant).exclude(name__startswith=patterns.PREFIX)
    if query:
        flows = flows.filter(
            Q(name__icontains=query) | Q(title__icontains=query) | Q(description__icontains=query)
        )
    flows = status.filter_status(flows, wanted)
    flows = status.annotate_status(flows.select_related("updated_by"))
    flows = flows.defer("definition", "published_definition").order_by("name")
    page = Paginator(flows, FLOWS_PER_PAGE).get_page(request.GET.get("page"))
    counts = selectors.problem_counts(assistant)
    rows = []
    for flow in page:
        state = status.status_of(flow)
        rows.append(
            {
                "flow": flow,
                "problems": counts.get(flow.name, (0, 0)),
                "status": state,
                "status_label": status.LABELS[state],
            }
        )
    form = FlowCreateForm(assistant=assistant)
    context = {
        "assistant": assistant,
        "rows": rows,
        "page": page,
        "query": query,
        "status": wanted,
        "status_filters": STATUS_FILTERS,
        "form": form,
        # Without flows, a classic assistant converses through its stories and rules.
        "has_stories": not rows and not query and not wanted and _has_stories(assistant),
    }
    template = "flows/_flow_rows.html" if request.htmx else "flows/list.html"
    return render(request, template, context)


@assistant_view(Cap.EDIT_FLOWS)
@require_POST
def flow_status(request, assistant):
    """Publish or unpublish the selected flows (the list's bulk action, and a row's Publish)."""
    names = request.POST.getlist("flows")
    action = request.POST.get("action")
    if request.POST.get("publish_one"):  # a row's own Publish button
        names, action = [request.POST["publish_one"]], "publish"
    back = request.POST.get("back")
    flows = list(Flow.objects.filter(assistant=assistant, name__in=names).order_by("name"))
    if back == "canvas" and len(flows) == 1:
        # The canvas's Publish publishes the flow as the canvas showed it, or nothing.
        try:
            services.check_revision(flows[0], posted_revision(request))
        except RevisionMissing as exc:
            return revision_missing_page(request, assistant, flows[0], exc)
        except services.StaleFlow as exc:
            messages.error(request, f"{exc} Nothing was published: here is the flow as it is.")
            return redirect("flows:detail", assistant.name, flows[0].name)
    if action not in ("publish", "unpublish"):
        messages.error(request, "Choose Publish or Unpublish.")
    elif not flows:
        messages.error(request, "Select the flows to publish or unpublish first.")
    elif action == "publish":
        done = status.publish(flows, user=request.user)
        messages.success(request, _status_message(done, flows, "published", "already published"))
    else:
        done = status.unpublish(flows)
        messages.success(request, _status_message(done, flows, "unpublished", "already drafts"))
    if back == "patterns":
        return redirect("flows:patterns", assistant.name)
    if back == "canvas" and len(flows) == 1:
        return redirect("flows:detail", assistant.name, flows[0].name)
    params = {k: v for k in ("q", "status") if (v := request.POST.get(k))}
    url = reverse("flows:list", args=[assistant.name])
    return redirect(f"{url}?{urlencode(params)}" if params else url)


def _status_message(done: list[Flow], chosen: list[Flow], did: str, already: str) -> str:
    shown = ", ".join(f.name for f in done[:10]) + (" …" if len(done) > 10 else "")
    text = f"{len(done)} flow{pluralize(len(done))} {did}" + (f": {shown}." if done else ".")
    rest = len(chosen) - len(done)
    if rest:
        text += f" {rest} {'was' if rest == 1 else 'were'} {already}."
    return text


def _has_stories(assistant) -> bool:
    files = AssistantFiles.objects.filter(assistant=assistant).only("other_files").first()
    data = formats.load_stories(files.other_files if files is not None else {})
    return bool(data.stories or data.rules)


@assistant_view(Cap.EDIT_FLOWS)
def flow_create(request, assistant):
    form = FlowCreateForm(request.POST or None, assistant=assistant)
    if request.method == "POST" and form.is_valid():
        try:
            flow = services.create_flow(assistant, user=request.user, **form.cleaned_data)
        except ContentInvalid as exc:
            form.add_problems(exc.problems)
        else:
            messages.success(request, f"Flow {flow.name} created. Add its first step.")
            return redirect("flows:detail", assistant.name, flow.name)
    return render(request, "flows/create.html", {"assistant": assistant, "form": form})


def _new_name_page(
    request,
    assistant,
    flow_name,
    *,
    action: str,
    initial,
    save,
    problems_on,
    message: str,
    changes_flow: bool = False,
):
    """Duplicate or rename a flow: a new flow id, then `save(flow, name=..., user=...,
    revision=...)`, which returns the flow to open; refused changes show on `problems_on`.
    `message` is said after, with the flow's {old} and {new} id. `changes_flow` (a rename): the
    form must name the revision it was drawn at (400 otherwise; 409 when the flow moved on)."""
    flow = flow_or_404(assistant, flow_name)
    form = FlowRenameForm(
        request.POST or None, assistant=assistant, flow=flow, initial={"name": initial(flow)}
    )
    status_code = 200
    if request.method == "POST" and form.is_valid():
        old_name = flow.name
        try:
            revision = posted_revision(request) if changes_flow else None
            saved = save(flow, name=form.cleaned_data["name"], user=request.user, revision=revision)
        except RevisionMissing as exc:
            return revision_missing_page(request, assistant, flow, exc)
        except services.StaleFlow as exc:
            form.add_error(None, f"{exc} Nothing was renamed: look at the flow again.")
            status_code = 409
        except ContentInvalid as exc:
            form.add_problems(exc.problems, problems_on)
        else:
            messages.success(request, message.format(old=old_name, new=saved.name))
            return redirect("flows:detail", assistant.name, saved.name)
    return render(
        request,
        "flows/flow_action.html",
        {"assistant": assistant, "flow": flow, "form": form, "action": action},
        status=status_code,
    )


def shared_triggers(flow: Flow) -> dict[str, list[str]]:
    """{intent: the other flows it also triggers} for each NLU trigger intent of `flow`."""
    intents = {t.intent for t in formats.trigger_intents(flow.definition.get("nlu_trigger"))}
    shared: dict[str, list[str]] = {}
    if not intents:
        return shared
    others = Flow.objects.filter(assistant=flow.assistant).exclude(pk=flow.pk).order_by("name")
    for other in others.only("name", "definition"):
        for trigger in formats.trigger_intents(other.definition.get("nlu_trigger")):
            if trigger.intent in intents:
                shared.setdefault(trigger.intent, []).append(other.name)
    return shared


def _duplicate(request):
    def save(flow: Flow, *, name: str, user, revision=None) -> Flow:
        copy_ = services.duplicate_flow(flow, name=name, user=user)
        for intent, others in shared_triggers(copy_).items():
            messages.warning(
                request,
                f"The copy starts on the same NLU trigger as {', '.join(others)} (intent "
                f"{intent}): both flows compete for the same messages. Change the copy's "
                "trigger, or remove it.",
            )
        return copy_

    return save


@assistant_view(Cap.EDIT_FLOWS)
def flow_duplicate(request, assistant, flow_name):
    return _new_name_page(
        request,
        assistant,
        flow_name,
        action="Duplicate",
        initial=lambda flow: f"{flow.name}_copy",
        save=_duplicate(request),
        problems_on=None,
        message="Flow {old} duplicated as {new}, a draft.",
    )


@assistant_view(Cap.EDIT_FLOWS)
def flow_rename(request, assistant, flow_name):
    return _new_name_page(
        request,
        assistant,
        flow_name,
        action="Rename",
        initial=lambda flow: flow.name,
        save=_rename(request),
        problems_on="name",
        message="Flow renamed to {new}.",
        changes_flow=True,
    )


def _rename(request):
    """Rename, remembered for undo in this session (apps.flows.views.history)."""

    def save(flow: Flow, *, name: str, user, revision: int | None) -> Flow:
        from apps.flows.views.history import remember_edit

        old = flow.name
        renamed = services.rename_flow(flow, name=name, user=user, revision=revision)
        if renamed.name != old:
            remember_edit(request, renamed, renamed=(old, renamed.name))
        return renamed

    return save


@assistant_view(Cap.EDIT_FLOWS)
def flow_delete(request, assistant, flow_name):
    flow = flow_or_404(assistant, flow_name)
    form = ConfirmNameForm(
        request.POST or None,
        name=flow.name,
        label="Type the flow id to confirm",
        mismatch=f"Type {flow.name} exactly to delete this flow.",
    )
    status_code = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.check_revision(flow, posted_revision(request))
            services.delete_flow(flow)
        except RevisionMissing as exc:
            return revision_missing_page(request, assistant, flow, exc)
        except services.StaleFlow as exc:
            form.add_error(None, f"{exc} Nothing was deleted: look at the flow again.")
            status_code = 409
        except ContentInvalid as exc:
            form.add_problems(exc.problems, prefix="Other content still uses this flow: ")
        else:
            messages.success(request, f"Flow {flow_name} deleted.")
            return redirect("flows:list", assistant.name)
    return render(
        request,
        "flows/flow_action.html",
        {"assistant": assistant, "flow": flow, "form": form, "action": "Delete", "danger": True},
        status=status_code,
    )


# --------------------------------------------------------------------------------------------
# History


def _flow_yaml(name: str, definition: dict) -> list[str]:
    return formats.dump_yaml({name: definition}).splitlines()


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def flow_history(request, assistant, flow_name):
    flow = flow_or_404(assistant, flow_name)
    versions = list(
        FlowVersion.objects.filter(assistant=assistant, flow_name=flow.name).select_related(
            "created_by", "stable_by"
        )[:50]
    )
    rows = []
    for i, version in enumerate(versions):
        older = versions[i + 1] if i + 1 < len(versions) else None
        before = _flow_yaml(flow.name, older.definition) if older else []
        after = _flow_yaml(flow.name, version.definition)
        diff = [
            line
            for line in difflib.unified_diff(before, after, "before", "after", lineterm="", n=2)
            if not line.startswith(("---", "+++"))
        ]
        rows.append(
            {
                "version": version,
                "diff": diff,
                "is_current": version.definition == flow.definition,
            }
        )
    return render(
        request,
        "flows/history.html",
        {"assistant": assistant, "flow": flow, "rows": rows},
    )


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
@require_POST
def flow_restore(request, assistant, flow_name, version_id):
    flow = flow_or_404(assistant, flow_name)
    version = get_object_or_404(
        FlowVersion, pk=version_id, assistant=assistant, flow_name=flow.name
    )
    try:
        services.restore_version(
            flow, version, user=request.user, revision=posted_revision(request)
        )
    except RevisionMissing as exc:
        return revision_missing_page(request, assistant, flow, exc)
    except services.StaleFlow as exc:
        messages.error(request, f"{exc} Nothing was restored: look at its history again.")
        return redirect("flows:history", assistant.name, flow.name)
    except ContentInvalid as exc:
        messages.error(
            request,
            "That version cannot be restored: " + "; ".join(p.message for p in exc.problems[:5]),
        )
        return redirect("flows:history", assistant.name, flow.name)
    messages.success(request, "The earlier version is restored.")
    return redirect("flows:detail", assistant.name, flow.name)
