"""The flow canvas with its side panel: the canvas, add, edit and delete a step, connect the end
of a branch to a step, and the start node.

The canvas is one server-rendered page. Its side panel (add, edit or delete a step; the start
node) is loaded with htmx into ``#panel``; without htmx the same URLs render the whole page with
the panel open. A successful edit answers with a redirect to the canvas (``HX-Redirect`` for
htmx), so the canvas is always drawn from what was stored.

Every edit names the revision of the flow its page was drawn at (the ``revision`` field of each
panel form; htmx requests for a panel send it as ``X-Flow-Revision``), and an edit of a step
names the step's id (``step``) as well as its path. An edit made on another revision, or whose
path no longer holds that step, is refused with 409 and the fresh canvas: it is never applied
to what the flow has become. An edit that names no revision (or no step, for an edit or a
deletion of one) is refused with 400: nothing says which flow it was made on.
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.accounts.roles import Cap
from apps.flows import canvas, selectors, services
from apps.flows import steps as step_ops
from apps.flows.forms.flow import FlowStartForm, GotoForm
from apps.flows.forms.panel import NewIntentForm
from apps.flows.forms.steps import STEP_FORMS, STEP_KINDS, StepForm, step_kind
from apps.flows.models import Flow, Slot
from apps.flows.services import status as publication
from apps.flows.views.flows import flow_or_404
from apps.flows.views.revision import RevisionMissing, posted_revision
from apps.nlu.models import Intent
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid, relative_problems
from engine import formats
from engine.formats import END

KIND_NAMES = {kind: name for kind, name, _ in STEP_KINDS}


def _redirect_to_canvas(request, assistant, flow: Flow):
    url = reverse("flows:detail", args=[assistant.name, flow.name])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _redirect_after_edit(request, assistant, flow: Flow):
    """The answer to a stored edit: remembered for undo, then the canvas."""
    from apps.flows.views.history import remember_edit

    remember_edit(request, flow)
    return _redirect_to_canvas(request, assistant, flow)


def _claimed_revision(request) -> int | None:
    """The revision the request says its page was drawn at. A POST always names one (`_stale`
    refuses it otherwise); a GET for a panel may name none (the panel opens on the current
    revision), and -1, which no flow has, stands for one that is not a number."""
    if request.method == "POST":
        try:
            return posted_revision(request)
        except RevisionMissing:
            return -1
    raw = request.headers.get("X-Flow-Revision") or request.GET.get("revision") or ""
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


def revision_missing_answer(request, assistant, flow: Flow, problem: str):
    """The 400 answer to an edit that names no revision (or no step): nothing is applied."""
    return _panel(
        request,
        assistant,
        flow,
        "flows/_revision_missing.html",
        {"revision_problem": problem},
        status=400,
    )


def _unnamed(request, assistant, flow: Flow, path: str | None):
    """The 400 answer when a POST names no revision, or (an edit of the step at `path`) no
    step; None when it names both."""
    if request.method != "POST":
        return None
    try:
        posted_revision(request)
    except RevisionMissing as exc:
        return revision_missing_answer(request, assistant, flow, str(exc))
    if path is not None and not request.POST.get("step"):
        return revision_missing_answer(
            request,
            assistant,
            flow,
            "This change does not name the step it was made on (the step field is missing), "
            "so it could land on another step. Nothing was changed: open the flow again and "
            "make the change there.",
        )
    return None


def _stale(request, assistant, flow: Flow, path: str | None = None):
    """The 400 answer when a POST names no revision (or step); the 409 answer when the request
    was made on another revision of the flow, or (an edit of the step at `path`) the step there
    is not the one it names; None when it may go on."""
    unnamed = _unnamed(request, assistant, flow, path)
    if unnamed is not None:
        return unnamed
    claimed = _claimed_revision(request)
    fresh = claimed is None or claimed == flow.revision
    if fresh and path is not None and request.method == "POST":
        try:
            current = step_ops.step_id_at(flow.definition.get("steps") or [], path, flow.name)
        except step_ops.StepPathError:
            current = None
        fresh = current is not None and request.POST.get("step") == current
    return None if fresh else stale_answer(request, assistant, flow)


def stale_answer(request, assistant, flow: Flow):
    """The flow changed since the page was drawn: say so, with the way to the fresh canvas (the
    page itself, without htmx)."""
    return _panel(request, assistant, flow, "flows/_stale.html", {}, status=409)


def _canvas_context(request, assistant, flow, **extra) -> dict:
    from apps.flows.views.history import undo_context
    from apps.flows.views.stable import stable_context

    steps = flow.definition.get("steps") or []
    problems = selectors.flow_problems(assistant, flow)
    cards = canvas.build(
        steps,
        flow.name,
        selectors.response_variations(assistant),
        problems,
        selectors.sub_agents(assistant),
    )
    definition = flow.definition
    guard = definition.get("if")
    return {
        "assistant": assistant,
        "flow": flow,
        "cards": cards,
        "is_empty": step_ops.is_placeholder(steps),
        "problems": problems,
        "errors": [p for p in problems if p.severity == "error"],
        "triggers": canvas.triggers(definition),
        "guard": "only via link or call" if guard is False else guard,
        "graph": canvas.graph(
            cards,
            flow.description,
            canvas.triggers(definition),
            "only via link or call" if guard is False else guard,
        ),
        **undo_context(request, flow),
        **stable_context(flow),
        "flow_status": (state := publication.status_of(flow)),
        "flow_status_label": publication.LABELS[state],
        **{"step_kinds": STEP_KINDS, **extra},
    }


def _panel(request, assistant, flow, template: str, context: dict, status: int = 200):
    context = {
        "assistant": assistant,
        "flow": flow,
        "panel_template": template,
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
    flow = flow_or_404(assistant, flow_name)
    return render(request, "flows/detail.html", _canvas_context(request, assistant, flow))


def _show_invalid(form, exc: ContentInvalid, flow: Flow, step_path: str) -> None:
    base = f"flows.{flow.name}"
    form.show_problems(relative_problems(exc.problems, base), step_path)
    form.add_problems(
        p
        for p in exc.problems
        if not (p.path == base or p.path.startswith((base + ".", base + "[")))
    )


def _with_jumps(operation, targets: list[str], flow_id: str):
    def run(steps: list) -> list:
        result = steps
        for target in targets:
            result = step_ops.ensure_id(result, target, flow_id)
        return operation(result)

    return run


def _save_step_form(
    request, assistant, flow, form: StepForm, operation, *, summary: str, problem_path: str
):
    """Apply a valid step form's change (`operation` on the step list, plus the ids its jumps
    need), or only check it when previewing. The redirect to the canvas once saved; otherwise
    None, with the problems (or, for a preview that passed, `form.checked`) on the form."""
    try:
        services.edit_steps(
            flow,
            _with_jumps(operation, form.jump_targets(), flow.name),
            user=request.user,
            summary=summary,
            additions=form.additions,
            dry_run=_is_preview(request),
            revision=_claimed_revision(request),
        )
    except services.StaleFlow:
        return stale_answer(request, assistant, flow)
    except ContentInvalid as exc:
        _show_invalid(form, exc, flow, problem_path)
        return None
    if not _is_preview(request):
        return _redirect_after_edit(request, assistant, flow)
    form.checked = True
    return None


def _is_preview(request) -> bool:
    return request.method == "POST" and request.headers.get("X-Studio-Preview") == "1"


@assistant_view(Cap.EDIT_FLOWS)
def step_add(request, assistant, flow_name):
    flow = flow_or_404(assistant, flow_name)
    stale = _stale(request, assistant, flow)
    if stale is not None:
        return stale
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
    if kind not in STEP_FORMS:
        return _panel(request, assistant, flow, "flows/_kind_picker.html", base_context)
    form = STEP_FORMS[kind](
        request.POST or None, step=None, context=selectors.step_context(assistant, flow)
    )
    if request.method == "POST" and form.is_valid():
        step = form.build_step()
        insert = step_ops.insert_logic if kind == "logic" else step_ops.insert_step
        try:
            saved = _save_step_form(
                request,
                assistant,
                flow,
                form,
                lambda s: insert(s, list_path, index, step),
                summary=f"Added {step_ops.step_label(step)}",
                problem_path=step_ops.new_step_path(steps, list_path, index),
            )
        except step_ops.StepPathError as exc:
            return HttpResponseBadRequest(str(exc))
        if saved is not None:
            return saved
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


def _goto(request, assistant, flow, list_path: str, index: int):
    """Connect the end of a branch to a step: a loop back or a merge."""
    steps = flow.definition.get("steps") or []
    form = GotoForm(request.POST or None, step_choices=canvas.step_choices(steps, flow.name))
    if request.method == "POST" and form.is_valid():
        target = form.cleaned_data["target"]

        def operation(current: list) -> list:
            current = step_ops.ensure_id(current, target, flow.name) if target != END else current
            return step_ops.set_end_target(current, list_path, index, target)

        try:
            services.edit_steps(
                flow,
                operation,
                user=request.user,
                summary=_connected_summary(steps, flow.name, target),
                revision=_claimed_revision(request),
            )
        except services.StaleFlow:
            return stale_answer(request, assistant, flow)
        except ContentInvalid as exc:
            form.add_problems(exc.problems, "target")
        except step_ops.StepPathError as exc:
            return HttpResponseBadRequest(str(exc))
        else:
            return _redirect_after_edit(request, assistant, flow)
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


def _connected_summary(steps: list, flow_id: str, target: str) -> str:
    if target == END:
        return "Connected to the end"
    for view in formats.iter_step_views(formats.step_views(steps, flow_id)):
        if view.id == target:
            return f"Connected to {step_ops.step_label(view.data)}"
    return f"Connected to {target}"


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def step_edit(request, assistant, flow_name):
    flow = flow_or_404(assistant, flow_name)
    steps = flow.definition.get("steps") or []
    path = request.GET.get("path", "")
    stale = _stale(request, assistant, flow, path)
    if stale is not None:
        return stale
    try:
        step = step_ops.get_step(steps, path)
    except step_ops.StepPathError:
        return HttpResponseBadRequest("Say which step to edit (path).")
    kind = step_kind(step)
    form = STEP_FORMS[kind](
        request.POST or None, step=step, context=selectors.step_context(assistant, flow)
    )
    if request.method == "POST" and form.is_valid():
        new_step = form.build_step()
        saved = _save_step_form(
            request,
            assistant,
            flow,
            form,
            lambda s: step_ops.replace_step(s, path, new_step),
            summary=f"Edited {step_ops.step_label(new_step)}",
            problem_path=path,
        )
        if saved is not None:
            return saved
    view = canvas.card_at(steps, flow.name, path)
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
    flow = flow_or_404(assistant, flow_name)
    steps = flow.definition.get("steps") or []
    path = request.GET.get("path", "")
    stale = _stale(request, assistant, flow, path)
    if stale is not None:
        return stale
    try:
        step = step_ops.get_step(steps, path)
    except step_ops.StepPathError:
        return HttpResponseBadRequest("Say which step to delete (path).")
    card = canvas.card_at(steps, flow.name, path)
    nested = sum(1 for _ in canvas.iter_cards([card])) - 1
    error = ""
    if request.method == "POST":
        try:
            services.edit_steps(
                flow,
                lambda s: step_ops.delete_step(s, path),
                user=request.user,
                summary=f"Deleted {step_ops.step_label(step)}",
                revision=_claimed_revision(request),
            )
        except services.StaleFlow:
            return stale_answer(request, assistant, flow)
        except ContentInvalid as exc:
            error = "; ".join(p.message for p in exc.problems)
        else:
            return _redirect_after_edit(request, assistant, flow)
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


def _start_field(problem) -> str | None:
    """The start form's field a problem of the flow (relative to it) is about."""
    field = problem.path.split(".")[0].split("[")[0]
    return {"name": "title", "if": None}.get(field, field)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def flow_start(request, assistant, flow_name):
    """The start node: name, description, NLU triggers, guard."""
    flow = flow_or_404(assistant, flow_name)
    stale = _stale(request, assistant, flow)
    if stale is not None:
        return stale
    slots = dict(Slot.objects.filter(assistant=assistant).values_list("name", "type"))
    intents = list(Intent.objects.filter(assistant=assistant).values_list("name", flat=True))
    form = FlowStartForm(
        request.POST or None,
        flow=flow,
        slots=slots,
        intents=intents,
        slot_values=selectors.categorical_values(assistant),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.save_flow(
                flow,
                form.definition(),
                user=request.user,
                summary="Edited the start",
                dry_run=_is_preview(request),
                revision=_claimed_revision(request),
            )
        except services.StaleFlow:
            return stale_answer(request, assistant, flow)
        except ContentInvalid as exc:
            form.add_problems(
                relative_problems(exc.problems, f"flows.{flow.name}"),
                field_of=_start_field,
            )
        else:
            if not _is_preview(request):
                return _redirect_after_edit(request, assistant, flow)
    return _panel(
        request,
        assistant,
        flow,
        "flows/_start_form.html",
        {
            "form": form,
            "intents": intents,
            "intent_form": NewIntentForm(assistant=assistant, entities={}),
            "action_url": request.get_full_path(),
        },
    )
