"""The analytics dashboard and its CSV downloads (read from the rollups only)."""

from __future__ import annotations

import csv

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

from apps.accounts.roles import Cap
from apps.analytics import dashboard as board
from apps.analytics.forms import AnalyticsFilterForm
from apps.projects.access import assistant_view


def _scope(request, assistant) -> tuple[AnalyticsFilterForm, board.Scope]:
    channels, models = board.choices(assistant)
    form = AnalyticsFilterForm(request.GET, channels=channels, models=models)
    start, end = form.days()
    return form, board.Scope(
        assistant, start, end, form.dimension("channel"), form.dimension("model")
    )


@assistant_view(Cap.VIEW_ANALYTICS)
def dashboard(request, assistant):
    form, scope = _scope(request, assistant)
    charts = board.charts(scope)
    query = request.GET.urlencode()
    return render(
        request,
        "analytics/dashboard.html",
        {
            "assistant": assistant,
            "form": form,
            "scope": scope,
            "previous": scope.previous(),
            "tiles": board.kpi_tiles(scope),
            "charts": [
                {
                    "chart": chart,
                    "data": chart.data(),
                    "csv_query": (query + "&" if query else "") + f"chart={chart.key}",
                }
                for chart in charts
            ],
            "conversations_url": scope.conversations_url(),
        },
    )


@assistant_view(Cap.VIEW_ANALYTICS)
def export(request, assistant):
    """One chart's numbers as CSV: ?chart=<key> and the dashboard's filters."""
    _, scope = _scope(request, assistant)
    wanted = request.GET.get("chart", "")
    chart = next((c for c in board.charts(scope) if c.key == wanted), None)
    if chart is None:
        keys = ", ".join(c.key for c in board.charts(scope))
        return HttpResponseBadRequest(f"Name a chart: ?chart= one of {keys}.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{assistant.name}-{chart.key}-{scope.start}-{scope.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(chart.columns)
    for row in chart.rows:
        writer.writerow(["" if value is None else value for value in row])
    return response
