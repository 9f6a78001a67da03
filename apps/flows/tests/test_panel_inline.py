"""Everything a designer creates from the step side panel (issue 17): a message step's response
with its variations, a collect step's slot (with categorical values), question and rejections,
a custom action with its description, and a new intent with examples for the NLU trigger. Each
path: stored when valid; refused with the error at the field it is about, storing nothing."""

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.flows.models import CustomAction, Flow, FlowVersion, Response, Slot
from apps.flows.tests.conftest import drawn
from apps.nlu.models import Example, Intent

pytestmark = pytest.mark.django_db

NEW = "__new__"


def steps_of(shop, name="order"):
    return Flow.objects.get(assistant=shop, name=name).definition["steps"]


def add(client, shop, kind, data, index=2, flow="order"):
    url = reverse("flows:step_add", args=[shop.name, flow])
    data = {**drawn(shop, flow), **data}
    return client.post(f"{url}?list=steps&index={index}&kind={kind}", data)


def edit(client, shop, path, data, flow="order", **headers):
    url = reverse("flows:step_edit", args=[shop.name, flow])
    return client.post(f"{url}?path={path}", {**drawn(shop, flow, path), **data}, **headers)


def nothing_stored(shop, versions_before):
    """The flow has its two steps and no version was recorded."""
    assert len(steps_of(shop)) == 2
    assert FlowVersion.objects.filter(assistant=shop).count() == versions_before


def page_of(response) -> str:
    return response.content.decode()


# -- message steps


def test_a_message_step_creates_its_response_with_every_kind_of_variation(ed_client, shop):
    data = {
        "response": NEW,
        "new_response": "utter_confirm",
        "r-of": NEW,
        "r-count": "2",
        "r0-text": "A {pizza_size} pizza, coming up!",
        "r0-btn-title": ["Menu", "Large", "Something else"],
        "r0-btn-kind": ["intent", "slot", "text"],
        "r0-btn-a": ["greet", "", "I want something else"],
        "r0-btn-b": ["", "tier", ""],
        "r0-btn-c": ["", "gold", ""],
        "r0-links": "Our menu = https://example.com/menu",
        "r0-image": "https://example.com/pizza.png",
        "r0-custom": "card:\n  kind: pizza\n",
        "r1-text": "Gold members get it faster.",
        "r1-cond-slot": "tier",
        "r1-cond-op": "=",
        "r1-cond-value": "gold",
    }
    response = add(ed_client, shop, "message", data)
    assert response.status_code == 302, page_of(response)
    assert steps_of(shop)[-1] == {"action": "utter_confirm"}
    first, second = Response.objects.get(assistant=shop, name="utter_confirm").variations
    assert first == {
        "text": "A {pizza_size} pizza, coming up!",
        "image": "https://example.com/pizza.png",
        "buttons": [
            {"title": "Menu", "payload": "/greet"},
            {"title": "Large", "payload": "/SetSlots(tier=gold)"},
            {"title": "Something else", "payload": "I want something else"},
            {"title": "Our menu", "url": "https://example.com/menu", "type": "web_url"},
        ],
        "custom": {"card": {"kind": "pizza"}},
    }
    assert second["text"] == "Gold members get it faster."
    assert second["condition"] == 'slots.tier = "gold"'
    # The Responses page lists what the panel created.
    listing = ed_client.get(reverse("flows:responses", args=[shop.name]))
    assert "utter_confirm" in page_of(listing)


def test_a_custom_payload_that_is_not_yaml_names_its_line_and_nothing_is_stored(ed_client, shop):
    before = FlowVersion.objects.filter(assistant=shop).count()
    data = {
        "response": NEW,
        "new_response": "utter_card",
        "r-of": NEW,
        "r-count": "1",
        "r0-text": "Here",
        "r0-custom": "card:\n  kind: pizza\n   bad: [\n",
    }
    response = add(ed_client, shop, "message", data)
    assert response.status_code == 200
    assert "This is not valid YAML (line " in page_of(response)
    assert not Response.objects.filter(assistant=shop, name="utter_card").exists()
    nothing_stored(shop, before)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"new_response": "utter_empty"}, "Write what the assistant says"),
        ({"new_response": "confirm", "r0-text": "Hi"}, "A response name starts with utter_."),
        ({"new_response": "utter_done", "r0-text": "Hi"}, "utter_done already exists"),
        (
            {"new_response": "utter_b", "r0-text": "Hi", "r0-btn-title": "Go", "r0-btn-a": ""},
            "Button Go: name the intent.",
        ),
    ],
)
def test_a_wrong_new_response_is_refused_and_nothing_is_stored(ed_client, shop, data, message):
    before = Response.objects.filter(assistant=shop).count()
    response = add(ed_client, shop, "message", {"response": NEW, "r-of": NEW, **data})
    assert message in page_of(response)
    assert Response.objects.filter(assistant=shop).count() == before
    assert len(steps_of(shop)) == 2


def test_a_message_step_edits_its_response_in_place(ed_client, shop):
    data = {
        "response": "utter_done",
        "r-of": "utter_done",
        "r-count": "2",
        "r0-text": "All done!",
        "r1-text": "Finished.",
    }
    response = edit(ed_client, shop, "steps[1]", data)
    assert response.status_code == 302, page_of(response)
    variations = Response.objects.get(assistant=shop, name="utter_done").variations
    assert variations == [{"text": "All done!"}, {"text": "Finished."}]


def test_variations_drawn_for_another_response_are_not_written_to_the_picked_one(ed_client, shop):
    # The panel was drawn for utter_done; the user picked utter_cancelled and saved at once.
    data = {"response": "utter_cancelled", "r-of": "utter_done", "r-count": "1", "r0-text": "X"}
    response = edit(ed_client, shop, "steps[1]", data)
    assert response.status_code == 302
    assert steps_of(shop)[1] == {"action": "utter_cancelled"}
    assert Response.objects.get(assistant=shop, name="utter_cancelled").variations == [
        {"text": "Cancelled."}
    ]
    assert Response.objects.get(assistant=shop, name="utter_done").variations == [{"text": "Done!"}]


def test_the_panel_draws_the_picked_response_for_editing(ed_client, shop):
    url = reverse("flows:step_edit", args=[shop.name, "order"])
    page = page_of(ed_client.get(f"{url}?path=steps[1]"))
    assert 'name="r-of" value="utter_done"' in page
    assert "Done!" in page
    assert 'name="r1-text"' in page  # a blank variation to add


# -- collect steps


def pizza_size(**extra):
    return {
        "slot": NEW,
        "new_slot": "pizza_size",
        "new_slot_type": "categorical",
        "new_slot_values": "small\nmedium\nlarge\n",
        "ask-of": NEW,
        "ask-count": "1",
        "ask0-text": "Which size?",
        "ask0-btn-title": ["Small", "Medium", "Large"],
        "ask0-btn-kind": ["slot", "slot", "slot"],
        "ask0-btn-a": ["", "", ""],
        "ask0-btn-b": ["pizza_size"] * 3,
        "ask0-btn-c": ["small", "medium", "large"],
        **extra,
    }


def test_a_collect_step_creates_a_categorical_slot_with_values_and_its_question(ed_client, shop):
    response = add(ed_client, shop, "collect", pizza_size(reset_after_flow_ends="on"))
    assert response.status_code == 302, page_of(response)
    assert steps_of(shop)[-1] == {"collect": "pizza_size"}
    slot = Slot.objects.get(assistant=shop, name="pizza_size")
    assert slot.type == "categorical"
    assert slot.definition["values"] == ["small", "medium", "large"]
    ask = Response.objects.get(assistant=shop, name="utter_ask_pizza_size").variations
    assert ask == [
        {
            "text": "Which size?",
            "buttons": [
                {"title": t, "payload": f"/SetSlots(pizza_size={v})"}
                for t, v in (("Small", "small"), ("Medium", "medium"), ("Large", "large"))
            ],
        }
    ]
    listing = page_of(ed_client.get(reverse("flows:slots", args=[shop.name])))
    assert "pizza_size" in listing and "small, medium, large" in listing


def test_a_categorical_slot_without_values_is_refused_at_the_values_field(ed_client, shop):
    before = FlowVersion.objects.filter(assistant=shop).count()
    response = add(ed_client, shop, "collect", pizza_size(new_slot_values=""))
    page = page_of(response)
    assert "A categorical slot needs its values, one per line." in page
    # The error sits in the values field's box, not only at the top of the panel.
    field = page.split('for="id_new_slot_values"', 1)[1].split("</div>", 1)[0]
    assert "A categorical slot needs its values" in field
    assert not Slot.objects.filter(assistant=shop, name="pizza_size").exists()
    assert not Response.objects.filter(assistant=shop, name="utter_ask_pizza_size").exists()
    nothing_stored(shop, before)


def test_a_collect_step_keeps_its_options_and_creates_a_rejection_response(ed_client, shop):
    data = pizza_size(
        ask_before_filling="on",
        **{
            "rejection-if": "slots.pizza_size = 'large'",
            "rejection-utter": "",
            "rejection-new": "utter_no_large",
            "rejection-text": "We are out of large dough.",
        },
    )
    response = add(ed_client, shop, "collect", data)
    assert response.status_code == 302, page_of(response)
    assert steps_of(shop)[-1] == {
        "collect": "pizza_size",
        "ask_before_filling": True,
        "reset_after_flow_ends": False,
        "rejections": [{"if": "slots.pizza_size = 'large'", "utter": "utter_no_large"}],
    }
    assert Response.objects.get(assistant=shop, name="utter_no_large").variations == [
        {"text": "We are out of large dough."}
    ]


@pytest.mark.parametrize(
    ("rejection", "message"),
    [
        (("slots.pizza_size = ", "utter_done", "", ""), "does not parse"),
        (("slots.pizza_size = 'x'", "", "no_large", "Sorry"), "must start with utter_"),
        (("slots.pizza_size = 'x'", "", "utter_no_large", ""), "Write what utter_no_large says."),
        (("slots.pizza_size = 'x'", "", "", ""), "needs a condition and a response"),
    ],
)
def test_a_wrong_rejection_is_refused_and_nothing_is_stored(ed_client, shop, rejection, message):
    names = ("rejection-if", "rejection-utter", "rejection-new", "rejection-text")
    response = add(
        ed_client, shop, "collect", pizza_size(**dict(zip(names, rejection, strict=True)))
    )
    assert message in page_of(response)
    assert not Slot.objects.filter(assistant=shop, name="pizza_size").exists()
    assert not Response.objects.filter(assistant=shop, name__in=["utter_no_large"]).exists()
    assert len(steps_of(shop)) == 2


def test_a_new_slot_with_a_blank_question_names_the_question(ed_client, shop):
    data = {k: v for k, v in pizza_size().items() if not k.startswith("ask0-")}
    response = add(ed_client, shop, "collect", data)
    assert "Write the question that asks for pizza_size." in page_of(response)
    assert not Slot.objects.filter(assistant=shop, name="pizza_size").exists()


# -- custom actions


def test_an_action_step_creates_the_action_with_its_description(ed_client, shop):
    data = {
        "action": NEW,
        "new_action": "action_check_stock",
        "new_action_description": "Checks the dough in stock",
    }
    response = add(ed_client, shop, "action", data)
    assert response.status_code == 302, page_of(response)
    assert steps_of(shop)[-1] == {"action": "action_check_stock"}
    action = CustomAction.objects.get(assistant=shop, name="action_check_stock")
    assert action.description == "Checks the dough in stock"
    assert "action_check_stock" in page_of(
        ed_client.get(reverse("flows:actions", args=[shop.name]))
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [("utter_x", "Names starting with utter_ are responses."), ("my action", "no spaces")],
)
def test_a_wrong_action_name_is_refused(ed_client, shop, name, message):
    response = add(ed_client, shop, "action", {"action": NEW, "new_action": name})
    assert message in page_of(response)
    assert CustomAction.objects.filter(assistant=shop).count() == 1
    assert len(steps_of(shop)) == 2


# -- the start node's NLU trigger


def intent_url(shop, flow="order"):
    return reverse("flows:inline_intent", args=[shop.name, flow])


def start_data(**extra):
    return {
        "title": "place an order",
        "description": "Order something",
        "guard": "always",
        "trigger-intent": ["order", ""],
        "trigger-threshold": ["", ""],
        **extra,
    }


def test_a_new_intent_with_examples_is_created_and_picked_as_a_trigger(ed_client, shop):
    data = start_data(
        **{
            "new_intent-name": "order_pizza",
            "new_intent-examples": "I want a pizza\n- a large pizza to [Berlin](city)\n\n",
        }
    )
    response = ed_client.post(intent_url(shop), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    intent = Intent.objects.get(assistant=shop, name="order_pizza")
    examples = list(Example.objects.filter(intent=intent).order_by("position"))
    assert [e.text for e in examples] == ["I want a pizza", "a large pizza to Berlin"]
    assert examples[1].entities[0]["entity"] == "city"
    page = page_of(response)
    assert "Intent order_pizza created" in page
    # The new intent is picked in a trigger row, the typed rows kept; saving keeps it.
    assert page.count("<option selected>order_pizza</option>") == 1
    assert page.count("<option selected>order</option>") == 1
    # The trigger is not stored until the start panel is saved.
    assert Flow.objects.get(assistant=shop, name="order").definition["nlu_trigger"] == [
        {"intent": "order"}
    ]
    saved = ed_client.post(
        reverse("flows:start", args=[shop.name, "order"]),
        {**start_data(**{"trigger-intent": ["order", "order_pizza"]}), **drawn(shop)},
    )
    assert saved.status_code == 302
    triggers = Flow.objects.get(assistant=shop, name="order").definition["nlu_trigger"]
    assert {"intent": "order_pizza"} in triggers
    assert "order_pizza" in page_of(ed_client.get(reverse("nlu:intents", args=[shop.name])))


@pytest.mark.parametrize(
    ("name", "examples", "message"),
    [
        ("greet", "hi", "There is already an intent called greet."),
        ("order pizza", "hi", "has no spaces"),
        ("order_pizza", "", "This field is required."),
        ("order_pizza", "fine\nto [Rome](town)", "Line 2: there is no entity called town."),
    ],
)
def test_a_wrong_new_intent_is_refused_and_nothing_is_stored(
    ed_client, shop, name, examples, message
):
    before = Intent.objects.filter(assistant=shop).count()
    data = start_data(**{"new_intent-name": name, "new_intent-examples": examples})
    response = ed_client.post(intent_url(shop), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert message in page_of(response)
    assert Intent.objects.filter(assistant=shop).count() == before
    assert not Example.objects.filter(text="fine").exists()


def test_the_start_panel_offers_to_create_an_intent(ed_client, shop):
    page = page_of(ed_client.get(reverse("flows:start", args=[shop.name, "order"])))
    assert "Create a new intent" in page and 'name="new_intent-examples"' in page


# -- view-only roles (D7) and pickers (D19)


@pytest.fixture
def viewer_client(client, make_user):
    client.force_login(make_user("bu", Role.BUSINESS_USER))
    return client


def test_a_viewer_sees_the_step_read_only_and_cannot_open_create_forms(viewer_client, shop):
    url = reverse("flows:step_edit", args=[shop.name, "order"])
    page = page_of(viewer_client.get(f"{url}?path=steps[1]"))
    assert '<fieldset class="form-body" disabled>' in page
    assert 'type="submit"' not in page
    assert "Create a new intent" not in page_of(
        viewer_client.get(reverse("flows:start", args=[shop.name, "order"]))
    )
    assert viewer_client.get(intent_url(shop)).status_code == 403
    add_url = reverse("flows:step_add", args=[shop.name, "order"])
    assert viewer_client.get(f"{add_url}?list=steps&index=2&kind=message").status_code == 403
    response = viewer_client.post(intent_url(shop), start_data(**{"new_intent-name": "x"}))
    assert response.status_code == 403
    assert not Intent.objects.filter(assistant=shop, name="x").exists()


def test_a_branch_on_a_categorical_slot_picks_its_value_from_a_list(ed_client, shop):
    url = reverse("flows:step_add", args=[shop.name, "order"])
    data = {"b1-slot": "tier", "b1-op": "=", "b1-value": "", "else-target": "__keep__"}
    data.update(drawn(shop))
    page = page_of(
        ed_client.post(
            f"{url}?list=steps&index=2&kind=logic",
            data,
            HTTP_HX_REQUEST="true",
            HTTP_X_STUDIO_PREVIEW="1",
        )
    )
    clause = page.split('name="b1-value"', 1)[0].rsplit("<", 1)[1]
    assert clause.startswith("select")
    assert '<option value="gold">gold</option><option value="silver">silver</option>' in page


def test_link_pickers_list_flows_by_name_alphabetically(ed_client, shop, editor):
    from apps.flows import services

    services.create_flow(shop, name="zeta", title="Address check", description="d", user=editor)
    services.create_flow(shop, name="alpha", title="Zip codes", description="d", user=editor)
    url = reverse("flows:step_add", args=[shop.name, "order"])
    page = page_of(ed_client.get(f"{url}?list=steps&index=2&kind=link"))
    shown = [page.index(label) for label in ("Address check (zeta)", "helper", "Zip codes (alpha)")]
    assert shown == sorted(shown)


def test_a_question_typed_before_picking_a_slot_is_kept_for_a_slot_with_no_question(
    ed_client, shop, editor
):
    from apps.flows import services

    services.save_slot(
        shop, name="size", definition={"type": "text", "mappings": [{"type": "from_llm"}]}
    )
    data = {"slot": "size", "ask-of": NEW, "ask-count": "1", "ask0-text": "Which size?"}
    response = add(ed_client, shop, "collect", {**data, "reset_after_flow_ends": "on"})
    assert response.status_code == 302, page_of(response)
    assert Response.objects.get(assistant=shop, name="utter_ask_size").variations == [
        {"text": "Which size?"}
    ]
    # Typed in a blank editor, it never replaces a stored question.
    data = {"slot": "amount", "ask-of": NEW, "ask-count": "1", "ask0-text": "Overwrite?"}
    response = add(ed_client, shop, "collect", {**data, "reset_after_flow_ends": "on"})
    assert response.status_code == 302
    assert Response.objects.get(assistant=shop, name="utter_ask_amount").variations == [
        {"text": "How much?"}
    ]


def test_the_panel_says_when_the_response_is_used_elsewhere_too(ed_client, shop):
    url = reverse("flows:step_edit", args=[shop.name, "order"])
    note = "<code>utter_done</code> is used in"
    # Only this step says utter_done: no note.
    assert note not in page_of(ed_client.get(url, {"path": "steps[1]"}, HTTP_HX_REQUEST="true"))
    # Another flow starts saying it too: now the panel warns that a change reaches both.
    other = Flow.objects.filter(assistant=shop).exclude(name="order").first()
    other.definition = {**other.definition, "steps": [{"action": "utter_done"}]}
    other.save()
    page = page_of(ed_client.get(url, {"path": "steps[1]"}, HTTP_HX_REQUEST="true"))
    assert f"{note} 2 places: a change here changes it in all of them." in page


def test_the_start_nodes_guard_on_a_categorical_slot_picks_its_value_from_a_list(ed_client, shop):
    url = reverse("flows:start", args=[shop.name, "order"])
    data = {"guard": "condition", "guard-slot": "tier", "guard-op": "=", "guard-value": ""}
    data.update(drawn(shop))
    page = page_of(ed_client.post(url, data, HTTP_HX_REQUEST="true", HTTP_X_STUDIO_PREVIEW="1"))
    clause = page.split('name="guard-value"', 1)[0].rsplit("<", 1)[1]
    assert clause.startswith("select")
    assert '<option value="gold">gold</option><option value="silver">silver</option>' in page
