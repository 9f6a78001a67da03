"""An analyst opens the analytics dashboard, filters it and follows a chart's bar to the
conversations it counts (Chart.js drawn from the vendored file; the click is on the canvas);
defines a success criterion and sees its tile; filters by language and drills down."""

from datetime import date
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.analytics import rollups
from apps.analytics.models import SuccessCriterion
from apps.analytics.tests.builders import day1_sessions, day2_sessions, ingest
from apps.analytics.tests.test_success_and_language import language_sessions
from tests.browser.support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "issue18"

BAR = """key => {
    const canvas = document.querySelector(`canvas[data-chart="${key}"]`);
    const bar = canvas.chart.getDatasetMeta(0).data[0];
    const box = canvas.getBoundingClientRect();
    return {x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2};
}"""


@pytest.fixture
def analyst(make_assistant, make_user):
    assistant = make_assistant("alpha")
    ingest(*day1_sessions(), *day2_sessions())
    rollups.rollup_new_events()
    make_user("ana", grants={assistant: [Role.CONVERSATION_ANALYST]})
    return assistant


def test_an_analyst_drills_down_from_a_chart_to_the_conversations(page, analyst):
    log_in(page, "ana")
    page.goto("/a/alpha/analytics?period=custom&start=2026-03-02&end=2026-03-03")
    page.select_option("#id_channel", "rest")
    page.select_option("#id_model", "v1")
    page.click("form[aria-label=Filters] button[type=submit]")
    page.wait_for_url("**channel=rest**")
    page.wait_for_function(
        "() => document.querySelector('canvas[data-chart=sessions]').chart !== undefined"
    )
    assert page.text_content("[data-kpi=sessions] .kpi-value").strip() == "3"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    point = page.evaluate(BAR, "sessions")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url("**/a/alpha/conversations?**")
    assert "start=2026-03-02" in page.url and "end=2026-03-02" in page.url
    assert "channel=rest" in page.url and "model=v1" in page.url
    listed = page.locator("table").first.inner_text()
    assert "s1" in listed and "s2" in listed
    assert "s3" not in listed and "s6" not in listed


MARCH = "/a/alpha/analytics?period=custom&start=2026-03-02&end=2026-03-03"


@pytest.fixture
def analyst_with_languages(make_assistant, make_user):
    assistant = make_assistant("alpha")
    ingest(*day1_sessions(), *day2_sessions(), *language_sessions())
    rollups.rollup_new_events()
    make_user("ana", grants={assistant: [Role.CONVERSATION_ANALYST]})
    return assistant


def test_an_analyst_defines_success_and_sees_its_tile(page, analyst_with_languages):
    log_in(page, "ana")
    page.goto(MARCH)
    expect(page.locator("#success-none")).to_be_visible()
    page.click("text=Success criterion")
    page.check("#id_no_handoff")
    page.click("form[aria-label='Success criterion'] button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text("Success criterion v1 saved")
    expect(page.locator("#success-versions")).to_contain_text("no handoff to a human")
    expect(page.locator("#success-versions")).to_contain_text("being recomputed")
    # The orchestrator's periodic task, run here: it recomputes the days v1 judges.
    rollups.rollup_new_events()
    page.goto(MARCH)
    # 11 sessions; s2 and s4 were handed off: 9 of 11 successful.
    expect(page.locator("[data-kpi=success] .kpi-value")).to_have_text("81.8 %")
    expect(page.locator("#chart-success")).to_be_visible()
    expect(page.locator("#success-pending")).to_have_count(0)
    # A second version that took effect on March 3 is marked on the success chart there.
    SuccessCriterion.objects.create(
        assistant=analyst_with_languages,
        version=2,
        effective_day=date(2026, 3, 3),
        min_csat=3,
        recomputed_at=timezone.now(),
    )
    page.goto(MARCH)
    expect(page.locator("#chart-success [data-marker='2026-03-03']")).to_contain_text(
        "Success v2 from 2026-03-03: CSAT answer of at least 3"
    )
    drawn = page.evaluate(
        "() => document.querySelector('canvas[data-chart=success]')"
        ".chart.options.plugins.studioMarkers.markers.map(m => m.label)"
    )
    assert drawn == ["Success v2"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "success.png"), full_page=True)


def test_a_language_filter_then_a_drill_down_lists_the_same_sessions(page, analyst_with_languages):
    log_in(page, "ana")
    page.goto(MARCH)
    page.select_option("#id_language", "de")
    page.click("form[aria-label=Filters] button[type=submit]")
    page.wait_for_url("**language=de**")
    expect(page.locator("[data-kpi=sessions] .kpi-value")).to_have_text("2")
    page.wait_for_function(
        "() => document.querySelector('canvas[data-chart=sessions]').chart !== undefined"
    )
    point = page.evaluate(BAR, "sessions")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url("**/a/alpha/conversations?**")
    assert "language=de" in page.url
    expect(page.locator("#id_language")).to_have_value("de")
    rows = page.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="l1")).to_have_count(1)
    expect(rows.filter(has_text="l4")).to_have_count(1)
