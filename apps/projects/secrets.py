"""What an assistant's bots may see: the operator's allow-list (STUDIO_BOT_ENV) and the
assistant's own secrets, encrypted at rest with a key derived from STUDIO_SECRETS_KEY (or
SECRET_KEY). Nothing else of a worker's environment reaches a bot or a training."""

from __future__ import annotations

import base64
import hashlib
import os
import re

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from apps.projects.models import Assistant, AssistantSecret

HIDDEN = "[hidden]"
# Worker variables whose values never appear in what a child printed.
_SECRET_NAME = re.compile(
    r"SECRET|PASSW|TOKEN|KEY|CREDENTIAL|DATABASE_URL|CONNECTION_STRING|DSN", re.I
)
_SECRET_SETTING = re.compile(r"SECRET|PASSWORD|ACCOUNT_KEY|CONNECTION_STRING")
_SHORTEST_SCRUBBED = 4
# Names a secret may not take: they change how the bot's process itself runs.
RESERVED_NAME = re.compile(
    r"^(PYTHON|LD_|DYLD_|ENGINE_|OPENBLAS_|OMP_|MKL_)|^(PATH|HOME|LANG|LC_ALL|TZ|TMPDIR)$"
)  # shorter values would blank out ordinary words


def _fernet() -> Fernet:
    material = settings.STUDIO_SECRETS_KEY or f"studio-secrets:{settings.SECRET_KEY}"
    key = base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())
    return Fernet(key)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str | None:
    """The value, or None when the key changed since it was stored."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def set_secret(assistant: Assistant, name: str, value: str, user=None) -> AssistantSecret:
    secret, _ = AssistantSecret.objects.update_or_create(
        assistant=assistant,
        name=name,
        defaults={"encrypted_value": encrypt(value), "updated_by": user},
    )
    return secret


def secret_values(assistant_id: int) -> dict[str, str]:
    values = {}
    for secret in AssistantSecret.objects.filter(assistant_id=assistant_id):
        value = decrypt(secret.encrypted_value)
        if value is not None and not RESERVED_NAME.match(secret.name):
            values[secret.name] = value
    return values


def allowed_env_names(assistant: Assistant | None) -> set[str]:
    """The names ``${NAME}`` may use in this assistant's files."""
    names = set(settings.STUDIO_BOT_ENV)
    if assistant is not None and assistant.pk is not None:
        names.update(
            AssistantSecret.objects.filter(assistant=assistant).values_list("name", flat=True)
        )
    return names


def allowed_env_values() -> dict[str, str]:
    """The operator's allow-listed variables, as set in this worker."""
    return {name: os.environ[name] for name in settings.STUDIO_BOT_ENV if name in os.environ}


def bot_env(assistant_id: int) -> dict[str, str]:
    """The variables a bot of this assistant may expand: allow-list first, own secrets win."""
    return {**allowed_env_values(), **secret_values(assistant_id)}


def _worker_secret_values() -> set[str]:
    values = {name_value for name, name_value in os.environ.items() if _SECRET_NAME.search(name)}
    for name in dir(settings):  # also the ones read from NAME_FILE
        value = getattr(settings, name, None) if _SECRET_SETTING.search(name) else None
        if isinstance(value, str):
            values.add(value)
    for storage in getattr(settings, "STORAGES", {}).values():
        for name, value in (storage.get("OPTIONS") or {}).items():
            if isinstance(value, str) and re.search(r"secret|key|password|connection", name):
                values.add(value)
    for database in settings.DATABASES.values():
        values.add(str(database.get("PASSWORD") or ""))
    return values


def scrubber(assistant_id: int | None = None):
    """A function that hides secret values in text a child printed: the assistant's secrets,
    the allow-listed values and the worker's own secrets."""
    values = _worker_secret_values() | set(allowed_env_values().values())
    if assistant_id is not None:
        values |= set(secret_values(assistant_id).values())
    values = sorted((v for v in values if len(v) >= _SHORTEST_SCRUBBED), key=len, reverse=True)
    if not values:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(v) for v in values))

    def scrub(text: str) -> str:
        return pattern.sub(HIDDEN, text) if text else text

    return scrub
