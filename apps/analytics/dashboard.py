"""What the analytics dashboard shows, read from the rollup tables only (never the events):
KPIs of a period with the change against the period before, a series per KPI, latency trend
lines and flows ranked by lowest containment. Every point carries the URL of the Conversations
page filtered to the sessions it counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import Sum
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.analytics import latency
from apps.analytics.models import DailyRollup, FlowDailyRollup, LatencyBucket
from apps.projects.models import Assistant

SUMS = (
    "sessions",
    "user_messages",
    "contained_sessions",
    "handoff_sessions",
    "fallback_sessions",
    "csat_answers",
    "csat_satisfied",
    "latency_count",
)


@dataclass(frozen=True)
class Scope:
    """The filters: an assistant, days `start`..`end` (inclusive, UTC), channel, model id."""

    assistant: Assistant
    start: date
    end: date
    channel: str = ""
    model_id: str = ""

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
        return model.objects.filter(**lookups)

    def conversations_url(self, start: date | None = None, end: date | None = None, **extra) -> str:
        """The Conversations page with the same filters (and `extra` ones)."""
        params = {
            "period": "custom",
            "start": (start or self.start).isoformat(),
            "end": (end or start or self.end).isoformat(),
        }
        if self.channel:
            params["channel"] = self.channel
        if self.model_id:
            params["model"] = self.model_id
        params.update({k: v for k, v in extra.items() if v})
        return reverse("ingestion:list", args=[self.assistant.name]) + "?" + urlencode(params)


def _ratio(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _csat(values: dict) -> float | None:
    return _ratio(values["csat_satisfied"] or 0, values["csat_answers"] or 0)


def _histogram(scope: Scope) -> dict[int, int]:
    rows = scope.rows(LatencyBucket, "rollup__").values("bucket").annotate(n=Sum("count"))
    return {row["bucket"]: row["n"] for row in rows}


def totals(scope: Scope) -> dict:
    values = scope.rows().aggregate(**{name: Sum(name) for name in SUMS})
    values = {name: values[name] or 0 for name in SUMS}
    return {
        "sessions": values["sessions"],
        "containment": _ratio(values["contained_sessions"], values["sessions"]),
        "csat": _csat(values),
        "fallback_rate": _ratio(values["fallback_sessions"], values["sessions"]),
        "latency_p95": latency.percentile(_histogram(scope), 0.95),
    }


KPIS = [
    ("sessions", "Sessions", ""),
    ("containment", "Containment", "%"),
    ("csat", "CSAT (satisfied)", "%"),
    ("fallback_rate", "Fallback rate", "%"),
    ("latency_p95", "Latency p95", "ms"),
]


def kpi_tiles(scope: Scope) -> list[dict]:
    now, before = totals(scope), totals(scope.previous())
    tiles = []
    for key, label, unit in KPIS:
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
    `link` is where its point drills down to."""

    key: str
    title: str
    kind: str  # "bar", "line", "hbar"
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)  # the columns drawn (after the first)

    def table_html(self) -> str:
        """The chart's numbers as table rows, each with its drill-down link (built here: a
        90-day page has hundreds of cells, which the template language renders slowly)."""
        if not self.rows:
            return format_html(
                '<tr><td colspan="{}" class="muted">No figures for this period yet.</td></tr>',
                len(self.columns) + 1,
            )
        return format_html_join(
            "\n",
            '<tr>{}<td><a href="{}" class="drill-down">Conversations</a></td></tr>',
            (
                (
                    format_html_join("", "<td>{}</td>", (("–" if v is None else v,) for v in row)),
                    link,
                )
                for row, link in zip(self.rows, self.links, strict=True)
            ),
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
        }


def _days(scope: Scope) -> list[date]:
    return [scope.start + timedelta(days=n) for n in range(scope.days)]


def daily_charts(scope: Scope) -> list[Chart]:
    per_day = {
        row["day"]: row
        for row in scope.rows().values("day").annotate(**{name: Sum(name) for name in SUMS})
    }
    histograms: dict[date, dict[int, int]] = {}
    buckets = scope.rows(LatencyBucket, "rollup__").values("rollup__day", "bucket")
    for row in buckets.annotate(n=Sum("count")):
        histograms.setdefault(row["rollup__day"], {})[row["bucket"]] = row["n"]
    sessions = Chart(
        "sessions", "Sessions per day", "bar", ["Day", "Sessions"], series=["Sessions"]
    )
    rates = {
        key: Chart(key, title, "line", ["Day", title + " (%)", "Sessions"], series=[title + " (%)"])
        for key, title in (
            ("containment", "Containment"),
            ("csat", "CSAT (satisfied)"),
            ("fallback_rate", "Fallback rate"),
        )
    }
    trend = Chart(
        "latency",
        "Response latency",
        "line",
        ["Day", "p50 (ms)", "p95 (ms)", "p99 (ms)", "Answered messages"],
        series=["p50 (ms)", "p95 (ms)", "p99 (ms)"],
    )
    empty = dict.fromkeys(SUMS, 0)
    for day in _days(scope):
        values = {k: v or 0 for k, v in per_day.get(day, empty).items() if k in SUMS}
        link = scope.conversations_url(day)
        count = values["sessions"]
        sessions.rows.append([day, count])
        rates["containment"].rows.append([day, _ratio(values["contained_sessions"], count), count])
        rates["csat"].rows.append([day, _csat(values), values["csat_answers"]])
        rates["fallback_rate"].rows.append([day, _ratio(values["fallback_sessions"], count), count])
        trend.rows.append(
            [day, *latency.percentiles(histograms.get(day, {})), values["latency_count"]]
        )
        for chart in (sessions, trend, *rates.values()):
            chart.links.append(link)
    rates["csat"].columns[2] = "Answers"
    return [sessions, rates["containment"], rates["csat"], rates["fallback_rate"], trend]


def flow_chart(scope: Scope, limit: int = 20) -> Chart:
    """The assistant's flows (not Rasa's patterns) by lowest containment of the sessions they
    ran in."""
    rows = (
        scope.rows(FlowDailyRollup)
        .exclude(flow_id__startswith="pattern_")
        .values("flow_id")
        .annotate(
            sessions=Sum("sessions"),
            contained=Sum("contained_sessions"),
            started=Sum("started"),
            completed=Sum("completed"),
            cancelled=Sum("cancelled"),
            handed_off=Sum("handed_off"),
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
        ["Flow", "Containment (%)", "Sessions", "Started", "Completed", "Cancelled", "Handed off"],
        series=["Containment (%)"],
    )
    for row in ranked[:limit]:
        chart.rows.append(
            [
                row["flow_id"],
                _ratio(row["contained"], row["sessions"]),
                row["sessions"],
                row["started"],
                row["completed"],
                row["cancelled"],
                row["handed_off"],
            ]
        )
        chart.links.append(scope.conversations_url(scope.start, scope.end, flow=row["flow_id"]))
    return chart


def charts(scope: Scope) -> list[Chart]:
    return [*daily_charts(scope), flow_chart(scope)]


def choices(assistant) -> tuple[list[str], list[str]]:
    """The channels and model ids the assistant's rollups know."""
    rows = DailyRollup.objects.filter(assistant=assistant)
    channels = rows.exclude(channel="").order_by("channel").values_list("channel", flat=True)
    models = rows.exclude(model_id="").order_by("model_id").values_list("model_id", flat=True)
    return list(channels.distinct()), list(models.distinct())
