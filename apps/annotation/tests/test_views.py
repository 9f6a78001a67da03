"""The annotation pages, as each role uses them."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.annotation import services
from apps.annotation.models import Annotation, Batch
from apps.annotation.tests import factories as f
from apps.nlu.models import Entity, Example, Intent
from apps.projects.navigation import landing_url

Status = Annotation.Status


@pytest.fixture
def setup(assistant, make_user):
    Intent.objects.create(assistant=assistant, name="greet")
    Entity.objects.create(assistant=assistant, name="bill_type")
    conv = f.conversation(assistant)
    f.user_message(conv, "hello there", intent="greet", confidence=0.9)
    f.bot_message(conv, "Hi! How can I help?")
    f.user_message(conv, "pay my bill", intent="greet", confidence=0.3)
    f.user_message(conv, "=cmd|calc", intent="greet", confidence=0.2)
    return {
        "lead": make_user("lead", grants={assistant: [Role.LEAD_ANNOTATOR]}),
        "ann": make_user("ann", grants={assistant: [Role.ANNOTATOR]}),
        "other": make_user("other", grants={assistant: [Role.ANNOTATOR]}),
        "dev": make_user("dev", grants={assistant: [Role.DEVELOPER]}),
    }


def url(name, *args):
    return reverse(f"annotation:{name}", args=["alpha", *args])


def test_the_lead_sees_the_totals_and_assigns_a_batch(client, setup):
    client.force_login(setup["lead"])
    page = client.get(url("dashboard")).content.decode()
    assert 'data-total="messages">3<' in page and 'data-total="conversations">1<' in page
    form = {"keywords": "bill hello", "size": 5, "assignee": setup["ann"].pk}
    preview = client.post(url("dashboard"), {**form, "action": "preview"})
    assert "2 messages match" in preview.content.decode()
    assert not Batch.objects.exists()
    response = client.post(url("dashboard"), {**form, "action": "assign"})
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert batch.assignee == setup["ann"] and batch.annotations.count() == 2
    assert batch.filters == {"keywords": "bill hello", "size": 5}


def test_the_assignee_list_holds_only_annotators_of_the_assistant(client, setup, make_user):
    client.force_login(setup["lead"])
    analyst = make_user("analyst", Role.CONVERSATION_ANALYST)
    page = client.get(url("dashboard")).content.decode()
    assert "ann" in page and ">analyst<" not in page
    refused = client.post(url("dashboard"), {"size": 5, "assignee": analyst.pk})
    assert refused.status_code == 400
    assert not Batch.objects.exists()


def _batch(assistant, setup, assignee="ann"):
    return services.create_batch(
        assistant,
        services.BatchFilters(),
        assignee=setup[assignee],
        created_by=setup["lead"],
    )


def test_the_annotator_works_only_their_own_batch(client, assistant, setup):
    batch = _batch(assistant, setup)
    item = batch.annotations.get(text="pay my bill")
    client.force_login(setup["other"])
    assert client.get(url("inbox_item", item.pk)).status_code == 404
    assert "pay my bill" not in client.get(url("inbox")).content.decode()
    client.post(url("inbox"), {"ids": [item.pk], "action": "discard"})
    item.refresh_from_db()
    assert item.status == Status.PENDING
    client.force_login(setup["ann"])
    page = client.get(url("inbox_item", item.pk)).content.decode()
    assert "Hi! How can I help?" in page  # the conversation around it
    marked = client.post(
        url("inbox_entity", item.pk), {"start": 7, "end": 11, "entity": "bill_type"}
    )
    assert marked.status_code == 302
    saved = client.post(url("inbox_item", item.pk), {"intent": "pay_bill", "action": "save"})
    assert saved.status_code == 302
    item.refresh_from_db()
    assert (item.intent, item.status) == ("pay_bill", Status.SAVED)
    assert item.entities == [{"start": 7, "end": 11, "value": "bill", "entity": "bill_type"}]
    saved_tab = client.get(url("inbox") + "?tab=saved").content.decode()
    assert "pay my bill" in saved_tab


def test_bulk_accept_and_discard_in_the_inbox(client, assistant, setup):
    batch = _batch(assistant, setup)
    rows = batch.annotations
    client.force_login(setup["ann"])
    hello, bill = rows.get(text="hello there"), rows.get(text="pay my bill")
    client.post(url("inbox"), {"ids": [hello.pk, bill.pk], "action": "accept"})
    client.post(url("inbox"), {"ids": [rows.get(text="=cmd|calc").pk], "action": "discard"})
    statuses = dict(rows.values_list("text", "status"))
    assert statuses == {
        "hello there": Status.SAVED,
        "pay my bill": Status.SAVED,
        "=cmd|calc": Status.DISCARDED,
    }
    discarded = client.get(url("inbox") + "?tab=discarded").content.decode()
    assert "=cmd|calc" in discarded and "hello there" not in discarded


def test_the_lead_approves_and_the_examples_appear_once(client, assistant, setup):
    batch = _batch(assistant, setup)
    services.save(batch.annotations.exclude(text="=cmd|calc"), setup["ann"])
    services.discard(batch.annotations.filter(text="=cmd|calc"), setup["ann"])
    client.force_login(setup["lead"])
    bill = batch.annotations.get(text="pay my bill")
    client.post(url("review_item", bill.pk), {"intent": "pay_bill", "action": "approve"})
    client.post(url("review_batch", batch.pk), {"ids": [bill.pk + 0], "action": "approve"})
    hello = batch.annotations.get(text="hello there")
    client.post(url("review_batch", batch.pk), {"ids": [hello.pk], "action": "approve"})
    client.post(url("review_batch", batch.pk), {"action": "add"})
    client.post(url("review_batch", batch.pk), {"action": "add"})
    assert sorted(Example.objects.values_list("intent__name", "text")) == [
        ("greet", "hello there"),
        ("pay_bill", "pay my bill"),
    ]
    page = client.get(reverse("nlu:intent", args=["alpha", "pay_bill"])).content.decode()
    assert "pay my bill" in page
    assert "Reviewed by lead" in client.get(url("review_batch", batch.pk)).content.decode()


def test_history_filters_and_the_csv_export(client, assistant, setup):
    batch = _batch(assistant, setup)
    services.save(batch.annotations.filter(text="hello there"), setup["ann"])
    services.discard(batch.annotations.exclude(text="hello there"), setup["ann"])
    client.force_login(setup["lead"])
    page = client.get(url("history") + "?status=discarded").content.decode()
    assert "pay my bill" in page and "hello there" not in page
    low = client.get(url("history") + "?max_confidence=0.25").content.decode()
    assert "=cmd|calc" in low and "pay my bill" not in low
    response = client.get(url("history_export") + "?status=discarded")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["text"] for r in rows) == ["'=cmd|calc", "pay my bill"]  # no formula
    assert {r["status"] for r in rows} == {"discarded"}
    assert rows[0]["predicted_intent"] == "greet"


@pytest.mark.parametrize(
    "who,allowed",
    [
        ("ann", {"inbox"}),
        ("lead", {"inbox", "dashboard", "review_list", "history", "history_export"}),
        ("dev", {"dashboard", "review_list", "history", "history_export"}),
    ],
)
def test_each_role_opens_its_pages_only(client, setup, who, allowed):
    client.force_login(setup[who])
    for name in ("inbox", "dashboard", "review_list", "history", "history_export"):
        status = client.get(url(name)).status_code
        assert status == (200 if name in allowed else 403), (who, name, status)


def test_the_annotators_land_on_their_inbox_and_the_lead_on_the_dashboard(assistant, setup):
    assert landing_url(setup["ann"], assistant) == url("inbox")
    assert landing_url(setup["lead"], assistant) == url("dashboard")
