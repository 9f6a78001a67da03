"""Named reads for the training pages and APIs: what the Try page offers to start and preset,
the forms its inspector follows, and the assistant's versions."""

from __future__ import annotations

from django.db.models import Q

from apps.flows.models import Flow, Slot
from apps.projects.models import AssistantFiles
from apps.training import services
from apps.training.models import ModelVersion, TrainingJob


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


def find_version(assistant, given: str | None) -> ModelVersion | None:
    """A version by its name, else by its number; the newest trained one for None, "" or
    "latest" (as Rasa Studio's CI API and download URLs name versions)."""
    if given in (None, "", "latest"):
        return services.latest_trained(assistant)
    versions = ModelVersion.objects.filter(assistant=assistant)
    found = versions.filter(name=given).order_by("-number").first()
    if found is None and given.isdigit() and len(given) < 18:
        found = versions.filter(number=int(given)).first()
    return found


def versions_newest_first(assistant):
    """The assistant's versions with their training jobs, as the version lists show them."""
    return (
        ModelVersion.objects.filter(assistant=assistant).select_related("job").order_by("-number")
    )


def versions_tryable_by(assistant, user):
    """The versions `user` may try: the assistant's, and of the personal (isolated) ones only
    their own."""
    mine = Q(created_by_id=user.pk) if user is not None and user.is_authenticated else Q(pk=None)
    return ModelVersion.objects.filter(assistant=assistant).filter(Q(isolated=False) | mine)


def job_status(version: ModelVersion) -> str | None:
    """The status of the version's training job; None for a version that had none."""
    try:
        return version.job.status
    except TrainingJob.DoesNotExist:
        return None
