"""config.yml's languages as Rasa Pro checks them, and rewriting them with the file's comments."""

import pytest

from engine import formats
from engine.formats.validation import check_project_files

DOMAIN = 'version: "3.1"\nresponses:\n  utter_hi:\n    - text: Hi\n'


@pytest.mark.parametrize(
    "code", ["en", "de", "pt-BR", "zh-Hant-TW", "es-419", "yue", "x-de-formal", "x-en-US-formal"]
)
def test_bcp47_codes_and_custom_keys_are_accepted(code):
    assert formats.language_problem(code) is None


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("pt-br", "write 'pt-BR'"),
        ("DE", "write 'de'"),
        ("deu", "write 'de'"),
        ("iw", "write 'he'"),
        ("zz", "not a known language"),
        ("english", "not a BCP 47 language code"),
        ("de_DE", "not a BCP 47 language code"),
        ("x-formal", "x-<language>-<label>"),
        ("x-zz-formal", "base language of 'x-zz-formal'"),
        ("", "non-empty"),
    ],
)
def test_wrong_codes_are_refused_saying_why(code, said):
    problem = formats.language_problem(code)
    assert problem is not None and said in problem


def _config_errors(config: str) -> list:
    _, problems = check_project_files({"domain.yml": DOMAIN, "config.yml": config})
    return [p for p in problems if p.severity == "error" and p.file == "config.yml"]


def test_config_languages_are_checked_naming_the_key_and_line():
    config = (
        "recipe: default.v1\nlanguage: en\nassistant_id: t\n"
        "additional_languages:\n  - de\n  - en\n  - pt-br\n  - de\n"
    )
    errors = _config_errors(config)
    by_path = {p.path: p for p in errors}
    assert set(by_path) == {
        "additional_languages.1",
        "additional_languages.2",
        "additional_languages.3",
    }
    assert "default language 'en'" in by_path["additional_languages.1"].message
    assert "pt-BR" in by_path["additional_languages.2"].message
    assert "twice" in by_path["additional_languages.3"].message
    # the line of the list (or of its item, where the file's line map has one)
    assert by_path["additional_languages.2"].line in (4, 7)


def test_additional_languages_is_a_known_config_key():
    _, problems = check_project_files(
        {
            "domain.yml": DOMAIN,
            "config.yml": "recipe: default.v1\nlanguage: en\nassistant_id: t\n"
            "additional_languages: [de]\n",
        }
    )
    assert not [p for p in problems if "additional_languages" in p.path]


def test_a_wrong_default_language_is_an_error():
    errors = _config_errors("recipe: default.v1\nlanguage: english\nassistant_id: t\n")
    assert [p.path for p in errors] == ["language"]


def test_a_domain_language_slot_is_refused_as_rasa_pro_does():
    domain = DOMAIN + "slots:\n  language:\n    type: text\n"
    _, problems = check_project_files(
        {"domain.yml": domain, "config.yml": "language: en\nassistant_id: t\n"}
    )
    errors = [p for p in problems if p.severity == "error"]
    assert any(p.path == "slots.language" and "built-in" in p.message for p in errors)


def test_flows_may_set_and_test_the_language_slot():
    flows = (
        "flows:\n  speak_german:\n    description: switch to German\n    steps:\n"
        "      - set_slots:\n          - language: de\n"
        "      - noop: true\n        next:\n"
        '          - if: slots.language = "de"\n            then: END\n'
        "          - else: END\n"
    )
    _, problems = check_project_files(
        {
            "domain.yml": DOMAIN,
            "config.yml": "language: en\nadditional_languages: [de]\nassistant_id: t\n",
            "data/flows.yml": flows,
        }
    )
    assert not [p for p in problems if p.severity == "error"], problems


CONFIG = """\
# The assistant's configuration.
recipe: default.v1
language: en  # the default language
assistant_id: bank
pipeline:
  - name: NLUCommandAdapter  # understands buttons
policies:
  - name: FlowPolicy
"""


def test_with_languages_keeps_comments_and_other_keys():
    text = formats.with_languages(CONFIG, "en", ["de", "x-de-formal"])
    assert text == CONFIG.replace(
        "assistant_id: bank\n",
        "additional_languages:\n  - de\n  - x-de-formal\nassistant_id: bank\n",
    )
    again = formats.with_languages(text, "de", [])
    assert "additional_languages" not in again
    assert "language: de  # the default language" in again
    assert "# The assistant's configuration." in again
    assert "  - name: NLUCommandAdapter  # understands buttons" in again


def test_with_languages_leaves_an_unchanged_file_alone():
    text = formats.with_languages(CONFIG, "en", ["de"])
    assert formats.with_languages(text, "en", ["de"]) is text
    assert formats.with_languages(CONFIG, "en", []) is CONFIG


def test_with_languages_adds_the_keys_to_an_empty_file():
    text = formats.with_languages("", "de", ["en"])
    data = formats.load_yaml(text, "config.yml").data
    assert data == {"language": "de", "additional_languages": ["en"]}
