"""Named reads for the training pages: what the Try page offers to start and preset, and
the forms its inspector follows."""

from __future__ import annotations

from apps.flows.models import Flow, Slot
from apps.projects.models import AssistantFiles


def flow_names(assistant):
    """The assistant's flow ids (a lazy query)."""
    return Flow.objects.filter(assistant=assistant).values_list("name", flat=True)


def slot_names(assistant):
    """The assistant's slot names (a lazy query)."""
    return Slot.objects.filter(assistant=assistant).values_list("name", flat=True)


def form_names(assistant) -> list[str]:
    """The forms of the assistant's domain (kept as they were imported), in their order."""
    files = AssistantFiles.objects.filter(assistant=assistant).only("domain_extras").first()
    forms = (files.domain_extras or {}).get("forms") if files is not None else None
    return [str(name) for name in forms] if isinstance(forms, dict) else []
