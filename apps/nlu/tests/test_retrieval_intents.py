"""Retrieval intents on the NLU pages: ``chitchat`` in the domain, examples under
``chitchat/ask_name``, answered by ``utter_chitchat/ask_name``. The sub-intents are grouped under
their parent, their pages work (the names hold a slash), they can be created and edited, and the
assistant exports as it was imported."""

import pytest
from django.urls import reverse

from apps.nlu.models import Example, Intent
from apps.projects import content
from engine import formats
from engine.formats.project import project_data

pytestmark = pytest.mark.django_db

DOMAIN = """\
version: "3.1"
intents:
  - greet
  - chitchat
responses:
  utter_greet:
    - text: Hello!
  utter_chitchat/ask_name:
    - text: I am the help desk bot.
  utter_chitchat/ask_weather:
    - text: I cannot look outside.
"""
NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hi
  - intent: chitchat/ask_name
    examples: |
      - what is your name?
      - who are you
  - intent: chitchat/ask_weather
    examples: |
      - is it raining
"""
FILES = {"domain.yml": DOMAIN, "data/nlu.yml": NLU}


@pytest.fixture
def helpdesk(make_assistant):
    assistant = make_assistant("helpdesk")
    content.import_files(assistant, FILES)
    return assistant


def page(client, view, *, args) -> str:
    response = client.get(reverse(view, args=args))
    assert response.status_code == 200
    return response.content.decode()


def test_the_intents_list_groups_sub_intents_under_their_parent(ed_client, helpdesk):
    html = page(ed_client, "nlu:intents", args=[helpdesk.name])
    sub_list = html.split('aria-label="Sub-intents of chitchat">', 1)[1].split("</ul>", 1)[0]
    assert (
        '<a href="/a/helpdesk/nlu/intents/chitchat/ask_name/"><code>chitchat/ask_name</code></a>'
        ' <span class="muted">2 examples</span>'
    ) in sub_list
    assert '<code>chitchat/ask_weather</code></a> <span class="muted">1 example</span>' in sub_list
    # The parent's row counts its sub-intents' examples; they get no rows of their own.
    assert "</ul></td>\n      <td>3</td>" in html
    assert html.count("<tr><td>") == 2
    assert "<code>greet</code></a></td>\n      <td>1</td>" in html


def test_the_parent_page_lists_each_sub_intent_with_examples_and_response(ed_client, helpdesk):
    html = page(ed_client, "nlu:intent", args=[helpdesk.name, "chitchat"])
    section = html.split("<h2>Sub-intents</h2>", 1)[1].split("</section>", 1)[0]
    first, second = section.split('<article class="card sub-intent">')[1:]
    assert "<code>chitchat/ask_name</code>" in first
    assert '<li class="example">what is your name?</li>' in first
    assert "/a/helpdesk/responses/utter_chitchat/ask_name/" in first
    assert "<li>I am the help desk bot.</li>" in first
    assert "<li>I cannot look outside.</li>" in second


def test_a_sub_intent_page_shows_its_parent_and_its_answer(ed_client, helpdesk):
    html = page(ed_client, "nlu:intent", args=[helpdesk.name, "chitchat/ask_name"])
    assert '<a href="/a/helpdesk/nlu/intents/chitchat/">chitchat</a> /' in html
    assert "<h1>chitchat/ask_name</h1>" in html
    answer = html.split('<section class="card retrieval-response">', 1)[1]
    assert "<li>I am the help desk bot.</li>" in answer.split("</section>", 1)[0]
    assert "who are you" in html


def test_a_sub_intent_without_a_response_says_so(ed_client, helpdesk):
    without = {**FILES, "domain.yml": DOMAIN.split("  utter_chitchat/ask_weather:")[0]}
    content.import_files(helpdesk, without)
    html = page(ed_client, "nlu:intent", args=[helpdesk.name, "chitchat/ask_weather"])
    assert "There is no response <code>utter_chitchat/ask_weather</code> yet" in html


def test_examples_of_a_sub_intent_are_added_and_deleted_on_its_page(ed_client, helpdesk):
    url = reverse("nlu:intent", args=[helpdesk.name, "chitchat/ask_name"])
    response = ed_client.post(url, {"text": "- how should I call you\n"})
    assert response.status_code == 302
    assert response["Location"] == url
    sub = Intent.objects.get(assistant=helpdesk, name="chitchat/ask_name")
    assert [e.text for e in sub.examples.all()][-1] == "how should I call you"
    example = Example.objects.get(intent=sub, text="who are you")
    ed_client.post(reverse("nlu:example_delete", args=[helpdesk.name, example.pk]))
    exported = formats.load_project_files(content.export_files(helpdesk))
    block = next(b for b in exported.nlu.intents if b.intent == "chitchat/ask_name")
    assert [e.text for e in block.examples] == ["what is your name?", "how should I call you"]


def test_a_sub_intent_is_created_on_its_parent_page(ed_client, helpdesk):
    url = reverse("nlu:intent", args=[helpdesk.name, "chitchat"])
    response = ed_client.post(url, {"sub-name": "ask_age", "sub-text": "how old are you\n- age?"})
    assert response.status_code == 302
    assert response["Location"] == reverse("nlu:intent", args=[helpdesk.name, "chitchat/ask_age"])
    sub = Intent.objects.get(assistant=helpdesk, name="chitchat/ask_age")
    assert not sub.in_domain
    assert [e.text for e in sub.examples.all()] == ["how old are you", "age?"]
    exported = formats.load_project_files(content.export_files(helpdesk))
    assert [i.name for i in exported.domain.intents] == ["greet", "chitchat"]
    block = next(b for b in exported.nlu.intents if b.intent == "chitchat/ask_age")
    assert [e.text for e in block.examples] == ["how old are you", "age?"]
    listed = page(ed_client, "nlu:intents", args=[helpdesk.name])
    assert '<code>chitchat/ask_age</code></a> <span class="muted">2 examples</span>' in listed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sub-name": "ask_name", "sub-text": "hello?"}, "already a sub-intent called"),
        ({"sub-name": "ask me", "sub-text": "hello?"}, "no spaces"),
        ({"sub-name": "ask/deeper", "sub-text": "hello?"}, "no spaces"),
        ({"sub-name": "ask_age", "sub-text": "  \n"}, "This field is required"),
    ],
)
def test_a_bad_sub_intent_is_refused(ed_client, helpdesk, data, message):
    url = reverse("nlu:intent", args=[helpdesk.name, "chitchat"])
    response = ed_client.post(url, data)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert Intent.objects.filter(assistant=helpdesk).count() == 4


def test_a_sub_intent_cannot_have_sub_intents(ed_client, helpdesk):
    url = reverse("nlu:intent", args=[helpdesk.name, "chitchat/ask_name"])
    response = ed_client.post(url, {"sub-name": "deeper", "sub-text": "hello?"})
    assert response.status_code == 400
    assert "cannot have sub-intents" in response.content.decode()
    assert not Intent.objects.filter(name="chitchat/ask_name/deeper").exists()


def test_viewers_see_the_grouping_but_no_forms(client, make_user, helpdesk):
    from apps.accounts.roles import Role

    client.force_login(make_user("ann", Role.ANNOTATOR))
    html = page(client, "nlu:intent", args=[helpdesk.name, "chitchat"])
    assert "<code>chitchat/ask_name</code>" in html
    assert "New sub-intent" not in html
    # An annotator cannot open the CMS, so the response is named, not linked.
    assert "/responses/utter_chitchat/ask_name/" not in html
    response = client.post(
        reverse("nlu:intent", args=[helpdesk.name, "chitchat"]),
        {"sub-name": "ask_age", "sub-text": "how old are you"},
    )
    assert response.status_code == 403


def test_a_retrieval_assistant_round_trips_unchanged(helpdesk):
    before = formats.load_project_files(FILES)
    after = formats.load_project_files(content.export_files(helpdesk))
    assert project_data(after) == project_data(before)


def test_the_responses_of_sub_intents_open_in_the_cms(ed_client, helpdesk):
    html = page(ed_client, "flows:responses", args=[helpdesk.name])
    assert "utter_chitchat/ask_name" in html
    page(ed_client, "flows:response_edit", args=[helpdesk.name, "utter_chitchat/ask_name"])
