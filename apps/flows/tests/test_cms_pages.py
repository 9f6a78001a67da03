"""Responses, slots, custom actions (with "used in"), and config.yml / endpoints.yml."""

import pytest
from django.urls import reverse

from apps.flows.models import CustomAction, Response, Slot
from apps.projects.models import AssistantFiles

pytestmark = pytest.mark.django_db


def save_response(client, shop, name, data, old=None):
    url = (
        reverse("flows:response_edit", args=[shop.name, old])
        if old
        else reverse("flows:response_create", args=[shop.name])
    )
    return client.post(url, {"name": name, "variation_count": "2", **data})


def test_a_response_with_variations_buttons_links_images_custom_and_rephrase(ed_client, shop):
    response = save_response(
        ed_client,
        shop,
        "utter_offer",
        {
            "v0-text": "Pick one",
            "v0-btn-title": ["Gold", "Berlin", "Yes", "Other"],
            "v0-btn-kind": ["intent", "entity", "slot", "text"],
            "v0-btn-a": ["order", "order", "", "something else"],
            "v0-btn-b": ["", "city", "confirmed", ""],
            "v0-btn-c": ["", "Berlin", "true", ""],
            "v0-links": "Docs = https://example.com/docs",
            "v0-rephrase": "on",
            "v1-image": "https://example.com/a.png",
            "v1-custom": "kind: card\nitems: [1, 2]\n",
            "v1-cond-slot": "tier",
            "v1-cond-op": "=",
            "v1-cond-value": "gold",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Response.objects.get(assistant=shop, name="utter_offer").variations == [
        {
            "text": "Pick one",
            "buttons": [
                {"title": "Gold", "payload": "/order"},
                {"title": "Berlin", "payload": '/order{"city": "Berlin"}'},
                {"title": "Yes", "payload": "/SetSlots(confirmed=true)"},
                {"title": "Other", "payload": "something else"},
                {"title": "Docs", "url": "https://example.com/docs", "type": "web_url"},
            ],
            "metadata": {"rephrase": True},
        },
        {
            "image": "https://example.com/a.png",
            "custom": {"kind": "card", "items": [1, 2]},
            "condition": 'slots.tier = "gold"',
        },
    ]
    page = ed_client.get(reverse("flows:response_edit", args=[shop.name, "utter_offer"]))
    assert page.status_code == 200 and "kind: card" in page.content.decode()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("greet", {"v0-text": "x"}, "starts with utter_"),
        ("utter_done", {"v0-text": "x"}, "already a response called utter_done"),
        ("utter_x", {"v0-custom": "a: [1,"}, "not valid YAML (line"),
        ("utter_x", {"v0-custom": "- 1\n- 2"}, "must be a YAML mapping"),
        ("utter_x", {}, "needs at least one variation"),
        (
            "utter_x",
            {"v0-text": "x", "v0-cond-slot": "tier", "v0-cond-value": "bronze"},
            "not one of the values",
        ),
        ("utter_x", {"v0-text": "x", "v0-btn-title": "B", "v0-btn-kind": "slot"}, "name the slot"),
        (
            "utter_x",
            {"v0-text": "x", "v0-btn-title": "B", "v0-btn-a": "nope", "v0-btn-kind": "intent"},
            "not in the domain",
        ),
    ],
)
def test_an_invalid_response_is_refused_and_nothing_is_stored(ed_client, shop, name, data, message):
    before = list(Response.objects.filter(assistant=shop).values_list("name", "variations"))
    response = save_response(ed_client, shop, name, data)
    assert message in response.content.decode().replace("&#x27;", "'")
    assert list(Response.objects.filter(assistant=shop).values_list("name", "variations")) == before


def test_editing_a_variation(ed_client, shop):
    save_response(ed_client, shop, "utter_done", {"v0-text": "All done"}, old="utter_done")
    assert Response.objects.get(assistant=shop, name="utter_done").variations == [
        {"text": "All done"}
    ]


def test_a_response_in_use_is_not_deleted_and_lists_where(ed_client, shop):
    page = ed_client.get(
        reverse("flows:response_edit", args=[shop.name, "utter_done"])
    ).content.decode()
    assert "order · order_1_utter_done" in page and "message step" in page
    url = reverse("flows:response_delete", args=[shop.name, "utter_done"])
    page = ed_client.post(url, {"confirm_name": "utter_done"}).content.decode()
    assert "Still in use" in page
    assert Response.objects.filter(assistant=shop, name="utter_done").exists()
    ed_client.post(
        reverse("flows:response_delete", args=[shop.name, "utter_cancelled"]),
        {"confirm_name": "utter_cancelled"},
    )
    assert not Response.objects.filter(assistant=shop, name="utter_cancelled").exists()


def test_a_slot_with_values_and_mappings(ed_client, shop):
    response = ed_client.post(
        reverse("flows:slot_create", args=[shop.name]),
        {
            "name": "size",
            "type": "categorical",
            "values": "small\nlarge",
            "initial_value": "small",
            "map-type": ["from_entity", "from_intent", ""],
            "map-entity": ["city", "", ""],
            "map-role": ["to", "", ""],
            "map-intent": ["", "order", ""],
            "map-value": ["", "large", ""],
            "map-active_flow": ["order", "", ""],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Slot.objects.get(assistant=shop, name="size").definition == {
        "type": "categorical",
        "values": ["small", "large"],
        "initial_value": "small",
        "mappings": [
            {
                "type": "from_entity",
                "entity": "city",
                "role": "to",
                "conditions": [{"active_flow": "order"}],
            },
            {"type": "from_intent", "intent": "order", "value": "large"},
        ],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "size", "type": "categorical", "values": "a\nb", "initial_value": "c"},
            "c is not one of the values",
        ),
        ({"name": "size", "type": "categorical"}, "needs at least one value"),
        ({"name": "my size", "type": "text"}, "letters, digits and underscores"),
        ({"name": "amount", "type": "text"}, "already a slot called amount"),
        ({"name": "n", "type": "float", "initial_value": "ten"}, "not a number"),
        (
            {"name": "n", "type": "text", "map-type": "from_entity", "map-entity": "nope"},
            "not in the domain",
        ),
        (
            {
                "name": "n",
                "type": "text",
                "map-type": "from_entity",
                "map-entity": "city",
                "map-role": "via",
            },
            "has no role",
        ),
    ],
)
def test_an_invalid_slot_is_refused(ed_client, shop, data, message):
    response = ed_client.post(reverse("flows:slot_create", args=[shop.name]), data)
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Slot.objects.filter(assistant=shop, name__in=["size", "n", "my size"]).exists()


def test_a_slot_a_flow_collects_cannot_be_renamed_or_deleted(ed_client, shop):
    response = ed_client.post(
        reverse("flows:slot_edit", args=[shop.name, "amount"]), {"name": "sum", "type": "float"}
    )
    assert "collected slot &#x27;amount&#x27; is not defined" in response.content.decode()
    assert Slot.objects.filter(assistant=shop, name="amount").exists()
    page = ed_client.get(reverse("flows:slot_edit", args=[shop.name, "amount"])).content.decode()
    assert "collect step" in page


def test_custom_actions(ed_client, shop):
    url = reverse("flows:action_create", args=[shop.name])
    assert "already a custom action" in ed_client.post(url, {"name": "action_pay"}).content.decode()
    assert "are responses" in ed_client.post(url, {"name": "utter_x"}).content.decode()
    ed_client.post(url, {"name": "action_refund", "description": "Refunds the payment"})
    assert CustomAction.objects.get(assistant=shop, name="action_refund").description == (
        "Refunds the payment"
    )
    page = ed_client.get(
        reverse("flows:action_edit", args=[shop.name, "action_pay"])
    ).content.decode()
    assert "helper" in page and "action step" in page


def test_config_yml_is_checked_before_it_is_saved(client, shop, make_user):
    from apps.accounts.roles import Role

    client.force_login(make_user("dev", Role.DEVELOPER))
    url = reverse("projects:files", args=[shop.name])
    response = client.post(url + "?file=config.yml", {"text": "recipe: default.v1\npipeline: [\n"})
    assert response.status_code == 400 and "Line 3" in response.content.decode()
    response = client.post(
        url + "?file=config.yml", {"text": "recipe: default.v1\npipeline:\n  - foo: 1\n"}
    )
    assert "Line 3: each item of pipeline needs a &#x27;name&#x27;" in response.content.decode()
    assert AssistantFiles.objects.get(assistant=shop).config_yml == ""
    good = "recipe: default.v1\nassistant_id: shop\npipeline:\n  - name: NLUCommandAdapter\n"
    assert client.post(url + "?file=config.yml", {"text": good}).status_code == 302
    assert AssistantFiles.objects.get(assistant=shop).config_yml == good
    bad = "event_broker:\n  type: kafka\n  security_protocol: NOPE\n"
    response = client.post(url + "?file=endpoints.yml", {"text": bad})
    assert response.status_code == 400
    assert AssistantFiles.objects.get(assistant=shop).endpoints_yml == ""


def test_a_flow_builder_cannot_edit_config(ed_client, shop):
    assert ed_client.get(reverse("projects:files", args=[shop.name])).status_code == 403


# -- conditional variations: a categorical or bool slot's value is picked from its values


def _value_box(page: str, name: str) -> str:
    """The tag (select or input) of the field `name` in the page."""
    return page.split(f'name="{name}"', 1)[0].rsplit("<", 1)[1].split(" ", 1)[0]


def _store_variations(shop, variations):
    Response.objects.filter(assistant=shop, name="utter_done").update(variations=variations)


def _edit_page(client, shop) -> str:
    return client.get(
        reverse("flows:response_edit", args=[shop.name, "utter_done"])
    ).content.decode()


def test_a_condition_on_a_categorical_slot_picks_its_value_from_a_list(ed_client, shop):
    _store_variations(shop, [{"text": "Gold!", "condition": 'slots.tier = "gold"'}])
    page = _edit_page(ed_client, shop)
    assert _value_box(page, "v0-cond-value") == "select"
    assert '<option value="gold" selected>gold</option><option value="silver">silver</option>' in (
        page
    )
    # The page knows every categorical and bool slot's values, for a change of slot.
    assert "data-slot-values=" in page and "&quot;confirmed&quot;: [&quot;true&quot;" in page
    # The blank row of a new condition has a text box until a slot is picked.
    assert _value_box(page, "v1-cond-value") == "input"
    # A bool slot's value is picked from true and false.
    response = save_response(
        ed_client,
        shop,
        "utter_done",
        {
            "v0-text": "Done!",
            "v0-cond-slot": "confirmed",
            "v0-cond-op": "=",
            "v0-cond-value": "false",
        },
        old="utter_done",
    )
    assert response.status_code == 302
    variation = Response.objects.get(assistant=shop, name="utter_done").variations[0]
    assert variation["condition"] == "slots.confirmed = false"
    page = _edit_page(ed_client, shop)
    assert _value_box(page, "v0-cond-value") == "select"
    assert '<option value="true">true</option><option value="false" selected>false</option>' in (
        page
    )


def test_a_slot_list_condition_is_edited_with_the_value_picked_from_the_slots_values(
    ed_client, shop
):
    condition = [
        {"type": "slot", "name": "tier", "value": "gold"},
        {"type": "slot", "name": "confirmed", "value": True},
    ]
    _store_variations(shop, [{"text": "Gold!", "condition": condition}, {"text": "Done!"}])
    page = _edit_page(ed_client, shop)
    assert "Only when these slots have these values" in page
    assert page.count('name="v0-sc-value"') == 3  # two conditions and a blank row
    assert '<option value="gold" selected>gold</option><option value="silver">silver</option>' in (
        page
    )
    assert '<option value="true" selected>true</option><option value="false">false</option>' in (
        page
    )
    # Saved unchanged, the list stays exactly as it was.
    data = {
        "v0-text": "Gold!",
        "v0-sc-slot": ["tier", "confirmed", ""],
        "v0-sc-value": ["gold", "true", ""],
        "v1-text": "Done!",
        "variation_count": "3",
    }
    assert save_response(ed_client, shop, "utter_done", data, old="utter_done").status_code == 302
    stored = Response.objects.get(assistant=shop, name="utter_done").variations
    assert stored[0]["condition"] == condition
    # Another value picked is stored, typed as the slot holds it.
    data.update({"v0-sc-value": ["silver", "false", ""]})
    save_response(ed_client, shop, "utter_done", data, old="utter_done")
    assert Response.objects.get(assistant=shop, name="utter_done").variations[0]["condition"] == [
        {"type": "slot", "name": "tier", "value": "silver"},
        {"type": "slot", "name": "confirmed", "value": False},
    ]
    # Every row emptied: the variation has no condition any more.
    data.update({"v0-sc-slot": ["", "", ""], "v0-sc-value": ["", "", ""]})
    save_response(ed_client, shop, "utter_done", data, old="utter_done")
    assert "condition" not in Response.objects.get(assistant=shop, name="utter_done").variations[0]


@pytest.mark.parametrize(
    ("slots", "values", "message"),
    [
        (["tier"], ["bronze"], "tier: 'bronze' is not one of its values (gold, silver)."),
        (["confirmed"], ["maybe"], "confirmed: 'maybe' is not true or false."),
        (["nope"], ["x"], "There is no slot called nope."),
    ],
)
def test_a_wrong_slot_list_condition_is_refused_and_nothing_is_stored(
    ed_client, shop, slots, values, message
):
    variations = [
        {"text": "Gold!", "condition": [{"type": "slot", "name": "tier", "value": "gold"}]}
    ]
    _store_variations(shop, variations)
    response = save_response(
        ed_client,
        shop,
        "utter_done",
        {"v0-text": "Gold!", "v0-sc-slot": slots, "v0-sc-value": values},
        old="utter_done",
    )
    assert message in response.content.decode().replace("&#x27;", "'")
    assert Response.objects.get(assistant=shop, name="utter_done").variations == variations


def test_the_side_panel_edits_a_slot_list_condition_too(ed_client, shop):
    _store_variations(
        shop, [{"text": "Gold!", "condition": [{"type": "slot", "name": "tier", "value": "gold"}]}]
    )
    url = reverse("flows:step_edit", args=[shop.name, "order"])
    page = ed_client.get(url, {"path": "steps[1]"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Only when these slots have these values" in page
    assert '<option value="gold" selected>gold</option><option value="silver">silver</option>' in (
        page
    )
