"""View-only roles get read-only pages: nothing that looks editable and ends in a 403.

Pages that only change something (new, duplicate, rename, delete, add or delete a step) answer
403 to a role that may not change it; pages that show content render it with every field
disabled, no submit button, and a note that says which role could edit and who can grant it.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.accounts.tests.pages import controls

# (url name, extra args, query string)
CHANGE_ONLY_FLOW_PAGES = [
    ("flows:create", [], ""),
    ("flows:duplicate", ["order"], ""),
    ("flows:rename", ["order"], ""),
    ("flows:delete", ["order"], ""),
    ("flows:step_add", ["order"], "?list=steps&index=1"),
    ("flows:step_add", ["order"], "?list=steps&index=1&kind=message"),
    ("flows:step_delete", ["order"], "?path=steps[0]"),
    ("flows:response_create", [], ""),
    ("flows:response_delete", ["utter_done"], ""),
    ("flows:slot_create", [], ""),
    ("flows:slot_delete", ["amount"], ""),
    ("flows:action_create", [], ""),
    ("flows:action_delete", ["action_pay"], ""),
]

VIEWABLE_FLOW_PAGES = [
    ("flows:list", [], ""),
    ("flows:detail", ["order"], ""),
    ("flows:start", ["order"], ""),
    ("flows:step_edit", ["order"], "?path=steps[0]"),
    ("flows:step_edit", ["order"], "?path=steps[1]"),
    ("flows:history", ["order"], ""),
    ("flows:responses", [], ""),
    ("flows:response_edit", ["utter_done"], ""),
    ("flows:slots", [], ""),
    ("flows:slot_edit", ["tier"], ""),
    ("flows:actions", [], ""),
    ("flows:action_edit", ["action_pay"], ""),
]

VIEWABLE_NLU_PAGES = [
    ("nlu:intents", [], ""),
    ("nlu:intent", ["order"], ""),
    ("nlu:entities", [], ""),
    ("nlu:synonyms", [], ""),
    ("nlu:regexes", [], ""),
    ("nlu:lookups", [], ""),
]

# Links to pages the view-only role would only meet as a 403.
CHANGE_ONLY_PATHS = ("/new", "/duplicate", "/rename", "/delete", "/steps/add", "/steps/delete")

FLOW_VIEWERS = [Role.BUSINESS_USER, Role.NLU_EDITOR]
NLU_VIEWERS = [Role.BUSINESS_USER, Role.ANNOTATOR]


def url(shop, name, args, query):
    return reverse(name, args=[shop.name, *args]) + query


def login(client, make_user, role, *, granted_on=None):
    grants = {granted_on: [role]} if granted_on is not None else None
    user = make_user(f"u-{role.value}", *([] if granted_on else [role]), grants=grants)
    client.force_login(user)
    return user


@pytest.mark.parametrize("role", FLOW_VIEWERS, ids=lambda r: r.value)
@pytest.mark.parametrize(("name", "args", "query"), CHANGE_ONLY_FLOW_PAGES)
def test_pages_that_only_change_flows_answer_403_to_view_only_roles(
    client, make_user, shop, role, name, args, query
):
    login(client, make_user, role)
    assert client.get(url(shop, name, args, query)).status_code == 403


@pytest.mark.parametrize("role", NLU_VIEWERS, ids=lambda r: r.value)
def test_deleting_an_intent_answers_403_to_view_only_roles(client, make_user, shop, role):
    login(client, make_user, role)
    response = client.get(reverse("nlu:intent_delete", args=[shop.name, "order"]))
    assert response.status_code == 403


@pytest.mark.parametrize(("name", "args", "query"), CHANGE_ONLY_FLOW_PAGES)
def test_an_editor_still_opens_them(ed_client, shop, name, args, query):
    assert ed_client.get(url(shop, name, args, query)).status_code == 200


def change_links(html: str) -> list[str]:
    hrefs = [part.split('"', 1)[0] for part in html.split('href="')[1:]]
    return [h for h in hrefs if h.startswith("/a/") and h.split("?")[0].endswith(CHANGE_ONLY_PATHS)]


def assert_read_only(html: str, *, note: str):
    found = controls(html)
    assert not found.usable, f"usable controls on a read-only page: {found.usable}"
    assert not found.htmx_writes, f"elements that would write: {found.htmx_writes}"
    assert not change_links(html), "links to pages that would answer 403"
    assert note in html


@pytest.mark.parametrize("role", FLOW_VIEWERS, ids=lambda r: r.value)
@pytest.mark.parametrize(("name", "args", "query"), VIEWABLE_FLOW_PAGES)
def test_flow_pages_render_read_only_for_view_only_roles(
    client, make_user, shop, role, name, args, query
):
    login(client, make_user, role)
    response = client.get(url(shop, name, args, query))
    assert response.status_code == 200
    assert_read_only(
        response.content.decode(),
        note=f"Your role {role.label} on shop lets you view this, not change it.",
    )


@pytest.mark.parametrize("role", NLU_VIEWERS, ids=lambda r: r.value)
@pytest.mark.parametrize(("name", "args", "query"), VIEWABLE_NLU_PAGES)
def test_nlu_pages_render_read_only_for_view_only_roles(
    client, make_user, shop, lexicons, role, name, args, query
):
    login(client, make_user, role)
    response = client.get(url(shop, name, args, query))
    assert response.status_code == 200
    assert_read_only(
        response.content.decode(),
        note=f"Your role {role.label} on shop lets you view this, not change it.",
    )


def test_the_note_names_the_roles_that_may_edit_and_who_grants_them(client, make_user, shop):
    login(client, make_user, Role.BUSINESS_USER, granted_on=shop)
    html = client.get(reverse("flows:slot_edit", args=[shop.name, "tier"])).content.decode()
    assert (
        "Your role Business User on shop lets you view this, not change it. To edit the flows, "
        "responses, slots and custom actions, ask a SuperUser of shop or a global SuperUser "
        "for the role Developer, Flow Builder or SuperUser."
    ) in html
    html = client.get(reverse("nlu:intent", args=[shop.name, "order"])).content.decode()
    assert "for the role Developer, Flow Builder, NLU Editor, Lead Annotator or SuperUser." in html


@pytest.mark.parametrize(("name", "args", "query"), VIEWABLE_FLOW_PAGES)
def test_an_editor_gets_the_same_pages_editable(ed_client, shop, name, args, query):
    html = ed_client.get(url(shop, name, args, query)).content.decode()
    assert "lets you view this" not in html
    if name in ("flows:list", "flows:detail", "flows:responses", "flows:slots", "flows:actions"):
        assert change_links(html), "the editor's page links to no new/add page"
    elif name != "flows:history":  # one version only: nothing to restore
        assert controls(html).usable, "the editor's page has no usable control"


@pytest.mark.parametrize(("name", "args", "query"), VIEWABLE_NLU_PAGES)
def test_an_nlu_editor_gets_the_nlu_pages_editable(
    client, make_user, shop, lexicons, name, args, query
):
    login(client, make_user, Role.NLU_EDITOR)
    html = client.get(url(shop, name, args, query)).content.decode()
    assert "lets you view this" not in html
    assert controls(html).usable


def test_the_canvas_step_panel_is_read_only_for_a_business_user(client, make_user, shop):
    """What a click on a canvas node loads (htmx): a "Step" panel, not an "Edit step" form."""
    login(client, make_user, Role.BUSINESS_USER)
    panel = client.get(
        reverse("flows:step_edit", args=[shop.name, "order"]) + "?path=steps[0]",
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "<h2>Step</h2>" in panel and "Edit step" not in panel
    assert "<html" not in panel
    assert_read_only(panel, note="Your role Business User on shop lets you view this")


def test_conversation_viewers_see_tags_and_add_example_read_only(client, make_user, shop):
    from apps.ingestion.tests import factories

    login(client, make_user, Role.CONVERSATION_VIEWER)
    event = factories.stored_user_event(shop)
    html = client.get(reverse("ingestion:tags", args=[shop.name])).content.decode()
    assert_read_only(html, note="Your role Conversation Viewer on shop lets you view this")
    page = client.get(
        reverse("ingestion:add_example", args=[shop.name, event.conversation_id, event.pk])
    ).content.decode()
    assert_read_only(page, note="To add user messages to the training data, ask a SuperUser")
