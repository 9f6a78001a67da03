from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from apps.accounts.roles import ROLE_CHOICES, Role


class User(AbstractUser):
    """Studio's user. A custom model from the first migration, so fields can be added later."""

    # The OIDC subject when the account comes from an identity provider (Keycloak...).
    oidc_subject = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["username"]

    def global_roles(self) -> frozenset[Role]:
        """Roles held on every assistant: the Django groups named after a role, plus SuperUser
        for Django superusers. Cached on the instance for the request."""
        cached = getattr(self, "_studio_global_roles", None)
        if cached is None:
            roles = {Role.from_label(name) for name in self.groups.values_list("name", flat=True)}
            roles.discard(None)
            if self.is_superuser:
                roles.add(Role.SUPERUSER)
            cached = frozenset(roles)
            self._studio_global_roles = cached
        return cached


class AssistantRole(models.Model):
    """A role granted on one assistant only (beyond Rasa Studio, whose roles are global)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assistant_roles"
    )
    assistant = models.ForeignKey(
        "projects.Assistant", on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "assistant", "role"], name="unique_assistant_role"
            ),
        ]
        ordering = ["assistant__name", "role"]

    def __str__(self) -> str:
        return f"{self.user} is {Role(self.role).label} on {self.assistant}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API token for the CLI and CI. Only its SHA-256 is stored; the token itself
    is shown once, when it is created."""

    PREFIX = "stu_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text="The first characters, to tell tokens apart.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Empty: the token never expires. An expired token answers 401 "expired".
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str, *, expires_in: timedelta | None = None) -> tuple[ApiToken, str]:
        """Create a token (valid for `expires_in`, or for ever); returns the row and the secret,
        which is never stored."""
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            digest=cls.digest_of(secret),
            hint=secret[:10],
            expires_at=timezone.now() + expires_in if expires_in else None,
        )
        return token, secret

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class SigningKey(models.Model):
    """An RSA key pair that signs the tokens of Studio's own sign-in realm (the one Rasa's
    `rasa studio login` talks to). One key is current and signs; after a rotation the previous
    ones stay published (and their tokens accepted) until `published_until`, when every token
    they signed has expired. The private key is kept only while the key is current, encrypted
    with a key derived from STUDIO_SECRETS_KEY (or SECRET_KEY)."""

    kid = models.CharField(max_length=64, unique=True)
    public_jwk = models.JSONField()
    encrypted_private_key = models.TextField(blank=True, default="")
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    published_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=models.Q(is_current=True),
                name="one_current_signing_key",
            ),
        ]

    def __str__(self) -> str:
        return f"signing key {self.kid}{' (current)' if self.is_current else ''}"

    @property
    def is_published(self) -> bool:
        return self.is_current or (
            self.published_until is not None and self.published_until > timezone.now()
        )
