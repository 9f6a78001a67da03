"""View shortcuts every app's pages use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.shortcuts import redirect, render

from apps.projects.content.checks import ContentInvalid
from apps.projects.content.usages import usages
from apps.projects.forms import ConfirmNameForm


def render_form(request, template: str, context: dict):
    """A page with a form. A POST only gets here when the form was refused (a valid one
    redirects), so it answers 400; a GET answers 200."""
    return render(request, template, context, status=400 if request.method == "POST" else 200)


def delete_page(
    request,
    assistant,
    *,
    item: Any,
    kind: str,
    usage_kind: str,
    delete: Callable[[Any], object],
    done_url: str,
    back_url: str,
    deleted: str,
):
    """Delete a named item once its name is typed: the confirmation page (with where the item
    is used), a refusal naming what still uses it, or a redirect to `done_url` with `deleted`."""
    form = ConfirmNameForm(request.POST or None, name=item.name)
    if request.method == "POST" and form.is_valid():
        try:
            delete(item)
        except ContentInvalid as exc:
            form.add_problems(exc.problems, prefix="Still in use: ")
        else:
            messages.success(request, deleted)
            return redirect(done_url)
    context = {
        "assistant": assistant,
        "item": item,
        "kind": kind,
        "form": form,
        "used_in": usages(assistant).get((usage_kind, item.name), []),
        "back_url": back_url,
    }
    return render(request, "flows/delete_item.html", context)
