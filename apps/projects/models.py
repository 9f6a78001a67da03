from __future__ import annotations

import base64
import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

# The name is the assistant_id that Rasa puts in every event's metadata, and part of URLs.
ASSISTANT_NAME_MAX = 128
assistant_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z",
    "Use letters, digits, '_', '-' and '.', starting with a letter or digit; no spaces.",
    code="invalid_name",
)
language_validator = RegexValidator(
    r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z",
    "Use a language code such as 'en', 'de' or 'pt-BR'.",
    code="invalid_language",
)


class AssistantQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Assistants the user holds any role on: all of them with a global role, else the
        ones granted to the user."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.global_roles():
            return self.all()
        return self.filter(role_grants__user=user).distinct()


class Assistant(models.Model):
    class Mode(models.TextChoices):
        MODERN = "modern", "Modern (flows)"
        CLASSIC = "classic", "Classic (NLU only)"

    name = models.CharField(
        max_length=ASSISTANT_NAME_MAX,
        unique=True,
        validators=[assistant_name_validator],
        help_text="The assistant_id Rasa puts in its events. No spaces.",
    )
    api_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MODERN)
    language = models.CharField(max_length=16, default="en", validators=[language_validator])
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AssistantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="assistant_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_modern(self) -> bool:
        return self.mode == self.Mode.MODERN


class AssistantFiles(models.Model):
    """The parts of an assistant kept as files, not rows: config.yml and endpoints.yml (with
    their comments), custom prompt templates, the other files of the project kept verbatim
    (stories, knowledge-base documents under docs/, e2e tests, custom actions and components,
    sub-agents...), and domain keys Studio has no editor for."""

    assistant = models.OneToOneField(Assistant, on_delete=models.CASCADE, related_name="files")
    config_yml = models.TextField(blank=True, default="")
    endpoints_yml = models.TextField(blank=True, default="")
    prompts = models.JSONField(default=dict, blank=True)  # {relative path: text}
    other_files = models.JSONField(default=dict, blank=True)  # text files kept verbatim
    # Files kept verbatim that are not UTF-8 text (a PDF document): {relative path: base64}.
    binary_files = models.JSONField(default=dict, blank=True)
    # Domain keys kept as they were: version, session_config, forms, config and unknown keys.
    domain_extras = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"files of {self.assistant}"

    def binary_contents(self) -> dict[str, bytes]:
        """The binary files, decoded: {relative path: bytes}."""
        return {path: base64.b64decode(data) for path, data in self.binary_files.items()}

    def put_kept_file(self, path: str, content: bytes) -> None:
        """Keep `content` at `path` (as text when it is UTF-8 text, else as bytes), in place of
        what was there."""
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        self.other_files.pop(path, None)
        self.binary_files.pop(path, None)
        if text is None or "\x00" in text:
            self.binary_files[path] = base64.b64encode(content).decode("ascii")
        else:
            self.other_files[path] = text
        self.save(update_fields=["other_files", "binary_files", "updated_at"])

    def remove_kept_file(self, path: str) -> bool:
        """Remove the kept file at `path`; whether there was one."""
        found = self.other_files.pop(path, None) is not None
        found = self.binary_files.pop(path, None) is not None or found
        if found:
            self.save(update_fields=["other_files", "binary_files", "updated_at"])
        return found

    @staticmethod
    def encode_binary(files: dict[str, bytes]) -> dict[str, str]:
        """Binary files as `binary_files` stores them."""
        return {path: base64.b64encode(data).decode("ascii") for path, data in files.items()}


class AssistantContent(models.Model):
    """The base of every content row of an assistant (flows, responses, slots, actions, intents,
    entities, lexicons): the assistant, a name, and the position the item had in its file."""

    assistant = models.ForeignKey("projects.Assistant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    # Where the item sat in the file it was imported from, so exports keep the authors' order.
    position = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


secret_name_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*\Z",
    "Use letters, digits and '_', not starting with a digit (as an environment variable).",
    code="invalid_secret_name",
)


class AssistantSecret(models.Model):
    """A named value that this assistant's bots may use as ``${NAME}`` in endpoints.yml.

    Stored encrypted (apps.projects.secrets); it is written, never shown again."""

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(max_length=128, validators=[secret_name_validator])
    encrypted_value = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["assistant", "name"], name="assistant_secret_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} of {self.assistant}"


class ImportJob(models.Model):
    """An upload of Rasa files waiting for its full replace to be confirmed on the page, or
    imported in the background by the orchestrator because it is large: the files as uploaded
    (a zip), the status, the progress and the log."""

    class Status(models.TextChoices):
        AWAITING_CONFIRMATION = "confirm", "Awaiting confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)

    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="import_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    partial = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    upload = models.BinaryField()  # the uploaded files, as a zip
    # What reading the upload found that the zip does not carry, for the import's report: the
    # entries not read ({path: why}) and warnings (problems, as dicts).
    skipped = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)
    file_count = models.PositiveIntegerField(default=0)
    byte_count = models.PositiveBigIntegerField(default=0)
    item_count = models.PositiveIntegerField(default=0)
    background = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    log = models.TextField(blank=True, default="")
    removes = models.JSONField(default=dict, blank=True)  # full replace: {kind: [names]} deleted
    imported = models.JSONField(default=dict, blank=True)  # counts per kind
    warnings = models.JSONField(default=list, blank=True)  # problems, as dicts
    errors = models.JSONField(default=list, blank=True)  # problems, as dicts
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.assistant}"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED
