"""Intents, examples (bulk add, annotation by offsets, moving), entities, synonyms, regexes and
lookup tables."""

import pytest
from django.urls import reverse

from apps.nlu.models import Entity, Example, Intent, LookupTable, Regex, Synonym

pytestmark = pytest.mark.django_db


def example(shop, text):
    return Example.objects.get(intent__assistant=shop, text=text)


def test_intents_list_their_example_counts(ed_client, shop):
    page = ed_client.get(reverse("nlu:intents", args=[shop.name])).content.decode()
    assert "<code>greet</code></a></td>\n      <td>2</td>" in page


@pytest.mark.parametrize(
    ("name", "message"), [("check balance", "no spaces"), ("greet", "already")]
)
def test_a_bad_intent_name_is_refused(ed_client, shop, name, message):
    response = ed_client.post(reverse("nlu:intents", args=[shop.name]), {"name": name})
    assert message in response.content.decode()
    assert Intent.objects.filter(assistant=shop).count() == 2


def test_bulk_add_with_markup(ed_client, shop):
    url = reverse("nlu:intent", args=[shop.name, "order"])
    response = ed_client.post(url, {"text": "- to [Paris](city)\nship it\n\n"})
    assert response.status_code == 302
    assert example(shop, "to Paris").entities == [
        {"start": 3, "end": 8, "value": "Paris", "entity": "city"}
    ]
    assert example(shop, "ship it").intent.name == "order"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I want to order", "already an example"),
        ("to [Rome](town)", "no entity called town"),
        ('to [Rome]{"entity": "city", "role": "via"}', "has no role via"),
        ("to [Rome](city)\nto [Rome](city)", "already an example"),
    ],
)
def test_bulk_add_refuses_bad_lines_and_adds_nothing(ed_client, shop, text, message):
    url = reverse("nlu:intent", args=[shop.name, "order"])
    response = ed_client.post(url, {"text": f"a fine one\n{text}"})
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Example.objects.filter(text="a fine one").exists()


def test_annotate_a_selection_with_a_role_and_a_synonym(ed_client, shop):
    ex = example(shop, "I want to order")
    url = reverse("nlu:example_annotate", args=[shop.name, ex.pk])
    response = ed_client.post(
        url, {"start": 9, "end": 15, "entity": "city", "role": "to", "synonym": "Ordnung"}
    )
    assert response.status_code == 302
    ex.refresh_from_db()
    assert ex.entities == [
        {"start": 10, "end": 15, "value": "Ordnung", "entity": "city", "role": "to"}
    ]
    assert Synonym.objects.get(assistant=shop, name="Ordnung").examples == ["order"]
    page = ed_client.get(reverse("nlu:intent", args=[shop.name, "order"])).content.decode()
    assert 'data-entity="city:to → Ordnung">order</mark>' in page
    ed_client.post(reverse("nlu:example_unannotate", args=[shop.name, ex.pk]) + "?index=0")
    ex.refresh_from_db()
    assert ex.entities == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": 3, "end": 99, "entity": "city"}, "Select some text"),
        ({"start": 0, "end": 4, "entity": "town"}, "Select a valid choice"),
        ({"start": 0, "end": 4, "entity": "city", "role": "via"}, "has no role via"),
        ({"start": 6, "end": 11, "entity": "city"}, "overlaps the entity city"),
    ],
)
def test_a_bad_annotation_is_refused(ed_client, shop, data, message):
    ex = example(shop, "order to Berlin")
    before = list(ex.entities)
    response = ed_client.post(reverse("nlu:example_annotate", args=[shop.name, ex.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    ex.refresh_from_db()
    assert ex.entities == before


def test_move_examples_between_intents(ed_client, shop):
    ex = example(shop, "hello")
    greet = Intent.objects.get(assistant=shop, name="greet")
    order = Intent.objects.get(assistant=shop, name="order")
    url = reverse("nlu:examples_move", args=[shop.name, "greet"])
    ed_client.post(url, {"examples": [ex.pk], "target": order.pk})
    assert example(shop, "hello").intent == order
    assert greet.examples.count() == 1


def test_an_intent_a_flow_starts_on_is_not_deleted(ed_client, shop):
    url = reverse("nlu:intent_delete", args=[shop.name, "order"])
    page = ed_client.post(url, {"confirm_name": "order"}).content.decode()
    assert "Still in use" in page
    assert Intent.objects.filter(assistant=shop, name="order").exists()
    ed_client.post(
        reverse("nlu:intent_delete", args=[shop.name, "greet"]), {"confirm_name": "greet"}
    )
    assert not Intent.objects.filter(assistant=shop, name="greet").exists()


def test_entities(ed_client, shop):
    url = reverse("nlu:entities", args=[shop.name])
    assert "already an entity" in ed_client.post(url, {"name": "city"}).content.decode()
    ed_client.post(url, {"name": "fruit", "roles": "main, side"})
    assert Entity.objects.get(assistant=shop, name="fruit").definition == {
        "roles": ["main", "side"]
    }


@pytest.mark.parametrize(
    ("kind", "model"), [("synonyms", Synonym), ("regexes", Regex), ("lookups", LookupTable)]
)
def test_lexicon_editors(ed_client, shop, kind, model):
    url = reverse(f"nlu:{kind}", args=[shop.name])
    ed_client.post(url, {"name": "thing", "values": "a\nb\na\n"})
    item = model.objects.get(assistant=shop, name="thing")
    assert item.examples == ["a", "b"]
    ed_client.post(url, {"item_id": item.pk, "name": "thing", "values": "c"})
    item.refresh_from_db()
    assert item.examples == ["c"]
    assert "required" in ed_client.post(url, {"name": "x", "values": " "}).content.decode()
    ed_client.post(url, {"item_id": item.pk, "delete": "1"})
    assert not model.objects.filter(assistant=shop).exists()


def test_a_bad_regex_is_refused(ed_client, shop):
    response = ed_client.post(
        reverse("nlu:regexes", args=[shop.name]), {"name": "zip", "values": "[0-9"}
    )
    assert "not a valid pattern" in response.content.decode()
    assert not Regex.objects.exists()


def test_an_annotator_reads_but_cannot_edit(client, shop, make_user):
    from apps.accounts.roles import Role

    client.force_login(make_user("ann", Role.ANNOTATOR))
    url = reverse("nlu:intent", args=[shop.name, "order"])
    assert client.get(url).status_code == 200
    assert client.post(url, {"text": "new one"}).status_code == 403
