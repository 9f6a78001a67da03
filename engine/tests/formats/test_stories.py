"""Stories and rules: their structure, the names they use, checkpoints, and the counts."""

import shutil
from pathlib import Path

import pytest

from engine.formats import (
    dump_project,
    load_project_dir,
    load_project_files,
    load_stories,
    story_counts,
    validate_project,
)
from engine.formats.stories import parse_story_file

CLASSIC = Path(__file__).resolve().parents[1] / "rasa_projects" / "classic-forms"

DOMAIN = """\
version: "3.1"
intents: [greet, inform, chitchat]
entities: [city]
slots:
  city:
    type: text
    mappings:
      - type: from_entity
        entity: city
forms:
  address_form:
    required_slots: [city]
responses:
  utter_greet:
    - text: Hello!
  utter_ask_city:
    - text: Which city?
  utter_chitchat/ask_name:
    - text: I am a bot.
actions:
  - action_check_city
"""


def problems_of(stories: str, *, domain: str = DOMAIN, path: str = "data/stories.yml"):
    project = load_project_files({"domain.yml": domain, path: stories})
    return [p for p in validate_project(project) if p.file == path]


def located(problems):
    """(line, key path, severity) of each problem, with its message."""
    return [(p.line, p.path, p.severity, p.message) for p in problems]


# --------------------------------------------------------------------------------------------
# The classic project


def test_the_classic_project_is_valid_and_its_stories_and_rules_are_counted():
    project = load_project_dir(CLASSIC)
    problems = validate_project(project)
    assert [p for p in problems if p.severity == "error"] == []
    assert [p for p in problems if p.file in ("data/stories.yml", "data/rules.yml")] == []
    assert story_counts(project.other_files) == {"stories": 5, "rules": 7}
    data = load_stories(project.other_files)
    assert data.files == ["data/rules.yml", "data/stories.yml"]
    names = [rule.name for rule in data.rules]
    assert "Submit the booking form" in names
    submit = data.rules[names.index("Submit the booking form")]
    assert submit.wait_for_user_input is False
    assert [c.kind for c in submit.conditions] == ["active_loop"]
    assert data.rules[0].conversation_start is True
    assert [s.kind for s in data.stories[1].steps][:3] == ["checkpoint", "intent", "slot_was_set"]


def test_the_classic_projects_story_files_export_byte_identical():
    project = load_project_dir(CLASSIC)
    out = dump_project(project)
    for name in ("data/stories.yml", "data/rules.yml"):
        assert out[name] == (CLASSIC / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Names a story uses must be known


def test_an_unknown_intent_is_an_error_with_file_line_and_key():
    stories = """\
stories:
  - story: greet
    steps:
      - intent: greet
      - action: utter_greet
      - intent: goodbye
"""
    assert located(problems_of(stories)) == [
        (
            6,
            "stories[0].steps[2].intent",
            "error",
            "the intent 'goodbye' is used in the story 'greet', but it is not listed in the "
            "domain's intents",
        )
    ]


def test_unknown_actions_and_responses_are_errors():
    rules = """\
rules:
  - rule: check
    steps:
      - intent: inform
      - action: action_lookup_city
      - action: utter_city_found
      - action: check_the_city
"""
    found = located(problems_of(rules, path="data/rules.yml"))
    assert found == [
        (
            5,
            "rules[0].steps[1].action",
            "error",
            "the action 'action_lookup_city' is used in the rule 'check', but it is not listed "
            "in the domain's actions",
        ),
        (
            6,
            "rules[0].steps[2].action",
            "error",
            "the response 'utter_city_found' is used in the rule 'check', but it is not a "
            "response of the domain",
        ),
        (
            7,
            "rules[0].steps[3].action",
            "error",
            "the action 'check_the_city' is used in the rule 'check', but it is not listed in "
            "the domain's actions",
        ),
    ]


def test_unknown_slots_are_errors_wherever_they_are_set():
    stories = """\
stories:
  - story: slots
    steps:
      - checkpoint: start_here
        slot_was_set:
          - country: FR
      - intent: inform
      - slot_was_set:
          - zip_code
          - city: Paris
      - or:
          - slot_was_set:
              - street: main
          - intent: greet
rules:
  - rule: conditioned
    condition:
      - slot_was_set:
          - planet: earth
    steps:
      - intent: greet
      - action: utter_greet
"""
    found = [(p.line, p.path, p.message) for p in problems_of(stories) if p.severity == "error"]
    assert found == [
        (
            6,
            "stories[0].steps[0].slot_was_set[0].country",
            "the slot 'country' is set in the story 'slots' (slot_was_set), but it is not "
            "defined in the domain's slots",
        ),
        (
            9,
            "stories[0].steps[2].slot_was_set[0]",
            "the slot 'zip_code' is set in the story 'slots' (slot_was_set), but it is not "
            "defined in the domain's slots",
        ),
        (
            13,
            "stories[0].steps[3].or[0].slot_was_set[0].street",
            "the slot 'street' is set in the story 'slots' (slot_was_set), but it is not "
            "defined in the domain's slots",
        ),
        (
            19,
            "rules[0].condition[0].slot_was_set[0].planet",
            "the slot 'planet' is set in the rule 'conditioned' (slot_was_set), but it is not "
            "defined in the domain's slots",
        ),
    ]


def test_unknown_forms_in_active_loop_are_errors_and_null_is_allowed():
    rules = """\
rules:
  - rule: form
    condition:
      - active_loop: payment_form
    steps:
      - action: address_form
      - active_loop: address_form
      - active_loop: null
      - active_loop: shipping_form
"""
    found = located(problems_of(rules, path="data/rules.yml"))
    assert [(line, path) for line, path, _, _ in found] == [
        (9, "rules[0].steps[3].active_loop"),
        (4, "rules[0].condition[0].active_loop"),
    ]
    assert found[0][3] == (
        "the form 'shipping_form' is used in the rule 'form' (active_loop), but it is not "
        "listed in the domain's forms"
    )


def test_unknown_entities_are_errors_in_entity_lists_and_in_annotated_user_text():
    stories = """\
stories:
  - story: entities
    steps:
      - intent: inform
        entities:
          - city: Paris
          - country: France
          - street
          - planet: mars
            role: destination
      - action: utter_greet
      - user: I live in [Lyon](city) near [the Alps](mountains)
        intent: inform
"""
    found = [(p.line, p.path, p.message) for p in problems_of(stories)]
    assert found == [
        (
            7,
            "stories[0].steps[0].entities[1].country",
            "the entity 'country' is used in the story 'entities', but it is not listed in the "
            "domain's entities",
        ),
        (
            8,
            "stories[0].steps[0].entities[2]",
            "the entity 'street' is used in the story 'entities', but it is not listed in the "
            "domain's entities",
        ),
        (
            9,
            "stories[0].steps[0].entities[3].planet",
            "the entity 'planet' is used in the story 'entities', but it is not listed in the "
            "domain's entities",
        ),
        (
            12,
            "stories[0].steps[2].user",
            "the entity 'mountains' is used in the story 'entities', but it is not listed in "
            "the domain's entities",
        ),
    ]


def test_a_user_text_that_names_its_intent_is_checked_like_an_intent_step():
    stories = """\
stories:
  - story: shortcut
    steps:
      - user: '/inform{"city": "Paris", "country": "France"}'
      - action: utter_greet
      - user: /order@0.8
      - action: utter_greet
      - user: /greet
      - user: '/inform{"city": [}'
"""
    found = [(p.line, p.path, p.severity, p.message) for p in problems_of(stories)]
    assert found == [
        (
            9,
            "stories[0].steps[5].user",
            "warning",
            'the entities after the intent are not a JSON object such as {"city": "Paris"}; '
            "Rasa reads the message without them",
        ),
        (
            4,
            "stories[0].steps[0].user",
            "error",
            "the entity 'country' is used in the story 'shortcut', but it is not listed in the "
            "domain's entities",
        ),
        (
            6,
            "stories[0].steps[2].user",
            "error",
            "the intent 'order' is used in the story 'shortcut', but it is not listed in the "
            "domain's intents",
        ),
    ]


def test_an_unreadable_annotation_in_user_text_is_a_warning():
    stories = """\
stories:
  - story: odd
    steps:
      - user: 'go to [Paris]{"value": "x"}'
        intent: inform
"""
    found = [(p.line, p.path, p.severity, p.message) for p in problems_of(stories)]
    assert found == [
        (
            4,
            "stories[0].steps[0].user",
            "warning",
            "the user text has an entity annotation Studio cannot read: an entity annotation "
            'needs an "entity" name',
        )
    ]


def test_each_unknown_name_is_reported_once_per_story():
    stories = """\
stories:
  - story: twice
    steps:
      - intent: bye
      - action: utter_greet
      - intent: bye
  - story: again
    steps:
      - intent: bye
"""
    found = [(p.line, p.path) for p in problems_of(stories)]
    assert found == [(4, "stories[0].steps[0].intent"), (9, "stories[1].steps[0].intent")]


def test_rasa_defaults_forms_and_retrieval_intents_need_no_declaration():
    stories = """\
stories:
  - story: defaults
    steps:
      - intent: session_start
      - action: action_session_start
      - intent: chitchat/ask_name
      - action: utter_chitchat
      - intent: /greet
      - action: address_form
      - active_loop: address_form
      - slot_was_set:
          - requested_slot: city
      - intent: out_of_scope
      - action: action_default_fallback
      - action: action_deactivate_loop
      - active_loop: null
      - action: action_listen
      - action: utter_default
      - action: action_check_city
      - action: utter_chitchat/ask_name
"""
    assert problems_of(stories) == []


def test_stories_in_a_file_with_nlu_are_checked_too():
    mixed = """\
nlu:
  - intent: greet
    examples: |
      - hi
stories:
  - story: s
    steps:
      - intent: hello
"""
    found = problems_of(mixed)
    assert [(p.line, p.path, p.severity) for p in found if p.severity == "error"] == [
        (8, "stories[0].steps[0].intent", "error")
    ]


def test_test_stories_outside_the_data_folder_are_not_checked():
    story = "stories:\n  - story: t\n    steps:\n      - intent: nope\n"
    data = load_stories({"tests/test_stories.yml": story, "e2e_tests/a.yml": story})
    assert data.stories == [] and data.problems == [] and data.files == []
    assert load_stories({"test_stories.yml": story}).stories == []
    # Rasa reads every story file of its data folder, test-prefixed ones included.
    inside = load_stories({"data/test_stories.yml": story})
    assert [s.name for s in inside.stories] == ["t"]


# --------------------------------------------------------------------------------------------
# Structure, as Rasa's schema for story files has it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "stories:\n  - story: s\n    steps:\n      - intent: greet\n        action: x\n",
            (
                4,
                "stories[0].steps[0]",
                "a story step cannot have 'action' and 'intent' together: write one step each",
            ),
        ),
        (
            "stories:\n  - story: s\n    steps:\n      - intnet: greet\n",
            (
                4,
                "stories[0].steps[0].intnet",
                "unknown key 'intnet' in a story step (expected one of: action, active_loop, "
                "bot, checkpoint, commands, entities, intent, or, slot_was_set, stack, user)",
            ),
        ),
        (
            "stories:\n  - story: s\n    steps:\n      - greet\n",
            (
                4,
                "stories[0].steps[0]",
                "a story step must be a mapping such as 'intent: greet' or 'action: "
                "utter_greet', not the string 'greet'",
            ),
        ),
        (
            "stories:\n  - story: s\n    step:\n      - intent: greet\n",
            (
                3,
                "stories[0].step",
                "unknown key 'step' in a story (expected one of: metadata, steps, story)",
            ),
        ),
        (
            "stories:\n  story: s\n",
            (1, "stories", "'stories' must be a list, not a mapping"),
        ),
        (
            "rules:\n  - rule: r\n    steps:\n      - bot: Hello\n",
            (
                4,
                "rules[0].steps[0].bot",
                "unknown key 'bot' in a rule step (expected one of: action, active_loop, "
                "commands, entities, intent, or, slot_was_set, user)",
            ),
        ),
        (
            "rules:\n  - rule: r\n    steps:\n      - checkpoint: c\n",
            (
                4,
                "rules[0].steps[0].checkpoint",
                "unknown key 'checkpoint' in a rule step (expected one of: action, active_loop, "
                "commands, entities, intent, or, slot_was_set, user)",
            ),
        ),
        (
            "rules:\n  - rule: r\n    condition:\n      - intent: greet\n    steps:\n"
            "      - action: utter_greet\n",
            (
                4,
                "rules[0].condition[0].intent",
                "unknown key 'intent' in a condition (expected one of: active_loop, slot_was_set)",
            ),
        ),
        (
            "rules:\n  - rule: r\n    wait_for_user_input: 'no'\n    steps:\n"
            "      - action: utter_greet\n",
            (
                3,
                "rules[0].wait_for_user_input",
                "'wait_for_user_input' must be true or false, not the string 'no'",
            ),
        ),
        (
            "stories:\n  - story: s\n    steps:\n      - or:\n          - action: utter_greet\n",
            (
                5,
                "stories[0].steps[0].or[0].action",
                "unknown key 'action' in an 'or' alternative (expected one of: commands, "
                "entities, intent, slot_was_set, user)",
            ),
        ),
        (
            "stories:\n  - story: s\n    steps:\n      - intent: greet\n        entities: city\n",
            (5, "stories[0].steps[0].entities", "'entities' must be a list, not the string 'city'"),
        ),
        (
            "stories:\n  - story: 7\n    steps:\n      - intent: greet\n",
            (2, "stories[0].story", "the story name must be a string, not the number 7"),
        ),
    ],
)
def test_malformed_structure_is_an_error_naming_line_and_key(text, expected):
    _, _, problems = parse_story_file(text, "data/stories.yml")
    errors = [(p.line, p.path, p.message) for p in problems if p.severity == "error"]
    assert errors == [expected]
    assert all(p.file == "data/stories.yml" for p in problems)


def test_a_malformed_story_file_makes_the_project_invalid():
    text = "stories:\n  - story: s\n    steps:\n      - intnet: greet\n"
    errors = [p for p in problems_of(text) if p.severity == "error"]
    assert [(p.file, p.line, p.path) for p in errors] == [
        ("data/stories.yml", 4, "stories[0].steps[0].intnet")
    ]


def test_what_rasa_skips_with_a_warning_is_a_warning():
    text = """\
stories:
  - story: no steps
  - story: empty steps
    steps: []
  - steps:
      - intent: greet
  - story: empty step
    steps:
      - {}
      - intent: greet
  - story: ''
    steps:
      - slot_was_set:
          - 3
"""
    found = [(p.line, p.path, p.severity, p.message) for p in problems_of(text)]
    assert found == [
        (2, "stories[0]", "warning", "the story 'no steps' has no steps; Rasa skips it"),
        (4, "stories[1].steps", "warning", "the story 'empty steps' has no steps; Rasa skips it"),
        (5, "stories[2]", "warning", "this item of 'stories' has no 'story' name; Rasa skips it"),
        (9, "stories[3].steps[0]", "warning", "a story step is empty; Rasa skips it"),
        (11, "stories[4].story", "warning", "the story has an empty name; give it one"),
        (
            14,
            "stories[4].steps[0].slot_was_set[0]",
            "warning",
            "each item of 'slot_was_set' should be a slot name or a mapping such as "
            "'city: Berlin', not the number 3; Rasa skips this step",
        ),
    ]
    assert story_counts({"data/stories.yml": text}) == {"stories": 4, "rules": 0}


# --------------------------------------------------------------------------------------------
# Checkpoints


def test_checkpoints_no_story_connects_are_warnings():
    text = """\
stories:
  - story: opens
    steps:
      - intent: greet
      - action: utter_greet
      - checkpoint: greeted
  - story: continues
    steps:
      - checkpoint: greeted
      - intent: inform
      - checkpoint: informed
      - action: utter_ask_city
      - checkpoint: asked
  - story: orphan
    steps:
      - checkpoint: nowhere
      - intent: inform
      - action: utter_ask_city
"""
    found = [(p.line, p.path, p.severity, p.message) for p in problems_of(text)]
    assert found == [
        (
            16,
            "stories[2].steps[0]",
            "warning",
            "unsatisfied start checkpoint 'nowhere' in the story 'orphan': no story ends with "
            "it, so this story never runs",
        ),
        (
            13,
            "stories[1].steps[4]",
            "warning",
            "unsatisfied end checkpoint 'asked' in the story 'continues': no story starts from it",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Counts


def test_counts_cover_every_story_file_and_skip_other_files():
    files = {
        "data/stories.yml": "stories:\n  - story: a\n    steps:\n      - intent: greet\n"
        "  - story: b\n    steps:\n      - intent: greet\n",
        "data/rules/one.yml": "rules:\n  - rule: r\n    steps:\n      - intent: greet\n",
        "credentials.yml": "rest: {}\n",
        "actions/actions.py": "# rules: none\n",
    }
    assert story_counts(files) == {"stories": 2, "rules": 1}
    assert story_counts({}) == {"stories": 0, "rules": 0}


# --------------------------------------------------------------------------------------------
# Training sees the same checks


def test_training_refuses_a_project_with_a_bad_story(tmp_path):
    from engine.train import TrainingFailed, load_and_validate

    project = tmp_path / "classic"
    shutil.copytree(CLASSIC, project)
    load_and_validate(project)  # the classic project as it is trains
    rules = project / "data" / "rules.yml"
    rules.write_text(rules.read_text().replace("intent: bot_challenge", "intent: are_you_real"))
    with pytest.raises(TrainingFailed) as info:
        load_and_validate(project)
    assert [(p.file, p.line, p.path) for p in info.value.problems] == [
        ("data/rules.yml", 17, "rules[2].steps[0].intent")
    ]


def test_a_rules_list_of_sentences_outside_data_is_not_training_data():
    agent = "agent:\n  language: en\nrules:\n- Always be polite.\n- Ask one question at a time.\n"
    kept = load_stories({"agent.yml": agent})
    assert kept.stories == [] and kept.rules == [] and kept.problems == []
    inside = load_stories({"data/agent.yml": agent})
    assert [(p.line, p.path) for p in inside.problems] == [(4, "rules[0]"), (5, "rules[1]")]
