"""What every form of the flow builder and the CMS pages shares: name patterns, repeated rows
read from parallel lists, a value as a person types it, and forms bound to an assistant."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.projects.forms import ContentProblemsMixin
from engine import formats

limits = formats.limits  # length limits, one place for every field

STEP_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def rows(data, *names: str) -> list[tuple[str, ...]]:
    """Parallel lists of values from form data as rows (blank rows dropped)."""
    columns = [data.getlist(n) if hasattr(data, "getlist") else [] for n in names]
    length = max((len(c) for c in columns), default=0)
    found = []
    for i in range(length):
        row = tuple((c[i] if i < len(c) else "").strip() for c in columns)
        if any(row):
            found.append(row)
    return found


def plain(value: Any) -> str:
    """A stored value as the form shows it (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AssistantForm(ContentProblemsMixin, forms.Form):
    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant
