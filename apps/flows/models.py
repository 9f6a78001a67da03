"""An assistant's dialogue content, stored as rows.

Each row keeps its definition in the shape Rasa's YAML has (a JSON value), next to the columns
that constraints, filters and lists need. `engine.formats` is what reads and writes that shape;
`apps.projects.content` maps between rows and `engine.formats` dataclasses.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.projects.models import AssistantContent


class Flow(AssistantContent):
    """One flow. `name` is the flow id; `definition` is the flow's mapping without the id,
    its steps in the compact form (see engine.formats.steps)."""

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="flows"
    )
    title = models.CharField(max_length=255, blank=True, default="")  # the flow's `name:` key
    description = models.TextField(blank=True, default="")
    definition = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Flow status (issue 17): the definition last published, or None for a draft. A flow whose
    # definition differs from it is "changed since published"; training with only published
    # flows trains this definition (see apps.flows.status).
    published_definition = models.JSONField(null=True, blank=True, default=None)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # +1 on every stored change (apps.flows.services.flows): an edit names the revision it was
    # made on and is refused when the flow has moved on since.
    revision = models.PositiveIntegerField(default=0)

    class Meta(AssistantContent.Meta):
        constraints = [models.UniqueConstraint(fields=["assistant", "name"], name="unique_flow_id")]


class Response(AssistantContent):
    """An `utter_*` response; `variations` is its list of variations as in domain.yml."""

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="responses"
    )
    variations = models.JSONField(default=list)

    class Meta(AssistantContent.Meta):
        constraints = [
            models.UniqueConstraint(fields=["assistant", "name"], name="unique_response_name")
        ]


class Slot(AssistantContent):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="slots"
    )
    type = models.CharField(max_length=32)
    definition = models.JSONField(default=dict)

    class Meta(AssistantContent.Meta):
        constraints = [
            models.UniqueConstraint(fields=["assistant", "name"], name="unique_slot_name")
        ]


class CustomAction(AssistantContent):
    """A custom action the assistant's action server runs (the domain's `actions:`)."""

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="custom_actions"
    )
    description = models.TextField(blank=True, default="")
    definition = models.JSONField(default=dict, blank=True)  # e.g. {"send_domain": true}

    class Meta(AssistantContent.Meta):
        constraints = [
            models.UniqueConstraint(fields=["assistant", "name"], name="unique_custom_action_name")
        ]


class FlowVersionQuerySet(models.QuerySet):
    def record_import(self, assistant, before: dict[str, dict]) -> None:
        """After an import: a version for every flow the import added or changed (`before`
        maps flow ids to their definitions before the import)."""
        versions = [
            FlowVersion(
                assistant=assistant,
                flow_name=flow.name,
                definition=flow.definition,
                summary="Imported",
            )
            for flow in Flow.objects.filter(assistant=assistant).only("name", "definition")
            if before.get(flow.name) != flow.definition
        ]
        self.bulk_create(versions, batch_size=500)


class FlowVersion(models.Model):
    """One saved state of a flow: who changed it, when, and what the change was (issue 7).

    Keyed by the flow's id rather than a foreign key to the row: an import replaces the flow
    rows, and the history must outlive that. A rename moves the history with the flow.
    """

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="flow_versions"
    )
    flow_name = models.CharField(max_length=255)
    definition = models.JSONField(default=dict)
    summary = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Stable versions (issue 19): a saved state someone marked as good to train, with why;
    # training can take a flow's last stable version instead of its draft
    # (apps.flows.services.stable).
    stable = models.BooleanField(default=False)
    stable_comment = models.TextField(blank=True, default="")
    stable_at = models.DateTimeField(null=True, blank=True)
    stable_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = FlowVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["assistant", "flow_name", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.flow_name} at {self.created_at:%Y-%m-%d %H:%M}"
