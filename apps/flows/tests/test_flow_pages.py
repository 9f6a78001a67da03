"""The flows list, the canvas's step forms, and flow history."""

import pytest
from django.urls import reverse

from apps.flows.models import Flow, FlowVersion, Response, Slot
from apps.flows.tests.conftest import drawn

pytestmark = pytest.mark.django_db


# The panel's response editor for a new response: one variation (r0).
NEW_TEXT = {"r-of": "__new__", "r-count": "1"}


def steps_of(shop, name="order"):
    return Flow.objects.get(assistant=shop, name=name).definition["steps"]


def add(client, shop, kind, data, list_path="steps", index=2, flow="order", **headers):
    url = reverse("flows:step_add", args=[shop.name, flow])
    data = {**drawn(shop, flow), **data}
    return client.post(f"{url}?list={list_path}&index={index}&kind={kind}", data, **headers)


def edit(client, shop, path, data, flow="order"):
    url = reverse("flows:step_edit", args=[shop.name, flow])
    return client.post(f"{url}?path={path}", {**drawn(shop, flow, path), **data})


# -- list, create, rename, duplicate, delete


def test_the_list_searches_by_name_and_description(ed_client, shop):
    url = reverse("flows:list", args=[shop.name])
    page = ed_client.get(url, {"q": "helper"}).content.decode()
    assert "A helper flow" in page and "Order something" not in page
    page = ed_client.get(url, {"q": "order some"}).content.decode()
    assert "place an order" in page and "A helper flow" not in page
    assert "Valid" in page


@pytest.mark.parametrize(
    ("name", "message"),
    [("my flow", "no spaces"), ("order", "already a flow called order"), ("", "required")],
)
def test_create_rejects_a_bad_flow_id_at_the_field(ed_client, shop, name, message):
    response = ed_client.post(
        reverse("flows:create", args=[shop.name]), {"name": name, "description": "d"}
    )
    assert message in response.content.decode()
    assert Flow.objects.filter(assistant=shop).count() == 2


def test_create_makes_an_empty_valid_flow_with_a_version(ed_client, shop, editor):
    response = ed_client.post(
        reverse("flows:create", args=[shop.name]), {"name": "refund", "description": "Refunds"}
    )
    assert response.status_code == 302
    flow = Flow.objects.get(assistant=shop, name="refund")
    assert flow.updated_by == editor
    assert FlowVersion.objects.get(assistant=shop, flow_name="refund").summary == "Created"
    page = ed_client.get(response["Location"]).content.decode()
    assert "Add the first step" in page


def test_rename_moves_links_and_history(ed_client, shop):
    add(ed_client, shop, "link", {"flow": "helper"})
    response = ed_client.post(
        reverse("flows:rename", args=[shop.name, "helper"]),
        {"name": "payment_helper", **drawn(shop, "helper")},
    )
    assert response.status_code == 302
    assert steps_of(shop)[-1] == {"link": "payment_helper"}
    assert FlowVersion.objects.filter(assistant=shop, flow_name="payment_helper").exists()


def test_delete_needs_the_name_and_refuses_a_linked_flow(ed_client, shop):
    url = reverse("flows:delete", args=[shop.name, "helper"])
    page = ed_client.post(url, {"confirm_name": "nope", **drawn(shop, "helper")}).content.decode()
    assert "Type helper exactly" in page
    add(ed_client, shop, "call", {"flow": "helper"}, index=1)
    page = ed_client.post(url, {"confirm_name": "helper", **drawn(shop, "helper")}).content.decode()
    assert "Other content still uses this flow" in page
    assert Flow.objects.filter(assistant=shop, name="helper").exists()


def test_duplicate_copies_the_steps(ed_client, shop):
    ed_client.post(reverse("flows:duplicate", args=[shop.name, "order"]), {"name": "order2"})
    assert steps_of(shop, "order2") == steps_of(shop)


# -- steps


def test_add_a_message_with_a_new_response(ed_client, shop):
    response = add(
        ed_client,
        shop,
        "message",
        {"response": "__new__", "new_response": "utter_bye", **NEW_TEXT, "r0-text": "Bye"},
    )
    assert response.status_code == 302
    assert steps_of(shop) == [
        {"collect": "amount"},
        {"action": "utter_done"},
        {"action": "utter_bye"},
    ]
    assert Response.objects.get(assistant=shop, name="utter_bye").variations == [{"text": "Bye"}]


def test_a_collect_of_an_unknown_slot_is_refused_at_the_field(ed_client, shop):
    url = reverse("flows:step_edit", args=[shop.name, "order"])
    from apps.flows import services
    from apps.projects.content.checks import ContentInvalid

    flow = Flow.objects.get(assistant=shop, name="order")
    with pytest.raises(ContentInvalid) as info:
        services.edit_steps(flow, lambda s: [{"collect": "nope"}, *s[1:]], user=None, summary="x")
    assert "collected slot 'nope' is not defined" in str(info.value)
    response = edit(ed_client, shop, "steps[0]", {"slot": "nope"})
    assert "Select a valid choice" in response.content.decode()
    assert steps_of(shop)[0] == {"collect": "amount"}
    assert url


def test_a_new_slot_needs_a_question(ed_client, shop):
    response = add(ed_client, shop, "collect", {"slot": "__new__", "new_slot": "size"})
    assert "Write the question that asks for size" in response.content.decode()
    assert not Slot.objects.filter(assistant=shop, name="size").exists()


def test_a_link_step_that_is_not_last_is_refused_when_the_steps_after_it_are_never_reached(
    ed_client, shop
):
    # Rasa accepts it (a link step has no next step), but the step after it could then never
    # run: that is an error of the flow, at the step that is cut off.
    response = add(ed_client, shop, "link", {"flow": "helper"}, index=1)
    assert "this step is never reached" in response.content.decode()
    assert [s.get("link") for s in steps_of(shop)] == [None, None]


def test_a_bad_condition_is_refused_at_its_branch(ed_client, shop):
    response = add(ed_client, shop, "logic", {"b1-text": "slots.amount >"}, index=1)
    assert "does not parse" in response.content.decode()
    response = add(
        ed_client, shop, "logic", {"b1-slot": "tier", "b1-op": "=", "b1-value": "bronze"}, index=1
    )
    assert "not one of the values of the categorical slot" in response.content.decode()
    assert len(steps_of(shop)) == 2


def test_a_logic_step_built_in_the_form(ed_client, shop):
    response = add(
        ed_client,
        shop,
        "logic",
        {
            "b1-slot": ["amount", "tier"],
            "b1-op": [">", "="],
            "b1-value": ["100", "gold"],
            "b1-join": "and",
            "b1-target": "END",
            "else-target": "__keep__",
        },
        index=1,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert steps_of(shop) == [
        {"collect": "amount"},
        {
            "noop": True,
            "next": [
                {"if": 'slots.amount > 100 and slots.tier = "gold"', "then": "END"},
                {"else": [{"action": "utter_done", "next": "END"}]},
            ],
        },
    ]


def test_connecting_to_an_earlier_step_names_it(ed_client, shop):
    add(ed_client, shop, "logic", {"b1-slot": "confirmed", "b1-op": "false"}, index=2)
    url = reverse("flows:step_add", args=[shop.name, "order"])
    response = ed_client.post(
        f"{url}?list=steps[2].next[0].then&index=0&kind=goto",
        {"target": "order_0_collect_amount", **drawn(shop)},
    )
    assert response.status_code == 302
    steps = steps_of(shop)
    assert steps[0] == {"id": "order_0_collect_amount", "collect": "amount"}
    assert steps[2]["next"][0] == {"if": "not slots.confirmed", "then": "order_0_collect_amount"}


def test_edit_set_slots_and_label(ed_client, shop):
    add(
        ed_client,
        shop,
        "set_slots",
        {"set-slot": ["confirmed", "tier"], "set-value": ["true", "null"]},
    )
    edit(
        ed_client,
        shop,
        "steps[2]",
        {"set-slot": ["tier"], "set-value": ["gold"], "step_id": "reset"},
    )
    assert steps_of(shop)[2] == {"id": "reset", "set_slots": [{"tier": "gold"}]}
    response = edit(ed_client, shop, "steps[2]", {"set-slot": ["tier"], "set-value": ["bronze"]})
    assert "not one of the values" in response.content.decode()


def test_live_validation_does_not_save(ed_client, shop):
    response = add(
        ed_client,
        shop,
        "message",
        {"response": "__new__", "new_response": "utter_x", **NEW_TEXT, "r0-text": "X"},
        HTTP_HX_REQUEST="true",
        HTTP_X_STUDIO_PREVIEW="1",
    )
    assert response.status_code == 200 and "No problems" in response.content.decode()
    assert len(steps_of(shop)) == 2
    assert not Response.objects.filter(assistant=shop, name="utter_x").exists()


def test_htmx_save_answers_with_a_redirect_to_the_canvas(ed_client, shop):
    response = edit(ed_client, shop, "steps[1]", {"response": "utter_cancelled"})
    assert response.status_code == 302
    url = reverse("flows:step_edit", args=[shop.name, "order"])
    response = ed_client.post(
        f"{url}?path=steps[1]",
        {"response": "utter_done", **drawn(shop, path="steps[1]")},
        HTTP_HX_REQUEST="true",
    )
    assert response["HX-Redirect"] == reverse("flows:detail", args=[shop.name, "order"])


def test_delete_a_step_and_refuse_deleting_a_jump_target(ed_client, shop):
    url = reverse("flows:step_delete", args=[shop.name, "order"])
    add(ed_client, shop, "logic", {"b1-slot": "confirmed", "b1-op": "true"}, index=2)
    page = ed_client.get(f"{url}?path=steps[2]").content.decode()
    assert "also deletes its 2 branches" in page
    ed_client.post(f"{url}?path=steps[2]", drawn(shop, path="steps[2]"))
    assert steps_of(shop) == [{"collect": "amount"}, {"action": "utter_done"}]
    edit(
        ed_client,
        shop,
        "steps[1]",
        {"response": "utter_done", "next_target": "order_0_collect_amount"},
    )
    response = ed_client.post(f"{url}?path=steps[0]", drawn(shop, path="steps[0]"))
    assert response.status_code == 400
    assert "does not exist" in response.content.decode()


def test_the_start_node(ed_client, shop):
    url = reverse("flows:start", args=[shop.name, "order"])
    response = ed_client.post(
        url,
        {
            "title": "Order",
            "description": "Orders",
            "guard": "condition",
            "guard-slot": "confirmed",
            "guard-op": "true",
            "trigger-intent": ["order", "greet"],
            "trigger-threshold": ["0.7", ""],
            **drawn(shop),
        },
    )
    assert response.status_code == 302
    definition = Flow.objects.get(assistant=shop, name="order").definition
    assert definition["if"] == "slots.confirmed"
    assert definition["nlu_trigger"] == [
        {"intent": {"name": "order", "confidence_threshold": 0.7}},
        {"intent": "greet"},
    ]
    response = ed_client.post(
        url,
        {
            "description": "x",
            "guard": "link_only",
            "trigger-intent": "order",
            "trigger-threshold": "3",
            **drawn(shop),
        },
    )
    assert "between 0 and 1" in response.content.decode()
    ed_client.post(url, {"description": "x", "guard": "link_only", **drawn(shop)})
    assert Flow.objects.get(assistant=shop, name="order").definition["if"] is False


def test_the_canvas_draws_branches_and_problems(ed_client, shop):
    add(ed_client, shop, "logic", {"b1-slot": "confirmed", "b1-op": "true"}, index=1)
    page = ed_client.get(reverse("flows:detail", args=[shop.name, "order"])).content.decode()
    assert "If <code>slots.confirmed</code>" in page and ">Else<" in page
    assert page.count('class="node node-step') == 3


# -- history


def test_history_shows_a_diff_and_restores(ed_client, shop):
    add(ed_client, shop, "message", {"response": "utter_cancelled"})
    versions = FlowVersion.objects.filter(assistant=shop, flow_name="order")
    assert [v.summary for v in versions] == ["Added message utter_cancelled", "Imported"]
    page = ed_client.get(reverse("flows:history", args=[shop.name, "order"])).content.decode()
    assert '<span class="add">+    - action: utter_cancelled</span>' in page
    assert "</span>\n<span" not in page  # one line per line: no blank line between them
    imported = versions.last()
    ed_client.post(reverse("flows:restore", args=[shop.name, "order", imported.pk]), drawn(shop))
    assert steps_of(shop) == [{"collect": "amount"}, {"action": "utter_done"}]
    latest = FlowVersion.objects.filter(assistant=shop, flow_name="order").first()
    assert latest.summary.startswith("Restored")


def test_a_version_that_no_longer_validates_is_not_restored(ed_client, shop):
    bad = FlowVersion.objects.create(
        assistant=shop,
        flow_name="order",
        definition={"description": "x", "steps": [{"collect": "gone"}]},
    )
    response = ed_client.post(
        reverse("flows:restore", args=[shop.name, "order", bad.pk]), drawn(shop), follow=True
    )
    assert "cannot be restored" in response.content.decode()
    assert steps_of(shop) == [{"collect": "amount"}, {"action": "utter_done"}]


def test_a_business_user_can_look_but_not_edit(client, shop, make_user):
    from apps.accounts.roles import Role

    client.force_login(make_user("bo", Role.BUSINESS_USER))
    assert client.get(reverse("flows:detail", args=[shop.name, "order"])).status_code == 200
    assert add(client, shop, "message", {"response": "utter_done"}).status_code == 403


def test_the_start_node_keeps_trigger_keys_it_does_not_edit(ed_client, shop):
    flow = Flow.objects.get(assistant=shop, name="order")
    flow.definition["nlu_trigger"] = [
        {"intent": {"name": "order", "confidence_threshold": 0.5, "source": "nlu"}},
        {"intent": "greet", "note": "y"},
    ]
    flow.save()
    response = ed_client.post(
        reverse("flows:start", args=[shop.name, "order"]),
        {
            "title": "Order",
            "description": "Orders",
            "guard": "always",
            "trigger-intent": ["order", "greet"],
            "trigger-threshold": ["0.7", ""],
            **drawn(shop),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Flow.objects.get(assistant=shop, name="order").definition["nlu_trigger"] == [
        {"intent": {"name": "order", "confidence_threshold": 0.7, "source": "nlu"}},
        {"intent": "greet", "note": "y"},
    ]
