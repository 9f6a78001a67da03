"""What the analytics dashboard shows, read from the rollup tables only (never the events):
KPIs of a period with the change against the period before, a series per KPI, latency trend
lines, flows ranked by lowest containment, and the success rate by the assistant's success
criterion (with a marker where its definition changed). Every point carries the URL of the
Conversations page filtered to the sessions it counts: the same day, channel, model version and
language, and the outcome it counts (apps.analytics.drilldown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import Q, Sum
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from apps.analytics import latency, success
from apps.analytics.models import DailyRollup, FlowDailyRollup, LatencyBucket, SuccessCriterion
from apps.projects.models import Assistant

SUMS = (
    "sessions",
    "user_messages",
    "contained_sessions",
    "handoff_sessions",
    "fallback_sessions",
    "csat_answers",
    "csat_satisfied",
    "csat_sessions",
    "csat_satisfied_sessions",
    "latency_count",
    "successful_sessions",
)

#: The sums, plus the sessions judged by a success criterion (first: the annotations named
#: after their columns would hide the columns from the ones after them).
AGGREGATES = {
    "judged_sessions": Sum("sessions", filter=Q(success_version__isnull=False)),
    **{name: Sum(name) for name in SUMS},
}


@dataclass(frozen=True)
class Scope:
    """The filters: an assistant, days `start`..`end` (inclusive, settings.TIME_ZONE),
    channel, model id, language."""

    assistant: Assistant
    start: date
    end: date
    channel: str = ""
    model_id: str = ""
    language: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Scope:
        return Scope(
            self.assistant,
            self.start - timedelta(days=self.days),
            self.start - timedelta(days=1),
            self.channel,
            self.model_id,
            self.language,
        )

    def rows(self, model=DailyRollup, prefix: str = ""):
        lookups = {
            f"{prefix}assistant": self.assistant,
            f"{prefix}day__gte": self.start,
            f"{prefix}day__lte": self.end,
        }
        if self.channel:
            lookups[f"{prefix}channel"] = self.channel
        if self.model_id:
            lookups[f"{prefix}model_id"] = self.model_id
        if self.language:
            lookups[f"{prefix}language"] = self.language
        return model.objects.filter(**lookups)

    @cached_property
    def _list_url(self) -> str:
        """The Conversations page and the scope's own filters (a dashboard builds hundreds
        of links: reversing and encoding these once saves most of their cost)."""
        params = {"period": "custom"}
        if self.channel:
            params["channel"] = self.channel
        if self.model_id:
            params["model"] = self.model_id
        if self.language:
            params["language"] = self.language
        url = reverse("ingestion:list", args=[self.assistant.name])
        return url + "?" + urlencode(params)

    def conversations_url(self, start: date | None = None, end: date | None = None, **extra) -> str:
        """The Conversations page with the same filters (and `extra` ones)."""
        params = {
            "start": (start or self.start).isoformat(),
            "end": (end or start or self.end).isoformat(),
        }
        params.update({k: v for k, v in extra.items() if v})
        return self._list_url + "&" + urlencode(params)


def _ratio(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _csat(values: dict) -> float | None:
    return _ratio(values["csat_satisfied"] or 0, values["csat_answers"] or 0)


def _histogram(scope: Scope) -> dict[int, int]:
    rows = scope.rows(LatencyBucket, "rollup__").values("bucket").annotate(n=Sum("count"))
    return {row["bucket"]: row["n"] for row in rows}


def totals(scope: Scope) -> dict:
    values = scope.rows().aggregate(**AGGREGATES)
    values = {name: values[name] or 0 for name in AGGREGATES}
    return {
        "success": _ratio(values["successful_sessions"], values["judged_sessions"]),
        "sessions": values["sessions"],
        "containment": _ratio(values["contained_sessions"], values["sessions"]),
        "csat": _csat(values),
        "fallback_rate": _ratio(values["fallback_sessions"], values["sessions"]),
        "latency_p95": latency.percentile(_histogram(scope), 0.95),
    }


KPIS = [
    ("success", "Success rate", "%"),
    ("sessions", "Sessions", ""),
    ("containment", "Containment", "%"),
    ("csat", "CSAT (satisfied)", "%"),
    ("fallback_rate", "Fallback rate", "%"),
    ("latency_p95", "Latency p95", "ms"),
]


def kpi_tiles(scope: Scope, *, with_success: bool = True) -> list[dict]:
    now, before = totals(scope), totals(scope.previous())
    tiles = []
    for key, label, unit in KPIS:
        if key == "success" and not with_success:
            continue
        value, old = now[key], before[key]
        change = None
        if value is not None and old is not None:
            change = round(value - old, 1) if unit == "%" else _ratio(value - old, old)
        tiles.append(
            {
                "key": key,
                "label": label,
                "unit": unit,
                "value": value,
                "previous": old,
                # Rates change in points; counts and latencies in per cent of before.
                "change": change,
                "change_unit": "pts" if unit == "%" else "%",
            }
        )
    return tiles


@dataclass
class Chart:
    """A chart with its numbers: `columns` and `rows` are its table and its CSV; each row's
    `link` is where its point drills down to, and `cell_links` (per row, column index -> URL)
    where a count in its table does (the sessions it counts). `markers` label rows on the
    chart (where the success criterion changed)."""

    key: str
    title: str
    kind: str  # "bar", "line", "hbar"
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)  # the columns drawn (after the first)
    cell_links: list[dict[int, str]] = field(default_factory=list)
    markers: list[dict] = field(default_factory=list)

    def add(self, row: list, link: str, cells: dict[int, str] | None = None) -> None:
        self.rows.append(row)
        self.links.append(link)
        self.cell_links.append(cells or {})

    @staticmethod
    def _row_html(row: list, link: str, cells: dict[int, str]) -> str:
        parts = ["<tr>"]
        for index, value in enumerate(row):
            shown = "–" if value is None else escape(value)
            if index in cells:
                parts.append(
                    f'<td><a href="{escape(cells[index])}" class="drill-cell">{shown}</a></td>'
                )
            else:
                parts.append(f"<td>{shown}</td>")
        parts.append(f'<td><a href="{escape(link)}" class="drill-down">Conversations</a></td></tr>')
        return "".join(parts)

    def table_html(self) -> str:
        """The chart's numbers as table rows, each with its drill-down link (built here: a
        90-day page has hundreds of cells, which the template language renders slowly)."""
        if not self.rows:
            return format_html(
                '<tr><td colspan="{}" class="muted">No figures for this period yet.</td></tr>',
                len(self.columns) + 1,
            )
        cell_links = self.cell_links or [{} for _ in self.rows]
        # Every value and link is escaped by _row_html.
        return mark_safe(
            "\n".join(
                self._row_html(row, link, cells)
                for row, link, cells in zip(self.rows, self.links, cell_links, strict=True)
            )
        )

    def data(self) -> dict:
        return {
            "kind": self.kind,
            "title": self.title,
            "labels": [str(row[0]) for row in self.rows],
            "series": [
                {"label": self.columns[i], "values": [row[i] for row in self.rows]}
                for i, name in enumerate(self.columns)
                if name in self.series
            ],
            "links": self.links,
            # Rates are drawn on a 0-100 scale.
            "percent": all(name.endswith("(%)") for name in self.series),
            "markers": self.markers,
        }


def _days(scope: Scope) -> list[date]:
    return [scope.start + timedelta(days=n) for n in range(scope.days)]


def _rate_chart(key: str, title: str, counts: list[str]) -> Chart:
    return Chart(key, title, "line", ["Day", title + " (%)", *counts], series=[title + " (%)"])


def _per_day(scope: Scope) -> tuple[dict, dict]:
    per_day = {row["day"]: row for row in scope.rows().values("day").annotate(**AGGREGATES)}
    histograms: dict[date, dict[int, int]] = {}
    buckets = scope.rows(LatencyBucket, "rollup__").values("rollup__day", "bucket")
    for row in buckets.annotate(n=Sum("count")):
        histograms.setdefault(row["rollup__day"], {})[row["bucket"]] = row["n"]
    return per_day, histograms


def daily_charts(scope: Scope, criteria: success.Versions | None = None) -> list[Chart]:
    """The charts by day; the success chart only when the assistant has a criterion."""
    per_day, histograms = _per_day(scope)
    sessions = Chart(
        "sessions", "Sessions per day", "bar", ["Day", "Sessions"], series=["Sessions"]
    )
    containment = _rate_chart("containment", "Containment", ["Contained", "Handed off", "Sessions"])
    csat = _rate_chart(
        "csat",
        "CSAT (satisfied)",
        ["Satisfied", "Answers", "Sessions answered", "Sessions satisfied"],
    )
    fallback = _rate_chart("fallback_rate", "Fallback rate", ["Fallbacks", "Sessions"])
    rate = _rate_chart("success", "Success rate", ["Successful", "Not successful", "Judged"])
    trend = Chart(
        "latency",
        "Response latency",
        "line",
        ["Day", "p50 (ms)", "p95 (ms)", "p99 (ms)", "Answered messages"],
        series=["p50 (ms)", "p95 (ms)", "p99 (ms)"],
    )
    empty = dict.fromkeys(AGGREGATES, 0)
    for day in _days(scope):
        v = {k: n or 0 for k, n in per_day.get(day, empty).items() if k in AGGREGATES}
        url = scope.conversations_url
        link = url(day)
        count = v["sessions"]
        sessions.add([day, count], link)
        contained, handed = url(day, outcome="contained"), url(day, outcome="handoff")
        containment.add(
            [
                day,
                _ratio(v["contained_sessions"], count),
                v["contained_sessions"],
                v["handoff_sessions"],
                count,
            ],
            contained,
            {2: contained, 3: handed, 4: link},
        )
        answered = url(day, outcome="csat_answered")
        satisfied = url(day, outcome="csat_satisfied")
        csat.add(
            [
                day,
                _csat(v),
                v["csat_satisfied"],
                v["csat_answers"],
                v["csat_sessions"],
                v["csat_satisfied_sessions"],
            ],
            answered,
            {4: answered, 5: satisfied},
        )
        fell = url(day, outcome="fallback")
        fallback.add(
            [day, _ratio(v["fallback_sessions"], count), v["fallback_sessions"], count],
            fell,
            {2: fell, 3: link},
        )
        good, bad = url(day, outcome="successful"), url(day, outcome="unsuccessful")
        judged = v["judged_sessions"]
        rate.add(
            [
                day,
                _ratio(v["successful_sessions"], judged),
                v["successful_sessions"],
                judged - v["successful_sessions"],
                judged,
            ],
            good,
            {2: good, 3: bad},
        )
        trend.add([day, *latency.percentiles(histograms.get(day, {})), v["latency_count"]], link)
    charts = [sessions, containment, csat, fallback, trend]
    if criteria is not None and criteria.criteria:
        rate.markers = _markers(scope, criteria)
        charts.insert(0, rate)
    return charts


def _markers(scope: Scope, criteria: success.Versions) -> list[dict]:
    return [
        {
            "index": (c.effective_day - scope.start).days,
            "day": c.effective_day.isoformat(),
            "label": f"Success v{c.version}",
            "title": "; ".join(success.conditions(c)),
        }
        for c in criteria.changes(scope.start, scope.end)
    ]


def flow_chart(scope: Scope, limit: int = 20) -> Chart:
    """The assistant's flows (not Rasa's patterns) by lowest containment of the sessions they
    ran in; its counts are sessions: those the flow started, completed, was cancelled, was
    handed off in."""
    rows = (
        scope.rows(FlowDailyRollup)
        .exclude(flow_id__startswith="pattern_")
        .values("flow_id")
        .annotate(
            sessions=Sum("sessions"),
            contained=Sum("contained_sessions"),
            completed=Sum("completed_sessions"),
            cancelled=Sum("cancelled_sessions"),
            handed_off=Sum("handed_off_sessions"),
        )
    )
    ranked = sorted(
        rows,
        key=lambda r: (_ratio(r["contained"], r["sessions"]) or 0, -r["sessions"], r["flow_id"]),
    )
    chart = Chart(
        "flows",
        "Flows by lowest containment",
        "hbar",
        ["Flow", "Containment (%)", "Sessions", "Completed", "Cancelled", "Handed off"],
        series=["Containment (%)"],
    )
    for row in ranked[:limit]:
        flow = row["flow_id"]

        def link(outcome: str, flow: str = flow) -> str:
            return scope.conversations_url(scope.start, scope.end, flow=flow, flow_outcome=outcome)

        chart.add(
            [
                flow,
                _ratio(row["contained"], row["sessions"]),
                row["sessions"],
                row["completed"],
                row["cancelled"],
                row["handed_off"],
            ],
            link("started"),
            {2: link("started"), 3: link("completed"), 4: link("cancelled"), 5: link("handed_off")},
        )
    return chart


def charts(scope: Scope, criteria: success.Versions | None = None) -> list[Chart]:
    return [*daily_charts(scope, criteria), flow_chart(scope)]


def choices(assistant) -> tuple[list[str], list[str], list[str]]:
    """The channels, model ids and languages the assistant's rollups know."""
    rows = DailyRollup.objects.filter(assistant=assistant)
    channels = rows.exclude(channel="").order_by("channel").values_list("channel", flat=True)
    models = rows.exclude(model_id="").order_by("model_id").values_list("model_id", flat=True)
    languages = rows.exclude(language="").order_by("language").values_list("language", flat=True)
    return list(channels.distinct()), list(models.distinct()), list(languages.distinct())


def criteria_of(assistant) -> success.Versions:
    return success.Versions(list(SuccessCriterion.objects.filter(assistant=assistant)))
