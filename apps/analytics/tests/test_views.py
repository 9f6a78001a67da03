"""The dashboard page and its CSV downloads, on the rollups of builders.day1_sessions()."""

import csv
import io
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.analytics import rollups
from apps.analytics.tests.builders import day1_sessions, day2_sessions, ingest

URL = "/a/alpha/analytics"
MARCH = "period=custom&start=2026-03-02&end=2026-03-03"


@pytest.fixture
def analyst(client, make_user, assistant):
    ingest(*day1_sessions(), *day2_sessions())
    rollups.rollup_new_events()
    client.force_login(make_user("ana", grants={assistant: [Role.CONVERSATION_ANALYST]}))
    return client


def tile(response, key):
    return next(t for t in response.context["tiles"] if t["key"] == key)


def chart(response, key):
    return next(c for c in response.context["charts"] if c["chart"].key == key)


def test_kpi_tiles_show_the_period_and_its_change(analyst):
    response = analyst.get(f"{URL}?{MARCH}")
    assert response.status_code == 200
    assert tile(response, "sessions")["value"] == 6
    assert tile(response, "containment")["value"] == pytest.approx(100 * 4 / 6, abs=0.1)
    assert tile(response, "csat")["value"] == 50.0
    assert tile(response, "fallback_rate")["value"] == pytest.approx(100 * 2 / 6, abs=0.1)
    assert tile(response, "latency_p95")["value"] == pytest.approx(2000, rel=0.15)
    # The previous period (the two days before) has no sessions.
    assert (
        tile(response, "sessions")["previous"] == 0 and tile(response, "sessions")["change"] is None
    )


def test_the_change_compares_with_the_period_before(analyst):
    response = analyst.get(f"{URL}?period=custom&start=2026-03-03&end=2026-03-03")
    sessions = tile(response, "sessions")
    assert (sessions["value"], sessions["previous"], sessions["change"]) == (1, 5, -80.0)
    assert tile(response, "containment")["change"] == pytest.approx(100 - 60.0)


def test_filters_narrow_every_figure(analyst):
    response = analyst.get(f"{URL}?{MARCH}&channel=socketio&model=v1")
    assert tile(response, "sessions")["value"] == 1
    assert tile(response, "fallback_rate")["value"] == 100.0
    flows = [row[0] for row in chart(response, "flows")["chart"].rows]
    assert flows == ["check_balance"]  # patterns are not ranked


def test_every_point_drills_down_to_the_same_filters(analyst):
    response = analyst.get(f"{URL}?{MARCH}&channel=rest&model=v1")
    sessions = chart(response, "sessions")
    (first_row, _), (first_link, _) = sessions["chart"].rows, sessions["chart"].links
    assert first_row == [date(2026, 3, 2), 2]
    query = parse_qs(urlsplit(first_link).query)
    assert urlsplit(first_link).path == reverse("ingestion:list", args=["alpha"])
    assert query == {
        "period": ["custom"],
        "start": ["2026-03-02"],
        "end": ["2026-03-02"],
        "channel": ["rest"],
        "model": ["v1"],
    }
    # Following it lists exactly the sessions the bar counts.
    listed = analyst.get(first_link)
    assert {c.sender_id for c in listed.context["rows"]} == {"s1", "s2"}
    flows = chart(response, "flows")["chart"]
    row, link = flows.rows[0], flows.links[0]
    assert row[:3] == ["transfer_money", 50.0, 2]
    flow_query = parse_qs(urlsplit(link).query)
    assert flow_query["flow"] == ["transfer_money"] and flow_query["end"] == ["2026-03-03"]
    assert {c.sender_id for c in analyst.get(link).context["rows"]} == {"s1", "s2"}


def test_the_page_has_every_chart_with_its_table_and_csv_link(analyst):
    response = analyst.get(f"{URL}?{MARCH}")
    html = response.content.decode()
    for key in ("sessions", "containment", "csat", "fallback_rate", "latency", "flows"):
        assert f'data-chart="{key}"' in html
        assert f'id="{key}" type="application/json"' in html
        assert f"chart={key}" in html
    assert "vendor/chart.umd.min.js" in html
    assert html.count('class="drill-down"') == 5 * 2 + 2  # five daily charts, two flows
    assert "<td>2026-03-02</td><td>5</td>" in html  # the sessions table
    # The flows' counts are sessions, each linked to the sessions it counts.
    assert "<td>transfer_money</td><td>50.0</td><td><a href=" in html
    assert html.count('class="drill-cell"') > 0


def test_csv_has_the_chart_numbers(analyst):
    response = analyst.get(f"{URL}/export?{MARCH}&chart=latency")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Day", "p50 (ms)", "p95 (ms)", "p99 (ms)", "Answered messages"]
    assert [row[0] for row in rows[1:]] == ["2026-03-02", "2026-03-03"]
    assert rows[1][4] == "10" and rows[2][4] == "1"
    flows = list(
        csv.reader(io.StringIO(analyst.get(f"{URL}/export?{MARCH}&chart=flows").content.decode()))
    )
    # Sessions the flow started in, completed in, was cancelled in, was handed off in.
    assert flows[0] == [
        "Flow",
        "Containment (%)",
        "Sessions",
        "Completed",
        "Cancelled",
        "Handed off",
    ]
    assert flows[1] == ["transfer_money", "50.0", "2", "1", "0", "1"]


def test_csv_names_the_charts_when_none_is_given(analyst):
    response = analyst.get(f"{URL}/export?{MARCH}&chart=nope")
    assert response.status_code == 400
    assert b"sessions" in response.content


def test_an_empty_period_renders_without_figures(analyst):
    response = analyst.get(f"{URL}?period=7d")
    assert response.status_code == 200
    assert tile(response, "containment")["value"] is None
    assert b"No figures for this period yet." in response.content


def test_a_backwards_range_is_reported_and_the_default_period_shown(analyst):
    response = analyst.get(f"{URL}?period=custom&start=2026-03-03&end=2026-03-01")
    assert b"The end date is before the start date." in response.content
    assert response.context["scope"].days == 30


def test_the_navigation_shows_analytics_to_analysts_not_to_viewers(
    analyst, make_user, assistant, client
):
    assert b'href="/a/alpha/analytics"' in analyst.get("/a/alpha/conversations").content
    viewer = make_user("vic", grants={assistant: [Role.CONVERSATION_VIEWER]})
    client.force_login(viewer)
    assert b'href="/a/alpha/analytics"' not in client.get("/a/alpha/conversations").content
    assert client.get(URL).status_code == 403


def test_the_page_opens_without_parameters_on_the_last_30_days(analyst):
    response = analyst.get(URL)
    assert response.status_code == 200
    assert response.context["scope"].days == 30
