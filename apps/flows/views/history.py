"""Undo and redo of the last edits made on a flow's canvas in this session.

Each stored edit is a `FlowVersion`; the session keeps, per flow, the versions its canvas edits
made (the undo stack) and the ones undone (the redo stack). Undo stores the version before the
latest again (a new version, "Undo: <what>"); redo stores the undone version's content again
("Redo: <what>"). Both are edits like any other: checked, revision-checked, refused for roles
that may only look.

The stacks only hold while the flow is where this session left it: once anything else changed
the flow (another person, another tab, an import, a rename), there is nothing to undo or redo,
so an undo never throws away a change it did not make.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Max
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows import services
from apps.flows.models import Flow, FlowVersion
from apps.flows.views.canvas import _claimed_revision, _redirect_to_canvas, stale_answer
from apps.flows.views.flows import flow_or_404
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
    """The session's stacks for `flow`, empty unless the flow is where the session left it."""
    state = request.session.get(_key(flow))
    if not state or state.get("head") != _latest_version_id(flow):
        return {"undo": [], "redo": [], "head": None}
    return state


def _save_state(request, flow: Flow, undo: list[int], redo: list[int]) -> None:
    request.session[_key(flow)] = {
        "undo": undo[-MAX_UNDO:],
        "redo": redo[-MAX_UNDO:],
        "head": _latest_version_id(flow),
    }


def remember_edit(request, flow: Flow) -> None:
    """After a stored canvas edit: it can be undone; what was undone before cannot be redone."""
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
    undo = state.get("undo", []) if before and state.get("head") == before.pk else []
    _save_state(request, flow, [*undo, latest.pk], [])


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


def _step_back(request, assistant, flow_name, *, forward: bool):
    flow = flow_or_404(assistant, flow_name)
    state = _state(request, flow)
    undo, redo = list(state["undo"]), list(state["redo"])
    stack = redo if forward else undo
    if _claimed_revision(request) not in (None, flow.revision):
        return stale_answer(request, assistant, flow)
    version = _version(flow, stack[-1]) if stack else None
    target = version if forward else (_before(flow, version) if version else None)
    if version is None or target is None:
        messages.info(request, f"There is nothing to {'redo' if forward else 'undo'}.")
        return _redirect_to_canvas(request, assistant, flow)
    what = version.summary or "the edit"
    summary = f"Redo: {what}" if forward else f"Undo: {what}"
    try:
        applied = _apply(request, assistant, flow, target, summary)
    except services.StaleFlow:
        return stale_answer(request, assistant, flow)
    if applied:
        stack.pop()
        if forward:
            undo.append(get_object_or_404(FlowVersion, pk=_latest_version_id(flow)).pk)
        else:
            redo.append(version.pk)
        _save_state(request, flow, undo, redo)
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
