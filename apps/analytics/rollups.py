"""Computing the daily rollups from ingested events (see apps.analytics.models).

Days are days in settings.TIME_ZONE (the dashboard's period and the Conversations page's dates
use the same boundaries). `recompute_day(assistant_id, day)` replaces one assistant's rows of
one day, and the facts of its sessions (`SessionFacts`), in one transaction, from the sessions
that started that day and their events. It depends only on what
is stored, so computing a day twice gives the same rows, and a late event is taken into account
by computing its day again.

`rollup_new_events()` is the orchestrator's periodic task: it reads the ids of the events
ingested since its last run (`RollupCursor`), works out the days they touch and recomputes each
of them in its own committed transaction, then moves the cursor; then it recomputes the days of
the success criteria saved since (see apps.analytics.success). The days an event touches are
every day from its session's start to its session's last event (a late event that moves a
session's start earlier moves the session to another day: both are recomputed), and the day
before a `session_started` (which may have split a session that began the day before). Ids are
handed out before their transaction commits, so an event may become visible after events with
higher ids; each run therefore also reads back `OVERLAP_IDS` ids below the cursor.

What a session counts as (the event types and names are Rasa Pro's):

- contained: no `pattern_human_handoff` flow started and no `action_human_handoff` action;
- fallback: `pattern_cannot_handle` started, an `nlu_fallback` intent, or
  `action_default_fallback`;
- a CSAT answer: the first slot set to a whole number 1-5 while `pattern_customer_satisfaction`
  runs (between its `flow_started` and its `flow_completed`/`flow_cancelled`); 3-5 is satisfied;
- a latency: from a user message to the first bot message after it (before the next user
  message; a message not answered gives none);
- per flow: its `flow_started`, `flow_completed`, `flow_cancelled` events, the sessions it
  started in (and how many of those were contained), and "handed off": runs of the flow still
  active when a handoff happened; and the sessions in which it completed, was cancelled, was
  handed off at least once;
- its language: `apps.ingestion.selectors.session_language` (the `language` slot, else the
  user messages' metadata, else the assistant's default language);
- successful: by the success criterion in force on the day (`apps.analytics.success`).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from apps.analytics import latency, success
from apps.analytics.models import (
    DailyRollup,
    FlowDailyRollup,
    LatencyBucket,
    RollupCursor,
    SessionFacts,
    SessionFlowFacts,
    SuccessCriterion,
)
from apps.ingestion.models import SESSION_START_INTENT_TEXT, Conversation, Event
from apps.ingestion.selectors import with_language
from apps.projects.models import Assistant

log = logging.getLogger(__name__)

HANDOFF_FLOW = "pattern_human_handoff"
HANDOFF_ACTION = "action_human_handoff"
CANNOT_HANDLE_FLOW = "pattern_cannot_handle"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTION = "action_default_fallback"
CSAT_FLOW = "pattern_customer_satisfaction"
CSAT_SCORES = range(1, 6)
CSAT_SATISFIED = 3  # and above
#: The answers of Rasa Pro's own pattern_customer_satisfaction (3.21: the categorical slot
#: `csat_score`), counted on the same 1-5 scale: satisfied as 5, unsatisfied as 1.
CSAT_WORDS = {"satisfied": 5, "unsatisfied": 1}

CURSOR = "events"
#: Event ids read per query when looking for the days new events touch.
SCAN_IDS = 100_000
#: How far below the cursor each run reads again (ids committed out of order).
OVERLAP_IDS = 20_000
#: Events (by id) a run takes on at most; the rest is left to the next run.
MAX_IDS_PER_RUN = 2_000_000

_TYPES = ("user", "bot", "action", "flow_started", "flow_completed", "flow_cancelled", "slot")
_COLUMNS = (
    "conversation_id",
    "type",
    "timestamp",
    "intent",
    "action_name",
    "flow_id",
    "slot_value",
    "slot_name",
)
#: Conversations read per events query.
_CONVERSATIONS_PER_QUERY = 2000


@dataclass
class FlowFigures:
    started: int = 0
    completed: int = 0
    cancelled: int = 0
    handed_off: int = 0


@dataclass
class Session:
    """What one session counts for (see the module docstring)."""

    handoff: bool = False
    fallback: bool = False
    csat: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    flows: dict[str, FlowFigures] = field(default_factory=lambda: defaultdict(FlowFigures))
    #: Each slot's last value in the session (as `Event.slot_value` holds it).
    slots: dict[str, str] = field(default_factory=dict)


def _score(value: str) -> int | None:
    text = value.strip().strip('"')
    if text.lower() in CSAT_WORDS:
        return CSAT_WORDS[text.lower()]
    try:
        number = float(text)
    except ValueError:
        return None
    if number.is_integer() and int(number) in CSAT_SCORES:
        return int(number)
    return None


class _Reader:
    """Reads one session's events in order into a `Session`."""

    def __init__(self) -> None:
        self.session = Session()
        self.waiting_since: datetime | None = None
        # Per flow, its runs in progress: True once handed off.
        self.running: dict[str, list[bool]] = defaultdict(list)
        self.csat_open = 0
        self.csat_answered = False

    def _handoff(self) -> None:
        self.session.handoff = True
        for flow_id, runs in self.running.items():
            for index, handed in enumerate(runs):
                if not handed:
                    runs[index] = True
                    self.session.flows[flow_id].handed_off += 1

    def _flow(self, kind: str, flow_id: str) -> None:
        figures = self.session.flows[flow_id]
        if kind == "flow_started":
            figures.started += 1
            if flow_id == CSAT_FLOW:
                self.csat_open += 1
                self.csat_answered = False
            if flow_id == HANDOFF_FLOW:
                self._handoff()
            self.running[flow_id].append(False)
            if flow_id == CANNOT_HANDLE_FLOW:
                self.session.fallback = True
            return
        if kind == "flow_completed":
            figures.completed += 1
        else:
            figures.cancelled += 1
        if self.running[flow_id]:
            self.running[flow_id].pop()
        if flow_id == CSAT_FLOW and self.csat_open:
            self.csat_open -= 1

    def _slot(self, name: str, value: str) -> None:
        if name:
            self.session.slots[name] = value
        if self.csat_open and not self.csat_answered:
            score = _score(value)
            if score is not None:
                self.session.csat.append(score)
                self.csat_answered = True

    def read(
        self, kind: str, when: datetime, intent: str, action: str, flow_id: str, value, slot=""
    ):
        if kind == "user":
            self.waiting_since = when
            if intent == FALLBACK_INTENT:
                self.session.fallback = True
        elif kind == "bot":
            if self.waiting_since is not None:
                elapsed = (when - self.waiting_since).total_seconds() * 1000
                self.session.latencies_ms.append(max(elapsed, 0.0))
                self.waiting_since = None
        elif kind == "action":
            if action == HANDOFF_ACTION:
                self._handoff()
            elif action == FALLBACK_ACTION:
                self.session.fallback = True
        elif kind == "slot":
            self._slot(slot, value)
        elif flow_id:
            self._flow(kind, flow_id)


def read_session(events: Iterable[tuple]) -> Session:
    """A session's figures from its events in order, as tuples of
    (type, timestamp, intent, action_name, flow_id, slot_value[, slot_name])."""
    reader = _Reader()
    for event in events:
        reader.read(*event)
    return reader.session


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of `day` and of the day after, in settings.TIME_ZONE."""
    zone = timezone.get_default_timezone()
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def day_of(when: datetime) -> date:
    """The day (settings.TIME_ZONE) of an instant."""
    return when.astimezone(timezone.get_default_timezone()).date()


def _sessions_of(conversations: list[tuple]) -> Iterator[tuple[tuple, Session]]:
    """(conversation row, Session) for each conversation, reading events in chunks."""
    for offset in range(0, len(conversations), _CONVERSATIONS_PER_QUERY):
        chunk = conversations[offset : offset + _CONVERSATIONS_PER_QUERY]
        events = (
            Event.objects.filter(conversation_id__in=[row[0] for row in chunk], type__in=_TYPES)
            .exclude(type="user", text=SESSION_START_INTENT_TEXT)
            .order_by("conversation_id", "timestamp", "position", "id")
            .values_list(*_COLUMNS)
        )
        by_conversation: dict[int, list[tuple]] = defaultdict(list)
        for conversation_id, *rest in events.iterator(chunk_size=20_000):
            by_conversation[conversation_id].append(rest)
        for row in chunk:
            yield row, read_session(by_conversation.pop(row[0], ()))


@dataclass
class _Group:
    row: DailyRollup
    counts: dict[int, int] = field(default_factory=dict)


@dataclass
class _Day:
    """A day's rows, before they are written."""

    groups: list[_Group]
    flows: list[FlowDailyRollup]
    facts: list[tuple[SessionFacts, dict[str, FlowFigures]]]


def _flow_row(flows: dict, key: tuple, assistant_id: int, day: date) -> FlowDailyRollup:
    flow = flows.get(key)
    if flow is None:
        channel, model_id, language, flow_id = key
        flow = flows[key] = FlowDailyRollup(
            assistant_id=assistant_id,
            day=day,
            channel=channel,
            model_id=model_id,
            language=language,
            flow_id=flow_id,
        )
    return flow


def _add_flow(flow: FlowDailyRollup, figures: FlowFigures, session: Session) -> None:
    if figures.started:
        flow.sessions += 1
        flow.contained_sessions += 0 if session.handoff else 1
    flow.started += figures.started
    flow.completed += figures.completed
    flow.cancelled += figures.cancelled
    flow.handed_off += figures.handed_off
    flow.completed_sessions += 1 if figures.completed else 0
    flow.cancelled_sessions += 1 if figures.cancelled else 0
    flow.handed_off_sessions += 1 if figures.handed_off else 0


def _aggregate(assistant_id: int, day: date, criterion: SuccessCriterion | None) -> _Day:
    start, end = day_bounds(day)
    default = Assistant.objects.filter(pk=assistant_id).values_list("language", flat=True)
    sessions = Conversation.objects.filter(
        assistant_id=assistant_id, started_at__gte=start, started_at__lt=end
    )
    conversations = list(
        with_language(sessions, default.first() or "")
        .order_by("id")
        .values_list("id", "channel", "model_id", "user_message_count", "session_language")
    )
    groups: dict[tuple[str, str, str], _Group] = {}
    flows: dict[tuple[str, str, str, str], FlowDailyRollup] = {}
    facts = []
    for (pk, channel, model_id, user_messages, language), session in _sessions_of(conversations):
        key = (channel, model_id, language)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(
                DailyRollup(
                    assistant_id=assistant_id,
                    day=day,
                    channel=channel,
                    model_id=model_id,
                    language=language,
                    success_version=criterion.version if criterion else None,
                )
            )
        successful = success.judge(criterion, session) if criterion else None
        _add_session(group, session, user_messages)
        group.row.successful_sessions += 1 if successful else 0
        for flow_id, figures in session.flows.items():
            _add_flow(_flow_row(flows, (*key, flow_id), assistant_id, day), figures, session)
        facts.append(
            (
                SessionFacts(
                    conversation_id=pk,
                    assistant_id=assistant_id,
                    day=day,
                    channel=channel,
                    model_id=model_id,
                    language=language,
                    handoff=session.handoff,
                    fallback=session.fallback,
                    csat_answers=len(session.csat),
                    csat_satisfied=sum(1 for score in session.csat if score >= CSAT_SATISFIED),
                    successful=successful,
                ),
                dict(session.flows),
            )
        )
    return _Day(list(groups.values()), list(flows.values()), facts)


def _add_session(group: _Group, session: Session, user_messages: int) -> None:
    row = group.row
    row.sessions += 1
    row.user_messages += user_messages
    row.contained_sessions += 0 if session.handoff else 1
    row.handoff_sessions += 1 if session.handoff else 0
    row.fallback_sessions += 1 if session.fallback else 0
    row.csat_answers += len(session.csat)
    row.csat_satisfied += sum(1 for score in session.csat if score >= CSAT_SATISFIED)
    row.csat_score_sum += sum(session.csat)
    row.csat_sessions += 1 if session.csat else 0
    row.csat_satisfied_sessions += 1 if any(s >= CSAT_SATISFIED for s in session.csat) else 0
    row.latency_count += len(session.latencies_ms)
    row.latency_sum_ms += round(sum(session.latencies_ms))
    for value in session.latencies_ms:
        index = latency.bucket_of(value)
        group.counts[index] = group.counts.get(index, 0) + 1


def _replace_facts(assistant_id: int, day: date, facts: list) -> None:
    """The day's session facts in place of the ones stored (of the day, and of its sessions
    if they were counted on another day before their start moved)."""
    stored = SessionFacts.objects.filter(assistant_id=assistant_id, day=day)
    SessionFlowFacts.objects.filter(facts__in=stored.values("pk")).delete()
    stored.delete()
    pks = [row.conversation_id for row, _ in facts]
    for offset in range(0, len(pks), _CONVERSATIONS_PER_QUERY):
        moved = SessionFacts.objects.filter(
            conversation_id__in=pks[offset : offset + _CONVERSATIONS_PER_QUERY]
        )
        SessionFlowFacts.objects.filter(facts__in=moved.values("pk")).delete()
        moved.delete()
    rows = SessionFacts.objects.bulk_create([row for row, _ in facts], batch_size=2000)
    SessionFlowFacts.objects.bulk_create(
        [
            SessionFlowFacts(
                facts=row,
                flow_id=flow_id,
                started=figures.started,
                completed=figures.completed,
                cancelled=figures.cancelled,
                handed_off=figures.handed_off,
            )
            for row, (_, flows) in zip(rows, facts, strict=True)
            for flow_id, figures in flows.items()
        ],
        batch_size=5000,
    )


def recompute_day(assistant_id: int, day: date, versions: success.Versions | None = None) -> int:
    """Replace the assistant's rollup rows and session facts of `day` (settings.TIME_ZONE) in
    one transaction; returns the number of sessions counted."""
    versions = versions or success.Versions.of(assistant_id)
    computed = _aggregate(assistant_id, day, versions.in_force(day))
    groups, flows = computed.groups, computed.flows
    with transaction.atomic():
        DailyRollup.objects.filter(assistant_id=assistant_id, day=day).delete()
        FlowDailyRollup.objects.filter(assistant_id=assistant_id, day=day).delete()
        _replace_facts(assistant_id, day, computed.facts)
        for group in groups:
            group.row.latency_p50_ms, group.row.latency_p95_ms, group.row.latency_p99_ms = (
                latency.percentiles(group.counts)
            )
        DailyRollup.objects.bulk_create([group.row for group in groups])
        LatencyBucket.objects.bulk_create(
            [
                LatencyBucket(
                    rollup=group.row, bucket=index, upper_ms=latency.upper_of(index), count=count
                )
                for group in groups
                for index, count in sorted(group.counts.items())
            ]
        )
        FlowDailyRollup.objects.bulk_create(flows)
    return sum(group.row.sessions for group in groups)


def days_with_data(
    start: date, end: date, assistant_id: int | None = None
) -> set[tuple[int, date]]:
    """(assistant id, day) pairs from `start` to `end` (inclusive) that have sessions or
    rollup rows (a day whose sessions were deleted is recomputed to nothing)."""
    low, _ = day_bounds(start)
    _, high = day_bounds(end)
    sessions = Conversation.objects.filter(started_at__gte=low, started_at__lt=high)
    rows = DailyRollup.objects.filter(day__gte=start, day__lte=end)
    flows = FlowDailyRollup.objects.filter(day__gte=start, day__lte=end)
    if assistant_id is not None:
        sessions = sessions.filter(assistant_id=assistant_id)
        rows = rows.filter(assistant_id=assistant_id)
        flows = flows.filter(assistant_id=assistant_id)
    found = {
        (a, day_of(when))
        for a, when in sessions.values_list("assistant_id", "started_at").iterator(
            chunk_size=20_000
        )
    }
    found |= set(rows.values_list("assistant_id", "day").distinct())
    found |= set(flows.values_list("assistant_id", "day").distinct())
    return found


def recompute_range(start: date, end: date, assistant_id: int | None = None) -> int:
    """Recompute every day from `start` to `end` (inclusive); returns the days recomputed."""
    pairs = sorted(days_with_data(start, end, assistant_id), key=lambda p: (p[1], p[0]))
    with exclusive(wait=True):
        for pair in pairs:
            recompute_day(*pair)
    return len(pairs)


def touched_days(low_id: int, high_id: int) -> set[tuple[int, date]]:
    """The (assistant id, day) pairs that events with ids in (low_id, high_id] touch."""
    days: set[tuple[int, date]] = set()
    for start in range(low_id, high_id, SCAN_IDS):
        window = Event.objects.filter(id__gt=start, id__lte=min(start + SCAN_IDS, high_id))
        spans = (
            window.values_list(
                "conversation__assistant_id",
                "conversation__started_at",
                "conversation__last_event_at",
            )
            .distinct()
            .order_by()
        )
        for assistant_id, first, last in spans:
            if assistant_id is None:
                continue  # an event whose conversation was deleted
            day, final = day_of(first), day_of(last)
            while day <= final:
                days.add((assistant_id, day))
                day += timedelta(days=1)
        starts = window.filter(type="session_started").values_list(
            "conversation__assistant_id", "timestamp"
        )
        for assistant_id, when in starts:
            if assistant_id is not None:
                days.add((assistant_id, day_of(when) - timedelta(days=1)))
    return days


@dataclass
class RunReport:
    days: int = 0
    last_event_id: int = 0
    finished: bool = True


#: The PostgreSQL advisory lock that keeps two rollups from writing the same day at once.
LOCK_KEY = 0x616E616C79  # "analy"


@contextlib.contextmanager
def exclusive(*, wait: bool) -> Iterator[bool]:
    """Hold the rollup lock (PostgreSQL; SQLite has a single writer anyway). Yields False when
    `wait` is false and another rollup holds it."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            held = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def rollup_new_events(max_ids: int = MAX_IDS_PER_RUN) -> RunReport:
    """The periodic task's work (see the module docstring). A run that finds another one
    still at work (a long backlog outlasts the schedule's minute) leaves it alone."""
    with exclusive(wait=False) as held:
        if not held:
            return RunReport(finished=False)
        report = _rollup_new_events(max_ids)
        report.days += recompute_success()
        return report


def _rollup_new_events(max_ids: int) -> RunReport:
    cursor, _ = RollupCursor.objects.get_or_create(name=CURSOR)
    top = Event.objects.aggregate(top=Max("id"))["top"] or 0
    if top <= cursor.last_event_id:
        return RunReport(last_event_id=cursor.last_event_id)
    high = min(top, cursor.last_event_id + max_ids)
    low = max(cursor.last_event_id - OVERLAP_IDS, 0)
    days = touched_days(low, high)
    for assistant_id, day in sorted(days, key=lambda p: (p[1], p[0])):
        recompute_day(assistant_id, day)
    with transaction.atomic():
        locked = RollupCursor.objects.select_for_update().get(pk=cursor.pk)
        if locked.last_event_id < high:
            locked.last_event_id = high
            locked.save(update_fields=["last_event_id", "updated_at"])
    return RunReport(days=len(days), last_event_id=high, finished=high == top)


def recompute_success() -> int:
    """Recompute the days that the success criteria saved since the last run judge (see
    apps.analytics.success); returns the assistant-days recomputed."""
    waiting: dict[int, list[SuccessCriterion]] = defaultdict(list)
    for criterion in success.pending():
        waiting[criterion.assistant_id].append(criterion)
    done = 0
    for assistant_id, criteria in waiting.items():
        versions = success.Versions.of(assistant_id)
        first_day = versions.days[0] if versions.days else None
        today = timezone.localdate(timezone=timezone.get_default_timezone())
        if any(c.effective_day == first_day for c in criteria):
            start = _first_day_with_data(assistant_id) or today
        else:
            start = min(c.effective_day for c in criteria)
        pairs = sorted(days_with_data(start, max(today, start), assistant_id))
        for _, day in pairs:
            recompute_day(assistant_id, day, versions)
        log.info(
            "success criteria v%s of assistant %s: recomputed %s day(s) from %s",
            ", v".join(str(c.version) for c in criteria),
            assistant_id,
            len(pairs),
            start,
        )
        SuccessCriterion.objects.filter(pk__in=[c.pk for c in criteria]).update(
            recomputed_at=timezone.now()
        )
        done += len(pairs)
    return done


def _first_day_with_data(assistant_id: int) -> date | None:
    first = Conversation.objects.filter(assistant_id=assistant_id).aggregate(m=Min("started_at"))
    rolled = DailyRollup.objects.filter(assistant_id=assistant_id).aggregate(m=Min("day"))
    days = [d for d in (first["m"] and day_of(first["m"]), rolled["m"]) if d]
    return min(days) if days else None
