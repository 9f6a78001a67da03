"""The daily rollups against figures worked out by hand from builders.day1_sessions():

s1 rest/v1: 3 user messages; transfer_money started and completed; CSAT 5; latencies 400, 800,
   300 ms; contained.
s2 rest/v1: 2 user messages; transfer_money started, still running when pattern_human_handoff
   starts (handed off); latencies 1200, 2000; not contained.
s3 socketio/v1: 3 user messages; nlu_fallback and pattern_cannot_handle (fallback);
   check_balance cancelled; CSAT 2 (not satisfied); latencies 150, 250, 100; contained.
s4 rest/v2: 2 user messages; action_default_fallback, action_human_handoff; latency 500 (the
   second message has no answer); not contained.
s5 no channel, no model id: 1 user message; latency 50; contained.
"""

from datetime import date, datetime

import pytest
from django.core.management import call_command

from apps.analytics import latency, rollups
from apps.analytics.models import DailyRollup, FlowDailyRollup, LatencyBucket, RollupCursor
from apps.analytics.tests.builders import DAY2, Chat, day1_sessions, day2_sessions, ingest
from apps.ingestion.models import Event

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)
D1_AT_16_30 = datetime(2026, 3, 2, 16, 30)

FIELDS = (
    "sessions",
    "user_messages",
    "contained_sessions",
    "handoff_sessions",
    "fallback_sessions",
    "csat_answers",
    "csat_satisfied",
    "csat_score_sum",
    "latency_count",
    "latency_sum_ms",
)
EXPECTED_DAY1 = {
    ("rest", "v1"): (2, 5, 1, 1, 0, 1, 1, 5, 5, 4700),
    ("socketio", "v1"): (1, 3, 1, 0, 1, 1, 0, 2, 3, 500),
    ("rest", "v2"): (1, 2, 0, 1, 1, 0, 0, 0, 1, 500),
    ("", ""): (1, 1, 1, 0, 0, 0, 0, 0, 1, 50),
}
FLOW_FIELDS = ("sessions", "contained_sessions", "started", "completed", "cancelled", "handed_off")
EXPECTED_FLOWS_DAY1 = {
    ("rest", "v1", "transfer_money"): (2, 1, 2, 1, 0, 1),
    ("rest", "v1", "pattern_customer_satisfaction"): (1, 1, 1, 1, 0, 0),
    ("rest", "v1", "pattern_human_handoff"): (1, 0, 1, 1, 0, 0),
    ("socketio", "v1", "pattern_cannot_handle"): (1, 1, 1, 1, 0, 0),
    ("socketio", "v1", "check_balance"): (1, 1, 1, 0, 1, 0),
    ("socketio", "v1", "pattern_customer_satisfaction"): (1, 1, 1, 1, 0, 0),
}


def figures(day):
    return {
        (row.channel, row.model_id): tuple(getattr(row, name) for name in FIELDS)
        for row in DailyRollup.objects.filter(day=day)
    }


def flow_figures(day):
    return {
        (row.channel, row.model_id, row.flow_id): tuple(getattr(row, n) for n in FLOW_FIELDS)
        for row in FlowDailyRollup.objects.filter(day=day)
    }


def histograms(day):
    return {
        (b.rollup.channel, b.rollup.model_id, b.bucket): b.count
        for b in LatencyBucket.objects.filter(rollup__day=day).select_related("rollup")
    }


@pytest.fixture
def stored(assistant):
    ingest(*day1_sessions(), *day2_sessions())
    return assistant


def test_the_periodic_rollup_gives_the_hand_computed_figures(stored):
    report = rollups.rollup_new_events()
    assert report.finished and report.days >= 2
    assert figures(D1) == EXPECTED_DAY1
    assert figures(D2) == {("rest", "v1"): (1, 1, 1, 0, 0, 0, 0, 0, 1, 600)}
    assert flow_figures(D1) == EXPECTED_FLOWS_DAY1
    assert flow_figures(D2) == {("rest", "v1", "check_balance"): (1, 1, 1, 1, 0, 0)}


def test_latency_histograms_hold_every_answered_message(stored):
    rollups.rollup_new_events()
    row = DailyRollup.objects.get(day=D1, channel="rest", model_id="v1")
    counts = {b.bucket: b.count for b in row.buckets.all()}
    assert counts == latency.histogram([400, 800, 300, 1200, 2000])
    for bucket in row.buckets.all():
        assert bucket.upper_ms == latency.UPPER_MS[bucket.bucket]
    # The median of 300, 400, 800, 1200, 2000 is 800: within one bucket (15 %) of it.
    assert row.latency_p50_ms == pytest.approx(800, rel=0.15)
    assert row.latency_p99_ms == pytest.approx(2000, rel=0.15)
    assert row.latency_p50_ms < row.latency_p95_ms <= row.latency_p99_ms
    assert DailyRollup.objects.get(day=D1, channel="", model_id="").latency_p95_ms == (
        pytest.approx(50, rel=0.15)
    )


def late_handoff_of_s5() -> Chat:
    late = Chat("s5", D1_AT_16_30, channel=None, model=None)
    return late.action("action_human_handoff")  # s5 was handed off after all


def test_a_late_event_recomputes_its_day_only(stored, monkeypatch):
    monkeypatch.setattr(rollups, "OVERLAP_IDS", 0)
    rollups.rollup_new_events()
    day2_computed = DailyRollup.objects.get(day=D2).computed_at
    ingest(late_handoff_of_s5())
    report = rollups.rollup_new_events()
    assert report.finished
    expected = dict(EXPECTED_DAY1)
    expected[("", "")] = (1, 1, 0, 1, 0, 0, 0, 0, 1, 50)
    assert figures(D1) == expected
    assert DailyRollup.objects.get(day=D2).computed_at == day2_computed
    assert report.days == 1


def test_an_event_committed_after_higher_ids_is_read_again(stored):
    """Ids are handed out before commit: the cursor may have passed an event that becomes
    visible later. The next run reads OVERLAP_IDS below the cursor again."""
    rollups.rollup_new_events()
    ingest(late_handoff_of_s5())
    RollupCursor.objects.update(last_event_id=Event.objects.latest("id").pk)
    later = Chat("s6", DAY2.replace(hour=12)).action("action_listen")
    ingest(later)
    rollups.rollup_new_events()
    assert figures(D1)[("", "")] == (1, 1, 0, 1, 0, 0, 0, 0, 1, 50)


def test_nothing_new_recomputes_nothing(stored):
    rollups.rollup_new_events()
    assert rollups.rollup_new_events().days == 0


def test_a_recomputation_gives_the_same_figures(stored):
    rollups.rollup_new_events()
    before = (figures(D1), flow_figures(D1), histograms(D1), figures(D2))
    DailyRollup.objects.filter(day=D1, channel="rest").update(sessions=99)
    call_command("rollup_analytics", "--from", "2026-03-01", "--to", "2026-03-03", verbosity=0)
    assert (figures(D1), flow_figures(D1), histograms(D1), figures(D2)) == before


def test_a_run_bounded_by_max_ids_finishes_in_later_runs(stored):
    # (Ids of a PostgreSQL test database do not start at 1.)
    first = Event.objects.order_by("id").first().pk
    RollupCursor.objects.create(name=rollups.CURSOR, last_event_id=first - 1)
    runs = 0
    while not rollups.rollup_new_events(max_ids=7).finished:
        runs += 1
        assert runs < 100
    assert runs > 1
    assert figures(D1) == EXPECTED_DAY1


def test_a_day_whose_sessions_were_deleted_is_recomputed_to_nothing(stored):
    from apps.ingestion.models import Conversation
    from apps.ingestion.services import delete_conversations

    rollups.rollup_new_events()
    delete_conversations(Conversation.objects.filter(started_at__date=D2))
    rollups.recompute_range(D2, D2)
    assert figures(D2) == {} and flow_figures(D2) == {}
    assert figures(D1) == EXPECTED_DAY1


def test_the_command_refuses_a_backwards_range(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="after"):
        call_command("rollup_analytics", "--from", "2026-03-03", "--to", "2026-03-01")


def test_histograms_of_several_days_add_up_to_the_histogram_of_all():
    first, second = [10, 55, 300, 4000], [70, 80, 900_000]
    combined = latency.histogram(first)
    for bucket, count in latency.histogram(second).items():
        combined[bucket] = combined.get(bucket, 0) + count
    assert combined == latency.histogram(first + second)
    assert latency.percentile(combined, 1.0) == float(latency.UPPER_MS[-1])
    assert latency.percentile({}, 0.5) is None


@pytest.mark.parametrize(
    "value, score", [("5", 5), ('"3"', 3), ("1.0", 1), ("0", None), ("6", None), ("good", None)]
)
def test_csat_answers_are_whole_numbers_from_1_to_5(value, score):
    assert rollups._score(value) == score


@pytest.mark.parametrize(
    "value, score", [("satisfied", 5), ('"unsatisfied"', 1), ("Satisfied", 5), ("meh", None)]
)
def test_the_answers_of_rasas_default_csat_pattern_count_as_5_and_1(value, score):
    assert rollups._score(value) == score


@pytest.mark.django_db
def test_a_session_answering_rasas_csat_pattern_is_counted_satisfied(assistant):
    chat = Chat("rasa-csat", DAY2.replace(hour=10)).start()
    chat.flow("started", "pattern_customer_satisfaction").add("bot", text="How was it?")
    chat.user("/SetSlots(csat_score=satisfied)", "").slot("csat_score", "satisfied")
    chat.bot("Thank you for your feedback!", 200).flow("completed", "pattern_customer_satisfaction")
    ingest(chat)
    rollups.recompute_range(DAY2.date(), DAY2.date(), assistant.pk)
    rows = DailyRollup.objects.filter(assistant=assistant, day=DAY2.date())
    assert sum(r.csat_answers for r in rows) == 1
    assert sum(r.csat_satisfied for r in rows) == 1
    assert sum(r.csat_score_sum for r in rows) == 5


@pytest.mark.django_db(transaction=True)
def test_a_run_leaves_the_days_to_a_run_already_at_work(assistant):
    """On PostgreSQL the rollup holds an advisory lock; elsewhere there is one writer."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the lock is PostgreSQL's")
    import threading

    ingest(*day2_sessions())
    holding, release = threading.Event(), threading.Event()

    def other_run():
        with rollups.exclusive(wait=True):
            holding.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert holding.wait(30)
        report = rollups.rollup_new_events()
        assert not report.finished and report.days == 0
        assert not DailyRollup.objects.exists()
    finally:
        release.set()
        thread.join(30)
    assert rollups.rollup_new_events().finished
    assert figures(D2) != {}
