"""Analytics: rolling up one generated day of events, sampling an annotation batch from it, and
the dashboard's server time over 90 days of rollups (with a success criterion: its tile and
series come from the same rollup rows).

BENCH_ANALYTICS_DAY_EVENTS sets the day's size (default 200,000; the target is stated for
1,000,000 events); BENCH_ANALYTICS_DAYS the dashboard's days of rollups (default 90). The
dashboard reads only the rollup tables, so its time depends on the days, channels, model
versions and flows, not on the number of events behind them.
"""

import json
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from bench import Figure

DAY = date(2026, 1, 15)
CHANNELS = ("rest", "socketio", "slack")
MODELS = ("m1", "m2", "m3", "m4")
FLOWS = ("transfer_money", "check_balance", "add_contact", "book_flight", "pattern_chitchat")


def _rollup_day(events: int):
    from apps.analytics import rollups
    from apps.ingestion import store
    from apps.ingestion.models import Conversation
    from apps.ingestion.services import delete_conversations
    from apps.ingestion.store import RawMessage
    from apps.projects.models import Assistant
    from demo.conversations import random_conversations

    name = f"bench-rollup-{uuid.uuid4().hex[:6]}"
    assistant = Assistant.objects.create(name=name)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp()
    count = max(events // 24, 1)  # the sample conversations' average length
    spacing = 86_000 / count
    produced, batch = 0, []
    began = time.perf_counter()
    for index, conversation in enumerate(
        random_conversations(count * 2, assistant_id=name, start=start)
    ):
        if produced >= events:
            break
        offset = start + index * spacing - conversation.events[0]["timestamp"]
        for body in conversation.events:
            body["timestamp"] = round(body["timestamp"] + offset, 6)
            batch.append(RawMessage(json.dumps(body)))
        produced += len(conversation.events)
        if len(batch) >= 5000:
            store.ingest(batch)
            batch = []
    if batch:
        store.ingest(batch)
    yield Figure(f"  (ingesting the day: {produced} events)", time.perf_counter() - began, "s")
    try:
        began = time.perf_counter()
        sessions = rollups.recompute_day(assistant.pk, DAY)
        seconds = time.perf_counter() - began
        yield Figure(f"Rollup of one day ({produced} events, {sessions} sessions)", seconds, "s")
        yield Figure(
            "  rollup rate", produced / seconds, "events/s", ">= 16,700 (1M events in < 60 s)"
        )
        yield from _sampling(assistant)
    finally:
        delete_conversations(Conversation.objects.filter(assistant=assistant))
        assistant.delete()


def _sampling(assistant, size: int = 200, repeat: int = 5):
    """The annotation batch's sample of `size` messages: random windows of event ids against
    the random sort of every matching message it replaced (the same filters)."""
    from django.db import connection

    from apps.annotation import services

    if connection.vendor == "postgresql":
        # The planner's statistics, as autovacuum keeps them after a day's ingestion (without
        # them it joins the assistant's conversations first, whatever the windows).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE ingestion_event, ingestion_conversation")
    filters = services.BatchFilters(channel="rest", size=size)
    matching = services.matching_messages(assistant, filters)
    windows, everything = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        picked = services.sample_messages(matching, size)
        windows.append(time.perf_counter() - began)
        began = time.perf_counter()
        sorted_sample = list(matching.order_by("?").values_list("id", flat=True)[:size])
        everything.append(time.perf_counter() - began)
        assert len(picked) == len(sorted_sample), (len(picked), len(sorted_sample))
    yield Figure(
        f"Annotation sample of {size} messages (random id windows)",
        statistics.median(windows) * 1000,
        "ms",
    )
    yield Figure("  the same by ORDER BY random()", statistics.median(everything) * 1000, "ms")


def _rollup_rows(assistant, days: int):
    """`days` days of rollups ending today: every channel x model, with latency buckets and
    flows, as the periodic task writes them."""
    from apps.analytics import latency
    from apps.analytics.models import DailyRollup, FlowDailyRollup, LatencyBucket

    today = datetime.now(UTC).date()
    rows = []
    for n in range(days):
        day = today - timedelta(days=n)
        for channel in CHANNELS:
            for model_id in MODELS:
                rows.append(
                    DailyRollup(
                        assistant=assistant,
                        day=day,
                        channel=channel,
                        model_id=model_id,
                        sessions=900 + n,
                        user_messages=3000,
                        contained_sessions=800,
                        handoff_sessions=100 + n % 7,
                        fallback_sessions=60,
                        csat_answers=90,
                        csat_satisfied=70,
                        csat_score_sum=330,
                        latency_count=3000,
                        latency_sum_ms=3000 * 700,
                        successful_sessions=700,
                        success_version=1 if n > days // 2 else 2,
                    )
                )
    DailyRollup.objects.bulk_create(rows, batch_size=2000)
    buckets = [
        LatencyBucket(rollup=row, bucket=b, upper_ms=latency.upper_of(b), count=100 + b)
        for row in rows
        for b in range(30, 55)
    ]
    LatencyBucket.objects.bulk_create(buckets, batch_size=5000)
    flows = [
        FlowDailyRollup(
            assistant=assistant,
            day=row.day,
            channel=row.channel,
            model_id=row.model_id,
            flow_id=flow,
            sessions=300,
            contained_sessions=250 - index * 20,
            started=320,
            completed=280,
            cancelled=20,
            handed_off=10,
        )
        for row in rows
        for index, flow in enumerate(FLOWS)
    ]
    FlowDailyRollup.objects.bulk_create(flows, batch_size=5000)
    return len(rows), len(buckets), len(flows)


def _dashboard(days: int, repeat: int = 20):
    from django.test import Client
    from django.urls import reverse

    from apps.accounts.models import User
    from apps.analytics.models import SuccessCriterion
    from apps.projects.models import Assistant

    name = f"bench-analytics-{uuid.uuid4().hex[:6]}"
    assistant = Assistant.objects.create(name=name)
    try:
        rows, buckets, flows = _rollup_rows(assistant, days)
        today = datetime.now(UTC).date()
        for version, day in ((1, today - timedelta(days=days)), (2, today - timedelta(days=30))):
            SuccessCriterion.objects.create(
                assistant=assistant,
                version=version,
                effective_day=day,
                no_handoff=True,
                min_csat=3 + version - 1,
                recomputed_at=datetime.now(UTC),
            )
        user = User.objects.filter(username="bench-admin").first()
        user = user or User.objects.create_superuser("bench-admin", password=None)
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        url = reverse("analytics:dashboard", args=[name])
        queries = [f"?period={days}d" if days in (7, 30, 90) else "", "?period=90d&channel=rest"]
        queries.append("?period=90d&channel=slack&model=m2")
        timings: dict[str, list[float]] = {q: [] for q in queries}
        for _ in range(repeat):
            for query in queries:
                began = time.perf_counter()
                response = client.get(url + query)
                timings[query].append(time.perf_counter() - began)
                assert response.status_code == 200, response.status_code
        everything = sorted(t for values in timings.values() for t in values)
        p95 = everything[max(int(len(everything) * 0.95) - 1, 0)]
        page = client.get(url + queries[0]).content.decode()
        assert 'data-kpi="success"' in page and 'data-chart="success"' in page
        yield Figure(
            f"Dashboard p95 ({days} days: {rows} rollup rows, {buckets} buckets, {flows} flows,"
            " success tile and series)",
            p95 * 1000,
            "ms",
            "< 300 ms",
        )
        for query in queries:
            yield Figure(f"  median {query}", statistics.median(timings[query]) * 1000, "ms")
        began = time.perf_counter()
        response = client.get(reverse("analytics:export", args=[name]) + "?period=90d&chart=flows")
        assert response.status_code == 200, response.status_code
        yield Figure("  CSV of the flows chart", (time.perf_counter() - began) * 1000, "ms")
    finally:
        assistant.delete()


def run():
    yield from _rollup_day(int(os.environ.get("BENCH_ANALYTICS_DAY_EVENTS", "200000")))
    yield from _dashboard(int(os.environ.get("BENCH_ANALYTICS_DAYS", "90")))
