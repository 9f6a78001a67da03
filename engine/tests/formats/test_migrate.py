"""Rasa 2.x domains are migrated on import the way `rasa data migrate` does; Rasa 1.x Markdown
training data is refused with Rasa's advice."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from engine.formats import (
    FormatError,
    domain_to_dict,
    dump_project,
    load_project_dir,
    load_project_files,
    validate_project,
)

PROJECT = Path(__file__).parent.parent / "rasa_projects" / "rasa2-classic"


def _load(domain: str, **others: str):
    return load_project_files({"domain.yml": domain, **others})


def _domain(project) -> dict:
    return YAML(typ="safe").load(dump_project(project)["domain.yml"])


def _notes(project, file: str = "domain.yml") -> dict[str, tuple[int | None, str]]:
    """The migration notes of one file by key path: (line, message)."""
    return {
        p.path: (p.line, p.message)
        for p in project.load_warnings
        if p.file == file and p.message.startswith("migrated from Rasa 2.x")
    }


def _errors(files: dict[str, str]) -> list:
    with pytest.raises(FormatError) as caught:
        load_project_files(files)
    return caught.value.problems


FORM_DOMAIN = """\
version: "2.0"
intents:
  - inform
  - deny
entities:
  - cuisine
slots:
  cuisine:
    type: text
    auto_fill: false
  outdoor:
    type: bool
    auto_fill: false
  note:
    type: text
    auto_fill: false
forms:
  table_form:
    ignored_intents:
      - deny
    required_slots:
      cuisine:
        - type: from_entity
          entity: cuisine
        - type: from_text
          not_intent: deny
      outdoor:
        - type: from_intent
          intent: inform
          value: true
        - type: from_trigger_intent
          intent: deny
          value: false
responses:
  utter_ask_cuisine:
    - text: Which cuisine?
  utter_ask_outdoor:
    - text: Outside?
"""


def test_form_mappings_move_to_the_slots_with_the_form_as_condition():
    project = _load(FORM_DOMAIN)
    domain = _domain(project)

    assert domain["version"] == "3.1"
    assert domain["forms"] == {
        "table_form": {"required_slots": ["cuisine", "outdoor"], "ignored_intents": ["deny"]}
    }
    # from_entity and from_trigger_intent are conditioned on the form only; the others on
    # the slot being requested too, as Rasa's migration does.
    assert domain["slots"]["cuisine"]["mappings"] == [
        {"type": "from_entity", "entity": "cuisine", "conditions": [{"active_loop": "table_form"}]},
        {
            "type": "from_text",
            "not_intent": "deny",
            "conditions": [{"active_loop": "table_form", "requested_slot": "cuisine"}],
        },
    ]
    assert domain["slots"]["outdoor"]["mappings"] == [
        {
            "type": "from_intent",
            "intent": "inform",
            "value": True,
            "conditions": [{"active_loop": "table_form", "requested_slot": "outdoor"}],
        },
        {
            "type": "from_trigger_intent",
            "intent": "deny",
            "value": False,
            "conditions": [{"active_loop": "table_form"}],
        },
    ]
    assert "auto_fill" not in domain["slots"]["cuisine"]
    assert validate_project(project) == []


def test_every_change_is_reported_with_file_line_and_key():
    notes = _notes(_load(FORM_DOMAIN))
    assert notes["version"][0] == 1
    assert 'version "2.0" becomes "3.1"' in notes["version"][1]
    assert notes["forms.table_form.required_slots.cuisine"][0] == 22
    assert "move to slots.cuisine.mappings" in notes["forms.table_form.required_slots.cuisine"][1]
    assert notes["forms.table_form.required_slots.outdoor"][0] == 27
    assert notes["forms.table_form.required_slots"][0] == 21
    assert "list of slot names (cuisine, outdoor)" in notes["forms.table_form.required_slots"][1]
    assert notes["slots.cuisine.auto_fill"][0] == 10
    assert "auto_fill: false" in notes["slots.cuisine.auto_fill"][1]
    # the slot no form fills and no entity matches is set by actions only
    assert notes["slots.note"][0] == 14
    assert "controlled mapping" in notes["slots.note"][1]


def test_the_rasa_2_0_form_format_without_required_slots_is_migrated():
    project = _load(
        """\
version: "2.0"
slots:
  city:
    type: text
forms:
  trip_form:
    city:
      - type: from_text
"""
    )
    domain = _domain(project)
    assert domain["forms"] == {"trip_form": {"required_slots": ["city"]}}
    assert domain["slots"]["city"]["mappings"] == [
        {
            "type": "from_text",
            "conditions": [{"active_loop": "trip_form", "requested_slot": "city"}],
        }
    ]
    assert _notes(project)["forms.trip_form.city"][0] == 7


def test_a_mapping_two_forms_share_is_kept_once_with_both_conditions():
    domain = _domain(
        _load(
            """\
version: "2.0"
entities:
  - city
slots:
  city:
    type: text
    auto_fill: false
forms:
  trip_form:
    required_slots:
      city:
        - type: from_entity
          entity: city
  hotel_form:
    required_slots:
      city:
        - type: from_entity
          entity: city
"""
        )
    )
    assert domain["slots"]["city"]["mappings"] == [
        {
            "type": "from_entity",
            "entity": "city",
            "conditions": [{"active_loop": "trip_form"}, {"active_loop": "hotel_form"}],
        }
    ]


def test_auto_fill_becomes_a_from_entity_mapping_only_when_it_was_on():
    project = _load(
        """\
version: "2.0"
entities:
  - city
  - date:
      roles: [departure, arrival]
  - name
slots:
  city:
    type: text
  date:
    type: text
    auto_fill: true
  name:
    type: text
    auto_fill: false
"""
    )
    slots = _domain(project)["slots"]
    assert slots["city"]["mappings"] == [{"type": "from_entity", "entity": "city"}]
    assert slots["date"]["mappings"] == [{"type": "from_entity", "entity": "date"}]
    assert slots["name"]["mappings"] == [{"type": "controlled"}]
    notes = _notes(project)
    assert notes["slots.city"][0] == 8  # auto_fill was on by default: no key of its own
    assert "from the entity 'city'" in notes["slots.city"][1]
    assert notes["slots.date.auto_fill"][0] == 12
    assert notes["slots.name.auto_fill"][0] == 15


def test_a_form_mapping_and_the_auto_fill_mapping_are_both_kept():
    domain = _domain(
        _load(
            """\
version: "2.0"
entities:
  - city
slots:
  city:
    type: text
forms:
  trip_form:
    required_slots:
      city:
        - type: from_entity
          entity: city
"""
        )
    )
    assert domain["slots"]["city"]["mappings"] == [
        {"type": "from_entity", "entity": "city", "conditions": [{"active_loop": "trip_form"}]},
        {"type": "from_entity", "entity": "city"},
    ]


def test_unfeaturized_slots_and_templates_are_migrated():
    project = _load(
        """\
version: "2.0"
slots:
  order_id:
    type: unfeaturized
    auto_fill: false
templates:
  utter_hello:
    - text: Hello
"""
    )
    domain = _domain(project)
    assert domain["slots"]["order_id"] == {
        "type": "any",
        "influence_conversation": False,
        "mappings": [{"type": "controlled"}],
    }
    assert "templates" not in domain
    assert domain["responses"] == {"utter_hello": [{"text": "Hello"}]}
    notes = _notes(project)
    assert notes["slots.order_id.type"][0] == 4
    assert notes["templates"][0] == 6
    assert [w for w in project.load_warnings if "unknown" in w.message] == []


def test_a_domain_without_version_but_with_rasa_2_constructs_is_migrated():
    domain = _domain(
        _load(
            """\
entities:
  - city
slots:
  city:
    type: text
    auto_fill: true
"""
        )
    )
    assert domain["slots"]["city"] == {
        "type": "text",
        "mappings": [{"type": "from_entity", "entity": "city"}],
    }


def test_a_rasa_3_domain_is_left_alone():
    text = """\
version: "3.1"
entities:
  - city
slots:
  city:
    type: text
forms:
  trip_form:
    required_slots:
      - city
"""
    project = _load(text)
    assert [w for w in project.load_warnings if "Rasa 2" in w.message] == []
    domain = _domain(project)
    # no mappings means from_llm in Rasa Pro 3: no controlled mapping is added
    assert domain["slots"]["city"] == {"type": "text"}
    assert domain["forms"] == {"trip_form": {"required_slots": ["city"]}}


@pytest.mark.parametrize(
    ("body", "line", "path"),
    [
        ("slots:\n  city:\n    type: text\n    auto_fill: false\n", 5, "slots.city.auto_fill"),
        (
            "slots:\n  city:\n    type: text\nforms:\n  f:\n    required_slots:\n"
            "      city:\n        - type: from_text\n",
            6,
            "forms.f",
        ),
    ],
)
def test_rasa_2_constructs_in_a_version_3_file_are_refused(body, line, path):
    problems = _errors({"domain.yml": 'version: "3.1"\n' + body})
    refusal = next(p for p in problems if p.path == path)
    assert refusal.file == "domain.yml"
    assert refusal.line == line
    assert "Rasa 2.x domain format" in refusal.message
    assert "rasa data migrate" in refusal.message


def test_templates_in_a_version_3_file_is_a_warning_since_rasa_ignores_it():
    project = _load('version: "3.1"\ntemplates:\n  utter_hi:\n    - text: hi\n')
    warning = next(w for w in project.load_warnings if w.path == "templates")
    assert warning.line == 2
    assert "rename it to 'responses'" in warning.message


SPLIT_FORMS = """\
version: "2.0"
forms:
  trip_form:
    required_slots:
      city:
        - type: from_entity
          entity: city
      seats:
        - type: from_text
"""
SPLIT_SLOTS = """\
version: "2.0"
slots:
  city:
    type: text
  seats:
    type: text
    auto_fill: false
"""


def test_a_domain_split_over_files_migrates_as_a_whole():
    project = load_project_files(
        {
            "domain/forms.yml": SPLIT_FORMS,
            "domain/slots.yml": SPLIT_SLOTS,
            # no version: as old as the rest of the project
            "domain/entities.yml": "entities:\n  - city\n",
        }
    )
    slots = _domain(project)["slots"]
    assert slots["city"]["mappings"] == [
        {"type": "from_entity", "entity": "city", "conditions": [{"active_loop": "trip_form"}]},
        {"type": "from_entity", "entity": "city"},  # auto_fill with the entity of another file
    ]
    assert slots["seats"]["mappings"] == [
        {
            "type": "from_text",
            "conditions": [{"active_loop": "trip_form", "requested_slot": "seats"}],
        }
    ]
    note = _notes(project, "domain/forms.yml")["forms.trip_form.required_slots.seats"]
    assert note[0] == 8
    assert "move to slots.seats.mappings in domain/slots.yml" in note[1]
    assert validate_project(project) == []


def test_an_unversioned_file_of_a_rasa_2_domain_is_migrated_too():
    project = load_project_files(
        {
            "domain/slots.yml": "slots:\n  order:\n    type: text\n",
            "domain/intents.yml": 'version: "2.0"\nintents:\n  - greet\n',
        }
    )
    assert _domain(project)["slots"]["order"]["mappings"] == [{"type": "controlled"}]


def test_old_stories_do_not_make_an_unversioned_domain_rasa_2():
    project = load_project_files(
        {
            "domain.yml": "slots:\n  order:\n    type: text\n",
            "data/stories.yml": 'version: "2.0"\nstories: []\n',
        }
    )
    # Rasa 3 reads the domain as version 3.1: no mappings means the LLM fills the slot.
    assert _domain(project)["slots"]["order"] == {"type": "text"}


def test_a_form_slot_no_file_declares_is_refused_with_the_advice():
    problems = _errors({"domain/forms.yml": SPLIT_FORMS})
    refusal = next(p for p in problems if p.path == "forms.trip_form.required_slots.city")
    assert (refusal.file, refusal.line) == ("domain/forms.yml", 5)
    assert "which no domain file declares under 'slots'" in refusal.message
    assert "rasa data migrate" in refusal.message


def test_form_mappings_cannot_move_into_a_version_3_file():
    problems = _errors(
        {
            "domain/forms.yml": SPLIT_FORMS,
            "domain/slots.yml": SPLIT_SLOTS.replace("2.0", "3.1").replace(
                "    auto_fill: false\n", ""
            ),
        }
    )
    refusal = next(p for p in problems if p.path == "forms.trip_form.required_slots.city")
    assert refusal.line == 5
    assert "says it is version 3" in refusal.message


@pytest.mark.parametrize(
    ("mappings", "line"),
    [("        - from_text\n", 5), ("        - entity: city\n", 5), ("        type: x\n", 5)],
)
def test_form_mappings_that_are_not_a_mapping_list_are_refused(mappings, line):
    problems = _errors(
        {
            "domain.yml": 'version: "2.0"\nslots:\n  city:\n    type: text\n'
            "forms:\n  f:\n    required_slots:\n      city:\n" + mappings
        }
    )
    refusal = next(p for p in problems if p.path == "forms.f.required_slots.city")
    assert refusal.line == line + 3
    assert "cannot be migrated" in refusal.message


def test_templates_beside_responses_and_a_list_of_forms_are_refused():
    problems = _errors(
        {
            "domain.yml": """\
version: "2.0"
templates:
  utter_a:
    - text: a
responses:
  utter_b:
    - text: b
""",
            "domain/forms.yml": "forms:\n  - restaurant_form\n",
        }
    )
    templates = next(p for p in problems if p.path == "templates")
    assert (templates.file, templates.line) == ("domain.yml", 2)
    assert "both 'templates' and 'responses'" in templates.message
    forms = [p for p in problems if p.file == "domain/forms.yml" and p.path == "forms"]
    assert any("Rasa 1.x form format" in p.message for p in forms)


def test_a_domain_refused_is_not_half_migrated():
    with pytest.raises(FormatError):
        load_project_files(
            {
                "domain.yml": 'version: "2.0"\nslots:\n  a:\n    type: text\n    auto_fill: 3\n',
            }
        )


def test_rasa_2_stories_and_rules_keep_their_content_with_version_3_1():
    stories = """\
version: "2.0"  # written by Rasa 2.8
stories:
  - story: hello
    steps:
      - intent: greet
      - action: utter_greet
"""
    project = _load(
        'version: "2.0"\nintents:\n  - greet\nresponses:\n  utter_greet:\n    - text: hi\n',
        **{"data/stories.yml": stories},
    )
    exported = dump_project(project)["data/stories.yml"]
    assert exported == stories.replace('"2.0"', '"3.1"', 1)
    note = _notes(project, "data/stories.yml")["version"]
    assert note[0] == 1
    assert 'Rasa 3 reads it as a version "3.1" file' in note[1]


def test_the_rasa_2_classic_project_imports_migrated_and_exports_for_rasa_3(tmp_path):
    project = load_project_dir(PROJECT)
    assert [p for p in validate_project(project) if p.severity == "error"] == []
    files = dump_project(project)
    domain = YAML(typ="safe").load(files["domain.yml"])
    assert domain["version"] == "3.1"
    assert domain["forms"]["table_form"] == {
        "required_slots": ["cuisine", "party_size", "wants_reminder"],
        "ignored_intents": ["thank"],
    }
    for name, slot in domain["slots"].items():
        assert "auto_fill" not in slot, name
        assert slot["mappings"], name
    assert {"type": "from_entity", "entity": "seating"} in domain["slots"]["seating"]["mappings"]
    assert domain["slots"]["booking_reference"]["mappings"] == [{"type": "controlled"}]
    assert domain["session_config"] == {
        "session_expiration_time": 60,
        "carry_over_slots_to_new_session": True,
    }
    for path in ("data/stories.yml", "data/rules.yml", "data/nlu.yml"):
        assert files[path].startswith('version: "3.1"'), path
    original_rules = (PROJECT / "data" / "rules.yml").read_text()
    assert files["data/rules.yml"] == original_rules.replace('"2.0"', '"3.1"', 1)

    # The export is a Rasa 3 project: read back, nothing is migrated again, nothing changes.
    for rel, text in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    again = load_project_dir(tmp_path)
    assert [w for w in again.load_warnings if "Rasa 2" in w.message] == []
    assert domain_to_dict(again.domain) == domain_to_dict(project.domain)
    assert dump_project(again) == files


# --------------------------------------------------------------------------------------------
# Rasa 1.x Markdown

NLU_MD = """\
<!-- Rasa 1.10 NLU data -->

## intent:greet
- hello
- hi

## synonym:vegetarian
- veggie
"""

STORIES_MD = """\
## happy path
* greet
  - utter_greet
* book_table{"cuisine": "thai"}
  - restaurant_form
  - form{"name": "restaurant_form"}
"""

RESPONSES_MD = """\
## ask name
* chitchat/ask_name
  - my name is Sara
"""

# Headers, bullets and nested bullets, as a README has them: not training data.
README = """\
# My bot

## Setup
* install
  - pip install -r requirements.txt
* train
  - make train

## Intents
* greet/hello
"""

DOMAIN_1X = "intents:\n  - greet\nresponses:\n  utter_greet:\n    - text: hi\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def test_a_rasa_1_markdown_project_is_refused_naming_each_file(tmp_path):
    _write(
        tmp_path,
        {
            "domain.yml": DOMAIN_1X,
            "data/nlu.md": NLU_MD,
            "data/stories.md": STORIES_MD,
            "data/responses.md": RESPONSES_MD,
            "README.md": README,
        },
    )
    with pytest.raises(FormatError) as caught:
        load_project_dir(tmp_path)
    by_file = {p.file: p for p in caught.value.problems}
    assert sorted(by_file) == ["data/nlu.md", "data/responses.md", "data/stories.md"]
    nlu = by_file["data/nlu.md"]
    assert nlu.line == 3
    assert nlu.message.startswith(
        "Rasa 1.x Markdown training data is not supported by Rasa 3; convert it"
    )
    assert "rasa data convert nlu -f yaml --data=data/nlu.md" in nlu.message
    assert by_file["data/stories.md"].line == 1
    assert "rasa data convert core -f yaml" in by_file["data/stories.md"].message
    assert "rasa data convert nlg -f yaml" in by_file["data/responses.md"].message


def test_other_markdown_files_are_kept_unchanged():
    project = load_project_files(
        {"domain.yml": DOMAIN_1X, "README.md": README, "notes/STORIES.md": README.upper()}
    )
    assert project.other_files["README.md"] == README
    assert project.other_files["notes/STORIES.md"] == README.upper()
