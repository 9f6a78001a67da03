"""The "used in" lists of intents, responses, actions and slots name the stories and rules that
use them, linking to the story's file on the Stories page, at the line that names the item."""

import html

import pytest

from apps.accounts.roles import Role
from apps.projects import content
from apps.projects.content.usages import distinct_flows, usages
from tests.support.rasa_projects import project_texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def bistro(make_assistant):
    assistant = make_assistant("bistro", mode="classic")
    content.import_files(assistant, project_texts("classic-forms"))
    return assistant


@pytest.fixture
def web(client, make_user):
    client.force_login(make_user("fb", Role.FLOW_BUILDER))
    return client


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_usages_name_the_stories_and_rules_with_their_file_and_line(bistro):
    rules = project_texts("classic-forms")["data/rules.yml"]
    found = usages(bistro)
    goodbye = [u for u in found[("intent", "goodbye")] if u.what == "rule"]
    assert [(u.story, u.file) for u in goodbye] == [("Say goodbye anytime", "data/rules.yml")]
    assert goodbye[0].line == line_of(rules, "intent: goodbye")
    assert any(u.what == "story" for u in found[("intent", "goodbye")])
    responses = {u.story for u in found[("response", "utter_greet")]}
    assert {"greet and start", "Welcome at the start of a conversation"} <= responses
    assert any(u.story for u in found[("action", "action_confirm_booking")])
    assert {"party_size", "outdoor"} <= {name for kind, name in found if kind == "slot"}


def test_a_list_shows_each_story_once(bistro):
    chips = distinct_flows(usages(bistro)[("intent", "book_table")])
    names = [u.story for u in chips if u.story]
    assert len(names) == len(set(names)) and "book directly after greeting" in names


def test_the_intent_page_lists_the_stories_linking_to_the_line(bistro, web):
    rules = project_texts("classic-forms")["data/rules.yml"]
    page = html.unescape(web.get("/a/bistro/nlu/intents/goodbye/").content.decode())
    line = line_of(rules, "intent: goodbye")
    assert f'href="/a/bistro/stories?file=data%2Frules.yml#L{line}">Say goodbye anytime</a>' in page
    assert "rule</span>" in page


def test_the_response_page_and_list_name_the_stories(bistro, web):
    page = web.get("/a/bistro/responses/utter_greet/").content.decode()
    assert "greet and start" in page and "Welcome at the start of a conversation" in page
    listing = web.get("/a/bistro/responses").content.decode()
    assert 'class="chip" href="/a/bistro/stories?file=data%2F' in listing


def test_the_stories_page_shows_the_file_with_numbered_lines(bistro, web):
    rules = project_texts("classic-forms")["data/rules.yml"]
    page = web.get("/a/bistro/stories").content.decode()
    assert "Say goodbye anytime" in page and "book directly after greeting" in page
    shown = web.get("/a/bistro/stories", {"file": "data/rules.yml"}).content.decode()
    line = line_of(rules, "intent: goodbye")
    assert f'<span id="L{line}">' in shown and "intent: goodbye" in html.unescape(shown)
    assert web.get("/a/bistro/stories", {"file": "domain.yml"}).status_code == 404


def test_an_assistant_without_stories_says_so(make_assistant, web):
    make_assistant("empty")
    page = web.get("/a/empty/stories").content.decode()
    assert "No stories or rules." in page
