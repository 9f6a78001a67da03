"""What Rasa Pro 3.21 accepts, Studio accepts; what Rasa keeps, Studio keeps.

Each project below is small, valid for Rasa (its flows schema and `rasa data validate`), and
uses one construct that Studio used to refuse or change. Each is imported into an assistant,
exported, and read back: the export must mean the same as the upload.
"""

from __future__ import annotations

import pytest

from apps.nlu.models import Example, Intent
from apps.nlu.services import annotate, remove_annotation
from apps.projects import content
from engine import formats

pytestmark = pytest.mark.django_db

DEFAULT_NAMES = {
    "domain.yml": """
version: "3.1"
responses:
  utter_welcome:
    - text: Welcome!
slots:
  city:
    type: text
    mappings:
      - type: from_intent
        intent: restart
        value: none
""",
    "data/flows.yml": """
flows:
  pattern_session_start:
    description: welcome the user when a session starts
    nlu_trigger:
      - intent: session_start
    steps:
      - action: utter_welcome
  pattern_clarification:
    description: ask which flow was meant
    steps:
      - action: action_clarify_flows
  pattern_continue_interrupted:
    description: continue the interrupted flow
    steps:
      - action: action_continue_interrupted_flow
  pattern_cancel_flow:
    description: cancel the interrupted flows too
    steps:
      - action: action_cancel_flow
      - action: action_cancel_interrupted_flows
  pattern_user_silence:
    description: the user said nothing
    nlu_trigger:
      - intent: silence_timeout
    steps:
      - action: action_repeat_bot_messages
      - action: action_hangup
""",
}

RETRIEVAL = {
    "domain.yml": """
version: "3.1"
intents:
  - faq
responses:
  utter_faq/opening_hours:
    - text: We open at nine.
  utter_faq/address:
    - text: Main street 1.
""",
    "data/nlu.yml": """
version: "3.1"
nlu:
  - intent: faq/opening_hours
    examples: |
      - when do you open?
      - what are your opening hours
  - intent: faq/address
    examples: |
      - where are you?
      - what is your address
""",
}

ELSE_WITH_NEXT = {
    "domain.yml": """
version: "3.1"
slots:
  confirmed:
    type: bool
responses:
  utter_ask_confirmed:
    - text: Shall I go ahead?
  utter_done:
    - text: Done.
  utter_stopped:
    - text: Stopped.
""",
    "data/flows.yml": """
flows:
  confirm:
    description: confirm and finish
    steps:
      - collect: confirmed
        next:
          - if: slots.confirmed
            then:
              - action: utter_done
                next: END
          - else: stop
            next: END
      - id: stop
        action: utter_stopped
""",
}

INITIAL_VALUE_AND_CALLS = {
    "domain.yml": """
version: "3.1"
slots:
  budget:
    type: text
    initial_value: "any"
  booking:
    type: text
responses:
  utter_ask_booking:
    - text: Which booking?
  utter_done:
    - text: Done.
""",
    "data/flows.yml": """
flows:
  choose_booking:
    description: choose one of the user's bookings
    if: False
    steps:
      - collect: booking
  change_booking:
    description: change a booking
    persisted_slots:
      - booking
    steps:
      - call: choose_booking
      - collect: budget
      - action: utter_done
""",
}

ANNOTATED_TWICE = {
    "domain.yml": """
version: "3.1"
intents:
  - tell_job
entities:
  - job
""",
    "data/nlu.yml": """
version: "3.1"
nlu:
  - intent: tell_job
    examples: |
      - I work as a nurse
      - I work as a [nurse](job)
      - I am a [teacher](job)
""",
}

PROJECTS = {
    "default-names": DEFAULT_NAMES,
    "retrieval": RETRIEVAL,
    "else-with-next": ELSE_WITH_NEXT,
    "initial-value-and-calls": INITIAL_VALUE_AND_CALLS,
    "annotated-twice": ANNOTATED_TWICE,
}


def meaning(files: dict[str, str]) -> dict:
    """What Rasa reads from the files, independent of layout and formatting."""
    project = formats.load_project_files(files)
    domain = formats.domain_to_dict(project.domain)
    return {
        "intents": sorted(map(str, domain.get("intents", []))),
        "entities": sorted(map(str, domain.get("entities", []))),
        "slots": dict(domain.get("slots", {})),
        "responses": dict(domain.get("responses", {})),
        "flows": {f.id: formats.flow_to_dict(f) for f in project.flows},
        "examples": sorted(
            (
                block.intent,
                example.text,
                tuple((e.start, e.end, e.entity, e.value) for e in example.entities),
            )
            for block in project.nlu.intents
            for example in block.examples
        ),
    }


@pytest.mark.parametrize("name", PROJECTS)
def test_a_project_rasa_accepts_imports_and_exports_unchanged_in_meaning(name, make_assistant):
    files = PROJECTS[name]
    problems = formats.validate_project(formats.load_project_files(files))
    assert [p for p in problems if p.severity == "error"] == []
    assistant = make_assistant(name.replace("-", "_"))
    content.import_files(assistant, files)
    exported = content.export_files(assistant)
    assert meaning(exported) == meaning(files)
    # And the export is valid in its turn.
    again = formats.validate_project(formats.load_project_files(exported))
    assert [p for p in again if p.severity == "error"] == []


def _problems(files):
    return formats.validate_project(formats.load_project_files(files))


def test_an_nlu_trigger_on_an_unknown_intent_is_a_warning_naming_file_and_key():
    files = dict(DEFAULT_NAMES)
    files["data/flows.yml"] += """
  greet:
    description: greet
    nlu_trigger:
      - intent: no_such_intent
    steps:
      - action: utter_welcome
"""
    found = [p for p in _problems(files) if "no_such_intent" in p.message]
    assert [(p.severity, p.file, p.path) for p in found] == [
        ("warning", "data/flows.yml", "flows.greet.nlu_trigger[0]")
    ]


def test_a_collect_without_an_ask_response_is_still_an_error_when_the_slot_must_be_asked():
    files = dict(INITIAL_VALUE_AND_CALLS)
    files["data/flows.yml"] = files["data/flows.yml"].replace(
        "      - collect: budget\n",
        "      - collect: budget\n        ask_before_filling: true\n",
    )
    errors = [p for p in _problems(files) if p.severity == "error"]
    assert any("utter_ask_budget" in p.message for p in errors)


def test_a_persisted_slot_that_no_flow_it_reaches_touches_is_an_error():
    files = dict(INITIAL_VALUE_AND_CALLS)
    files["data/flows.yml"] = files["data/flows.yml"].replace("      - call: choose_booking\n", "")
    errors = [p for p in _problems(files) if p.severity == "error"]
    assert [p.path for p in errors] == ["flows.change_booking.persisted_slots[0]"]


def test_mapping_intents_that_do_not_exist_warn_and_from_text_lists_pass():
    files = {
        "domain.yml": """
version: "3.1"
intents:
  - inform
slots:
  answer:
    type: text
    mappings:
      - type: from_text
        not_intent: [chitchat]
  mood:
    type: text
    mappings:
      - type: from_intent
        intent: cheer_up
        value: happy
"""
    }
    problems = _problems(files)
    assert [p for p in problems if p.severity == "error"] == []
    warned = [p for p in problems if "cheer_up" in p.message]
    assert [(p.severity, p.path) for p in warned] == [("warning", "slots.mood.mappings[0].intent")]
    assert not [p for p in problems if "chitchat" in p.message]


def test_a_retrieval_intents_examples_count_for_its_parent():
    problems = _problems(RETRIEVAL)
    assert problems == []


def test_an_example_given_twice_is_reported_but_a_differently_annotated_one_is_not():
    files = dict(ANNOTATED_TWICE)
    assert [p for p in _problems(files) if "twice" in p.message] == []
    files["data/nlu.yml"] += "      - I am a [teacher](job)\n"
    twice = [p for p in _problems(files) if "twice" in p.message]
    assert [(p.severity, p.file) for p in twice] == [("warning", "data/nlu.yml")]


def test_both_annotations_of_one_text_are_stored_and_edits_that_merge_them_do_not_fail(
    make_assistant,
):
    assistant = make_assistant("jobs")
    content.import_files(assistant, ANNOTATED_TWICE)
    intent = Intent.objects.get(assistant=assistant, name="tell_job")
    texts = sorted((e.text, len(e.entities)) for e in intent.examples.all())
    assert texts == [("I am a teacher", 1), ("I work as a nurse", 0), ("I work as a nurse", 1)]
    annotated = next(e for e in intent.examples.filter(text="I work as a nurse") if e.entities)
    # Removing the annotation makes it the plain example: one row remains, no error.
    kept = remove_annotation(annotated, 0)
    assert Example.objects.filter(intent=intent, text="I work as a nurse").count() == 1
    assert kept.entities == []
    # Annotating it again gives the annotated example back, still one row.
    again = annotate(kept, start=12, end=17, entity="job")
    assert Example.objects.filter(intent=intent, text="I work as a nurse").count() == 1
    assert again.entities == [{"start": 12, "end": 17, "value": "nurse", "entity": "job"}]
    # With the plain example present, annotating the other twin into it merges the two.
    plain = Example.objects.create(intent=intent, text="I work as a nurse", entities=[])
    merged = remove_annotation(again, 0)
    assert merged.pk == plain.pk
    assert Example.objects.filter(intent=intent, text="I work as a nurse").count() == 1
