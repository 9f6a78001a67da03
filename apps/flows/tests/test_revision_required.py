"""Every flow-changing request of the builder names the revision of the flow its page was drawn
at: one that names none (or something that is not a revision) is refused with 400, and one made
on an old revision with 409 and the fresh state; in neither case is anything applied. Without
JavaScript too: the form pages carry the revision they were drawn at."""

import re

import pytest
from django.urls import reverse

from apps.flows import services
from apps.flows.models import Flow, FlowVersion
from apps.flows.services import patterns
from apps.flows.tests.conftest import drawn

pytestmark = pytest.mark.django_db

STALE = "This flow changed since you opened it."
MISSING = "names no revision of the flow"


def flow_of(shop, name="order") -> Flow:
    return Flow.objects.get(assistant=shop, name=name)


def snapshot(shop) -> list:
    """Everything an applied edit would change: the flows and their history."""
    flows = Flow.objects.filter(assistant=shop).order_by("pk")
    versions = FlowVersion.objects.filter(assistant=shop).order_by("pk")
    return [
        [(f.name, f.revision, f.definition, f.published_definition) for f in flows],
        [(v.flow_name, v.summary) for v in versions],
    ]


def url(shop, name, flow="order", **query):
    base = reverse(f"flows:{name}", args=[shop.name, flow])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def restore_url(shop, flow="order"):
    version = FlowVersion.objects.filter(assistant=shop, flow_name=flow).last()
    return reverse("flows:restore", args=[shop.name, flow, version.pk])


def other_change(shop, flow="order"):
    """The flow changes another way (another person, another tab)."""
    services.edit_steps(
        flow_of(shop, flow), lambda s: [*s, {"action": "utter_cancelled"}], user=None, summary="x"
    )


# Each flow-changing request with what its form posts besides the hidden fields, and the step
# path it edits (its form names the step too).
EDITS = [
    ("step_add", {"list": "steps", "index": 2, "kind": "message"}, {"response": "utter_done"}),
    ("step_add", {"list": "steps", "index": 2, "kind": "goto"}, {"target": "END"}),
    ("step_edit", {"path": "steps[1]"}, {"response": "utter_cancelled"}),
    ("step_delete", {"path": "steps[1]"}, {}),
    ("start", {}, {"description": "Changed", "guard": "always"}),
]


def _fields(shop, query) -> dict:
    return drawn(shop, "order", query.get("path"))


@pytest.mark.parametrize(("name", "query", "data"), EDITS)
@pytest.mark.parametrize("htmx", [True, False])
def test_a_canvas_edit_without_a_revision_is_a_400_and_not_applied(
    ed_client, shop, name, query, data, htmx
):
    before = snapshot(shop)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    fields = {k: v for k, v in _fields(shop, query).items() if k != "revision"}
    response = ed_client.post(url(shop, name, **query), {**data, **fields}, **headers)
    assert response.status_code == 400
    page = response.content.decode()
    assert MISSING in page and "Nothing was changed" in page
    assert snapshot(shop) == before
    # The same with a revision that is not a number.
    response = ed_client.post(
        url(shop, name, **query), {**data, **fields, "revision": "7x"}, **headers
    )
    assert response.status_code == 400
    assert "The revision &#x27;7x&#x27; is not a revision of the flow" in response.content.decode()
    assert snapshot(shop) == before
    # With the revision (and step) the form was drawn with, it is stored.
    response = ed_client.post(url(shop, name, **query), {**data, **_fields(shop, query)}, **headers)
    assert response.status_code in (204, 302), response.content.decode()[:3000]
    assert flow_of(shop).revision == before[0][0][1] + 1


@pytest.mark.parametrize("name", ["step_edit", "step_delete"])
def test_a_step_edit_that_does_not_name_its_step_is_a_400(ed_client, shop, name):
    before = snapshot(shop)
    response = ed_client.post(
        url(shop, name, path="steps[1]"),
        {"response": "utter_cancelled", "revision": flow_of(shop).revision},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "does not name the step" in response.content.decode()
    assert snapshot(shop) == before


def test_a_preview_without_a_revision_is_refused_too(ed_client, shop):
    response = ed_client.post(
        url(shop, "step_add", list="steps", index=2, kind="message"),
        {"response": "utter_done"},
        HTTP_HX_REQUEST="true",
        HTTP_X_STUDIO_PREVIEW="1",
    )
    assert response.status_code == 400 and MISSING in response.content.decode()


def _undoable(ed_client, shop):
    ed_client.post(
        url(shop, "step_add", list="steps", index=2, kind="message"),
        {"response": "utter_cancelled", **drawn(shop)},
    )


@pytest.mark.parametrize("name", ["undo", "redo"])
def test_undo_and_redo_without_a_revision_are_a_400(ed_client, shop, name):
    _undoable(ed_client, shop)
    if name == "redo":
        ed_client.post(url(shop, "undo"), drawn(shop))
    before = snapshot(shop)
    for data in ({}, {"revision": "last"}):
        response = ed_client.post(url(shop, name), data)
        assert response.status_code == 400
        assert "Nothing was changed" in response.content.decode()
        assert snapshot(shop) == before
    assert ed_client.post(url(shop, name), drawn(shop)).status_code == 302
    assert snapshot(shop) != before


PAGES = [
    ("rename", lambda shop: url(shop, "rename", flow="helper"), {"name": "pay_helper"}),
    ("delete", lambda shop: url(shop, "delete", flow="helper"), {"confirm_name": "helper"}),
    ("restore", lambda shop: restore_url(shop, "helper"), {}),
]


@pytest.mark.parametrize(("name", "make_url", "data"), PAGES)
def test_the_flow_pages_without_a_revision_are_a_400(ed_client, shop, name, make_url, data):
    other_change(shop, "helper")  # so that an older version can be restored
    target = make_url(shop)
    before = snapshot(shop)
    for extra in ({}, {"revision": "-1"}):
        response = ed_client.post(target, {**data, **extra})
        assert response.status_code == 400, name
        page = response.content.decode()
        assert 'id="revision-missing"' in page and "Nothing was changed" in page
        assert snapshot(shop) == before
    response = ed_client.post(target, {**data, **drawn(shop, "helper")})
    assert response.status_code == 302
    assert snapshot(shop) != before


def test_the_canvas_publish_needs_the_revision_it_was_drawn_at(ed_client, shop):
    target = reverse("flows:flow_status", args=[shop.name])
    data = {"publish_one": "order", "back": "canvas"}
    before = snapshot(shop)
    assert ed_client.post(target, data).status_code == 400
    assert snapshot(shop) == before
    old = flow_of(shop).revision
    other_change(shop)
    page = ed_client.post(target, {**data, "revision": old}, follow=True).content.decode()
    assert STALE in page and "Nothing was published" in page
    assert flow_of(shop).published_definition is None
    ed_client.post(target, {**data, **drawn(shop)})
    assert flow_of(shop).published_definition == flow_of(shop).definition


def test_a_pattern_reset_needs_the_revision_it_was_drawn_at(ed_client, shop):
    patterns.customise(shop, "pattern_chitchat")
    target = reverse("flows:pattern_reset", args=[shop.name, "pattern_chitchat"])
    page = ed_client.get(target).content.decode()
    revision = re.search(r'name="revision" value="(\d+)"', page)[1]
    assert ed_client.post(target).status_code == 400
    other_change(shop, "pattern_chitchat")
    page = ed_client.post(target, {"revision": revision}, follow=True).content.decode()
    assert STALE in page and "Nothing was reset" in page
    assert Flow.objects.filter(assistant=shop, name="pattern_chitchat").exists()
    ed_client.post(target, drawn(shop, "pattern_chitchat"))
    assert not Flow.objects.filter(assistant=shop, name="pattern_chitchat").exists()


# -- without JavaScript: the form pages carry the revision they were drawn at


def hidden_fields(page: str, form_marker: str) -> dict:
    """The hidden revision and step fields of the form that contains `form_marker`."""
    start = page.rindex("<form", 0, page.index(form_marker))
    form = page[start : page.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="(revision|step)" value="([^"]*)"', form))


NO_JS_FORMS = [
    (
        "step_edit",
        {"path": "steps[1]"},
        'name="response"',
        {"response": "utter_cancelled"},
    ),
    (
        "step_add",
        {"list": "steps", "index": 1, "kind": "message"},
        'name="response"',
        {"response": "utter_cancelled"},
    ),
    ("step_delete", {"path": "steps[0]"}, 'class="danger">Delete</button>', {}),
    ("start", {}, 'name="description"', {"description": "Changed", "guard": "always"}),
]


@pytest.mark.parametrize(("name", "query", "marker", "data"), NO_JS_FORMS)
def test_a_no_js_panel_posted_after_the_flow_moved_on_is_refused(
    ed_client, shop, name, query, marker, data
):
    # The whole page with the panel open, as a browser without JavaScript gets it.
    page = ed_client.get(url(shop, name, **query)).content.decode()
    assert 'id="canvas"' in page
    fields = hidden_fields(page, marker)
    assert fields["revision"] == str(flow_of(shop).revision)
    other_change(shop)
    before = snapshot(shop)
    response = ed_client.post(url(shop, name, **query), {**data, **fields})
    assert response.status_code == 409
    page = response.content.decode()
    # The stale page, with the fresh canvas: the step the other change added is drawn.
    assert STALE in page and 'id="canvas"' in page and "utter_cancelled" in page
    assert snapshot(shop) == before


def test_a_no_js_rename_delete_or_restore_posted_after_the_flow_moved_on_is_refused(
    ed_client, shop
):
    other_change(shop, "helper")
    pages = {
        "rename": (url(shop, "rename", flow="helper"), {"name": "pay_helper"}, 'name="name"'),
        "delete": (
            url(shop, "delete", flow="helper"),
            {"confirm_name": "helper"},
            'name="confirm_name"',
        ),
    }
    drawn_pages = {k: ed_client.get(u).content.decode() for k, (u, _, _) in pages.items()}
    history = ed_client.get(url(shop, "history", flow="helper")).content.decode()
    restore = restore_url(shop, "helper")
    restore_fields = hidden_fields(history, f'action="{restore}"')
    other_change(shop, "helper")
    before = snapshot(shop)
    for key, (target, data, marker) in pages.items():
        fields = hidden_fields(drawn_pages[key], marker)
        response = ed_client.post(target, {**data, **fields})
        assert response.status_code == 409, key
        page = response.content.decode()
        assert STALE in page and f"Nothing was {key}d" in page
        # The page drawn again carries the fresh revision.
        assert hidden_fields(page, marker)["revision"] == str(flow_of(shop, "helper").revision)
    page = ed_client.post(restore, restore_fields, follow=True).content.decode()
    assert STALE in page and "Nothing was restored" in page
    assert snapshot(shop) == before


def test_the_start_form_drawn_again_after_an_inline_intent_keeps_its_revision(ed_client, shop):
    # The start panel was drawn at `old`; the flow moves on; an intent is created from the
    # panel (drawing it again with what was typed): its Save is still an edit made at `old`.
    old = flow_of(shop).revision
    other_change(shop)
    typed = {"description": "Typed on the old page", "guard": "always", "revision": old}
    response = ed_client.post(
        reverse("flows:inline_intent", args=[shop.name, "order"]),
        {**typed, "new_intent-name": "order_pizza", "new_intent-examples": "a pizza"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert hidden_fields(page, 'name="description"')["revision"] == str(old)
    before = snapshot(shop)
    saved = ed_client.post(
        reverse("flows:start", args=[shop.name, "order"]),
        {**typed, "trigger-intent": "order_pizza"},
        HTTP_HX_REQUEST="true",
    )
    assert saved.status_code == 409 and STALE in saved.content.decode()
    assert snapshot(shop) == before


def test_the_no_js_links_that_open_a_panel_carry_the_revision_and_are_refused_when_old(
    ed_client, shop
):
    page = ed_client.get(reverse("flows:detail", args=[shop.name, "order"])).content.decode()
    revision = flow_of(shop).revision
    link = re.search(r'class="gap-add" href="([^"]+)"', page)[1].replace("&amp;", "&")
    assert f"revision={revision}" in link
    assert ed_client.get(link).status_code == 200
    other_change(shop)
    response = ed_client.get(link)
    assert response.status_code == 409
    assert STALE in response.content.decode() and 'id="canvas"' in response.content.decode()


def stable_state(shop):
    return list(
        FlowVersion.objects.filter(assistant=shop).values_list("flow_name", "summary", "stable")
    )


def test_saving_or_reverting_to_a_stable_version_without_a_revision_is_a_400(ed_client, shop):
    save = reverse("flows:save_stable", args=[shop.name, "order"])
    assert ed_client.post(save, {"comment": "good", **drawn(shop)}).status_code == 302
    saved = FlowVersion.objects.get(assistant=shop, flow_name="order", stable=True)
    other_change(shop)
    revert = reverse("flows:revert_stable", args=[shop.name, "order", saved.pk])
    before, stable_before = snapshot(shop), stable_state(shop)
    for target, data in ((save, {"comment": "again"}), (revert, {})):
        for extra in ({}, {"revision": "x"}):
            response = ed_client.post(target, {**data, **extra})
            assert response.status_code == 400, target
            assert 'id="revision-missing"' in response.content.decode()
            assert snapshot(shop) == before and stable_state(shop) == stable_before
    assert ed_client.post(revert, drawn(shop)).status_code == 302
    assert flow_of(shop).definition == saved.definition
