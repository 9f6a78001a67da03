"""Malformed inputs: each must give a precise problem (file, line, key path, message)."""

import textwrap

import pytest

from engine.formats import MAX_FILE_BYTES
from engine.formats.validation import check_project_files

DOMAIN = """\
version: "3.1"
intents:
  - greet
  - inform
entities:
  - city:
      roles:
        - to
slots:
  city:
    type: text
    mappings:
      - type: from_entity
        entity: city
  tier:
    type: categorical
    values:
      - gold
      - silver
    mappings:
      - type: from_llm
responses:
  utter_greet:
    - text: Hello!
  utter_ask_city:
    - text: Which city?
  utter_ask_tier:
    - text: Which tier?
actions:
  - action_book
"""
FLOWS = """\
flows:
  book:
    description: Book a trip.
    steps:
      - collect: city
      - action: action_book
"""
NLU = """\
nlu:
  - intent: greet
    examples: |
      - hi
  - intent: inform
    examples: |
      - to [Paris](city)
"""
CONFIG = "recipe: default.v1\nlanguage: en\nassistant_id: test\n"
BASE = {"domain.yml": DOMAIN, "data/flows.yml": FLOWS, "data/nlu.yml": NLU, "config.yml": CONFIG}


def flow(steps: str, extra: str = "") -> str:
    """A flows file whose only flow 'book' has these steps (the first step is on line 5)."""
    return (
        "flows:\n  book:\n    description: Book a trip.\n    steps:\n"
        + textwrap.indent(textwrap.dedent(steps), "      ")
        + extra
    )


def domain_with(slots: str = "", responses: str = "", intents: str = "") -> str:
    text = DOMAIN
    if slots:
        text = text.replace(
            "responses:\n", textwrap.indent(textwrap.dedent(slots), "  ") + "responses:\n"
        )
    if responses:
        text = text.replace(
            "actions:\n", textwrap.indent(textwrap.dedent(responses), "  ") + "actions:\n"
        )
    if intents:
        text = text.replace(
            "entities:\n", textwrap.indent(textwrap.dedent(intents), "  ") + "entities:\n"
        )
    return text


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)
OTHER_FLOW = "  other:\n    description: Other.\n    steps:\n      - action: action_book\n"

# (id, files to override, file, line, key path, message fragment)
CASES = [
    # --- YAML and file level
    (
        "yaml-syntax",
        {"data/flows.yml": "flows:\n  book: [\n    description: x\n"},
        "data/flows.yml",
        4,
        "",
        "YAML syntax error",
    ),
    ("tab-indent", {"data/flows.yml": "flows:\n\tbook:\n"}, "data/flows.yml", 2, "", "tab"),
    (
        "duplicate-key",
        {
            "data/flows.yml": flow("- action: action_book\n").replace(
                "    steps:", "    description: again\n    steps:"
            )
        },
        "data/flows.yml",
        4,
        "flows.book.description",
        "duplicate key 'description' (first defined on line 3)",
    ),
    (
        "non-utf8",
        {"data/flows.yml": b"flows:\n  book:\n    description: caf\xe9\n"},
        "data/flows.yml",
        3,
        "",
        "not valid UTF-8: byte 0xe9 at offset 35",
    ),
    (
        "too-big",
        {"data/big.yml": "#" * (MAX_FILE_BYTES + 1)},
        "data/big.yml",
        None,
        "",
        f"larger than the limit of {MAX_FILE_BYTES} bytes",
    ),
    (
        "billion-laughs",
        {"data/bomb.yml": BILLION_LAUGHS},
        "data/bomb.yml",
        None,
        "",
        "expands to more than",
    ),
    (
        "python-tag",
        {"data/flows.yml": "flows: !!python/object/apply:os.system ['ls']\n"},
        "data/flows.yml",
        1,
        "flows",
        "unsupported YAML tag",
    ),
    (
        "not-a-mapping",
        {"data/flows.yml": "- a\n- b\n"},
        "data/flows.yml",
        1,
        "",
        "must hold a mapping of sections",
    ),
    (
        "domain-version-number",
        {"domain.yml": DOMAIN.replace('"3.1"', "3.1")},
        "domain.yml",
        1,
        "version",
        'version must be a quoted string such as "3.1"',
    ),
    # --- flow schema
    (
        "unknown-step-type",
        {"data/flows.yml": flow("- ask: city\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0]",
        "unknown step type: a step needs exactly one of action, collect, link, call, set_slots, noop (found keys: ask)",
    ),
    (
        "missing-steps",
        {"data/flows.yml": "flows:\n  book:\n    description: Book.\n"},
        "data/flows.yml",
        2,
        "flows.book",
        "flow 'book' is missing the required key 'steps'",
    ),
    (
        "missing-description",
        {"data/flows.yml": "flows:\n  book:\n    steps:\n      - action: action_book\n"},
        "data/flows.yml",
        2,
        "flows.book",
        "missing the required key 'description'",
    ),
    (
        "steps-not-a-list",
        {"data/flows.yml": "flows:\n  book:\n    description: B.\n    steps: action_book\n"},
        "data/flows.yml",
        4,
        "flows.book.steps",
        "steps must be a list, not the string 'action_book'",
    ),
    (
        "empty-steps",
        {"data/flows.yml": "flows:\n  book:\n    description: B.\n    steps: []\n"},
        "data/flows.yml",
        4,
        "flows.book.steps",
        "a step list must not be empty",
    ),
    (
        "unknown-flow-key",
        {
            "data/flows.yml": flow("- action: action_book\n").replace(
                "    steps:", "    guard: x\n    steps:"
            )
        },
        "data/flows.yml",
        4,
        "flows.book.guard",
        "unknown key 'guard' in flow 'book'",
    ),
    (
        "bool-as-string",
        {"data/flows.yml": flow("- collect: city\n  ask_before_filling: yes\n")},
        "data/flows.yml",
        6,
        "flows.book.steps[0].ask_before_filling",
        "ask_before_filling must be true or false, not the string 'yes'",
    ),
    (
        "unknown-action-key",
        {"data/flows.yml": flow("- action: action_book\n  utter: utter_greet\n")},
        "data/flows.yml",
        6,
        "flows.book.steps[0].utter",
        "unknown key 'utter' in an action step",
    ),
    (
        "two-step-types",
        {"data/flows.yml": flow("- action: action_book\n  collect: city\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0]",
        "a step can only be one type, but this one has action and collect",
    ),
    (
        "action-not-a-string",
        {"data/flows.yml": flow("- action: 5\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0].action",
        "the action name must be a string, not the number 5",
    ),
    (
        "noop-without-next",
        {"data/flows.yml": flow("- noop: true\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0]",
        "a noop step must have a 'next'",
    ),
    (
        "link-with-next",
        {"data/flows.yml": flow("- link: other\n  next: x\n", OTHER_FLOW)},
        "data/flows.yml",
        6,
        "flows.book.steps[0].next",
        "a link step cannot have a 'next'",
    ),
    (
        "else-not-last",
        {
            "data/flows.yml": flow(
                "- action: action_book\n  next:\n    - else: END\n    - if: slots.city\n      then: END\n"
            )
        },
        "data/flows.yml",
        7,
        "flows.book.steps[0].next[0]",
        "the 'else' branch must be the last item of 'next'",
    ),
    (
        "branch-without-then",
        {
            "data/flows.yml": flow(
                "- action: action_book\n  next:\n    - if: slots.city\n    - else: END\n"
            )
        },
        "data/flows.yml",
        7,
        "flows.book.steps[0].next[0]",
        "an if branch is missing the required key 'then'",
    ),
    (
        "rejection-without-utter",
        {"data/flows.yml": flow("- collect: city\n  rejections:\n    - if: slots.city = x\n")},
        "data/flows.yml",
        7,
        "flows.book.steps[0].rejections[0]",
        "a rejection is missing the required key 'utter'",
    ),
    (
        "invalid-flow-id",
        {"data/flows.yml": FLOWS.replace("  book:", "  book trip:")},
        "data/flows.yml",
        2,
        "flows.book trip",
        "invalid flow id 'book trip': use only letters, digits, underscores and hyphens",
    ),
    (
        "guard-wrong-type",
        {
            "data/flows.yml": flow("- action: action_book\n").replace(
                "    steps:", "    if: 5\n    steps:"
            )
        },
        "data/flows.yml",
        4,
        "flows.book.if",
        "a flow guard must be a condition string or false, not the number 5",
    ),
    (
        "trigger-threshold",
        {
            "data/flows.yml": flow("- action: action_book\n").replace(
                "    steps:",
                "    nlu_trigger:\n      - intent:\n          name: greet\n          confidence_threshold: 2\n    steps:",
            )
        },
        "data/flows.yml",
        7,
        "flows.book.nlu_trigger[0].intent.confidence_threshold",
        "confidence_threshold must be between 0 and 1, not 2",
    ),
    # --- flow references
    (
        "next-target-missing",
        {"data/flows.yml": flow("- action: action_book\n  next: nowhere\n")},
        "data/flows.yml",
        6,
        "flows.book.steps[0].next",
        "next step 'nowhere' does not exist in flow 'book'",
    ),
    (
        "branch-target-missing",
        {
            "data/flows.yml": flow(
                "- action: action_book\n  next:\n    - if: slots.city\n      then: nowhere\n    - else: END\n"
            )
        },
        "data/flows.yml",
        8,
        "flows.book.steps[0].next[0].then",
        "next step 'nowhere' does not exist",
    ),
    (
        "duplicate-step-id",
        {"data/flows.yml": flow("- id: a\n  collect: city\n- id: a\n  action: action_book\n")},
        "data/flows.yml",
        7,
        "flows.book.steps[1].id",
        "duplicate step id 'a' in flow 'book' (also used at steps[0])",
    ),
    (
        "branch-end-without-next",
        {
            "data/flows.yml": flow(
                "- action: action_book\n  next:\n    - if: slots.city\n      then:\n        - action: utter_greet\n    - else: END\n"
            )
        },
        "data/flows.yml",
        9,
        "flows.book.steps[0].next[0].then[0]",
        "the last step of a branch must say where to go next",
    ),
    (
        "bad-branch-condition",
        {
            "data/flows.yml": flow(
                "- action: action_book\n  next:\n    - if: slots.city =\n      then: END\n    - else: END\n"
            )
        },
        "data/flows.yml",
        7,
        "flows.book.steps[0].next[0].if",
        "invalid branch condition 'slots.city =': expected a value, a slot or '(' but found the end of the condition at position 12",
    ),
    (
        "bad-guard-condition",
        {
            "data/flows.yml": flow("- action: action_book\n").replace(
                "    steps:", "    if: slots.city > > 1\n    steps:"
            )
        },
        "data/flows.yml",
        4,
        "flows.book.if",
        "invalid flow guard 'slots.city > > 1': expected a value, a slot or '(' but found '>' at position 13",
    ),
    (
        "unknown-slot-in-condition",
        {
            "data/flows.yml": flow("- action: action_book\n").replace(
                "    steps:", "    if: slots.colour = 'red'\n    steps:"
            )
        },
        "data/flows.yml",
        4,
        "flows.book.if",
        "flow guard uses the slot 'colour', which is not defined in the domain",
    ),
    (
        "unknown-collected-slot",
        {"data/flows.yml": flow("- collect: colour\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0].collect",
        "collected slot 'colour' is not defined in the domain",
    ),
    (
        "unknown-collect-utter",
        {"data/flows.yml": flow("- collect: tier\n  utter: utter_which_tier\n")},
        "data/flows.yml",
        6,
        "flows.book.steps[0].utter",
        "response 'utter_which_tier' is not defined in the domain",
    ),
    (
        "no-ask-response",
        {
            "domain.yml": domain_with(slots="date:\n  type: text\n"),
            "data/flows.yml": flow("- collect: date\n"),
        },
        "data/flows.yml",
        5,
        "flows.book.steps[0].collect",
        "there is no response 'utter_ask_date' or action 'action_ask_date'",
    ),
    (
        "unknown-action",
        {"data/flows.yml": flow("- action: action_fly\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0].action",
        "action 'action_fly' is not defined: add it to the domain's actions",
    ),
    (
        "unknown-response-action",
        {"data/flows.yml": flow("- action: utter_bye\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0].action",
        "action 'utter_bye' is not defined: define the response",
    ),
    (
        "unknown-linked-flow",
        {"data/flows.yml": flow("- link: nowhere\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0].link",
        "linked flow 'nowhere' does not exist",
    ),
    (
        "unknown-called-flow",
        {"data/flows.yml": flow("- call: nowhere\n")},
        "data/flows.yml",
        5,
        "flows.book.steps[0].call",
        "called flow 'nowhere' does not exist",
    ),
    (
        "call-cycle",
        {
            "data/flows.yml": flow(
                "- call: other\n", OTHER_FLOW.replace("action: action_book", "call: book")
            )
        },
        "data/flows.yml",
        5,
        "flows.book.steps[0]",
        "flows call each other in a cycle: book -> other -> book",
    ),
    (
        "set-slots-categorical",
        {"data/flows.yml": flow("- set_slots:\n    - tier: bronze\n")},
        "data/flows.yml",
        6,
        "flows.book.steps[0].set_slots[0]",
        "'bronze' is not one of the values of the categorical slot 'tier' (gold, silver)",
    ),
    (
        "condition-categorical",
        {
            "data/flows.yml": flow(
                "- action: action_book\n  next:\n    - if: slots.tier = bronze\n      then: END\n    - else: END\n"
            )
        },
        "data/flows.yml",
        7,
        "flows.book.steps[0].next[0].if",
        "'bronze' is not one of the values of the categorical slot 'tier'",
    ),
    (
        "set-slots-unknown-slot",
        {"data/flows.yml": flow("- set_slots:\n    - colour: red\n")},
        "data/flows.yml",
        6,
        "flows.book.steps[0].set_slots[0]",
        "set_slots sets 'colour', which is not a slot in the domain",
    ),
    (
        "duplicate-flow",
        {"data/more.yml": FLOWS},
        "data/more.yml",
        2,
        "flows.book",
        "duplicate flow 'book' (first defined in data/flows.yml line 2)",
    ),
    (
        "persisted-unknown-slot",
        {
            "data/flows.yml": flow("- action: action_book\n").replace(
                "    steps:", "    persisted_slots:\n      - colour\n    steps:"
            )
        },
        "data/flows.yml",
        5,
        "flows.book.persisted_slots[0]",
        "persisted slot 'colour' is not defined in the domain",
    ),
    # --- domain
    (
        "duplicate-intent",
        {"domain.yml": domain_with(intents="- greet\n").replace("entities:", "entities:", 1)},
        "domain.yml",
        5,
        "intents[2]",
        "duplicate intent 'greet' (first declared in domain.yml line 3)",
    ),
    (
        "duplicate-slot-across-files",
        {"domain/extra.yml": "slots:\n  city:\n    type: text\n"},
        "domain/extra.yml",
        2,
        "slots.city",
        "duplicate slot 'city' (first defined in domain.yml line 10)",
    ),
    (
        "unknown-slot-type",
        {"domain.yml": domain_with(slots="when:\n  type: string\n")},
        "domain.yml",
        23,
        "slots.when.type",
        "unknown slot type 'string'",
    ),
    (
        "slot-missing-type",
        {"domain.yml": domain_with(slots="when:\n  mappings: []\n")},
        "domain.yml",
        22,
        "slots.when",
        "slot 'when' is missing the required key 'type'",
    ),
    (
        "categorical-without-values",
        {"domain.yml": domain_with(slots="size:\n  type: categorical\n")},
        "domain.yml",
        22,
        "slots.size",
        "categorical slot 'size' needs a list of 'values'",
    ),
    (
        "mapping-unknown-entity",
        {"domain.yml": DOMAIN.replace("entity: city", "entity: country")},
        "domain.yml",
        14,
        "slots.city.mappings[0].entity",
        "slot 'city' is mapped from the entity 'country', which is not in the domain's entities",
    ),
    (
        "mapping-unknown-role",
        {"domain.yml": DOMAIN.replace("entity: city", "entity: city\n        role: from")},
        "domain.yml",
        15,
        "slots.city.mappings[0].role",
        "entity 'city' has no role 'from'",
    ),
    (
        "mapping-unknown-type",
        {"domain.yml": DOMAIN.replace("type: from_llm", "type: from_magic")},
        "domain.yml",
        21,
        "slots.tier.mappings[0].type",
        "unknown slot mapping type the string 'from_magic'",
    ),
    (
        "response-not-a-list",
        {
            "domain.yml": DOMAIN.replace(
                "  utter_greet:\n    - text: Hello!", "  utter_greet: Hello!"
            )
        },
        "domain.yml",
        23,
        "responses.utter_greet",
        "response 'utter_greet' (a list of variations) must be a list",
    ),
    (
        "response-without-text",
        {"domain.yml": DOMAIN.replace("- text: Hello!", "- channel: slack")},
        "domain.yml",
        24,
        "responses.utter_greet[0]",
        "needs 'text', 'image', 'custom' or 'buttons'",
    ),
    (
        "response-bad-condition",
        {
            "domain.yml": DOMAIN.replace(
                "- text: Hello!", "- text: Hello!\n      condition: slots.tier =="
            )
        },
        "domain.yml",
        25,
        "responses.utter_greet[0].condition",
        "invalid response condition",
    ),
    (
        "button-categorical",
        {
            "domain.yml": DOMAIN.replace(
                "- text: Which tier?",
                "- text: Which tier?\n      buttons:\n        - title: Bronze\n          payload: /SetSlots(tier=bronze)",
            )
        },
        "domain.yml",
        31,
        "responses.utter_ask_tier[0].buttons[0].payload",
        "'bronze' is not one of the values of the categorical slot 'tier'",
    ),
    (
        "intent-as-list",
        {"domain.yml": DOMAIN.replace("  - inform\n", "  - [inform]\n")},
        "domain.yml",
        4,
        "intents[1]",
        "each entry of intents must be a name or a mapping",
    ),
    (
        "rejection-bad-condition",
        {
            "domain.yml": DOMAIN.replace(
                "      - type: from_llm\n",
                "      - type: from_llm\n    validation:\n      rejections:\n        - if: slots.tier matches '('\n          utter: utter_greet\n",
            )
        },
        "domain.yml",
        24,
        "slots.tier.validation.rejections[0].if",
        "invalid regular expression",
    ),
    # --- nlu
    (
        "nlu-unknown-intent",
        {"data/nlu.yml": NLU + "  - intent: goodbye\n    examples: |\n      - bye\n"},
        "data/nlu.yml",
        8,
        "nlu[2].intent",
        "intent 'goodbye' has examples but is not in the domain's intents",
    ),
    (
        "nlu-unknown-entity",
        {"data/nlu.yml": NLU.replace("(city)", "(country)")},
        "data/nlu.yml",
        6,
        "nlu[1].examples",
        "annotates the entity 'country', which is not in the domain's entities",
    ),
    (
        "nlu-unknown-role",
        {"data/nlu.yml": NLU.replace("(city)", '{"entity": "city", "role": "from"}')},
        "data/nlu.yml",
        6,
        "nlu[1].examples",
        "entity 'city' has no role 'from'",
    ),
    (
        "nlu-bad-json",
        {"data/nlu.yml": NLU.replace("(city)", '{"entity": city}')},
        "data/nlu.yml",
        6,
        "nlu[1].examples",
        "invalid JSON in entity annotation",
    ),
    (
        "nlu-line-without-dash",
        {"data/nlu.yml": NLU.replace("      - hi", "      hi")},
        "data/nlu.yml",
        3,
        "nlu[0].examples",
        "each example must start with '- '",
    ),
    (
        "nlu-bad-regex",
        {"data/nlu.yml": NLU + "  - regex: zip\n    examples: |\n      - [0-9\n"},
        "data/nlu.yml",
        9,
        "nlu[2].examples",
        "invalid regular expression '[0-9'",
    ),
    (
        "nlu-item-kind",
        {"data/nlu.yml": NLU + "  - intnet: x\n    examples: |\n      - x\n"},
        "data/nlu.yml",
        8,
        "nlu[2]",
        "an nlu item needs one of the keys intent, synonym, regex or lookup",
    ),
    # --- config and endpoints
    (
        "pipeline-without-name",
        {"config.yml": CONFIG + "pipeline:\n  - foo: bar\n"},
        "config.yml",
        5,
        "pipeline[0]",
        "each item of pipeline needs a 'name'",
    ),
    (
        "missing-prompt",
        {
            "config.yml": CONFIG
            + "pipeline:\n  - name: CompactLLMCommandGenerator\n    prompt_template: prompts/x.jinja2\n"
        },
        "config.yml",
        6,
        "pipeline[0].prompt_template",
        "prompt file 'prompts/x.jinja2' named in config.yml is not in the project",
    ),
    (
        "kafka-protocol",
        {
            "endpoints.yml": "event_broker:\n  type: kafka\n  url: localhost:9092\n  security_protocol: TLS\n"
        },
        "endpoints.yml",
        4,
        "event_broker.security_protocol",
        "unknown Kafka security_protocol the string 'TLS'",
    ),
    # --- response URLs: only http(s) images, http(s)/mailto/tel links
    (
        "image-javascript-url",
        {"domain.yml": DOMAIN.replace("- text: Hello!", '- image: "javascript:alert(1)"')},
        "domain.yml",
        24,
        "responses.utter_greet[0].image",
        "image 'javascript:alert(1)' is not allowed",
    ),
    (
        "image-data-url",
        {"domain.yml": DOMAIN.replace("- text: Hello!", "- image: data:image/png;base64,AAAA")},
        "domain.yml",
        24,
        "responses.utter_greet[0].image",
        "use an absolute URL starting with http:, https:",
    ),
    (
        "image-relative-url",
        {"domain.yml": DOMAIN.replace("- text: Hello!", "- image: //evil.example/x.png")},
        "domain.yml",
        24,
        "responses.utter_greet[0].image",
        "is not allowed",
    ),
    (
        "button-javascript-url",
        {
            "domain.yml": DOMAIN.replace(
                "- text: Hello!",
                "- text: Hello!\n      buttons:\n        - title: Open\n"
                "          url: 'JavaScript:alert(1)'",
            )
        },
        "domain.yml",
        27,
        "responses.utter_greet[0].buttons[0].url",
        "button url 'JavaScript:alert(1)' is not allowed",
    ),
    (
        "broker-type",
        {"endpoints.yml": "event_broker:\n  type: redis\n"},
        "endpoints.yml",
        2,
        "event_broker.type",
        "unknown event broker type 'redis'",
    ),
    (
        "kafka-without-url",
        {"endpoints.yml": "event_broker:\n  type: kafka\n  security_protocol: PLAINTEXT\n"},
        "endpoints.yml",
        1,
        "event_broker",
        "a kafka event broker needs 'url'",
    ),
]


def test_the_base_project_is_clean():
    project, problems = check_project_files(BASE)
    assert project is not None
    assert problems == []


@pytest.mark.parametrize(
    ("overrides", "file", "line", "path", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_it_reports_precise_problems(overrides, file, line, path, message):
    _, problems = check_project_files({**BASE, **overrides})
    matching = [p for p in problems if p.file == file and message in p.message]
    assert matching, "\n".join(str(p) for p in problems)
    problem = matching[0]
    assert problem.severity == "error"
    assert problem.line == line, str(problem)
    if path is not None:
        assert problem.path == path, str(problem)


def test_safe_image_and_link_urls_are_accepted():
    responses = (
        "utter_links:\n"
        "  - image: https://example.com/a.png\n"
        "    text: Hi\n"
        "    buttons:\n"
        "      - {title: Web, url: 'https://example.com'}\n"
        "      - {title: Mail, url: 'mailto:help@example.com'}\n"
        "      - {title: Call, url: 'tel:+441234'}\n"
        "  - image: '{picture}'\n"
    )
    project, problems = check_project_files(
        {**BASE, "domain.yml": domain_with(responses=responses)}
    )
    assert project is not None, problems
    assert [p for p in problems if p.severity == "error"] == []


def test_there_are_enough_cases():
    assert len(CASES) >= 40
