"""Every bar, point and count of the dashboard drills down to exactly the sessions it counts, on
builders.day1_sessions() + day2_sessions() (+ language sessions); and the success criterion's
page, tile, series and markers."""

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.analytics import rollups
from apps.analytics.models import SuccessCriterion
from apps.analytics.tests.builders import day1_sessions, day2_sessions, ingest
from apps.analytics.tests.test_success_and_language import language_sessions

URL = "/a/alpha/analytics"
MARCH = "period=custom&start=2026-03-02&end=2026-03-03"
D1, D2 = date(2026, 3, 2), date(2026, 3, 3)

#: Per chart, the column a point's (or a flow bar's) link lists the sessions of.
POINT_COLUMN = {
    "sessions": 1,
    "containment": 2,
    "csat": 4,
    "fallback_rate": 2,
    "success": 2,
    "flows": 2,
}


@pytest.fixture
def analyst(client, make_user, assistant):
    ingest(*day1_sessions(), *day2_sessions(), *language_sessions())
    SuccessCriterion.objects.create(
        assistant=assistant, version=1, effective_day=D1, no_fallback=True
    )
    SuccessCriterion.objects.create(
        assistant=assistant, version=2, effective_day=D2, flow_id="check_balance"
    )
    rollups.rollup_new_events()
    client.force_login(make_user("ana", grants={assistant: [Role.CONVERSATION_ANALYST]}))
    return client


def charts(response):
    return {c["chart"].key: c["chart"] for c in response.context["charts"]}


def flow_cells(chart) -> dict[str, dict[int, str]]:
    return {row[0]: cells for row, cells in zip(chart.rows, chart.cell_links, strict=True)}


def listed(client, link) -> list[str]:
    response = client.get(link)
    assert response.status_code == 200
    return [c.sender_id for c in response.context["rows"]]


@pytest.mark.parametrize(
    "filters",
    ["", "&channel=rest", "&channel=rest&model=v1", "&language=de", "&language=en&model=v1"],
)
def test_every_count_drills_down_to_as_many_sessions(analyst, filters):
    response = analyst.get(f"{URL}?{MARCH}{filters}")
    checked = 0
    for key, chart in charts(response).items():
        for row, link, cells in zip(chart.rows, chart.links, chart.cell_links, strict=True):
            if key in POINT_COLUMN:
                assert len(listed(analyst, link)) == row[POINT_COLUMN[key]], (key, row)
                checked += 1
            for column, cell_link in cells.items():
                assert len(listed(analyst, cell_link)) == row[column], (key, row, column)
                checked += 1
    assert checked > 20


def test_the_drill_downs_list_the_very_sessions(analyst):
    response = analyst.get(f"{URL}?{MARCH}&channel=rest")
    by_key = charts(response)
    containment = by_key["containment"]
    handed = containment.cell_links[0][3]
    assert parse_qs(urlsplit(handed).query)["outcome"] == ["handoff"]
    assert set(listed(analyst, handed)) == {"s2", "s4"}
    fallback = by_key["fallback_rate"]
    assert set(listed(analyst, fallback.links[0])) == {"s4"}
    csat = by_key["csat"]
    assert set(listed(analyst, csat.links[0])) == {"s1"}
    flows = flow_cells(by_key["flows"])
    assert set(listed(analyst, flows["transfer_money"][3])) == {"s1"}  # completed
    assert set(listed(analyst, flows["transfer_money"][5])) == {"s2"}  # handed off
    every = analyst.get(f"{URL}?{MARCH}")
    balance = flow_cells(charts(every)["flows"])
    assert set(listed(analyst, balance["check_balance"][4])) == {"s3"}  # cancelled
    success = charts(every)["success"]
    assert set(listed(analyst, success.cell_links[1][2])) == {"s6"}  # D2, by v2
    assert "s3" in listed(analyst, success.cell_links[0][3])  # D1 not successful: a fallback


def test_the_language_filter_narrows_the_dashboard_and_its_drill_down(analyst):
    response = analyst.get(f"{URL}?{MARCH}&language=de")
    assert [t["value"] for t in response.context["tiles"] if t["key"] == "sessions"] == [2]
    assert [c for c, _ in response.context["form"].fields["language"].choices] == [
        "",
        "de",
        "en",
        "es",
        "fr",
    ]
    link = charts(response)["sessions"].links[0]
    assert parse_qs(urlsplit(link).query)["language"] == ["de"]
    assert set(listed(analyst, link)) == {"l1", "l4"}


def test_the_success_tile_series_and_markers(analyst):
    response = analyst.get(f"{URL}?{MARCH}")
    tile = next(t for t in response.context["tiles"] if t["key"] == "success")
    # D1 by v1 (no fallback): 8 of the 10 sessions (s3 and s4 fell back); D2 by v2: s6.
    assert tile["value"] == pytest.approx(100 * 9 / 11, abs=0.1)
    series = charts(response)["success"]
    assert [row[1:] for row in series.rows] == [[80.0, 8, 2, 10], [100.0, 1, 0, 1]]
    assert [(m["day"], m["label"]) for m in series.markers] == [
        ("2026-03-02", "Success v1"),
        ("2026-03-03", "Success v2"),
    ]
    html = response.content.decode()
    assert 'data-kpi="success"' in html and 'data-marker="2026-03-03"' in html
    assert "Success v2 from 2026-03-03: flow check_balance completed" in html
    # A period after both changes has no marker.
    later = analyst.get(f"{URL}?period=custom&start=2026-03-04&end=2026-03-05")
    assert charts(later)["success"].markers == []


def test_without_a_criterion_there_is_no_success_tile(client, make_user, assistant):
    ingest(*day1_sessions())
    rollups.rollup_new_events()
    client.force_login(make_user("dev", grants={assistant: [Role.DEVELOPER]}))
    response = client.get(f"{URL}?{MARCH}")
    assert "success" not in charts(response)
    assert all(t["key"] != "success" for t in response.context["tiles"])
    assert b"define what a successful conversation is" in response.content


def test_an_analyst_saves_a_new_version_and_it_is_recomputed(analyst, assistant):
    page = analyst.get(f"{URL}/success")
    assert page.status_code == 200 and b"v2" in page.content
    assert page.context["form"].initial["flow_id"] == "check_balance"  # starts from the current
    response = analyst.post(
        f"{URL}/success",
        {"no_handoff": "on", "min_csat": "3", "flow_outcome": "completed", "note": "stricter"},
    )
    assert response.status_code == 302
    saved = SuccessCriterion.objects.get(assistant=assistant, version=3)
    assert saved.no_handoff and saved.min_csat == 3 and saved.effective_day == timezone.localdate()
    assert saved.created_by.username == "ana" and saved.recomputed_at is None
    assert b"being recomputed" in analyst.get(URL).content
    rollups.rollup_new_events()
    saved.refresh_from_db()
    assert saved.recomputed_at is not None
    assert b"being recomputed" not in analyst.get(URL).content


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({}, None, "Choose at least one condition of success."),
        ({"min_csat": "7"}, "min_csat", "CSAT answers are 1 to 5."),
        ({"slot_value": "yes"}, "slot_name", "Name the slot whose value counts."),
        ({"slot_name": "paid"}, "slot_value", "Give the value the slot must be set to."),
        ({"flow_id": "no_such_flow"}, "flow_id", "no_such_flow"),
    ],
)
def test_a_bad_criterion_is_refused_with_the_reason(analyst, assistant, data, field, message):
    response = analyst.post(f"{URL}/success", data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field or "__all__"])
    assert SuccessCriterion.objects.filter(assistant=assistant).count() == 2


def test_who_may_define_success(client, make_user, assistant):
    for role, may_view, may_save in [
        (Role.CONVERSATION_ANALYST, True, True),
        (Role.DEVELOPER, True, True),
        (Role.CONVERSATION_VIEWER, False, False),
        (Role.FLOW_BUILDER, False, False),
    ]:
        client.force_login(make_user(role.value, grants={assistant: [role]}))
        assert (client.get(f"{URL}/success").status_code == 200) is may_view
        saved = client.post(f"{URL}/success", {"no_handoff": "on"})
        assert (saved.status_code == 302) is may_save, role


def test_the_conversations_api_applies_the_outcome_filters_as_review_does(analyst):
    query = f"{MARCH}&channel=rest&outcome=handoff"
    body = analyst.get(f"/api/v1/assistants/alpha/conversations?{query}").json()
    assert {row["sender_id"] for row in body["results"]} == {"s2", "s4"}
    flow_query = f"{MARCH}&flow=check_balance&flow_outcome=cancelled"
    body = analyst.get(f"/api/v1/assistants/alpha/conversations?{flow_query}").json()
    assert [row["sender_id"] for row in body["results"]] == ["s3"]
