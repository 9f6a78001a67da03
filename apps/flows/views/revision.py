"""The revision every flow-changing request of the builder names.

Each form that changes a flow carries the revision of the flow it was drawn at (the hidden
``revision`` field, `templates/flows/_revision.html`). A request that names none, or names
something that is not a revision, is refused with 400 before anything is applied: an edit that
does not say which state of the flow it was made on could land on a flow that has moved on.
(An edit that names an old revision is refused with 409 and the fresh state: see
`apps.flows.views.canvas.stale_answer`.)
"""

from __future__ import annotations

from django.shortcuts import render


class RevisionMissing(Exception):
    """The request names no revision of the flow, or one that is not a number."""


def posted_revision(request) -> int:
    """The revision of the flow the posted form was drawn at; RevisionMissing when the form
    names none or it is not a whole number."""
    raw = (request.POST.get("revision") or "").strip()
    if not raw:
        raise RevisionMissing(
            "This change names no revision of the flow (the revision field is missing), so "
            "it could land on a flow that changed since its page was drawn. Nothing was "
            "changed: open the flow again and make the change there."
        )
    if not raw.isdigit():
        raise RevisionMissing(
            f"The revision {raw[:40]!r} is not a revision of the flow (a whole number). "
            "Nothing was changed: open the flow again and make the change there."
        )
    return int(raw)


def revision_missing_page(request, assistant, flow, exc: RevisionMissing):
    """The 400 page of a flow-changing form posted without a (valid) revision."""
    return render(
        request,
        "flows/revision_missing.html",
        {"assistant": assistant, "flow": flow, "message": str(exc)},
        status=400,
    )
