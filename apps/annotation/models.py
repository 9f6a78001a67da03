"""Annotation: real user messages, handed out in batches, labelled by annotators and approved
by a lead annotator into the NLU data.

A `Batch` is a set of user messages (ingested `Event`s of type "user") assigned to one annotator.
Each message of a batch is an `Annotation`: the intent and entities the annotator gives it, and
where it stands (in the inbox, saved, discarded, approved). A message is annotated once: the
event is unique among annotations, so a message already in a batch is never offered again.

The annotation keeps a copy of the message (text, predicted intent, confidence, time, channel):
retention may delete the conversation before the batch is reviewed. The references to the
event and the conversation have no database constraint for the same reason (and because
ingestion deletes events in bulk, on PostgreSQL by a trigger that knows nothing of this table).

Approved annotations become NLU examples once: `added_at` is set in the same transaction that
creates the example (or decides to skip it, with a `note`), and the example is one-to-one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Batch(models.Model):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="annotation_batches"
    )
    number = models.PositiveIntegerField()  # 1, 2... per assistant, for people to refer to
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="annotation_batches",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The filters the batch was built with, as shown to people ({"channel": "web", ...}).
    filters = models.JSONField(default=dict, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "number"], name="unique_annotation_batch_number"
            )
        ]

    def __str__(self) -> str:
        return f"Batch {self.number}"

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None


class Annotation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "In the inbox"
        SAVED = "saved", "Saved"
        DISCARDED = "discarded", "Discarded"
        APPROVED = "approved", "Approved"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="annotations")
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="annotations"
    )
    # Unique: a message is annotated once, whatever batch it is in.
    event = models.OneToOneField(
        "ingestion.Event", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    conversation = models.ForeignKey(
        "ingestion.Conversation",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    position = models.PositiveIntegerField(default=0)
    # A copy of the message as it was ingested.
    text = models.TextField()
    predicted_intent = models.CharField(max_length=255, blank=True, default="")
    confidence = models.FloatField(null=True, blank=True)
    message_at = models.DateTimeField()
    channel = models.CharField(max_length=64, blank=True, default="")
    # The annotation: an intent name (it may not exist yet: it is created on approval) and
    # entities as NLU examples store them ([{start, end, value, entity, role?}]).
    intent = models.CharField(max_length=255, blank=True, default="")
    entities = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    annotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    annotated_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Set when the approved annotation went into the training data (or was skipped: see note).
    added_at = models.DateTimeField(null=True, blank=True)
    example = models.OneToOneField(
        "nlu.Example",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotation",
    )
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["assistant", "status"], name="annotation_status"),
            models.Index(fields=["batch", "status"], name="annotation_batch_status"),
        ]

    def __str__(self) -> str:
        return self.text
