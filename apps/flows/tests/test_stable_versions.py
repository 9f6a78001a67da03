"""Issue 19, item 1: stable versions of a flow: save one with a comment (canvas header, history
page), see it badged in the history, revert to it as a recorded, revision-checked, undoable
edit."""

import copy
import re

import pytest
from django.urls import reverse

from apps.flows import services
from apps.flows.models import Flow, FlowVersion
from apps.flows.services import stable
from apps.flows.tests.conftest import drawn

pytestmark = pytest.mark.django_db


def _flow(assistant, name="order") -> Flow:
    return Flow.objects.get(assistant=assistant, name=name)


def _edit_on_canvas(client, assistant, flow: Flow, steps: list) -> Flow:
    """Change the flow's steps through the canvas's step editor path (a stored edit that the
    session can undo) by saving its definition as the builder does."""
    definition = copy.deepcopy(flow.definition)
    definition["steps"] = steps
    return services.save_flow(flow, definition, user=None, summary="Edited the steps")


def _save_stable(client, assistant, flow: Flow, comment: str, **extra):
    return client.post(
        reverse("flows:save_stable", args=[assistant.name, flow.name]),
        {"comment": comment, "revision": flow.revision, **extra},
        follow=True,
    )


def test_saving_a_stable_version_marks_the_current_state_with_its_comment(ed_client, shop, editor):
    flow = _flow(shop)
    before = FlowVersion.objects.filter(assistant=shop, flow_name="order").count()
    page = _save_stable(ed_client, shop, flow, "Reviewed with legal").content.decode()
    assert "Saved flow order as a stable version" in page
    # The history's latest entry (the current state) is the one marked: no new entry.
    assert FlowVersion.objects.filter(assistant=shop, flow_name="order").count() == before
    version = stable.last_stable(flow)
    assert version.definition == flow.definition
    assert (version.stable_comment, version.stable_by) == ("Reviewed with legal", editor)
    # The canvas says so, and the history badges it.
    canvas = ed_client.get(reverse("flows:detail", args=["shop", "order"])).content.decode()
    assert "Reviewed with legal" in canvas and 'id="stable-current">stable</span>' in canvas
    history = ed_client.get(reverse("flows:history", args=["shop", "order"])).content.decode()
    assert '<span class="badge badge-stable">stable</span>' in history
    assert "(saved by fb): Reviewed with legal" in history


def test_a_stable_version_needs_a_comment_and_a_change_and_the_revision_drawn(ed_client, shop):
    flow = _flow(shop)
    page = _save_stable(ed_client, shop, flow, "   ").content.decode()
    assert "Say what this stable version is (a comment)" in page
    assert stable.last_stable(flow) is None
    _save_stable(ed_client, shop, flow, "First")
    again = _save_stable(ed_client, shop, _flow(shop), "Second").content.decode()
    assert "is unchanged since its stable version of" in again
    assert list(stable.stable_versions(shop, "order").values_list("stable_comment", flat=True)) == [
        "First"
    ]
    # Drawn at an older revision: refused, nothing marked.
    stale_rev = flow.revision
    edited = _edit_on_canvas(ed_client, shop, _flow(shop), [{"action": "utter_done"}])
    answer = ed_client.post(
        reverse("flows:save_stable", args=["shop", "order"]),
        {"comment": "Late", "revision": stale_rev},
        follow=True,
    ).content.decode()
    assert "This flow changed since you opened it." in answer
    assert stable.last_stable(edited).stable_comment == "First"


def test_the_history_page_saves_a_stable_version_too(ed_client, shop):
    flow = _flow(shop)
    response = _save_stable(ed_client, shop, flow, "From the history", back="history")
    assert response.redirect_chain[-1][0] == reverse("flows:history", args=["shop", "order"])
    assert "From the history" in response.content.decode()


def test_reverting_to_a_stable_version_is_a_recorded_undoable_edit(ed_client, shop):
    flow = _flow(shop)
    _save_stable(ed_client, shop, flow, "Good one")
    good = copy.deepcopy(flow.definition)
    version = stable.last_stable(flow)
    # Edit the draft on the canvas (an edit this session can undo).
    edited = ed_client.post(
        reverse("flows:step_delete", args=["shop", "order"]) + "?path=steps[0]",
        drawn(shop, "order", "steps[0]"),  # the revision and the step's id, as the form has
    )
    assert edited.status_code == 302, edited.content.decode()[:500]
    flow = _flow(shop)
    assert flow.definition != good
    drawn_at = flow.revision

    url = reverse("flows:revert_stable", args=["shop", "order", version.pk])
    stale = ed_client.post(url, {"revision": drawn_at - 1}, follow=True).content.decode()
    assert "This flow changed since you opened it." in stale
    assert _flow(shop).definition != good

    page = ed_client.post(url, {"revision": drawn_at}, follow=True).content.decode()
    flow = _flow(shop)
    assert flow.definition == good
    latest = FlowVersion.objects.filter(assistant=shop, flow_name="order").order_by("-id")[0]
    assert re.fullmatch(
        r"Reverted to stable version of \d{4}-\d\d-\d\d \d\d:\d\d: Good one", latest.summary
    )
    assert latest.summary in page
    assert not latest.stable  # the revert is an edit; the stable version stays the one marked
    # Undo on the canvas takes the revert back.
    assert 'aria-label="Undo: Reverted to stable version of' in page
    ed_client.post(reverse("flows:undo", args=["shop", "order"]), {"revision": flow.revision})
    assert _flow(shop).definition != good
    # Reverting when the flow already is as the stable version is said, and changes nothing.
    ed_client.post(url, {"revision": _flow(shop).revision})
    count = FlowVersion.objects.filter(assistant=shop, flow_name="order").count()
    again = ed_client.post(url, {"revision": _flow(shop).revision}, follow=True).content.decode()
    assert "is already as its stable version of" in again
    assert FlowVersion.objects.filter(assistant=shop, flow_name="order").count() == count


def test_only_stable_entries_can_be_reverted_to(ed_client, shop):
    flow = _flow(shop)
    plain = FlowVersion.objects.filter(assistant=shop, flow_name="order").first()
    page = ed_client.post(
        reverse("flows:revert_stable", args=["shop", "order", plain.pk]),
        {"revision": flow.revision},
        follow=True,
    ).content.decode()
    assert "That entry of the history is not a stable version of this flow." in page


def test_a_stable_version_that_no_longer_fits_the_assistant_is_not_restored(ed_client, shop):
    """The stable version linked to a flow that has been deleted since: the revert is checked
    like any edit, and refused naming the missing flow."""
    order = _flow(shop)
    linked = _edit_on_canvas(ed_client, shop, order, [{"collect": "amount"}, {"link": "helper"}])
    _save_stable(ed_client, shop, linked, "Hands over to helper")
    version = stable.last_stable(linked)
    unlinked = _edit_on_canvas(ed_client, shop, _flow(shop), [{"action": "utter_done"}])
    services.delete_flow(_flow(shop, "helper"))
    page = ed_client.post(
        reverse("flows:revert_stable", args=["shop", "order", version.pk]),
        {"revision": unlinked.revision},
        follow=True,
    ).content.decode()
    assert "cannot be restored" in page and "helper" in page
    assert _flow(shop).definition == unlinked.definition


def test_people_who_may_only_look_see_stable_versions_but_cannot_save_them(client, make_user, shop):
    from apps.accounts.roles import Role

    flow = _flow(shop)
    stable.save_stable(flow, user=None, comment="Signed off")
    client.force_login(make_user("viewer", Role.BUSINESS_USER))
    history = client.get(reverse("flows:history", args=["shop", "order"])).content.decode()
    assert "Signed off" in history and "badge-stable" in history
    assert "Save stable version" not in history and "Revert to this stable" not in history
    refused = client.post(
        reverse("flows:save_stable", args=["shop", "order"]),
        {"comment": "Sneaky", "revision": flow.revision},
    )
    assert refused.status_code == 403
