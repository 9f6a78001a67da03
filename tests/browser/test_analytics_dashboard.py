"""An analyst opens the analytics dashboard, filters it and follows a chart's bar to the
conversations it counts (Chart.js drawn from the vendored file; the click is on the canvas)."""

from pathlib import Path

import pytest

from apps.accounts.roles import Role
from apps.analytics import rollups
from apps.analytics.tests.builders import day1_sessions, day2_sessions, ingest

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
    page.goto("/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
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
