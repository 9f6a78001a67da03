"""Batches, labelling and the way into the training data."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest

from apps.accounts.roles import Role
from apps.annotation import services
from apps.annotation.models import Annotation, Batch
from apps.annotation.services import AnnotationRefused, BatchFilters
from apps.annotation.tests import factories as f
from apps.ingestion.models import Event
from apps.nlu.models import Example, Intent

Status = Annotation.Status


@pytest.fixture
def people(make_user, assistant, make_assistant):
    other = make_assistant("beta")
    return {
        "lead": make_user("lead", grants={assistant: [Role.LEAD_ANNOTATOR]}),
        "ann": make_user("ann", grants={assistant: [Role.ANNOTATOR]}),
        "global_ann": make_user("gann", Role.ANNOTATOR),
        "elsewhere": make_user("elsewhere", grants={other: [Role.ANNOTATOR]}),
        "analyst": make_user("analyst", grants={assistant: [Role.CONVERSATION_ANALYST]}),
    }


@pytest.fixture
def messages(assistant):
    """Five user messages over two days and two channels, one bot message, one payload."""
    Intent.objects.create(assistant=assistant, name="greet")
    Intent.objects.create(assistant=assistant, name="transfer")
    web = f.conversation(assistant, "web-1", "web")
    f.user_message(web, "hello there", intent="greet", confidence=0.95)
    f.bot_message(web, "Hi! How can I help?")
    f.user_message(
        web,
        "send 50 to Joe",
        intent="transfer",
        confidence=0.55,
        entities=[{"start": 11, "end": 14, "value": "Joe", "entity": "recipient"}],
    )
    f.user_message(web, "/greet", intent="greet", confidence=1.0)
    later = f.DAY + timedelta(days=1)
    phone = f.conversation(assistant, "tel-1", "twilio", started=later)
    f.user_message(phone, "hi", intent="greet", confidence=0.4)
    f.user_message(phone, "pay my bill", intent="pay_bill", confidence=0.3)
    f.user_message(phone, "what is my balance", intent="balance", confidence=0.8)
    return {"web": web, "phone": phone}


def build(assistant, people, **filters):
    filters.setdefault("size", 50)
    return services.create_batch(
        assistant, BatchFilters(**filters), assignee=people["ann"], created_by=people["lead"]
    )


def texts(batch):
    return sorted(batch.annotations.values_list("text", flat=True))


ALL = ["hello there", "hi", "pay my bill", "send 50 to Joe", "what is my balance"]


def test_the_totals_count_user_messages_and_conversations_not_yet_annotated(
    assistant, messages, people
):
    assert services.unannotated_totals(assistant) == (5, 2)  # the payload is no user's words
    build(assistant, people, channel="web")
    assert services.unannotated_totals(assistant) == (3, 1)


@pytest.mark.parametrize(
    "filters,expected",
    [
        ({}, ALL),
        ({"start": date(2026, 3, 11)}, ["hi", "pay my bill", "what is my balance"]),
        ({"end": date(2026, 3, 10)}, ["hello there", "send 50 to Joe"]),
        ({"start": date(2026, 3, 10), "end": date(2026, 3, 10)}, ["hello there", "send 50 to Joe"]),
        ({"channel": "twilio"}, ["hi", "pay my bill", "what is my balance"]),
        ({"keywords": "JOE balance"}, ["send 50 to Joe", "what is my balance"]),
        ({"intent": "greet"}, ["hello there", "hi"]),
        ({"min_confidence": 0.5}, ["hello there", "send 50 to Joe", "what is my balance"]),
        ({"max_confidence": 0.4}, ["hi", "pay my bill"]),
        ({"min_confidence": 0.5, "max_confidence": 0.9}, ["send 50 to Joe", "what is my balance"]),
        ({"channel": "web", "keywords": "hello"}, ["hello there"]),
    ],
)
def test_each_filter_selects_its_messages(assistant, messages, people, filters, expected):
    assert texts(build(assistant, people, **filters)) == expected


def test_the_sample_size_caps_the_batch_with_messages_that_match(assistant, messages, people):
    batch = build(assistant, people, channel="twilio", size=2)
    assert batch.annotations.count() == 2
    assert set(texts(batch)) <= {"hi", "pay my bill", "what is my balance"}


def test_a_message_already_in_a_batch_is_not_offered_again(assistant, messages, people):
    first = build(assistant, people, size=3)
    second = build(assistant, people)
    assert not set(texts(first)) & set(texts(second))
    assert sorted(texts(first) + texts(second)) == ALL
    with pytest.raises(AnnotationRefused, match="No message"):
        build(assistant, people)
    assert Batch.objects.count() == 2
    assert (first.number, second.number) == (1, 2)


def test_a_discarded_message_is_not_offered_again_either(assistant, messages, people):
    batch = build(assistant, people, keywords="hello")
    services.discard(batch.annotations.all(), people["ann"])
    assert "hello there" not in texts(build(assistant, people))


def test_a_batch_goes_only_to_someone_who_may_annotate_on_the_assistant(
    assistant, messages, people
):
    for who in ("elsewhere", "analyst"):
        with pytest.raises(AnnotationRefused, match="may not annotate"):
            services.create_batch(
                assistant, BatchFilters(), assignee=people[who], created_by=people["lead"]
            )
    assert not Batch.objects.exists()
    annotators = set(services.annotators(assistant).values_list("username", flat=True))
    assert {"ann", "gann", "lead"} <= annotators
    assert not {"elsewhere", "analyst"} & annotators
    batch = services.create_batch(
        assistant, BatchFilters(), assignee=people["global_ann"], created_by=people["lead"]
    )
    assert batch.assignee == people["global_ann"]


def test_the_annotation_starts_from_the_prediction(assistant, messages, people):
    batch = build(assistant, people)
    joe = batch.annotations.get(text="send 50 to Joe")
    assert (joe.predicted_intent, joe.intent, joe.confidence) == ("transfer", "transfer", 0.55)
    assert joe.entities == [{"start": 11, "end": 14, "value": "Joe", "entity": "recipient"}]
    assert joe.channel == "web" and joe.status == Status.PENDING
    # A predicted intent the assistant does not have is not proposed.
    assert batch.annotations.get(text="pay my bill").intent == ""


def test_save_needs_an_intent_and_discard_does_not(assistant, messages, people):
    batch = build(assistant, people)
    ann = people["ann"]
    outcome = services.save(batch.annotations.all(), ann)
    assert outcome.changed == 3  # "pay my bill" and "what is my balance" have no intent yet
    assert "2 message(s) without an intent" in outcome.notes[0]
    bill = batch.annotations.get(text="pay my bill")
    services.relabel(bill, intent="pay_bill")
    assert services.save(batch.annotations.filter(pk=bill.pk), ann).changed == 1
    balance = batch.annotations.get(text="what is my balance")
    assert services.discard(batch.annotations.filter(pk=balance.pk), ann).changed == 1
    statuses = dict(batch.annotations.values_list("text", "status"))
    assert statuses["pay my bill"] == Status.SAVED
    assert statuses["what is my balance"] == Status.DISCARDED
    assert batch.annotations.get(text="hi").annotated_by == ann


def test_entities_are_marked_and_removed(assistant, messages, people):
    batch = build(assistant, people, keywords="bill")
    bill = batch.annotations.get()
    services.mark_entity(bill, start=7, end=11, entity="bill_type")
    services.mark_entity(bill, start=0, end=3, entity="verb", role="action")
    bill.refresh_from_db()
    assert [e["value"] for e in bill.entities] == ["pay", "bill"]
    assert bill.entities[0]["role"] == "action"
    services.remove_entity(bill, 0)
    bill.refresh_from_db()
    assert bill.entities == [{"start": 7, "end": 11, "value": "bill", "entity": "bill_type"}]


def _worked(assistant, people):
    """A batch of every message: three saved and approved, the rest discarded."""
    batch = build(assistant, people)
    rows = batch.annotations
    services.relabel(rows.get(text="pay my bill"), intent="pay_bill")
    services.mark_entity(rows.get(text="pay my bill"), start=7, end=11, entity="bill_type")
    services.save(rows.filter(text__in=["hello there", "hi", "pay my bill"]), people["ann"])
    services.discard(rows.filter(text__in=["send 50 to Joe", "what is my balance"]), people["ann"])
    services.approve(rows.all(), people["lead"])
    return batch


def test_approved_annotations_become_examples_once(assistant, messages, people):
    batch = _worked(assistant, people)
    added = services.add_to_training_data(batch, people["lead"])
    assert sorted(e.text for e in added.examples) == ["hello there", "hi", "pay my bill"]
    assert added.created_intents == ["pay_bill"]
    bill = Example.objects.get(text="pay my bill")
    assert bill.intent.name == "pay_bill"
    assert bill.entities == [{"start": 7, "end": 11, "value": "bill", "entity": "bill_type"}]
    assert not Example.objects.filter(text="send 50 to Joe").exists()
    batch.refresh_from_db()
    assert batch.reviewed_by == people["lead"]
    assert batch.annotations.get(text="hi").example.intent.name == "greet"
    # Again: nothing more, and the annotations are final.
    again = services.add_to_training_data(batch, people["lead"])
    assert again.examples == [] and Example.objects.count() == 3
    with pytest.raises(AnnotationRefused, match="reviewed"):
        services.relabel(batch.annotations.get(text="hi"), intent="transfer")
    assert services.discard(batch.annotations.all(), people["lead"]).changed == 0
    assert services.approve(batch.annotations.all(), people["lead"]).changed == 0


def test_only_saved_annotations_are_approved(assistant, messages, people):
    batch = build(assistant, people, channel="web")
    services.save(batch.annotations.filter(text="hi"), people["ann"])  # not in this batch
    assert services.approve(batch.annotations.all(), people["lead"]).changed == 0
    services.save(batch.annotations.filter(text="hello there"), people["ann"])
    assert services.approve(batch.annotations.all(), people["lead"]).changed == 1


def test_a_batch_with_messages_in_the_inbox_is_not_reviewed(assistant, messages, people):
    batch = build(assistant, people)
    services.save(batch.annotations.filter(text="hi"), people["ann"])
    services.approve(batch.annotations.all(), people["lead"])
    with pytest.raises(AnnotationRefused, match="still in the inbox"):
        services.add_to_training_data(batch, people["lead"])
    assert not Example.objects.filter(text="hi").exists()
    batch.refresh_from_db()
    assert not batch.reviewed


def test_an_example_the_intent_has_already_is_skipped_with_a_note(assistant, messages, people):
    greet = Intent.objects.get(name="greet")
    Example.objects.create(intent=greet, text="hi")
    batch = build(assistant, people, intent="greet")
    services.save(batch.annotations.all(), people["ann"])
    services.approve(batch.annotations.all(), people["lead"])
    added = services.add_to_training_data(batch, people["lead"])
    assert [e.text for e in added.examples] == ["hello there"]
    assert "already has the example \u201chi\u201d" in added.notes[0]
    hi = batch.annotations.get(text="hi")
    assert hi.example is None and hi.added_at is not None and "Skipped" in hi.note
    assert greet.examples.filter(text="hi").count() == 1


def test_an_invalid_new_intent_adds_nothing_at_all(assistant, messages, people, monkeypatch):
    from apps.projects.content.checks import ContentInvalid

    batch = _worked(assistant, people)

    def refuse(assistant, *, name, description=""):
        raise ContentInvalid([])

    monkeypatch.setattr(services.nlu_services, "create_intent", refuse)
    with pytest.raises(ContentInvalid):
        services.add_to_training_data(batch, people["lead"])
    assert not Example.objects.exists()
    batch.refresh_from_db()
    assert not batch.reviewed
    assert not batch.annotations.filter(added_at__isnull=False).exists()


def test_the_history_filters(assistant, messages, people):
    batch = _worked(assistant, people)
    rows = services.history
    assert {a.text for a in rows(assistant, services.HistoryFilters(status="discarded"))} == {
        "send 50 to Joe",
        "what is my balance",
    }
    by_intent = rows(assistant, services.HistoryFilters(intent="greet"))
    assert {a.text for a in by_intent} == {"hello there", "hi"}
    confident = rows(assistant, services.HistoryFilters(min_confidence=0.5, max_confidence=0.9))
    assert {a.text for a in confident} == {"send 50 to Joe", "what is my balance"}
    assert rows(assistant, services.HistoryFilters()).count() == batch.annotations.count()


# ---------------------------------------------------------------------------------------------
# Sampling (random windows of event ids instead of a random sort of the whole table)


@pytest.fixture
def many(assistant, make_assistant):
    """1,200 events of three conversations: 400 user messages on "web" (every third event),
    the rest bot messages, "/payloads" and another assistant's user messages."""
    web = f.conversation(assistant, "web-many", "web")
    phone = f.conversation(assistant, "tel-many", "twilio")
    other = f.conversation(make_assistant("gamma"), "other", "web")
    rows = []
    for n in range(1200):
        conv, kind, text = [
            (web, "user", f"web message {n}"),
            (phone, "user", f"phone message {n}") if n % 2 else (web, "user", f"/payload{n}"),
            (other, "user", f"elsewhere {n}") if n % 2 else (web, "bot", f"bot {n}"),
        ][n % 3]
        rows.append(
            Event(
                conversation=conv,
                type=kind,
                timestamp=f.DAY + timedelta(seconds=n),
                position=n,
                fingerprint=uuid.uuid4(),
                data={"event": kind, "text": text},
                text=text,
                intent="greet",
                confidence=0.5,
            )
        )
    Event.objects.bulk_create(rows)
    return Event.objects.filter(conversation=web, type="user", text__startswith="web")


def test_the_sample_respects_the_filters_and_the_size_and_skips_batched_messages(
    assistant, many, people
):
    taken = build(assistant, people, channel="web", keywords="message", size=100)
    taken_ids = set(taken.annotations.values_list("event_id", flat=True))
    assert len(taken_ids) == 100 and taken_ids <= set(many.values_list("id", flat=True))
    matching = services.matching_messages(assistant, BatchFilters(channel="web"))
    for seed in range(20):
        picked = services.sample_messages(matching, 25, random.Random(seed))
        assert len(picked) == len(set(picked)) == 25
        rows = list(many.filter(id__in=picked))
        assert len(rows) == 25  # web, from this assistant, the user's words
        assert not set(picked) & taken_ids


def test_every_matching_message_can_be_sampled(assistant, many):
    matching = services.matching_messages(assistant, BatchFilters(channel="web"))
    seen: set[int] = set()
    for seed in range(200):
        seen.update(services.sample_messages(matching, 10, random.Random(seed)))
    assert seen == set(many.values_list("id", flat=True))


def test_a_sparse_match_is_read_whole(assistant, many):
    rare = many.order_by("id")[:3]
    for event in rare:
        event.intent = "rare"
        event.save(update_fields=["intent"])
    matching = services.matching_messages(assistant, BatchFilters(intent="rare"))
    picked = services.sample_messages(matching, 50, random.Random(1))
    assert sorted(picked) == sorted(e.pk for e in rare)
