"""Links from a validation problem to the page where it can be fixed."""

import re

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()

_TARGETS = [
    (re.compile(r"^flows\.([^.\[]+)"), "flows:detail", "flow_name"),
    (re.compile(r"^slots\.([^.\[]+)"), "flows:slot_edit", "slot_name"),
    (re.compile(r"^responses\.([^.\[]+)"), "flows:response_edit", "response_name"),
]


@register.filter
def problem_link(problem, assistant) -> str:
    """The URL of the page that fixes `problem` ('' when there is none)."""
    try:
        for pattern, url_name, kwarg in _TARGETS:
            match = pattern.match(problem.path or "")
            if match:
                return reverse(url_name, kwargs={"name": assistant.name, kwarg: match.group(1)})
        if problem.path.startswith("nlu") or (problem.file or "").startswith("data/nlu"):
            return reverse("nlu:intents", args=[assistant.name])
        if problem.file in ("config.yml", "endpoints.yml"):
            return reverse("projects:files", args=[assistant.name]) + f"?file={problem.file}"
    except NoReverseMatch:
        pass
    return ""
