"""The Languages settings page and the translation page: config.yml's languages edited with its
comments kept, translations saved exactly where Rasa Pro reads them, missing counts, and
translations that go through import and export unchanged."""

import html
import io
import zipfile

import pytest
from django.urls import reverse
from ruamel.yaml import YAML

from apps.accounts.roles import Role
from apps.flows.models import Flow, Response
from apps.flows.services import translations
from apps.projects import content
from apps.projects.models import AssistantFiles
from engine import formats

pytestmark = pytest.mark.django_db

CONFIG = """\
# Shop assistant: its languages are edited on the Languages page.
recipe: default.v1
language: en  # the language its texts are written in
assistant_id: shop
pipeline:
  - name: NLUCommandAdapter
policies:
  - name: FlowPolicy
"""

DOMAIN = """\
version: "3.1"
intents:
  - order
slots:
  tier:
    type: categorical
    values: [gold, silver]
    mappings:
      - type: from_llm
responses:
  utter_greet:
    - text: "Hello!"
      translation:
        de: "Hallo!"
  utter_ask_tier:
    - text: "Which tier?"
      buttons:
        - title: "Gold"
          payload: "/SetSlots(tier=gold)"
          translation:
            de:
              title: "Gold DE"
        - title: "Silver"
          payload: "/SetSlots(tier=silver)"
  utter_done:
    - condition: slots.tier = "gold"
      text: "Done, gold member."
    - text: "Done."
  utter_image_only:
    - image: "https://example.com/a.png"
"""

FLOWS = """\
flows:
  order:
    name: place an order
    description: Order something
    translation:
      de:
        name: Bestellen
    steps:
      - collect: tier
      - action: utter_done
  helper:
    description: A helper flow
    steps:
      - action: utter_greet
"""


@pytest.fixture
def shop(make_assistant):
    assistant = make_assistant("shop")
    content.import_files(
        assistant,
        {
            "config.yml": CONFIG.replace(
                "assistant_id: shop\n", "additional_languages:\n  - de\nassistant_id: shop\n"
            ),
            "domain.yml": DOMAIN,
            "data/flows.yml": FLOWS,
        },
    )
    return assistant


@pytest.fixture
def dev(client, make_user):
    client.force_login(make_user("dev", Role.DEVELOPER))
    return client


def _config(assistant) -> str:
    return AssistantFiles.objects.get(assistant=assistant).config_yml


def _languages_url():
    return reverse("flows:languages", args=["shop"])


def _translations_url(language="de"):
    return reverse("flows:translations", args=["shop"]) + f"?language={language}"


# --------------------------------------------------------------------------------------------
# The Languages page


def test_adding_languages_writes_config_yml_keeping_its_comments(dev, shop):
    response = dev.post(
        _languages_url(), {"language": "en", "additional_languages": "de\nx-de-formal, pt-BR"}
    )
    assert response.status_code == 302
    text = _config(shop)
    assert text.startswith("# Shop assistant: its languages are edited on the Languages page.\n")
    assert "language: en  # the language its texts are written in\n" in text
    data = YAML(typ="safe").load(text)
    assert data["additional_languages"] == ["de", "x-de-formal", "pt-BR"]
    assert data["pipeline"] == [{"name": "NLUCommandAdapter"}]
    assert translations.languages_of(shop).additional == ("de", "x-de-formal", "pt-BR")


@pytest.mark.parametrize(
    ("posted", "said"),
    [
        ({"language": "english", "additional_languages": ""}, "Default language: 'english'"),
        ({"language": "en", "additional_languages": "de\npt-br"}, "write 'pt-BR'"),
        (
            {"language": "en", "additional_languages": "x-formal"},
            "x-<language>-<label>",
        ),
        ({"language": "en", "additional_languages": "de\nen"}, "is the default language"),
        ({"language": "en", "additional_languages": "de de"}, "listed twice"),
    ],
)
def test_bad_codes_are_refused_naming_the_field(dev, shop, posted, said):
    before = _config(shop)
    response = dev.post(_languages_url(), posted)
    assert response.status_code == 400
    assert said in html.unescape(response.content.decode())
    assert _config(shop) == before


def test_changing_the_default_language_asks_for_confirmation(dev, shop):
    before = _config(shop)
    response = dev.post(_languages_url(), {"language": "de", "additional_languages": "en"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Changing the default language is destructive" in page
    assert 'name="confirm_default"' in page
    assert _config(shop) == before  # nothing written before the confirmation

    response = dev.post(
        _languages_url(),
        {"language": "de", "additional_languages": "en", "confirm_default": "on"},
    )
    assert response.status_code == 302
    data = YAML(typ="safe").load(_config(shop))
    assert data["language"] == "de" and data["additional_languages"] == ["en"]
    shop.refresh_from_db()
    assert shop.language == "de"


def test_the_language_list_shows_missing_counts(dev, shop):
    page = dev.get(_languages_url()).content.decode()
    # de: utter_ask_tier text, Silver's title, both utter_done texts, helper's name.
    assert "5 missing" in page
    assert "of 8" in page
    assert translations.missing_counts(shop, ["de"]) == {"de": (5, 8)}


def test_the_languages_page_needs_the_settings_capability(client, shop, make_user):
    client.force_login(make_user("fb", Role.FLOW_BUILDER))
    assert client.get(_languages_url()).status_code == 403
    assert client.get(_translations_url()).status_code == 200


# --------------------------------------------------------------------------------------------
# The translation page


def test_the_page_shows_every_text_with_its_reference(dev, shop):
    page = dev.get(_translations_url()).content.decode()
    for reference in ("Hello!", "Which tier?", "Gold", "Silver", "Done, gold member.", "Done."):
        assert reference in page
    assert "place an order" in page  # a flow name
    assert 'value="Gold DE"' in page and ">Hallo!</textarea>" in page
    assert "slots.tier = &quot;gold&quot;" in page  # the condition of a conditional variation
    assert "utter_image_only" not in page  # images are not translated by Rasa


def test_only_missing_lists_what_has_no_translation(dev, shop):
    page = dev.get(_translations_url() + "&missing=1").content.decode()
    assert "utter_done" in page and "utter_ask_tier" in page
    assert "utter_greet" not in page  # fully translated


def test_an_unknown_language_is_404(dev, shop):
    assert dev.get(_translations_url("fr")).status_code == 404


def _post_translations(client, values, language="de"):
    return client.post(
        reverse("flows:translations", args=["shop"]),
        {"language": language, **{f"t:{k}": v for k, v in values.items()}},
    )


def test_saving_writes_translation_where_rasa_reads_it(dev, shop):
    response = _post_translations(
        dev,
        {
            "r|utter_ask_tier|0|text": "Welche Stufe?",
            "r|utter_ask_tier|0|b1|title": "Silber",
            "r|utter_ask_tier|0|b1|payload": "/SetSlots(tier=silver)",
            "r|utter_done|0|text": "Erledigt, Gold-Mitglied.",
            "r|utter_done|1|text": "Erledigt.",
            "r|utter_greet|0|text": "",  # cleared: the translation is removed
            "f|helper|name": "Helfer",
        },
    )
    assert response.status_code == 302
    exported = formats.dump_project(content.export_project(shop))
    domain = YAML(typ="safe").load(exported["domain.yml"])
    responses = domain["responses"]
    assert responses["utter_ask_tier"][0]["translation"] == {"de": "Welche Stufe?"}
    assert responses["utter_ask_tier"][0]["buttons"] == [
        {
            "title": "Gold",
            "payload": "/SetSlots(tier=gold)",
            "translation": {"de": {"title": "Gold DE"}},
        },
        {
            "title": "Silver",
            "payload": "/SetSlots(tier=silver)",
            "translation": {"de": {"title": "Silber", "payload": "/SetSlots(tier=silver)"}},
        },
    ]
    assert responses["utter_done"][0] == {
        "text": "Done, gold member.",
        "condition": 'slots.tier = "gold"',
        "translation": {"de": "Erledigt, Gold-Mitglied."},
    }
    assert responses["utter_done"][1]["translation"] == {"de": "Erledigt."}
    assert "translation" not in responses["utter_greet"][0]
    flows_file = next(p for p in exported if "flows" in p and p.endswith(".yml"))
    flows = YAML(typ="safe").load(exported[flows_file])["flows"]
    assert flows["helper"]["translation"] == {"de": {"name": "Helfer"}}
    assert flows["order"]["translation"] == {"de": {"name": "Bestellen"}}
    assert translations.missing_counts(shop, ["de"]) == {"de": (1, 8)}  # utter_greet, cleared
    # The flow's change is in its history like any other edit.
    assert shop.flow_versions.filter(flow_name="helper", summary__icontains="de").exists()


def test_a_flow_builder_saves_and_a_business_user_may_only_look(client, shop, make_user):
    client.force_login(make_user("bu", Role.BUSINESS_USER))
    page = client.get(_translations_url()).content.decode()
    assert "readonly" in page and "Save translations" not in page
    assert _post_translations(client, {"f|helper|name": "Helfer"}).status_code == 403
    assert "translation" not in Flow.objects.get(assistant=shop, name="helper").definition


def test_too_long_text_is_not_stored(dev, shop):
    response = _post_translations(dev, {"r|utter_greet|0|text": "x" * 6000})
    assert response.status_code == 302
    assert Response.objects.get(assistant=shop, name="utter_greet").variations[0][
        "translation"
    ] == {"de": "Hallo!"}


def test_an_assistant_without_additional_languages_says_how_to_add_one(dev, make_assistant):
    other = make_assistant("solo")
    content.import_files(other, {"config.yml": CONFIG, "domain.yml": DOMAIN})
    page = dev.get(reverse("flows:translations", args=["solo"])).content.decode()
    assert "speaks only its default language" in page


# --------------------------------------------------------------------------------------------
# Import and export


ROUND_TRIP_CONFIG = CONFIG.replace(
    "assistant_id: shop\n",
    "additional_languages:\n  - de\n  - x-de-formal\nassistant_id: shop\n",
)


def test_import_and_export_keep_translations_unchanged(dev, make_assistant):
    assistant = make_assistant("trip")
    domain = DOMAIN.replace(
        '    - text: "Done."\n',
        '    - text: "Done."\n      translation:\n        de: "Fertig."\n        x-de-formal: "Erledigt."\n',
    )
    source = {"config.yml": ROUND_TRIP_CONFIG, "domain.yml": domain, "data/flows.yml": FLOWS}
    content.import_files(assistant, source)
    response = dev.get(reverse("projects:export", args=["trip"]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        exported = {n: archive.read(n).decode() for n in archive.namelist()}
    yaml = YAML(typ="safe")
    config_path = next(p for p in exported if p.endswith("config.yml"))
    assert exported[config_path] == ROUND_TRIP_CONFIG  # the text itself, comments and all
    domain_path = next(p for p in exported if p.endswith("domain.yml"))
    assert yaml.load(exported[domain_path])["responses"] == yaml.load(domain)["responses"]
    flows_path = next(p for p in exported if p.endswith(".yml") and "flows" in p)
    got = yaml.load(exported[flows_path])["flows"]
    want = yaml.load(FLOWS)["flows"]
    assert {k: v.get("translation") for k, v in got.items()} == {
        k: v.get("translation") for k, v in want.items()
    }
    assert got["order"]["name"] == "place an order"


def test_the_rasa_studio_cli_path_round_trips_translations(client, make_user):
    """`rasa studio upload` then `download`: the GraphQL parts keep every translation."""
    from apps.accounts.models import ApiToken
    from apps.projects.tests.graphql.cli_support import export, post, unb64, upload

    token = ApiToken.issue(make_user("cli", Role.DEVELOPER), "cli")[1]
    config = ROUND_TRIP_CONFIG.replace("assistant_id: shop", "assistant_id: cli-trip")
    body = upload(
        "cli-trip",
        config=config,
        domain=DOMAIN,
        flows=FLOWS,
        endpoints="action_endpoint:\n  url: http://localhost:5055/webhook\n",
    )
    answer = post(client, body, token).json()
    assert "errors" not in answer, answer
    out = post(client, export("cli-trip"), token).json()["data"]["exportAsEncodedYaml"]
    yaml = YAML(typ="safe")
    assert yaml.load(unb64(out["config"]))["additional_languages"] == ["de", "x-de-formal"]
    assert yaml.load(unb64(out["domain"]))["responses"] == yaml.load(DOMAIN)["responses"]
    flows = yaml.load(unb64(out["flows"]))["flows"]
    assert flows["order"]["translation"] == {"de": {"name": "Bestellen"}}
