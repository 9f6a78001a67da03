"""Edits that cannot corrupt a flow (issue 17): the revision every edit names, stored as a
compare-and-swap; steps named by id as well as path; a step added after a jump is reached, and a
step nothing reaches is an error; undo and redo; history entries that name steps."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from apps.flows import services
from apps.flows import steps as step_ops
from apps.flows.models import Flow, FlowVersion
from apps.flows.tests.conftest import DOMAIN, FLOWS, NLU
from apps.projects import content
from apps.projects.content.checks import ContentInvalid

pytestmark = pytest.mark.django_db

STALE = "This flow changed since you opened it."


def flow_of(shop, name="order") -> Flow:
    return Flow.objects.get(assistant=shop, name=name)


def add_url(shop, list_path="steps", index=2, kind="message", flow="order"):
    url = reverse("flows:step_add", args=[shop.name, flow])
    return f"{url}?list={list_path}&index={index}&kind={kind}"


def edit_url(shop, path, flow="order"):
    return reverse("flows:step_edit", args=[shop.name, flow]) + f"?path={path}"


def delete_url(shop, path, flow="order"):
    return reverse("flows:step_delete", args=[shop.name, flow]) + f"?path={path}"


# -- the revision


def test_every_stored_change_moves_the_revision_on(shop):
    start = flow_of(shop).revision
    services.edit_steps(
        flow_of(shop), lambda s: [*s, {"action": "utter_cancelled"}], user=None, summary="x"
    )
    assert flow_of(shop).revision == start + 1
    # An import makes the rows anew: the revision goes on, so a page drawn before is stale.
    content.import_files(shop, {"domain.yml": DOMAIN, "data/flows.yml": FLOWS, "data/nlu.yml": NLU})
    assert flow_of(shop).revision == start + 2
    services.rename_flow(flow_of(shop), name="order2")
    assert flow_of(shop, "order2").revision == start + 3


def test_the_store_is_a_compare_and_swap(shop):
    # Two requests that read the same revision: the second to store is refused, and its
    # change is not applied.
    first, second = flow_of(shop), flow_of(shop)
    services.edit_steps(
        first, lambda s: [*s, {"action": "utter_cancelled"}], user=None, summary="a"
    )
    with pytest.raises(services.StaleFlow):
        services.edit_steps(second, lambda s: s[:1], user=None, summary="b")
    assert [s.get("action") for s in flow_of(shop).definition["steps"]] == [
        None,
        "utter_done",
        "utter_cancelled",
    ]
    assert FlowVersion.objects.filter(assistant=shop, flow_name="order", summary="b").count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_racing_edits_cannot_both_win(shop):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs a database with row locks")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def run(summary: str) -> None:
        flow = flow_of(shop)
        barrier.wait()
        try:
            services.edit_steps(
                flow, lambda s: [*s, {"action": "utter_cancelled"}], user=None, summary=summary
            )
            results.append("stored")
        except services.StaleFlow:
            results.append("stale")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["stale", "stored"]
    assert len(flow_of(shop).definition["steps"]) == 3


def test_an_edit_on_an_old_revision_is_refused_and_not_applied(ed_client, shop):
    old = flow_of(shop).revision
    ed_client.post(add_url(shop), {"response": "utter_cancelled", "revision": old})
    assert flow_of(shop).revision == old + 1
    steps = flow_of(shop).definition["steps"]
    for url, data in [
        (add_url(shop), {"response": "utter_done"}),
        (edit_url(shop, "steps[1]"), {"response": "utter_cancelled", "step": "order_1_utter_done"}),
        (delete_url(shop, "steps[1]"), {"step": "order_1_utter_done"}),
        (
            reverse("flows:start", args=[shop.name, "order"]),
            {"description": "x", "guard": "always"},
        ),
    ]:
        response = ed_client.post(url, {**data, "revision": old}, HTTP_HX_REQUEST="true")
        assert response.status_code == 409, url
        page = response.content.decode()
        assert STALE in page
        assert reverse("flows:detail", args=[shop.name, "order"]) in page
    assert flow_of(shop).definition["steps"] == steps
    # Without htmx the answer is the whole fresh canvas with the message in its panel.
    page = ed_client.post(
        delete_url(shop, "steps[1]"), {"revision": old, "step": "order_1_utter_done"}
    ).content.decode()
    assert STALE in page and 'id="canvas"' in page


def test_a_panel_asked_for_on_an_old_revision_says_so(ed_client, shop):
    old = flow_of(shop).revision
    services.edit_steps(flow_of(shop), lambda s: s[1:], user=None, summary="x")
    response = ed_client.get(
        edit_url(shop, "steps[0]"), HTTP_HX_REQUEST="true", HTTP_X_FLOW_REVISION=str(old)
    )
    assert response.status_code == 409 and STALE in response.content.decode()


def test_the_panel_forms_carry_the_revision_and_the_step(ed_client, shop):
    flow = flow_of(shop)
    page = ed_client.get(edit_url(shop, "steps[1]"), HTTP_HX_REQUEST="true").content.decode()
    assert f'name="revision" value="{flow.revision}"' in page
    assert 'name="step" value="order_1_utter_done"' in page
    page = ed_client.get(delete_url(shop, "steps[0]"), HTTP_HX_REQUEST="true").content.decode()
    assert 'name="step" value="order_0_collect_amount"' in page
    page = ed_client.get(
        reverse("flows:start", args=[shop.name, "order"]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'name="revision" value="{flow.revision}"' in page


def test_an_edit_whose_path_holds_another_step_is_refused(ed_client, shop):
    # Same revision, but the step named is not the one at the path (a page that drew another
    # flow state, or a forged path): nothing is deleted.
    flow = flow_of(shop)
    response = ed_client.post(
        delete_url(shop, "steps[1]"),
        {"revision": flow.revision, "step": "order_0_collect_amount"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert len(flow_of(shop).definition["steps"]) == 2
    response = ed_client.post(
        delete_url(shop, "steps[1]"),
        {"revision": flow.revision, "step": "order_1_utter_done"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert flow_of(shop).definition["steps"] == [{"collect": "amount"}]


def test_step_id_at_names_explicit_and_generated_ids():
    steps = [{"collect": "a"}, {"id": "done", "action": "utter_done"}]
    assert step_ops.step_id_at(steps, "steps[0]", "f") == "f_0_collect_a"
    assert step_ops.step_id_at(steps, "steps[1]", "f") == "done"
    with pytest.raises(step_ops.StepPathError):
        step_ops.step_id_at(steps, "steps[2]", "f")


# -- reachability (D3)


def test_a_step_appended_after_a_branch_end_is_reached():
    logic = {
        "noop": True,
        "next": [{"if": "slots.ok", "then": [{"action": "a", "next": "END"}]}, {"else": "END"}],
    }
    result = step_ops.insert_step([logic], "steps[0].next[0].then", 1, {"action": "b"})
    assert result[0]["next"][0]["then"] == [{"action": "a"}, {"action": "b", "next": "END"}]


def test_a_step_appended_after_the_flows_last_end_is_reached():
    result = step_ops.insert_step(
        [{"collect": "x"}, {"action": "a", "next": "END"}], "steps", 2, {"action": "b"}
    )
    assert result == [{"collect": "x"}, {"action": "a"}, {"action": "b", "next": "END"}]
    result = step_ops.insert_logic(
        [{"action": "a", "next": "END"}],
        "steps",
        1,
        {"noop": True, "next": [{"if": "slots.ok", "then": "END"}]},
    )
    assert result[0] == {"action": "a"}


def test_appending_after_a_branch_on_the_canvas_stores_a_valid_flow(ed_client, shop):
    flow = flow_of(shop)
    services.edit_steps(
        flow,
        lambda s: [
            s[0],
            {
                "noop": True,
                "next": [
                    {"if": "slots.confirmed", "then": [{"action": "utter_done", "next": "END"}]},
                    {"else": "END"},
                ],
            },
        ],
        user=None,
        summary="x",
    )
    response = ed_client.post(
        add_url(shop, "steps[1].next[0].then", 1),
        {"response": "utter_cancelled", "revision": flow_of(shop).revision},
    )
    assert response.status_code == 302
    then = flow_of(shop).definition["steps"][1]["next"][0]["then"]
    assert then == [{"action": "utter_done"}, {"action": "utter_cancelled", "next": "END"}]


def test_a_step_nothing_reaches_is_an_error_at_its_path(shop):
    flow = flow_of(shop)
    definition = {
        **flow.definition,
        "steps": [{"collect": "amount", "next": "END"}, {"action": "utter_done"}],
    }
    with pytest.raises(ContentInvalid) as info:
        services.save_flow(flow, definition, user=None, summary="x")
    (problem,) = [p for p in info.value.problems if "never reached" in p.message]
    assert problem.path == "flows.order.steps[1]" and problem.severity == "error"
    # A jump to it makes it reachable.
    definition["steps"][0]["next"] = "done"
    definition["steps"][1]["id"] = "done"
    services.save_flow(flow, definition, user=None, summary="x")


def test_the_canvas_highlights_a_step_nothing_reaches(ed_client, shop):
    # Stored behind the checks' back (as an old import might have), the canvas shows it.
    flow = flow_of(shop)
    flow.definition["steps"] = [{"collect": "amount", "next": "END"}, {"action": "utter_done"}]
    flow.save()
    page = ed_client.get(reverse("flows:detail", args=[shop.name, "order"])).content.decode()
    card = page[page.index('id="step-order_1_utter_done"') - 200 :]
    card = card[: card.index("</ul>")]
    assert "has-problems" in card and "this step is never reached" in card


# -- undo and redo


def _canvas(client, shop) -> str:
    return client.get(reverse("flows:detail", args=[shop.name, "order"])).content.decode()


def _post(client, shop, name):
    revision = flow_of(shop).revision
    return client.post(reverse(f"flows:{name}", args=[shop.name, "order"]), {"revision": revision})


def test_undo_and_redo_the_sessions_edits(ed_client, shop):
    original = flow_of(shop).definition["steps"]
    assert 'id="undo-button" disabled' in _canvas(ed_client, shop)
    ed_client.post(
        add_url(shop), {"response": "utter_cancelled", "revision": flow_of(shop).revision}
    )
    after_add = flow_of(shop).definition["steps"]
    ed_client.post(
        edit_url(shop, "steps[0]"),
        {"slot": "confirmed", "revision": flow_of(shop).revision, "step": "order_0_collect_amount"},
    )
    page = _canvas(ed_client, shop)
    assert "Undo: Edited collect confirmed" in page and 'id="redo-button" disabled' in page

    assert _post(ed_client, shop, "undo").status_code == 302
    assert flow_of(shop).definition["steps"] == after_add
    assert "Undo: Added message utter_cancelled" in _canvas(ed_client, shop)
    _post(ed_client, shop, "undo")
    assert flow_of(shop).definition["steps"] == original
    assert 'id="undo-button" disabled' in _canvas(ed_client, shop)

    _post(ed_client, shop, "redo")
    assert flow_of(shop).definition["steps"] == after_add
    summaries = [v.summary for v in FlowVersion.objects.filter(assistant=shop, flow_name="order")]
    assert summaries[:3] == [
        "Redo: Added message utter_cancelled",
        "Undo: Added message utter_cancelled",
        "Undo: Edited collect confirmed",
    ]
    # A new edit ends what can be redone.
    ed_client.post(
        add_url(shop, index=0), {"response": "utter_done", "revision": flow_of(shop).revision}
    )
    assert 'id="redo-button" disabled' in _canvas(ed_client, shop)


def test_undo_never_throws_away_someone_elses_change(ed_client, shop):
    ed_client.post(
        add_url(shop), {"response": "utter_cancelled", "revision": flow_of(shop).revision}
    )
    services.edit_steps(flow_of(shop), lambda s: s[:2], user=None, summary="other person")
    assert 'id="undo-button" disabled' in _canvas(ed_client, shop)
    _post(ed_client, shop, "undo")
    assert FlowVersion.objects.filter(assistant=shop, flow_name="order").first().summary == (
        "other person"
    )


def test_undo_is_revision_checked_and_refused_to_viewers(ed_client, client, shop, make_user):
    from apps.accounts.roles import Role

    ed_client.post(
        add_url(shop), {"response": "utter_cancelled", "revision": flow_of(shop).revision}
    )
    stale = flow_of(shop).revision - 1
    response = ed_client.post(reverse("flows:undo", args=[shop.name, "order"]), {"revision": stale})
    assert response.status_code == 409
    assert len(flow_of(shop).definition["steps"]) == 3
    viewer = make_user("bo", Role.BUSINESS_USER)
    client.force_login(viewer)
    assert _post(client, shop, "undo").status_code == 403
    assert "undo-button" not in _canvas(client, shop)


# -- readable history (D18)


@pytest.mark.parametrize(
    ("step", "label"),
    [
        ({"action": "utter_greet"}, "message utter_greet"),
        ({"action": "action_pay"}, "custom action action_pay"),
        ({"collect": "pizza_size"}, "collect pizza_size"),
        ({"link": "other"}, "link to other"),
        ({"call": "other"}, "call other"),
        ({"set_slots": [{"a": 1}, {"b": None}]}, "set slots a, b"),
        ({"noop": True, "next": [{"if": "x", "then": "END"}, {"else": "END"}]}, "logic"),
    ],
)
def test_step_labels(step, label):
    assert step_ops.step_label(step) == label


def test_history_titles_name_the_step_and_restore_asks_first(ed_client, shop):
    ed_client.post(
        add_url(shop), {"response": "utter_cancelled", "revision": flow_of(shop).revision}
    )
    ed_client.post(
        delete_url(shop, "steps[2]"),
        {"revision": flow_of(shop).revision, "step": "order_2_utter_cancelled"},
    )
    page = ed_client.get(reverse("flows:history", args=[shop.name, "order"])).content.decode()
    assert "Added message utter_cancelled" in page and "Deleted message utter_cancelled" in page
    assert "steps[" not in page.split("<ol")[1].split("<pre")[0]
    assert "data-confirm=" in page


# -- undo and redo of renames


def _rename(client, shop, old, new):
    return client.post(
        reverse("flows:rename", args=[shop.name, old]),
        {"name": new, "revision": flow_of(shop, old).revision},
    )


def _step_back(client, shop, flow, name):
    revision = flow_of(shop, flow).revision
    return client.post(reverse(f"flows:{name}", args=[shop.name, flow]), {"revision": revision})


def _history(shop, flow) -> list[str]:
    return [v.summary for v in FlowVersion.objects.filter(assistant=shop, flow_name=flow)]


def test_undo_of_a_rename_restores_the_old_id_everywhere(ed_client, shop):
    services.edit_steps(flow_of(shop), lambda s: [*s, {"link": "helper"}], user=None, summary="x")
    history_before = _history(shop, "helper")
    assert _rename(ed_client, shop, "helper", "pay_helper").status_code == 302
    assert flow_of(shop).definition["steps"][-1] == {"link": "pay_helper"}
    page = ed_client.get(reverse("flows:detail", args=[shop.name, "pay_helper"])).content.decode()
    assert "Undo: Renamed from helper" in page

    response = _step_back(ed_client, shop, "pay_helper", "undo")
    assert response["Location"] == reverse("flows:detail", args=[shop.name, "helper"])
    assert not Flow.objects.filter(assistant=shop, name="pay_helper").exists()
    # The link in the other flow and the flow's history follow it back.
    assert flow_of(shop).definition["steps"][-1] == {"link": "helper"}
    assert _history(shop, "helper") == [
        "Undo: Renamed from helper",
        "Renamed from helper",
        *history_before,
    ]
    assert not FlowVersion.objects.filter(assistant=shop, flow_name="pay_helper").exists()
    page = ed_client.get(reverse("flows:detail", args=[shop.name, "helper"])).content.decode()
    assert "Redo: Renamed from helper" in page

    _step_back(ed_client, shop, "helper", "redo")
    assert not Flow.objects.filter(assistant=shop, name="helper").exists()
    assert flow_of(shop).definition["steps"][-1] == {"link": "pay_helper"}
    assert _history(shop, "pay_helper")[0] == "Redo: Renamed from helper"
    # And undone again from the redo.
    _step_back(ed_client, shop, "pay_helper", "undo")
    assert Flow.objects.filter(assistant=shop, name="helper").exists()
    assert flow_of(shop).definition["steps"][-1] == {"link": "helper"}


def test_renames_and_canvas_edits_undo_in_order(ed_client, shop):
    original = flow_of(shop, "helper").definition
    ed_client.post(
        add_url(shop, flow="helper", index=1),
        {"response": "utter_done", "revision": flow_of(shop, "helper").revision},
    )
    edited = flow_of(shop, "helper").definition
    _rename(ed_client, shop, "helper", "pay_helper")
    ed_client.post(
        reverse("flows:start", args=[shop.name, "pay_helper"]),
        {
            "title": "Pay",
            "description": "Pays the order",
            "guard": "always",
            "revision": flow_of(shop, "pay_helper").revision,
        },
    )
    assert flow_of(shop, "pay_helper").title == "Pay"
    _step_back(ed_client, shop, "pay_helper", "undo")  # the name and description
    renamed = flow_of(shop, "pay_helper")
    assert (renamed.title, renamed.description) == ("", "A helper flow")
    assert renamed.definition == edited
    _step_back(ed_client, shop, "pay_helper", "undo")  # the rename
    _step_back(ed_client, shop, "helper", "undo")  # the added step
    assert flow_of(shop, "helper").definition == original
    page = ed_client.get(reverse("flows:detail", args=[shop.name, "helper"])).content.decode()
    assert 'id="undo-button" disabled' in page
    _step_back(ed_client, shop, "helper", "redo")
    _step_back(ed_client, shop, "helper", "redo")
    _step_back(ed_client, shop, "pay_helper", "redo")
    assert flow_of(shop, "pay_helper").title == "Pay"


def test_undo_of_a_rename_whose_old_id_was_taken_since_is_refused(ed_client, shop):
    _rename(ed_client, shop, "helper", "pay_helper")
    services.create_flow(shop, name="helper", description="A new one")
    before = flow_of(shop, "pay_helper").revision
    page = ed_client.post(
        reverse("flows:undo", args=[shop.name, "pay_helper"]),
        {"revision": before},
        follow=True,
    ).content.decode()
    assert "Undo: Renamed from helper is not possible: There is already a flow called helper." in (
        page
    )
    assert flow_of(shop, "pay_helper").revision == before
    assert flow_of(shop, "helper").description == "A new one"
