"""Keys as Rasa Pro 3.21 reads them: keys its flows schema allows are kept (with a warning that
says so), keys it forbids are refused naming file, line and key; endpoints.yml and config.yml
keys Rasa reads give no warning; duplicate examples are reported naming both places."""

import textwrap

import pytest

from engine.formats import dump_project, load_yaml
from engine.formats.validation import check_project_files

DOMAIN = """\
version: "3.1"
intents:
  - greet
  - bye
slots:
  amount:
    type: float
    mappings:
      - type: from_llm
  done:
    type: bool
    mappings:
      - type: from_llm
responses:
  utter_ask_amount:
    - text: How much?
  utter_too_little:
    - text: More, please.
  utter_ok:
    - text: OK
  utter_ask_done:
    - text: Done?
"""
CONFIG = "recipe: default.v1\nlanguage: en\nassistant_id: keys-test\n"


def flows(steps: str) -> str:
    return "flows:\n  pay:\n    description: pay\n    steps:\n" + textwrap.indent(
        textwrap.dedent(steps), "      "
    )


def check(files: dict[str, str]):
    project, problems = check_project_files({"domain.yml": DOMAIN, "config.yml": CONFIG, **files})
    return project, problems


def errors(problems):
    return [p for p in problems if p.severity == "error"]


def warnings(problems):
    return [p for p in problems if p.severity == "warning"]


def exported_steps(project):
    return load_yaml(dump_project(project)["data/flows.yml"], "data/flows.yml").data["flows"][
        "pay"
    ]["steps"]


def test_then_in_a_rejection_is_kept_with_one_warning():
    steps = """\
    - id: ask
      collect: amount
      rejections:
        - if: slots.amount < 1
          utter: utter_too_little
          then: ask
    - action: utter_ok
    """
    project, problems = check({"data/flows.yml": flows(steps)})
    assert not errors(problems)
    (warning,) = [p for p in warnings(problems) if "'then'" in p.message]
    assert warning.file == "data/flows.yml"
    assert warning.line == 10
    assert warning.path == "flows.pay.steps[0].rejections[0].then"
    assert "neither Rasa nor the built-in engine follows it" in warning.message
    rejection = exported_steps(project)[0]["rejections"][0]
    assert rejection == {"if": "slots.amount < 1", "utter": "utter_too_little", "then": "ask"}


def test_a_rejection_still_needs_if_and_utter():
    steps = """\
    - collect: amount
      rejections:
        - if: slots.amount < 1
          then: ask
    """
    project, problems = check({"data/flows.yml": flows(steps)})
    assert project is None
    (error,) = errors(problems)
    assert (error.file, error.line) == ("data/flows.yml", 7)
    assert "missing the required key 'utter'" in error.message


@pytest.mark.parametrize(
    ("step", "key", "line"),
    [
        ("- link: other\n  priority: 2\n", "priority", 6),
        ("- set_slots:\n    - done: true\n  label: mark done\n", "label", 7),
        ("- noop: true\n  label: a junction\n  next: END\n", "label", 6),
    ],
)
def test_extra_keys_of_open_step_types_are_kept(step, key, line):
    other = "  other:\n    description: other\n    steps:\n      - action: utter_ok\n"
    project, problems = check({"data/flows.yml": flows(step) + other})
    assert not errors(problems)
    (warning,) = [p for p in warnings(problems) if f"'{key}'" in p.message]
    assert warning.path == f"flows.pay.steps[0].{key}"
    assert warning.line == line
    assert key in exported_steps(project)[0]


@pytest.mark.parametrize(
    ("step", "key", "what"),
    [
        ("- action: utter_ok\n  priority: 2\n", "priority", "an action step"),
        ("- collect: amount\n  then: END\n", "then", "a collect step"),
        ("- call: other\n  label: x\n", "label", "a call step"),
    ],
)
def test_extra_keys_are_refused_where_rasa_refuses_them(step, key, what):
    other = "  other:\n    description: other\n    steps:\n      - action: utter_ok\n"
    project, problems = check({"data/flows.yml": flows(step) + other})
    assert project is None
    (error,) = errors(problems)
    assert (error.file, error.line, error.path) == (
        "data/flows.yml",
        6,
        f"flows.pay.steps[0].{key}",
    )
    assert f"unknown key '{key}' in {what}" in error.message


def test_extra_keys_in_branches_are_kept():
    steps = """\
    - collect: done
      next:
        - if: slots.done
          then: END
          note: finished
        - else: END
          next: END
    """
    project, problems = check({"data/flows.yml": flows(steps)})
    assert not errors(problems)
    (warning,) = warnings([p for p in problems if "branch" in p.message])
    assert warning.path == "flows.pay.steps[0].next[0].note"
    assert warning.line == 9
    branches = exported_steps(project)[0]["next"]
    assert branches == [
        {"if": "slots.done", "then": "END", "note": "finished"},
        {"else": "END", "next": "END"},
    ]


def test_a_branch_with_if_and_else_is_refused():
    steps = """\
    - collect: done
      next:
        - if: slots.done
          else: END
    """
    project, problems = check({"data/flows.yml": flows(steps)})
    assert project is None or errors(problems)
    error = next(p for p in errors(problems) if "both 'if' and 'else'" in p.message)
    assert (error.file, error.line) == ("data/flows.yml", 7)
    assert error.path == "flows.pay.steps[0].next[0].if"


def test_a_flow_refuses_unknown_keys_as_rasa_does():
    text = "flows:\n  pay:\n    description: pay\n    colour: red\n    steps:\n      - action: utter_ok\n"
    project, problems = check({"data/flows.yml": text})
    assert project is None
    (error,) = errors(problems)
    assert (error.line, error.path) == (4, "flows.pay.colour")


ENDPOINTS = """\
action_endpoint:
  url: http://localhost:5055/webhook
tracing:
  type: jaeger
  host: localhost
metrics:
  type: otlp
  endpoint: localhost:4318
timer_store:
  type: in_memory
recordings:
  type: local
a2a_server:
  enabled: false
secrets_manager:
  type: vault
nlu:
  url: http://localhost:5005
"""


def test_endpoints_keys_rasa_reads_give_no_warning():
    _, problems = check({"endpoints.yml": ENDPOINTS, "data/nlu.yml": NLU_OK})
    assert [p for p in problems if p.file == "endpoints.yml"] == []


def test_an_unknown_endpoints_key_still_warns():
    _, problems = check({"endpoints.yml": "trackers_store:\n  type: sql\n", "data/nlu.yml": NLU_OK})
    (warning,) = [p for p in problems if p.file == "endpoints.yml"]
    assert (warning.line, warning.path) == (1, "trackers_store")


def test_config_keys_rasa_reads_give_no_warning():
    config = CONFIG + "importers:\n  - name: RasaFileImporter\npipeline: []\npolicies: []\n"
    _, problems = check_project_files(
        {"domain.yml": DOMAIN, "config.yml": config, "data/nlu.yml": NLU_OK}
    )
    assert [p for p in problems if p.file == "config.yml"] == []


def test_a_slot_type_given_as_a_class_path_is_accepted_silently():
    domain = DOMAIN.replace("type: float", "type: addons.slots.AmountSlot")
    project, problems = check_project_files(
        {"domain.yml": domain, "config.yml": CONFIG, "data/nlu.yml": NLU_OK}
    )
    assert project is not None
    assert [p for p in problems if p.path.startswith("slots.amount")] == []
    assert "type: addons.slots.AmountSlot" in dump_project(project)["domain.yml"]


NLU_OK = """\
nlu:
  - intent: greet
    examples: |
      - hi
  - intent: bye
    examples: |
      - bye
"""
NLU_DUPLICATES = """\
nlu:
  - intent: greet
    examples: |
      - hi
      - hello
      - hi
  - intent: bye
    examples: |
      - bye
      - hello
"""


def test_duplicate_examples_are_warnings_naming_both_places():
    project, problems = check({"data/nlu.yml": NLU_DUPLICATES})
    assert project is not None and not errors(problems)
    twice = [p for p in problems if "given twice" in p.message]
    assert [(p.file, p.line) for p in twice] == [("data/nlu.yml", 3)]
    assert "in data/nlu.yml line 3" in twice[0].message
    both = [p for p in problems if "is also an example of" in p.message]
    assert [(p.file, p.line) for p in both] == [("data/nlu.yml", 8)]
    message = both[0].message
    assert "'hello' of intent 'bye' (in data/nlu.yml line 8)" in message
    assert "'greet' (in data/nlu.yml line 3)" in message


def test_duplicates_across_files_name_the_first_file():
    other = "nlu:\n  - intent: bye\n    examples: |\n      - hi\n"
    _, problems = check({"data/nlu.yml": NLU_OK, "data/more.yml": other})
    (warning,) = [p for p in problems if "is also an example of" in p.message]
    assert (warning.file, warning.line) == ("data/nlu.yml", 3)
    assert "'hi' of intent 'greet' (in data/nlu.yml line 3)" in warning.message
    assert "'bye' (in data/more.yml line 3)" in warning.message


def test_examples_that_differ_only_by_an_annotation_are_not_duplicates():
    domain = DOMAIN + "entities:\n  - city\n"
    nlu = (
        "nlu:\n  - intent: greet\n    examples: |\n      - hi from Rome\n"
        "      - hi from [Rome](city)\n  - intent: bye\n    examples: |\n      - bye\n"
    )
    project, problems = check_project_files(
        {"domain.yml": domain, "config.yml": CONFIG, "data/nlu.yml": nlu}
    )
    assert project is not None
    assert [p for p in problems if "twice" in p.message or "also an example" in p.message] == []
    assert len(project.nlu.intents[0].examples) == 2


def trigger_flow(trigger: str) -> str:
    return (
        "flows:\n  pay:\n    description: pay\n    nlu_trigger:\n"
        + textwrap.indent(textwrap.dedent(trigger), "      ")
        + "    steps:\n      - action: utter_ok\n"
    )


def exported_triggers(project):
    data = load_yaml(dump_project(project)["data/flows.yml"], "data/flows.yml").data
    return data["flows"]["pay"]["nlu_trigger"]


@pytest.mark.parametrize(
    ("trigger", "path", "line"),
    [
        ("- intent: greet\n  source: campaign\n", "flows.pay.nlu_trigger[0].source", 6),
        (
            "- intent:\n    name: greet\n    confidence_threshold: 0.7\n    source: campaign\n",
            "flows.pay.nlu_trigger[0].intent.source",
            8,
        ),
    ],
)
def test_keys_rasa_allows_in_an_nlu_trigger_are_kept(trigger, path, line):
    project, problems = check({"data/flows.yml": trigger_flow(trigger)})
    assert not errors(problems)
    (warning,) = [p for p in problems if p.path == path]
    assert (warning.file, warning.line, warning.severity) == ("data/flows.yml", line, "warning")
    expected = load_yaml(textwrap.dedent(trigger), "t.yml").data
    assert exported_triggers(project) == expected


def test_a_key_beside_an_intent_mapping_is_refused_as_rasa_does():
    trigger = "- intent:\n    name: greet\n  source: campaign\n"
    project, problems = check({"data/flows.yml": trigger_flow(trigger)})
    assert project is None
    (error,) = errors(problems)
    assert (error.line, error.path) == (7, "flows.pay.nlu_trigger[0].source")
    assert "unknown key 'source' in an nlu_trigger item" in error.message


def test_a_link_step_before_other_steps_is_a_warning_as_rasa_accepts_it():
    steps = """\
    - collect: done
      next:
        - if: slots.done
          then: bye
        - else: handover
    - id: handover
      link: other
    - id: bye
      action: utter_ok
    """
    other = "  other:\n    description: other\n    steps:\n      - action: utter_ok\n"
    project, problems = check({"data/flows.yml": flows(steps) + other})
    assert not errors(problems)
    (warning,) = [p for p in problems if "link step" in p.message]
    assert (warning.file, warning.line, warning.severity) == ("data/flows.yml", 11, "warning")
    assert warning.path == "flows.pay.steps[1].link"
    assert [s.get("link") for s in exported_steps(project)] == [None, "other", None]


def test_the_slots_of_rasas_default_patterns_need_no_domain_entry():
    text = """\
flows:
  pattern_user_silence:
    description: the user is silent
    persisted_slots:
      - consecutive_silence_timeouts
    steps:
      - noop: true
        next:
          - if: slots.consecutive_silence_timeouts >= 2
            then:
              - action: action_hangup
                next: END
          - else: count
      - id: count
        set_slots:
          - consecutive_silence_timeouts: 1
  rate:
    description: ask for a rating
    steps:
      - action: utter_ok
        next:
          - if: slots.csat_score = "satisfied"
            then: END
          - else: END
"""
    project, problems = check({"data/flows.yml": text})
    assert not errors(problems), errors(problems)
    assert project is not None and project.domain.slot("consecutive_silence_timeouts") is None


def test_a_value_a_default_pattern_slot_cannot_hold_is_still_an_error():
    text = (
        "flows:\n  rate:\n    description: rate\n    steps:\n      - set_slots:\n"
        "          - csat_score: great\n"
    )
    _, problems = check({"data/flows.yml": text})
    (error,) = errors(problems)
    assert (error.line, error.path) == (6, "flows.rate.steps[0].set_slots[0]")
    assert "csat_score" in error.message
