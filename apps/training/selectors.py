"""Named reads for the training pages: what the Try page offers to start and preset."""

from __future__ import annotations

from apps.flows.models import Flow, Slot


def flow_names(assistant):
    """The assistant's flow ids (a lazy query)."""
    return Flow.objects.filter(assistant=assistant).values_list("name", flat=True)


def slot_names(assistant):
    """The assistant's slot names (a lazy query)."""
    return Slot.objects.filter(assistant=assistant).values_list("name", flat=True)
