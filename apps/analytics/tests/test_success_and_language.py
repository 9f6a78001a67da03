"""Success criteria, the language dimension and the session facts, against figures worked out by
hand from builders.day1_sessions() (see test_rollups.py for what each session does) and the
language sessions below."""

from datetime import date, datetime

import pytest
from django.utils import timezone

from apps.analytics import rollups, success
from apps.analytics.models import DailyRollup, SessionFacts, SessionFlowFacts, SuccessCriterion
from apps.analytics.tests.builders import DAY1, Chat, day1_sessions, day2_sessions, ingest
from apps.ingestion.models import Conversation
from apps.ingestion.selectors import with_language

D0, D1, D2 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def language_sessions() -> list[Chat]:
    """l1: metadata fr, then the language slot set to de: de (the slot wins).
    l2: metadata fr only: fr. l3: nothing: the assistant's default (en).
    l4: slot de, then reset to null: de. l5: slot es, then a message with metadata fr: es."""
    l1 = Chat("l1", DAY1.replace(hour=8), language="fr").start()
    l1.user("bonjour", "greet").slot("language", "de").bot("Hallo!", 100)
    l2 = Chat("l2", DAY1.replace(hour=8, minute=5), language="fr").start()
    l2.user("bonjour", "greet").bot("Bonjour !", 100)
    l3 = Chat("l3", DAY1.replace(hour=8, minute=10)).start()
    l3.user("hello", "greet").bot("Hi!", 100)
    l4 = Chat("l4", DAY1.replace(hour=8, minute=15)).start()
    l4.user("hallo", "greet").slot("language", "de").bot("Hallo!", 100).slot("language", None)
    l5 = Chat("l5", DAY1.replace(hour=8, minute=20)).start()
    l5.user("hola", "greet").slot("language", "es").bot("¡Hola!", 100)
    l5.language = "fr"
    l5.user("merci", "thanks").bot("De nada.", 100)
    return [l1, l2, l3, l4, l5]


def by_sender(queryset, column):
    return dict(queryset.values_list("conversation__sender_id", column))


def test_a_sessions_language_is_the_slot_else_the_metadata_else_the_default(assistant):
    ingest(*language_sessions())
    resolved = with_language(Conversation.objects.filter(assistant=assistant))
    assert dict(resolved.values_list("sender_id", "session_language")) == {
        "l1": "de",
        "l2": "fr",
        "l3": "en",
        "l4": "de",
        "l5": "es",
    }
    rollups.rollup_new_events()
    assert by_sender(SessionFacts.objects.all(), "language")["l5"] == "es"
    rows = {row.language: row.sessions for row in DailyRollup.objects.filter(day=D1)}
    assert rows == {"de": 2, "fr": 1, "en": 1, "es": 1}


def test_the_default_language_is_the_assistants(make_assistant):
    make_assistant("alpha", language="pt-BR")
    ingest(*language_sessions())
    rollups.rollup_new_events()
    assert by_sender(SessionFacts.objects.all(), "language")["l3"] == "pt-BR"


def test_session_facts_hold_what_each_session_counted_for(assistant):
    ingest(*day1_sessions())
    rollups.rollup_new_events()
    facts = {
        f.conversation.sender_id: f for f in SessionFacts.objects.select_related("conversation")
    }
    assert {
        s: (f.handoff, f.fallback, f.csat_answers, f.csat_satisfied) for s, f in facts.items()
    } == {
        "s1": (False, False, 1, 1),
        "s2": (True, False, 0, 0),
        "s3": (False, True, 1, 0),
        "s4": (True, True, 0, 0),
        "s5": (False, False, 0, 0),
    }
    assert all(f.successful is None and f.day == D1 for f in facts.values())  # no criterion yet
    runs = {
        (r.facts.conversation.sender_id, r.flow_id): (
            r.started,
            r.completed,
            r.cancelled,
            r.handed_off,
        )
        for r in SessionFlowFacts.objects.select_related("facts__conversation")
    }
    assert runs[("s1", "transfer_money")] == (1, 1, 0, 0)
    assert runs[("s2", "transfer_money")] == (1, 0, 0, 1)
    assert runs[("s3", "check_balance")] == (1, 0, 1, 0)
    row = DailyRollup.objects.get(day=D1, channel="rest", model_id="v1")
    assert (row.csat_sessions, row.csat_satisfied_sessions) == (1, 1)


def criterion(assistant, version, day, **conditions):
    return SuccessCriterion.objects.create(
        assistant=assistant, version=version, effective_day=day, **conditions
    )


def successful(day):
    return {
        f.conversation.sender_id
        for f in SessionFacts.objects.filter(day=day, successful=True).select_related(
            "conversation"
        )
    }


def test_each_day_is_judged_by_the_version_in_force(assistant):
    early = Chat("s0", datetime(2026, 3, 1, 12)).start()
    early.user("hi", "greet").bot("Hello!", 50)
    ingest(early, *day1_sessions(), *day2_sessions())
    rollups.rollup_new_events()
    # v1 from D1: no fallback (s1, s2, s5 of D1); v2 from D2: check_balance completed (s6).
    criterion(assistant, 1, D1, no_fallback=True)
    criterion(assistant, 2, D2, flow_id="check_balance", flow_outcome="completed")
    assert [c.version for c in success.pending()] == [1, 2]
    assert rollups.recompute_success() == 3  # every day with data: v1 is the first version
    assert not success.pending().exists()
    assert successful(D1) == {"s1", "s2", "s5"}
    assert successful(D2) == {"s6"}
    assert successful(D0) == {"s0"}  # before the first version: judged by it
    d1 = DailyRollup.objects.filter(day=D1)
    assert sum(r.successful_sessions for r in d1) == 3
    assert {r.success_version for r in d1} == {1}
    assert DailyRollup.objects.get(day=D2).success_version == 2


def test_the_conditions_combine(assistant):
    ingest(*day1_sessions())
    cases = [
        ({"flow_id": "transfer_money", "flow_outcome": "started"}, {"s1", "s2"}),
        ({"flow_id": "transfer_money", "no_handoff": True}, {"s1"}),
        ({"no_handoff": True, "no_fallback": True}, {"s1", "s5"}),
        ({"min_csat": 2}, {"s1", "s3"}),
        ({"min_csat": 3}, {"s1"}),
        ({"slot_name": "csat_score", "slot_value": "5"}, {"s1"}),
        ({"slot_name": "csat_score", "slot_value": "2"}, {"s3"}),
    ]
    for version, (conditions, expected) in enumerate(cases, start=1):
        SuccessCriterion.objects.all().delete()
        criterion(assistant, version, D1, **conditions)
        rollups.recompute_day(assistant.pk, D1)
        assert successful(D1) == expected, conditions


def test_a_later_version_recomputes_from_its_day_only(assistant):
    ingest(*day1_sessions(), *day2_sessions())
    criterion(assistant, 1, D1, no_fallback=True, recomputed_at=timezone.now())
    rollups.rollup_new_events()
    before = successful(D1)
    criterion(assistant, 2, D2, min_csat=5)
    assert rollups.recompute_success() == 1  # D2 (today is later; it has no data)
    assert successful(D1) == before == {"s1", "s2", "s5"}
    assert successful(D2) == set()  # s6 gave no CSAT answer


def test_saving_a_criterion_makes_the_next_version_in_force_from_today(assistant, make_user):
    ana = make_user("ana")
    first = success.save_criterion(assistant, ana, no_handoff=True)
    second = success.save_criterion(assistant, ana, min_csat=4, note="stricter")
    assert (first.version, second.version) == (1, 2)
    assert second.effective_day == timezone.localdate() and second.created_by == ana
    assert success.Versions.of(assistant.pk).in_force(timezone.localdate()) == second
    # Both took effect today: the days before are judged by today's last version.
    assert success.Versions.of(assistant.pk).in_force(D1) == second
    assert success.conditions(second) == ["CSAT answer of at least 4"]


def test_recomputing_a_range_recomputes_success(assistant):
    ingest(*day1_sessions())
    rollups.rollup_new_events()
    criterion(assistant, 1, D1, no_handoff=True, recomputed_at=timezone.now())
    assert successful(D1) == set()
    rollups.recompute_range(D1, D1)
    assert successful(D1) == {"s1", "s3", "s5"}


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo"])
def test_a_session_near_midnight_lands_on_the_same_day_in_the_chart_and_the_drill_down(
    settings, client, make_user, assistant, tz
):
    from apps.accounts.roles import Role

    settings.TIME_ZONE = tz
    # 03:30 UTC on March 3 is March 2 in New York; 14:30 UTC on March 2 is March 2 in Tokyo
    # too, but 15:30 UTC is March 3 there.
    at = datetime(2026, 3, 3, 3, 30) if tz == "America/New_York" else datetime(2026, 3, 2, 15, 30)
    expected = D1 if tz == "America/New_York" else D2
    chat = Chat("late", at).start()
    chat.user("hi", "greet").bot("Hello!", 50)
    ingest(chat)
    rollups.rollup_new_events()
    assert DailyRollup.objects.get().day == expected
    client.force_login(make_user("ana", grants={assistant: [Role.CONVERSATION_ANALYST]}))
    response = client.get("/a/alpha/analytics?period=custom&start=2026-03-02&end=2026-03-03")
    sessions = next(c["chart"] for c in response.context["charts"] if c["chart"].key == "sessions")
    counts = {row[0]: row[1] for row in sessions.rows}
    assert counts == {D1: int(expected == D1), D2: int(expected == D2)}
    for (day, count), link in zip(sessions.rows, sessions.links, strict=True):
        listed = [c.sender_id for c in client.get(link).context["rows"]]
        assert listed == (["late"] if day == expected else []), day
        assert count == len(listed)
