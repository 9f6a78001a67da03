"""Undo and redo of the last edits made on a flow's canvas in this session.

Each stored edit is a `FlowVersion`; the session keeps, per flow, the versions its canvas edits
made (the undo stack) and the ones undone (the redo stack). Undo stores the version before the
latest again (a new version, "Undo: <what>"); redo stores the undone version's content again
("Redo: <what>"). Both are edits like any other: checked, revision-checked, refused for roles
that may only look.

A rename of the flow's id made in the builder is on the stacks too (the session remembers which
versions were renames, and between which ids): its undo renames the flow back, which moves the
links and calls of the other flows and the flow's history back with it, and its redo renames it
again.

The stacks only hold while the flow is where this session left it: once anything else changed
the flow (another person, another tab, an import), there is nothing to undo or redo, so an undo
never throws away a change it did not make.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Max
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows import services
from apps.flows.models import Flow, FlowVersion
from apps.flows.views.canvas import (
    _claimed_revision,
    _redirect_to_canvas,
    revision_missing_answer,
    stale_answer,
)
from apps.flows.views.flows import flow_or_404
from apps.flows.views.revision import RevisionMissing, posted_revision
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid

MAX_UNDO = 50


def _key(flow: Flow) -> str:
    return f"flow-edits:{flow.pk}"


def _latest_version_id(flow: Flow) -> int | None:
    return FlowVersion.objects.filter(
        assistant_id=flow.assistant_id, flow_name=flow.name
    ).aggregate(latest=Max("id"))["latest"]


def _state(request, flow: Flow) -> dict:
    """The session's stacks for `flow`, empty unless the flow is where the session left it.
    `renames` maps the versions on the stacks that were renames to their [old id, new id]."""
    state = request.session.get(_key(flow))
    if not state or state.get("head") != _latest_version_id(flow):
        return {"undo": [], "redo": [], "head": None, "renames": {}}
    return {"renames": {}, **state}


def _save_state(
    request, flow: Flow, undo: list[int], redo: list[int], renames: dict | None = None
) -> None:
    undo, redo = undo[-MAX_UNDO:], redo[-MAX_UNDO:]
    kept = {str(pk) for pk in (*undo, *redo)}
    request.session[_key(flow)] = {
        "undo": undo,
        "redo": redo,
        "head": _latest_version_id(flow),
        "renames": {k: v for k, v in (renames or {}).items() if k in kept},
    }


def remember_edit(request, flow: Flow, *, renamed: tuple[str, str] | None = None) -> None:
    """After a stored edit made in the builder (`renamed`: a rename, from the old id to the new
    one): it can be undone; what was undone before cannot be redone."""
    latest = (
        FlowVersion.objects.filter(assistant_id=flow.assistant_id, flow_name=flow.name)
        .order_by("-id")
        .first()
    )
    if latest is None:
        return
    # The stacks go on if the flow was where this session left it just before this edit.
    state = request.session.get(_key(flow)) or {}
    before = _before(flow, latest)
    going_on = before is not None and state.get("head") == before.pk
    undo = state.get("undo", []) if going_on else []
    renames = dict(state.get("renames", {})) if going_on else {}
    if renamed is not None:
        renames[str(latest.pk)] = list(renamed)
    _save_state(request, flow, [*undo, latest.pk], [], renames)


def _version(flow: Flow, version_id: int) -> FlowVersion | None:
    return FlowVersion.objects.filter(
        pk=version_id, assistant_id=flow.assistant_id, flow_name=flow.name
    ).first()


def _before(flow: Flow, version: FlowVersion) -> FlowVersion | None:
    return (
        FlowVersion.objects.filter(
            assistant_id=flow.assistant_id, flow_name=flow.name, id__lt=version.pk
        )
        .order_by("-id")
        .first()
    )


def undo_context(request, flow: Flow) -> dict:
    """What the canvas header's Undo and Redo buttons say ("" when there is nothing)."""
    state = _state(request, flow)
    undo = _version(flow, state["undo"][-1]) if state["undo"] else None
    redo = _version(flow, state["redo"][-1]) if state["redo"] else None
    return {
        "undo_label": (undo.summary or "the last edit") if undo and _before(flow, undo) else "",
        "redo_label": (redo.summary or "the edit undone") if redo else "",
    }


def _apply(request, assistant, flow: Flow, target: FlowVersion, summary: str) -> bool:
    """Store `target`'s content as the flow's new version; False (with the reason said) when
    it is refused."""
    try:
        services.restore_version(
            flow, target, user=request.user, summary=summary, revision=_claimed_revision(request)
        )
    except ContentInvalid as exc:
        messages.error(
            request,
            f"{summary} is not possible: " + "; ".join(p.message for p in exc.problems[:5]),
        )
        return False
    return True


def _apply_rename(request, assistant, flow: Flow, name: str, summary: str) -> bool:
    """Rename the flow to `name` (undo or redo of a rename); False (with the reason said) when
    it is refused, e.g. another flow took that id in between."""
    problem = services.check_flow_name(assistant, name, exclude=flow)
    if problem is None:
        try:
            services.rename_flow(
                flow,
                name=name,
                user=request.user,
                revision=_claimed_revision(request),
                summary=summary,
            )
        except ContentInvalid as exc:
            problem = "; ".join(p.message for p in exc.problems[:5])
        else:
            return True
    messages.error(request, f"{summary} is not possible: {problem}")
    return False


def _step_back(request, assistant, flow_name, *, forward: bool):
    flow = flow_or_404(assistant, flow_name)
    state = _state(request, flow)
    undo, redo, renames = list(state["undo"]), list(state["redo"]), dict(state["renames"])
    stack = redo if forward else undo
    try:
        if posted_revision(request) != flow.revision:
            return stale_answer(request, assistant, flow)
    except RevisionMissing as exc:
        return revision_missing_answer(request, assistant, flow, str(exc))
    version = _version(flow, stack[-1]) if stack else None
    target = version if forward else (_before(flow, version) if version else None)
    if version is None or target is None:
        messages.info(request, f"There is nothing to {'redo' if forward else 'undo'}.")
        return _redirect_to_canvas(request, assistant, flow)
    what = version.summary or "the edit"
    summary = f"Redo: {what}" if forward else f"Undo: {what}"
    rename = renames.get(str(version.pk))
    try:
        if rename:
            name = rename[1] if forward else rename[0]
            applied = _apply_rename(request, assistant, flow, name, summary)
        else:
            applied = _apply(request, assistant, flow, target, summary)
    except services.StaleFlow:
        return stale_answer(request, assistant, flow)
    if applied:
        stack.pop()
        if forward:
            latest = get_object_or_404(FlowVersion, pk=_latest_version_id(flow)).pk
            undo.append(latest)
            if rename:
                renames[str(latest)] = rename
        else:
            redo.append(version.pk)
        _save_state(request, flow, undo, redo, renames)
        messages.success(request, f"{'Redone' if forward else 'Undone'}: {what}.")
    return _redirect_to_canvas(request, assistant, flow)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
@require_POST
def flow_undo(request, assistant, flow_name):
    """Undo this session's last edit of the flow."""
    return _step_back(request, assistant, flow_name, forward=False)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
@require_POST
def flow_redo(request, assistant, flow_name):
    """Redo this session's last undone edit of the flow."""
    return _step_back(request, assistant, flow_name, forward=True)
