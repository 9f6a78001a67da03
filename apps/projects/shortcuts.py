"""View shortcuts every app's pages use."""

from __future__ import annotations

from django.shortcuts import render


def render_form(request, template: str, context: dict):
    """A page with a form. A POST only gets here when the form was refused (a valid one
    redirects), so it answers 400; a GET answers 200."""
    return render(request, template, context, status=400 if request.method == "POST" else 200)
