"""What the side panel creates besides a step and the domain items a step form creates with it:
a new intent with its examples, made from the start node to trigger the flow.

The intent is made through apps.nlu's services (checked like any NLU change) and appears on the
NLU pages; the start panel is then drawn again with what was typed in it so far and the new
intent picked in a trigger row, to be saved with the panel's Save. GET draws the start panel with
the intent box open (for those who may create one; the others are refused).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse

from apps.accounts.roles import Cap
from apps.flows.forms.flow import FlowStartForm
from apps.flows.forms.panel import NewIntentForm
from apps.flows.models import Slot
from apps.flows.views.canvas import _panel
from apps.flows.views.flows import flow_or_404
from apps.flows.views.revision import RevisionMissing, posted_revision
from apps.nlu import services as nlu_services
from apps.nlu.models import Entity, Intent
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid


def _entities(assistant) -> dict[str, dict]:
    return {e.name: e.definition or {} for e in Entity.objects.filter(assistant=assistant)}


def _intents(assistant) -> list[str]:
    return list(Intent.objects.filter(assistant=assistant).values_list("name", flat=True))


def _drawn_revision(request, flow) -> int:
    if request.method == "POST":
        try:
            return posted_revision(request)
        except RevisionMissing:
            pass
    return flow.revision


@assistant_view(Cap.EDIT_FLOWS)
def intent_create(request, assistant, flow_name):
    """Create an intent with its first examples from the start node, and pick it as a trigger."""
    if Cap.EDIT_NLU not in request.caps:
        raise PermissionDenied("Your role does not allow editing NLU data.")
    flow = flow_or_404(assistant, flow_name)
    data = request.POST if request.method == "POST" else None
    intent_form = NewIntentForm(data, assistant=assistant, entities=_entities(assistant))
    created = None
    if data is not None and intent_form.is_valid():
        try:
            with transaction.atomic():
                created = nlu_services.create_intent(
                    assistant, name=intent_form.cleaned_data["name"]
                )
                nlu_services.add_examples(created, intent_form.cleaned_data["examples"])
        except ContentInvalid as exc:
            intent_form.add_problems(exc.problems, "name")
    intents = _intents(assistant)
    slots = dict(Slot.objects.filter(assistant=assistant).values_list("name", "type"))
    start = FlowStartForm(data, flow=flow, slots=slots, intents=intents)
    if data is not None:
        start.is_valid()  # reads the rows typed so far, to draw them again
    if created is not None:
        start.triggers = [t for t in start.triggers if t["intent"]]
        start.triggers.append({"intent": created.name, "threshold": ""})
        intent_form = NewIntentForm(assistant=assistant, entities={})
    return _panel(
        request,
        assistant,
        flow,
        "flows/_start_form.html",
        {
            "form": start,
            "intents": intents,
            "intent_form": intent_form,
            "intent_created": created.name if created else "",
            "intent_open": created is None,
            "action_url": reverse("flows:start", args=[assistant.name, flow.name]),
            # Drawn again from what was typed, the start form keeps the revision it was first
            # drawn at: saved after the flow moved on, it is refused like any stale edit.
            "drawn_revision": _drawn_revision(request, flow),
        },
        status=400 if data is not None and created is None else 200,
    )
