from django import template

from apps.flows.forms.steps import STEP_KINDS

register = template.Library()

_LABELS = {kind: label for kind, label, _ in STEP_KINDS}


@register.filter
def kind_label(kind: str) -> str:
    return _LABELS.get(kind, kind)


@register.filter
def usage_url(usage, assistant_name: str) -> str:
    return usage.url(assistant_name)
