"""The flows list, the flow canvas with its side panel, and flow history (issue 7).

The canvas is one server-rendered page. Its side panel (add, edit or delete a step; the start
node) is loaded with htmx into ``#panel``; without htmx the same URLs render the whole page with
the panel open. A successful edit answers with a redirect to the canvas (``HX-Redirect`` for
htmx), so the canvas is always drawn from what was stored.
"""

from __future__ import annotations

import difflib

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows import canvas, selectors, services
from apps.flows import steps as step_ops
from apps.flows.forms import (
    STEP_KINDS,
    FlowCreateForm,
    FlowDeleteForm,
    FlowRenameForm,
    FlowStartForm,
    GotoForm,
    StepForm,
    step_kind,
)
from apps.flows.models import CustomAction, Flow, FlowVersion, Response, Slot
from apps.nlu.models import Intent
from apps.projects.access import assistant_caps, assistant_view
from apps.projects.content.checks import ContentInvalid, relative_problems
from engine.formats import END
from engine.formats.yamlio import dump_yaml

FLOWS_PER_PAGE = 100


def _flow(assistant, flow_name: str) -> Flow:
    return get_object_or_404(Flow, assistant=assistant, name=flow_name)


def _can_edit(request, assistant) -> bool:
    return Cap.EDIT_FLOWS in assistant_caps(request.user, assistant)


def _done(request, url: str):
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# --------------------------------------------------------------------------------------------
# Flows list


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def flow_list(request, assistant):
    query = (request.GET.get("q") or "").strip()
    flows = Flow.objects.filter(assistant=assistant).select_related("updated_by")
    if query:
        flows = flows.filter(
            Q(name__icontains=query) | Q(title__icontains=query) | Q(description__icontains=query)
        )
    flows = flows.defer("definition").order_by("name")
    page = Paginator(flows, FLOWS_PER_PAGE).get_page(request.GET.get("page"))
    counts = selectors.problem_counts(assistant)
    rows = [{"flow": f, "problems": counts.get(f.name, (0, 0))} for f in page]
    form = FlowCreateForm(assistant=assistant)
    context = {
        "assistant": assistant,
        "rows": rows,
        "page": page,
        "query": query,
        "form": form,
        "can_edit": _can_edit(request, assistant),
    }
    template = "flows/_flow_rows.html" if request.htmx else "flows/list.html"
    return render(request, template, context)


@assistant_view(Cap.EDIT_FLOWS)
def flow_create(request, assistant):
    form = FlowCreateForm(request.POST or None, assistant=assistant)
    if request.method == "POST" and form.is_valid():
        try:
            flow = services.create_flow(assistant, user=request.user, **form.cleaned_data)
        except ContentInvalid as exc:
            for problem in exc.problems:
                form.add_error(None, problem.message)
        else:
            messages.success(request, f"Flow {flow.name} created. Add its first step.")
            return redirect("flows:detail", assistant.name, flow.name)
    return render(request, "flows/create.html", {"assistant": assistant, "form": form})


@assistant_view(Cap.EDIT_FLOWS)
def flow_duplicate(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    form = FlowRenameForm(
        request.POST or None, assistant=assistant, flow=flow, initial={"name": f"{flow.name}_copy"}
    )
    if request.method == "POST" and form.is_valid():
        try:
            copy_ = services.duplicate_flow(flow, name=form.cleaned_data["name"], user=request.user)
        except ContentInvalid as exc:
            for problem in exc.problems:
                form.add_error(None, problem.message)
        else:
            messages.success(request, f"Flow {flow.name} duplicated as {copy_.name}.")
            return redirect("flows:detail", assistant.name, copy_.name)
    return render(
        request,
        "flows/flow_action.html",
        {"assistant": assistant, "flow": flow, "form": form, "action": "Duplicate"},
    )


@assistant_view(Cap.EDIT_FLOWS)
def flow_rename(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    form = FlowRenameForm(
        request.POST or None, assistant=assistant, flow=flow, initial={"name": flow.name}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.rename_flow(flow, name=form.cleaned_data["name"], user=request.user)
        except ContentInvalid as exc:
            for problem in exc.problems:
                form.add_error("name", problem.message)
        else:
            messages.success(request, f"Flow renamed to {flow.name}.")
            return redirect("flows:detail", assistant.name, flow.name)
    return render(
        request,
        "flows/flow_action.html",
        {"assistant": assistant, "flow": flow, "form": form, "action": "Rename"},
    )


@assistant_view(Cap.EDIT_FLOWS)
def flow_delete(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    form = FlowDeleteForm(request.POST or None, flow=flow)
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_flow(flow)
        except ContentInvalid as exc:
            for problem in exc.problems:
                form.add_error(None, f"Other content still uses this flow: {problem.message}")
        else:
            messages.success(request, f"Flow {flow_name} deleted.")
            return redirect("flows:list", assistant.name)
    return render(
        request,
        "flows/flow_action.html",
        {"assistant": assistant, "flow": flow, "form": form, "action": "Delete", "danger": True},
    )


# --------------------------------------------------------------------------------------------
# Canvas


def _responses(assistant) -> dict[str, list]:
    return dict(Response.objects.filter(assistant=assistant).values_list("name", "variations"))


def _canvas_context(request, assistant, flow, **extra) -> dict:
    steps = flow.definition.get("steps") or []
    problems = selectors.flow_problems(assistant, flow)
    cards = canvas.build(steps, flow.name, _responses(assistant), problems)
    definition = flow.definition
    triggers = []
    for trigger in definition.get("nlu_trigger") or []:
        intent = trigger.get("intent") if isinstance(trigger, dict) else trigger
        if isinstance(intent, dict):
            triggers.append((intent.get("name"), intent.get("confidence_threshold")))
        else:
            triggers.append((intent, None))
    guard = definition.get("if")
    return {
        "assistant": assistant,
        "flow": flow,
        "cards": cards,
        "is_empty": step_ops.is_placeholder(steps),
        "problems": problems,
        "errors": [p for p in problems if p.severity == "error"],
        "triggers": triggers,
        "guard": "only via link or call" if guard is False else guard,
        **{"can_edit": _can_edit(request, assistant), "step_kinds": STEP_KINDS, **extra},
    }


def _panel(request, assistant, flow, template: str, context: dict, status: int = 200):
    context = {
        "assistant": assistant,
        "flow": flow,
        "panel_template": template,
        "can_edit": _can_edit(request, assistant),
        "step_kinds": STEP_KINDS,
        **context,
    }
    if request.htmx:
        return render(request, template, context, status=status)
    extra = {k: v for k, v in context.items() if k not in ("assistant", "flow")}
    full = _canvas_context(request, assistant, flow, **extra)
    return render(request, "flows/detail.html", full, status=status)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def flow_detail(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    return render(request, "flows/detail.html", _canvas_context(request, assistant, flow))


def _step_context(assistant, flow) -> dict:
    steps = flow.definition.get("steps") or []
    responses = _responses(assistant)
    return {
        "slots": dict(Slot.objects.filter(assistant=assistant).values_list("name", "type")),
        "responses": sorted(responses),
        "response_variations": responses,
        "actions": list(
            CustomAction.objects.filter(assistant=assistant).values_list("name", flat=True)
        ),
        "flows": list(
            Flow.objects.filter(assistant=assistant)
            .exclude(pk=flow.pk)
            .values_list("name", flat=True)
        ),
        "step_choices": canvas.step_choices(steps, flow.name),
        "explicit_ids": step_ops.step_ids(steps),
    }


def _show_invalid(form, exc: ContentInvalid, flow: Flow, step_path: str) -> None:
    base = f"flows.{flow.name}"
    form.show_problems(relative_problems(exc.problems, base), step_path)
    for problem in exc.problems:
        if not (problem.path == base or problem.path.startswith((base + ".", base + "["))):
            form.add_error(None, problem.message)


def _with_jumps(operation, targets: list[str], flow_id: str):
    def run(steps: list) -> list:
        result = steps
        for target in targets:
            result = step_ops.ensure_id(result, target, flow_id)
        return operation(result)

    return run


def _is_preview(request) -> bool:
    return request.method == "POST" and request.headers.get("X-Studio-Preview") == "1"


@assistant_view(Cap.EDIT_FLOWS)
def step_add(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    steps = flow.definition.get("steps") or []
    list_path = request.GET.get("list", "")
    try:
        index = int(request.GET.get("index", ""))
        tokens = step_ops.parse_path(list_path)
        if isinstance(tokens[-1], int):
            raise step_ops.StepPathError(list_path)
    except (ValueError, step_ops.StepPathError):
        return HttpResponseBadRequest("Say where to add the step (list and index).")
    kind = request.GET.get("kind", "")
    base_context = {"list_path": list_path, "index": index}
    if kind == "goto":
        return _goto(request, assistant, flow, list_path, index)
    if kind not in {k for k, _, _ in STEP_KINDS}:
        return _panel(request, assistant, flow, "flows/_kind_picker.html", base_context)
    form = StepForm(
        request.POST or None, kind=kind, step=None, context=_step_context(assistant, flow)
    )
    if request.method == "POST" and form.is_valid():
        step = form.build_step()
        insert = step_ops.insert_logic if kind == "logic" else step_ops.insert_step
        operation = _with_jumps(
            lambda s: insert(s, list_path, index, step), form.jump_targets(), flow.name
        )
        try:
            services.edit_steps(
                flow,
                operation,
                user=request.user,
                summary=f"Added a { {k: v for k, v, _ in STEP_KINDS}[kind].lower() } step",
                additions=form.additions,
                dry_run=_is_preview(request),
            )
        except (ContentInvalid, step_ops.StepPathError) as exc:
            if isinstance(exc, step_ops.StepPathError):
                return HttpResponseBadRequest(str(exc))
            _show_invalid(form, exc, flow, _new_step_path(steps, list_path, index))
        else:
            if not _is_preview(request):
                return _done(request, reverse("flows:detail", args=[assistant.name, flow.name]))
            form.checked = True
    return _panel(
        request,
        assistant,
        flow,
        "flows/_step_form.html",
        {
            **base_context,
            "form": form,
            "kind": kind,
            "adding": True,
            "action_url": request.get_full_path(),
        },
    )


def _new_step_path(steps: list, list_path: str, index: int) -> str:
    if step_ops.is_placeholder(steps):
        return "steps[0]"
    try:
        tokens = step_ops.parse_path(list_path)
        value = {"steps": steps}
        for token in tokens:
            value = value[token]
    except (KeyError, IndexError, TypeError, step_ops.StepPathError):
        return f"{list_path}[{index}]"
    return f"{list_path}[0]" if isinstance(value, str) else f"{list_path}[{index}]"


def _goto(request, assistant, flow, list_path: str, index: int):
    """Connect the end of a branch to a step: a loop back or a merge."""
    steps = flow.definition.get("steps") or []
    form = GotoForm(request.POST or None, step_choices=canvas.step_choices(steps, flow.name))
    if request.method == "POST" and form.is_valid():
        target = form.cleaned_data["target"]

        def operation(current: list) -> list:
            current = step_ops.ensure_id(current, target, flow.name) if target != END else current
            return _set_end_target(current, list_path, index, target)

        try:
            services.edit_steps(
                flow, operation, user=request.user, summary=f"Connected to {target}"
            )
        except ContentInvalid as exc:
            for problem in exc.problems:
                form.add_error("target", problem.message)
        except step_ops.StepPathError as exc:
            return HttpResponseBadRequest(str(exc))
        else:
            return _done(request, reverse("flows:detail", args=[assistant.name, flow.name]))
    return _panel(
        request,
        assistant,
        flow,
        "flows/_goto_form.html",
        {
            "form": form,
            "list_path": list_path,
            "index": index,
            "action_url": request.get_full_path(),
        },
    )


def _set_end_target(steps: list, list_path: str, index: int, target: str) -> list:
    import copy

    root = {"steps": copy.deepcopy(steps)}
    tokens = step_ops.parse_path(list_path)
    if len(tokens) == 1:
        # The root sequence: the step before the gap jumps.
        if index == 0 or index > len(root["steps"]):
            raise step_ops.StepPathError("nothing before this place to connect")
        root["steps"][index - 1]["next"] = target
        return root["steps"]
    container = root
    for token in tokens[:-1]:
        container = container[token]
    value = container[tokens[-1]]
    if isinstance(value, str) or index == 0:
        container[tokens[-1]] = target
    else:
        value[index - 1]["next"] = target
    return root["steps"]


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def step_edit(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    steps = flow.definition.get("steps") or []
    path = request.GET.get("path", "")
    try:
        step = step_ops.get_step(steps, path)
    except step_ops.StepPathError:
        return HttpResponseBadRequest("Say which step to edit (path).")
    kind = step_kind(step)
    form = StepForm(
        request.POST or None, kind=kind, step=step, context=_step_context(assistant, flow)
    )
    if request.method == "POST" and form.is_valid():
        new_step = form.build_step()
        operation = _with_jumps(
            lambda s: step_ops.replace_step(s, path, new_step), form.jump_targets(), flow.name
        )
        try:
            services.edit_steps(
                flow,
                operation,
                user=request.user,
                summary=f"Edited step {new_step.get('id') or path}",
                additions=form.additions,
                dry_run=_is_preview(request),
            )
        except ContentInvalid as exc:
            _show_invalid(form, exc, flow, path)
        else:
            if not _is_preview(request):
                return _done(request, reverse("flows:detail", args=[assistant.name, flow.name]))
            form.checked = True
    view = next(v for v in canvas.iter_cards(canvas.build(steps, flow.name, {})) if v.path == path)
    return _panel(
        request,
        assistant,
        flow,
        "flows/_step_form.html",
        {
            "form": form,
            "kind": kind,
            "path": path,
            "card": view,
            "action_url": request.get_full_path(),
        },
    )


@assistant_view(Cap.EDIT_FLOWS)
def step_delete(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    steps = flow.definition.get("steps") or []
    path = request.GET.get("path", "")
    try:
        step = step_ops.get_step(steps, path)
    except step_ops.StepPathError:
        return HttpResponseBadRequest("Say which step to delete (path).")
    card = next(c for c in canvas.iter_cards(canvas.build(steps, flow.name, {})) if c.path == path)
    nested = sum(1 for _ in canvas.iter_cards([card])) - 1
    error = ""
    if request.method == "POST":
        try:
            services.edit_steps(
                flow,
                lambda s: step_ops.delete_step(s, path),
                user=request.user,
                summary=f"Deleted step {card.id}",
            )
        except ContentInvalid as exc:
            error = "; ".join(p.message for p in exc.problems)
        else:
            return _done(request, reverse("flows:detail", args=[assistant.name, flow.name]))
    return _panel(
        request,
        assistant,
        flow,
        "flows/_step_delete.html",
        {
            "card": card,
            "step": step,
            "path": path,
            "nested": nested,
            "error": error,
            "action_url": request.get_full_path(),
        },
        status=400 if error else 200,
    )


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def flow_start(request, assistant, flow_name):
    """The start node: name, description, NLU triggers, guard."""
    flow = _flow(assistant, flow_name)
    slots = dict(Slot.objects.filter(assistant=assistant).values_list("name", "type"))
    intents = list(Intent.objects.filter(assistant=assistant).values_list("name", flat=True))
    form = FlowStartForm(request.POST or None, flow=flow, slots=slots, intents=intents)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_flow(
                flow,
                form.definition(),
                user=request.user,
                summary="Edited the start",
                dry_run=_is_preview(request),
            )
        except ContentInvalid as exc:
            for problem in relative_problems(exc.problems, f"flows.{flow.name}"):
                field = problem.path.split(".")[0].split("[")[0]
                field = {"name": "title", "if": None}.get(field, field)
                if field in form.fields:
                    form.add_error(field, problem.message)
                else:
                    form.add_error(None, problem.message)
        else:
            if not _is_preview(request):
                return _done(request, reverse("flows:detail", args=[assistant.name, flow.name]))
    return _panel(
        request,
        assistant,
        flow,
        "flows/_start_form.html",
        {"form": form, "intents": intents, "action_url": request.get_full_path()},
    )


# --------------------------------------------------------------------------------------------
# History


def _flow_yaml(name: str, definition: dict) -> list[str]:
    return dump_yaml({name: definition}).splitlines()


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def flow_history(request, assistant, flow_name):
    flow = _flow(assistant, flow_name)
    versions = list(
        FlowVersion.objects.filter(assistant=assistant, flow_name=flow.name).select_related(
            "created_by"
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
        {
            "assistant": assistant,
            "flow": flow,
            "rows": rows,
            "can_edit": _can_edit(request, assistant),
        },
    )


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
@require_POST
def flow_restore(request, assistant, flow_name, version_id):
    flow = _flow(assistant, flow_name)
    version = get_object_or_404(
        FlowVersion, pk=version_id, assistant=assistant, flow_name=flow.name
    )
    try:
        services.restore_version(flow, version, user=request.user)
    except ContentInvalid as exc:
        messages.error(
            request,
            "That version cannot be restored: " + "; ".join(p.message for p in exc.problems[:5]),
        )
        return redirect("flows:history", assistant.name, flow.name)
    messages.success(request, "The earlier version is restored.")
    return redirect("flows:detail", assistant.name, flow.name)
