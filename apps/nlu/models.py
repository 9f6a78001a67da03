"""An assistant's NLU data, stored as rows (see apps.flows.models for the approach; the base
class is apps.projects.models.AssistantContent)."""

from django.db import models

from apps.projects.models import AssistantContent


class Intent(AssistantContent):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="intents"
    )
    description = models.TextField(blank=True, default="")
    # The domain's per-intent options (use_entities / ignore_entities), as in domain.yml.
    definition = models.JSONField(default=dict, blank=True)
    # False for intents that appear only in NLU data and not in the domain's `intents:`.
    in_domain = models.BooleanField(default=True)
    # The `metadata:` of the intent's block in the NLU file, if it had one.
    nlu_metadata = models.JSONField(null=True, blank=True)

    class Meta(AssistantContent.Meta):
        constraints = [
            models.UniqueConstraint(fields=["assistant", "name"], name="unique_intent_name")
        ]


class Entity(AssistantContent):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="entities"
    )
    definition = models.JSONField(default=dict, blank=True)  # roles, groups, influence_conversation

    class Meta(AssistantContent.Meta):
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(fields=["assistant", "name"], name="unique_entity_name")
        ]


class Example(models.Model):
    """A training example: plain text plus entity annotations with character offsets
    ([{start, end, value, entity, role?, group?}]), as engine.formats.nlu parses them."""

    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="examples")
    text = models.TextField()
    entities = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        # As Rasa: the same text annotated differently is two examples, and both are kept.
        constraints = [
            models.UniqueConstraint(
                fields=["intent", "text", "entities"], name="unique_annotated_example_per_intent"
            )
        ]

    def __str__(self) -> str:
        return self.text


class Synonym(AssistantContent):
    """`name` is the canonical value; `examples` the texts that map to it."""

    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="synonyms"
    )
    examples = models.JSONField(default=list)

    class Meta(AssistantContent.Meta):
        constraints = [models.UniqueConstraint(fields=["assistant", "name"], name="unique_synonym")]


class Regex(AssistantContent):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="regexes"
    )
    examples = models.JSONField(default=list)  # the patterns

    class Meta(AssistantContent.Meta):
        verbose_name_plural = "regexes"
        constraints = [models.UniqueConstraint(fields=["assistant", "name"], name="unique_regex")]


class LookupTable(AssistantContent):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="lookups"
    )
    examples = models.JSONField(default=list)  # the elements

    class Meta(AssistantContent.Meta):
        constraints = [models.UniqueConstraint(fields=["assistant", "name"], name="unique_lookup")]
