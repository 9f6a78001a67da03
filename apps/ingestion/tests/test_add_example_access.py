"""Turning a user message into an NLU example shows the message, so it needs what looking at the
conversation needs (VIEW_CONVERSATIONS) as well as ANNOTATE: a write never needs less than a
look."""

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.ingestion.tests import factories
from apps.nlu.models import Example, Intent

ANNOTATING_ROLES = [Role.ANNOTATOR, Role.LEAD_ANNOTATOR, Role.NLU_EDITOR]


@pytest.fixture
def event(assistant):
    Intent.objects.create(assistant=assistant, name="transfer_money")
    return factories.stored_user_event(assistant)


def url_of(event):
    return reverse("ingestion:add_example", args=["alpha", event.conversation_id, event.pk])


@pytest.mark.parametrize("role", ANNOTATING_ROLES, ids=[r.value for r in ANNOTATING_ROLES])
@pytest.mark.parametrize("where", ["global", "on-alpha"])
def test_a_role_that_may_annotate_but_not_see_conversations_reads_and_adds_nothing(
    client, make_user, assistant, event, role, where
):
    if where == "global":
        user = make_user("annotating", role)
    else:
        user = make_user("annotating", grants={assistant: [role]})
    client.force_login(user)
    url = url_of(event)
    assert client.get(url).status_code == 403
    empty = client.post(url, {"intent": "", "example": ""})
    assert empty.status_code == 403
    assert "Joe" not in empty.content.decode()
    valid = client.post(url, {"intent": "transfer_money", "example": "send 5 to Ann"})
    assert valid.status_code == 403
    assert not Example.objects.exists()


def test_whoever_may_see_conversations_and_annotate_adds_the_example(
    client, make_user, assistant, event
):
    both = make_user("both", grants={assistant: [Role.CONVERSATION_VIEWER, Role.ANNOTATOR]})
    client.force_login(both)
    url = url_of(event)
    assert "Joe" in client.get(url).content.decode()
    response = client.post(url, {"intent": "transfer_money", "example": "send 5 to Ann"})
    assert response.status_code == 302
    assert Example.objects.get().text == "send 5 to Ann"


def test_seeing_conversations_is_not_enough_to_add_an_example(client, make_user, assistant, event):
    client.force_login(make_user("viewer", Role.CONVERSATION_VIEWER))
    url = url_of(event)
    assert client.get(url).status_code == 200
    assert client.post(url, {"intent": "transfer_money", "example": "x"}).status_code == 403
    assert not Example.objects.exists()
