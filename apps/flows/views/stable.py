"""Stable versions of a flow (issue 19): save the flow's current state as a stable version with
a comment (the canvas header and the history page), and revert to a stable version (an edit
like any other, which the canvas's Undo takes back)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.flows.models import FlowVersion
from apps.flows.services import stable
from apps.flows.views.flows import flow_or_404
from apps.flows.views.history import remember_edit
from apps.flows.views.revision import RevisionMissing, posted_revision, revision_missing_page
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid


def _back(request, assistant, flow):
    """Back to the page the form was on: the history page or the canvas."""
    if request.POST.get("back") == "history":
        return redirect("flows:history", assistant.name, flow.name)
    return redirect("flows:detail", assistant.name, flow.name)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
@require_POST
def flow_save_stable(request, assistant, flow_name):
    """Save the flow as it is now as a stable version, with the comment posted."""
    flow = flow_or_404(assistant, flow_name)
    try:
        revision = posted_revision(request)
    except RevisionMissing as exc:
        return revision_missing_page(request, assistant, flow, exc)
    try:
        version = stable.save_stable(
            flow, user=request.user, comment=request.POST.get("comment", ""), revision=revision
        )
    except stable.StaleFlow as exc:
        messages.error(request, f"{exc} Nothing was saved: look at it again, then save.")
    except stable.StableRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Saved flow {flow.name} as a stable version ({stable.when(version)}): "
            f"{version.stable_comment}",
        )
    return _back(request, assistant, flow)


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
@require_POST
def flow_revert_stable(request, assistant, flow_name, version_id):
    """Make a stable version the flow's current definition again (a new history entry)."""
    flow = flow_or_404(assistant, flow_name)
    version = get_object_or_404(
        FlowVersion, pk=version_id, assistant=assistant, flow_name=flow.name
    )
    try:
        revision = posted_revision(request)
    except RevisionMissing as exc:
        return revision_missing_page(request, assistant, flow, exc)
    try:
        stable.revert_to_stable(flow, version, user=request.user, revision=revision)
    except stable.StaleFlow as exc:
        messages.error(request, f"{exc} Nothing was reverted: look at it again first.")
        return _back(request, assistant, flow)
    except stable.StableRefused as exc:
        messages.error(request, str(exc))
        return _back(request, assistant, flow)
    except ContentInvalid as exc:
        messages.error(
            request,
            f"The stable version of {stable.when(version)} cannot be restored: "
            + "; ".join(p.message for p in exc.problems[:5]),
        )
        return _back(request, assistant, flow)
    remember_edit(request, flow)  # the canvas's Undo takes the revert back
    messages.success(request, stable.revert_summary(version) + ".")
    return redirect("flows:detail", assistant.name, flow.name)


def stable_context(flow) -> dict:
    """What the canvas header's stable-version menu shows."""
    last = stable.last_stable(flow)
    return {
        "last_stable": last,
        "last_stable_when": stable.when(last) if last else "",
        "is_stable_current": last is not None and last.definition == flow.definition,
    }
