"""Studio's 403, 404 and 500 pages (`handler403`, `handler404`, `handler500` in studio.urls).

403 and 404 keep the layout and the navigation, and say what is missing and who can grant it.
An htmx request gets the message alone, marked with the `X-Studio-Error` header, which
static/studio/errors.js shows in place instead of replacing the page. The 500 page uses
neither the database nor any context processor: whatever failed may be what they need.

The 403 and 404 templates live under errors/ rather than at the top, where Django's own
handlers would pick them up in URL configurations that lack the pages base.html links to.
"""

from __future__ import annotations

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.utils.html import escape

from apps.accounts import explain
from apps.projects.access import AssistantDenied, AssistantNotFound, GlobalDenied

ERROR_HEADER = "X-Studio-Error"

SERVER_ERROR_TEXT = (
    "Studio could not finish this request. Reload the page and try again; if it keeps "
    "happening, tell whoever runs this Studio."
)


def _answer(request, template: str, context: dict, status: int):
    if getattr(request, "htmx", False):
        response = render(request, "errors/_message.html", context, status=status)
        response[ERROR_HEADER] = str(status)
        return response
    return render(request, template, context, status=status)


def permission_denied(request, exception=None):
    from apps.projects.navigation import landing_url

    context = {"title": "Your role does not allow this", "status": 403}
    if isinstance(exception, AssistantDenied):
        assistant = exception.assistant
        request.assistant = assistant  # the assistant's navigation, as on its other pages
        context.update(explain.denial(exception.capability, exception.roles, assistant.name))
        context["back_url"] = landing_url(request.user, assistant)
        context["back_label"] = f"Back to {assistant.name}"
    elif isinstance(exception, GlobalDenied):
        context.update(explain.denial(exception.capability, ()))
    else:
        said = str(exception) if exception else ""
        context["missing"] = said or "Your role does not allow this."
        context["grant"] = "A SuperUser can grant a role that does."
    return _answer(request, "errors/403.html", context, 403)


def page_not_found(request, exception=None):
    if isinstance(exception, AssistantNotFound):
        context = {
            "title": "No such assistant",
            "missing": f"There is no assistant called “{exception.name}” that you have a role on.",
            "grant": (
                "If it exists, a SuperUser of that assistant or a global SuperUser can give "
                "you a role on it."
            ),
        }
    else:
        context = {
            "title": "Page not found",
            "missing": f"Nothing is at {request.path}.",
            "grant": "The link may be out of date, or what it showed was deleted or renamed.",
        }
    context["status"] = 404
    return _answer(request, "errors/404.html", context, 404)


def server_error(request):
    if getattr(request, "htmx", False):
        response = HttpResponseServerError(
            f'<div class="message error" role="alert">{escape(SERVER_ERROR_TEXT)}</div>'
        )
        response[ERROR_HEADER] = "500"
        return response
    try:
        stylesheet = static("studio/studio.css")
    except Exception:  # a missing manifest entry must not hide the error page
        stylesheet = "/static/studio/studio.css"
    try:
        page = loader.get_template("500.html")
        body = page.render({"stylesheet": stylesheet, "text": SERVER_ERROR_TEXT})
    except Exception:
        body = (
            "<!doctype html><title>Server error · Studio</title><h1>Something went wrong</h1>"
            f"<p>{escape(SERVER_ERROR_TEXT)}</p>"
        )
    return HttpResponseServerError(body)
