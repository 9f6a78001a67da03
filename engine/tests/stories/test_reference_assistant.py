"""The Seaside Inn, the classic reference assistant, passes its own test stories with its own
action server: in process, and over HTTP through Rasa's REST channel and tracker API."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from engine.actions import action_client_from_endpoints
from engine.formats import load_project_dir, validate_project
from engine.server.app import create_app
from engine.server.runtime import Bot
from engine.test_stories import load_test_stories, run_test_stories, run_test_stories_http

from .conftest import SEASIDE, make_processor

pytestmark = pytest.mark.slow


def test_the_reference_assistant_is_a_valid_classic_project():
    project = load_project_dir(SEASIDE)
    problems = validate_project(project)
    assert [p for p in problems if p.severity == "error"] == []
    assert project.config is not None
    names = [c.get("name") for c in project.config.data.get("policies", [])]
    assert names == ["MemoizationPolicy", "RulePolicy", "TEDPolicy"]
    stories = load_test_stories([SEASIDE / "tests"])
    # every path of the assistant has a test story: the form's happy and unhappy paths, its
    # interruptions, both late checkout branches, retrieval intents, the fallback
    assert len(stories) == 10


def _assert_all_passed(results) -> None:
    failed = {r.name: r.failure for r in results if r.status != "passed"}
    assert failed == {}
    assert all(r.correct_actions == r.actions for r in results)


def test_it_passes_its_test_stories_in_process(seaside_model, seaside_actions):
    client = action_client_from_endpoints({"url": seaside_actions})
    try:
        results = run_test_stories(
            load_test_stories([SEASIDE / "tests"]), make_processor(seaside_model, client)
        )
    finally:
        client.close()
    _assert_all_passed(results)
    booking = next(r for r in results if r.name == "book a table on the terrace")
    said = [text for item in booking.transcript for text in item.get("bot", [])]
    # the action server answered: the booking reference comes from action_submit_booking
    assert any("Your booking reference is SI-" in text for text in said)


def test_it_passes_its_test_stories_over_http(seaside_model, seaside_actions):
    client = action_client_from_endpoints({"url": seaside_actions})
    bot = Bot.from_processor(make_processor(seaside_model, client)())
    try:
        with TestClient(create_app(bot)) as http:
            results = run_test_stories_http(load_test_stories([SEASIDE / "tests"]), http)
    finally:
        client.close()
    _assert_all_passed(results)
    too_large = next(r for r in results if r.name == "a party too large is asked again")
    said = [text for item in too_large.transcript for text in item.get("bot", [])]
    assert "We can seat between 1 and 12 guests at one table." in said[1]
