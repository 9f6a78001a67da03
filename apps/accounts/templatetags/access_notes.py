"""`{% read_only_note "edit_flows" %}`: on a page the user may view but not change, a note that
says so, what is missing and who can grant it; nothing for people who may change it."""

from django import template
from django.utils.html import format_html

from apps.accounts import explain
from apps.accounts.roles import Cap
from apps.projects.access import assistant_caps, assistant_roles

register = template.Library()


@register.simple_tag(takes_context=True)
def read_only_note(context, capability: str):
    request = context.get("request")
    assistant = context.get("assistant")
    if request is None or assistant is None:
        return ""
    cap = Cap(capability)
    if cap in assistant_caps(request.user, assistant):
        return ""
    note = explain.read_only_note(cap, assistant_roles(request.user, assistant), assistant.name)
    return format_html('<p class="read-only-note" role="note">{}</p>', note)
