"""Typed readers for environment variables.

Every setting Studio reads from the environment goes through one of these helpers, so that a
malformed value stops the process at start-up with a message naming the variable, instead of
being guessed at. Each helper takes the variable name and a default used when it is unset or
empty.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use one of true/false, yes/no, on/off, 1/0."
    )


@overload
def env_int(name: str, default: int, *, minimum: int | None = None) -> int: ...
@overload
def env_int(name: str, default: None, *, minimum: int | None = None) -> int | None: ...
def env_int(name: str, default: int | None, *, minimum: int | None = None) -> int | None:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small: the minimum is {minimum}.")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blank items are an error (they are almost always a typo)."""
    value = _raw(name)
    if value is None:
        return list(default or [])
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ImproperlyConfigured(
            f"{name}={value!r} has an empty item in its comma-separated list."
        )
    return items


def env_choice(name: str, default: str, choices: list[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}.")
    return value


def env_secret(name: str, default: str | None = None) -> str | None:
    """A secret from NAME, or read from the file that NAME_FILE points to (as Docker and
    Kubernetes secrets are mounted). Setting both is an error, as is an unreadable file."""
    value = _raw(name)
    file_name = _raw(f"{name}_FILE")
    if value is not None and file_name is not None:
        raise ImproperlyConfigured(f"Set only one of {name} and {name}_FILE, not both.")
    if file_name is not None:
        try:
            content = Path(file_name).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from None
        if not content:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} is empty.")
        return content
    return default if value is None else value
