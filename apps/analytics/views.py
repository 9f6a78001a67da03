"""The analytics dashboard and its CSV downloads (read from the rollups only), and the success
criterion's page."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render

from apps.accounts.roles import Cap
from apps.analytics import dashboard as board
from apps.analytics import success
from apps.analytics.forms import AnalyticsFilterForm, SuccessCriterionForm
from apps.analytics.models import FlowDailyRollup
from apps.flows.models import Flow
from apps.projects.access import assistant_view


def _scope(request, assistant) -> tuple[AnalyticsFilterForm, board.Scope]:
    channels, models, languages = board.choices(assistant)
    form = AnalyticsFilterForm(request.GET, channels=channels, models=models, languages=languages)
    start, end = form.days()
    return form, board.Scope(
        assistant,
        start,
        end,
        form.dimension("channel"),
        form.dimension("model"),
        form.dimension("language"),
    )


@assistant_view(Cap.VIEW_ANALYTICS)
def dashboard(request, assistant):
    form, scope = _scope(request, assistant)
    criteria = board.criteria_of(assistant)
    charts = board.charts(scope, criteria)
    query = request.GET.urlencode()
    return render(
        request,
        "analytics/dashboard.html",
        {
            "assistant": assistant,
            "form": form,
            "scope": scope,
            "time_zone": settings.TIME_ZONE,
            "previous": scope.previous(),
            "tiles": board.kpi_tiles(scope, with_success=bool(criteria.criteria)),
            "criterion": criteria.criteria[-1] if criteria.criteria else None,
            "pending": success.pending(assistant.pk).last(),
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
    every = board.charts(scope, board.criteria_of(assistant))
    chart = next((c for c in every if c.key == wanted), None)
    if chart is None:
        keys = ", ".join(c.key for c in every)
        return HttpResponseBadRequest(f"Name a chart: ?chart= one of {keys}.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{assistant.name}-{chart.key}-{scope.start}-{scope.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(chart.columns)
    for row in chart.rows:
        writer.writerow(["" if value is None else value for value in row])
    return response


def _flows(assistant) -> list[str]:
    """The flows a criterion may name: the assistant's, and those its conversations ran."""
    names = set(Flow.objects.filter(assistant=assistant).values_list("name", flat=True))
    ran = FlowDailyRollup.objects.filter(assistant=assistant).exclude(
        flow_id__startswith="pattern_"
    )
    names |= set(ran.values_list("flow_id", flat=True).distinct())
    return sorted(names)


@assistant_view(Cap.VIEW_ANALYTICS, write=Cap.DEFINE_SUCCESS)
def success_criterion(request, assistant):
    """The success criterion: its current version (the form starts from it), a new version
    on POST, and every version with who saved it when."""
    versions = list(assistant.success_criteria.select_related("created_by").order_by("-version"))
    current = versions[0] if versions else None
    may_edit = Cap.DEFINE_SUCCESS in request.caps
    if request.method == "POST":
        form = SuccessCriterionForm(request.POST, flows=_flows(assistant))
        if form.is_valid():
            saved = success.save_criterion(assistant, request.user, **form.fields_to_save())
            messages.success(
                request,
                f"Success criterion v{saved.version} saved; the success figures are being "
                "recomputed with it.",
            )
            return redirect("analytics:success", assistant.name)
    else:
        form = SuccessCriterionForm(instance=current, flows=_flows(assistant))
    return render(
        request,
        "analytics/success.html",
        {
            "assistant": assistant,
            "form": form,
            "may_edit": may_edit,
            "versions": [(v, success.conditions(v)) for v in versions],
        },
    )
