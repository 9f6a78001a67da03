"""Conversations streamed by production assistants, and what ingestion keeps aside.

Rasa publishes one message per tracker event (see ../shared/reference/rasa-formats.md section
2). `apps.ingestion.store.ingest` parses them into `Event` rows grouped into `Conversation`s
(one per session of a sender), keeps the events of assistants Studio does not know as
`UnroutedEvent`s and what it cannot parse as `DeadLetter`s.

Idempotency rests on `Event.fingerprint` (and `UnroutedEvent.fingerprint`): a 128-bit hash of
the message as the broker delivered it, unique in the table, so storing the same event twice is
impossible whatever the transport redelivers. See `apps.ingestion.parsing.fingerprint`.

`Event` is the table ingestion writes at tens of thousands of rows per second, so it has only
the indexes that a page or ingestion itself reads through: every index is written on every
insert (issue 6's throughput target). The fingerprint is a `uuid` (16 bytes, compared as bytes)
rather than text, which also spares PostgreSQL the `LIKE` index Django adds to unique text
columns; the conversation foreign key has no index of its own because `event_stream` starts
with it, and no constraint (see `Event.conversation`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q

# Rasa's user message for a session start ("/session_start") is not a message of the user.
SESSION_START_INTENT_TEXT = "/session_start"

colour_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}\Z", "Use a colour such as #5b4bdb.", code="invalid_colour"
)


class Tag(models.Model):
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="conversation_tags"
    )
    name = models.CharField(max_length=64)
    colour = models.CharField(max_length=7, default="#5b4bdb", validators=[colour_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["assistant", "name"], name="unique_tag_per_assistant")
        ]

    def __str__(self) -> str:
        return self.name


class ConversationQuerySet(models.QuerySet):
    def for_assistant(self, assistant):
        return self.filter(assistant=assistant)

    def newest_first(self):
        return self.order_by("-started_at", "-id")

    def with_tag(self, *tags):
        """Conversations holding any of `tags`."""
        return self.filter(
            Exists(
                Conversation.tags.through.objects.filter(
                    conversation_id=OuterRef("pk"), tag__in=tags
                )
            )
        )

    def with_event(self, **lookups):
        """Conversations that have at least one event matching `lookups`."""
        return self.filter(
            Exists(Event.objects.filter(conversation=OuterRef("pk"), **lookups).values("pk"))
        )


class Conversation(models.Model):
    """One session of one sender (Rasa splits a sender's tracker into sessions on
    `session_started`). Its counters are recomputed from its events by ingestion."""

    # No index of its own: the indexes below all start with the assistant.
    assistant = models.ForeignKey(
        "projects.Assistant",
        on_delete=models.CASCADE,
        related_name="conversations",
        db_index=False,
    )
    sender_id = models.CharField(max_length=255)
    # Rasa Pro's `user_id` (who is talking, across senders), when the channel gives one.
    user_id = models.CharField(max_length=255, blank=True, default="")
    # 1 for the sender's first session, 2 for the next...
    session_number = models.PositiveIntegerField(default=1)
    # False when the events came without a `session_started` (Rasa without sessions, or a
    # session that began before ingestion did).
    has_session_start = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    last_event_at = models.DateTimeField()
    event_count = models.PositiveIntegerField(default=0)
    user_message_count = models.PositiveIntegerField(default=0)
    channel = models.CharField(max_length=64, blank=True, default="")
    model_id = models.CharField(max_length=128, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["assistant", "-started_at"], name="conv_assistant_started"),
            models.Index(fields=["assistant", "sender_id", "started_at"], name="conv_sender"),
            models.Index(fields=["assistant", "user_id"], name="conv_user"),
            models.Index(fields=["last_event_at"], name="conv_last_event"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id} #{self.session_number}"

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None


class Event(models.Model):
    """One tracker event. `data` is the event as Rasa sent it; the other columns are copies
    of what the filters and the conversation view need."""

    # No index of its own: `event_stream` starts with it (deletes and the EXISTS filters use it).
    # No constraint in the database either: ingestion keeps events and conversations
    # consistent at a fraction of its cost per row (see "Referential integrity" in
    # apps.ingestion.store; on PostgreSQL a trigger deletes a deleted conversation's events).
    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    # The order of arrival within the session; events are shown by (timestamp, position).
    position = models.PositiveIntegerField(default=0)
    type = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    fingerprint = models.UUIDField(unique=True)
    data = models.JSONField()
    # Copies for filtering; empty when they do not apply to the event's type.
    text = models.TextField(blank=True, default="")
    intent = models.CharField(max_length=255, blank=True, default="")
    confidence = models.FloatField(null=True, blank=True)
    action_name = models.CharField(max_length=255, blank=True, default="")
    flow_id = models.CharField(max_length=255, blank=True, default="")
    slot_name = models.CharField(max_length=255, blank=True, default="")
    slot_value = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["timestamp", "position", "id"]
        indexes = [
            models.Index(fields=["conversation", "timestamp", "position"], name="event_stream"),
            models.Index(
                fields=["intent", "conversation"], name="event_intent", condition=~Q(intent="")
            ),
            models.Index(
                fields=["action_name", "conversation"],
                name="event_action",
                condition=~Q(action_name=""),
            ),
            models.Index(
                fields=["flow_id", "conversation"], name="event_flow", condition=~Q(flow_id="")
            ),
            models.Index(
                fields=["slot_name", "conversation"],
                name="event_slot",
                condition=~Q(slot_name=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class SenderLock(models.Model):
    """One row per sender that ingestion has stored events of: what two ingesters lock (a row
    lock, `FOR UPDATE` through `ON CONFLICT`) before they plan a sender's sessions, so that
    a sender whose events are on two partitions (Rasa's default, no message key) is planned by
    one batch at a time. PostgreSQL only (SQLite has one writer at a time); retention deletes
    the rows of senders left without conversations. See "Two ingesters" in
    `apps.ingestion.store`."""

    # No index of its own: the unique constraint starts with it.
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    sender_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assistant", "sender_id"], name="unique_sender_lock")
        ]

    def __str__(self) -> str:
        return self.sender_id


class UnroutedEvent(models.Model):
    """An event whose `metadata.assistant_id` names no assistant here (or is missing). Kept,
    shown to SuperUsers, and routed again once the assistant exists."""

    assistant_id = models.CharField(max_length=255, blank=True, default="")
    sender_id = models.CharField(max_length=255, blank=True, default="")
    type = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    fingerprint = models.UUIDField(unique=True)
    data = models.JSONField()
    source = models.CharField(max_length=512, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["assistant_id", "received_at"], name="unrouted_assistant")]

    def __str__(self) -> str:
        return f"{self.type} for {self.assistant_id or '(no assistant_id)'}"


class DeadLetter(models.Model):
    """A message ingestion could not read, with the reason and where it came from."""

    raw = models.BinaryField()
    # Where it came from: "kafka:<topic>/<partition>/<offset>" or "file:<path>:<byte offset>";
    # unique when known, so a redelivered poison message is recorded once.
    source = models.CharField(max_length=512, null=True, blank=True, unique=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="deadletter_created")]

    def __str__(self) -> str:
        return f"{self.source or 'message'}: {self.reason}"

    @property
    def text(self) -> str:
        return bytes(self.raw).decode("utf-8", "replace")


class FileSpoolPosition(models.Model):
    """How far the file source has read a JSON-lines file: the byte offset just after the
    last complete line stored. Updated in the same transaction as that line's events."""

    path = models.CharField(max_length=1024, unique=True)
    offset = models.BigIntegerField(default=0)
    # The file's identity when last read: a different inode (or a shorter file) means it was
    # rotated or truncated, and reading starts again at 0 (the fingerprints drop repeats).
    inode = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.path}@{self.offset}"
