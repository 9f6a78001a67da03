"""Malformed uploads: each is (id, files or raw zip bytes, partial, expected).

`expected` is (file, line, path fragment, message fragment); None skips a part. They are sent
to an assistant that holds the demo content, so partial uploads can refer to stored items.
"""

import io
import stat
import warnings
import zipfile

FLOW_HEAD = 'version: "3.1"\nflows:\n'


def flow(body: str) -> dict:
    return {"data/flows/new.yml": FLOW_HEAD + body}


def zip_of(entries, *, symlink=None, compress=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as archive, warnings.catch_warnings():
        # One case is a zip with the same name twice, on purpose.
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        for name, data in entries:
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def zip_with_nul_name() -> bytes:
    """A zip whose entry is named 'domain.yml<NUL>evil.txt' (zipfile cannot write one)."""
    data = zip_of([("domain.ymlXevil.txt", 'version: "3.1"\nintents: [a]\n')])
    return data.replace(b"domain.ymlXevil.txt", b"domain.yml\x00evil.txt")


BOMB = (
    "a: &a ["
    + ",".join(["x"] * 10)
    + "]\n"
    + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 10) + "]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
)

CASES = [
    # --- YAML syntax -------------------------------------------------------------------
    (
        "yaml-unclosed-bracket",
        {"domain.yml": 'version: "3.1"\nintents: [greet, bye\n'},
        True,
        ("domain.yml", None, None, None),
    ),
    (
        "yaml-bad-indent",
        {"domain.yml": 'version: "3.1"\nslots:\n  a:\n    type: text\n   mappings: []\n'},
        True,
        ("domain.yml", None, None, None),
    ),
    (
        "yaml-tab-indent",
        {"domain.yml": 'version: "3.1"\nslots:\n\ta:\n\t\ttype: text\n'},
        True,
        ("domain.yml", None, None, None),
    ),
    (
        "yaml-duplicate-key",
        {
            "domain.yml": 'version: "3.1"\nresponses:\n  utter_x:\n  - text: a\n  utter_x:\n  - text: b\n'
        },
        True,
        ("domain.yml", 5, None, "utter_x"),
    ),
    (
        "yaml-unclosed-quote",
        {"domain.yml": 'version: "3.1\nintents: []\n'},
        True,
        ("domain.yml", None, None, None),
    ),
    ("yaml-alias-bomb", {"domain.yml": BOMB}, True, ("domain.yml", None, None, None)),
    (
        "yaml-custom-tag",
        {"domain.yml": "intents: !!python/object/apply:os.system ['true']\n"},
        True,
        ("domain.yml", None, None, None),
    ),
    (
        "yaml-multiple-documents",
        {"domain.yml": "intents: [a]\n---\nintents: [b]\n"},
        True,
        ("domain.yml", None, None, None),
    ),
    (
        "yaml-top-level-list",
        {"data/flows/x.yml": "- a\n- b\n"},
        True,
        ("data/flows/x.yml", None, None, None),
    ),
    # --- encoding and size --------------------------------------------------------------
    (
        "non-utf8",
        {"domain.yml": b'version: "3.1"\nintents:\n  - caf\xe9\n'},
        True,
        ("domain.yml", None, None, "UTF-8"),
    ),
    (
        "nul-bytes",
        {"domain.yml": b'version: "3.1"\nintents:\n  - a\x00b\n'},
        True,
        ("domain.yml", None, None, None),
    ),
    (
        "huge-file",
        {"data/nlu/huge.yml": "nlu:\n" + "# padding\n" * 600_000},
        True,
        ("data/nlu/huge.yml", None, None, None),
    ),
    # --- domain types -------------------------------------------------------------------
    (
        "version-not-string",
        {"domain.yml": "version: 3.1\nintents: [a]\n"},
        True,
        ("domain.yml", 1, "version", None),
    ),
    (
        "intents-not-list",
        {"domain.yml": 'version: "3.1"\nintents: greet\n'},
        True,
        ("domain.yml", 2, "intents", None),
    ),
    (
        "slot-unknown-type",
        {
            "domain.yml": 'version: "3.1"\nslots:\n  a:\n    type: colour\n    mappings: [{type: from_text}]\n'
        },
        True,
        ("domain.yml", None, "slots.a", "colour"),
    ),
    (
        "slot-not-mapping",
        {"domain.yml": 'version: "3.1"\nslots:\n  a: text\n'},
        True,
        ("domain.yml", 3, "slots.a", None),
    ),
    (
        "slot-missing-type",
        {"domain.yml": 'version: "3.1"\nslots:\n  a:\n    mappings: [{type: from_text}]\n'},
        True,
        ("domain.yml", None, "slots.a", "type"),
    ),
    (
        "categorical-without-values",
        {
            "domain.yml": 'version: "3.1"\nslots:\n  a:\n    type: categorical\n    mappings: [{type: from_text}]\n'
        },
        True,
        ("domain.yml", None, "slots.a", "values"),
    ),
    (
        "float-min-above-max",
        {
            "domain.yml": 'version: "3.1"\nslots:\n  a:\n    type: float\n    min_value: 5\n    max_value: 1\n    mappings: [{type: from_text}]\n'
        },
        True,
        ("domain.yml", None, "slots.a", None),
    ),
    (
        "mapping-unknown-type",
        {
            "domain.yml": 'version: "3.1"\nslots:\n  a:\n    type: text\n    mappings: [{type: from_magic}]\n'
        },
        True,
        ("domain.yml", None, "slots.a.mappings[0]", "from_magic"),
    ),
    (
        "mapping-unknown-entity",
        {
            "domain.yml": 'version: "3.1"\nslots:\n  a:\n    type: text\n    mappings: [{type: from_entity, entity: nowhere}]\n'
        },
        True,
        (None, None, "slots.a.mappings[0]", "nowhere"),
    ),
    (
        "response-not-list",
        {"domain.yml": 'version: "3.1"\nresponses:\n  utter_a: hello\n'},
        True,
        ("domain.yml", 3, "responses.utter_a", None),
    ),
    (
        "response-variation-empty",
        {"domain.yml": 'version: "3.1"\nresponses:\n  utter_a:\n  - {}\n'},
        True,
        ("domain.yml", None, "responses.utter_a", None),
    ),
    (
        "button-not-mapping",
        {
            "domain.yml": 'version: "3.1"\nresponses:\n  utter_a:\n  - text: hi\n    buttons: [yes]\n'
        },
        True,
        ("domain.yml", None, "responses.utter_a", None),
    ),
    (
        "response-bad-condition",
        {
            "domain.yml": 'version: "3.1"\nresponses:\n  utter_a:\n  - text: hi\n    condition: "slots.x >"\n'
        },
        True,
        ("domain.yml", None, "responses.utter_a", None),
    ),
    (
        "actions-not-list",
        {"domain.yml": 'version: "3.1"\nactions: action_x\n'},
        True,
        ("domain.yml", 2, "actions", None),
    ),
    (
        "entity-roles-not-list",
        {"domain.yml": 'version: "3.1"\nentities:\n  - account:\n      roles: source\n'},
        True,
        ("domain.yml", None, "entities", None),
    ),
    (
        "duplicate-response-across-files",
        {
            "domain/a.yml": 'version: "3.1"\nresponses:\n  utter_z:\n  - text: a\n',
            "domain/b.yml": 'version: "3.1"\nresponses:\n  utter_z:\n  - text: b\n',
        },
        True,
        (None, None, "utter_z", None),
    ),
    # --- flows --------------------------------------------------------------------------
    (
        "flows-not-mapping",
        {"data/flows/new.yml": FLOW_HEAD + "  - a\n"},
        True,
        ("data/flows/new.yml", None, "flows", None),
    ),
    (
        "flow-id-with-space",
        flow("  my flow:\n    description: d\n    steps:\n      - action: utter_greet\n"),
        True,
        ("data/flows/new.yml", 3, "my flow", "no spaces"),
    ),
    (
        "flow-missing-steps",
        flow("  a_flow:\n    description: d\n"),
        True,
        ("data/flows/new.yml", None, "a_flow", "steps"),
    ),
    (
        "flow-steps-not-list",
        flow("  a_flow:\n    description: d\n    steps: utter_greet\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps", None),
    ),
    (
        "flow-empty-steps",
        flow("  a_flow:\n    description: d\n    steps: []\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps", None),
    ),
    (
        "step-unknown-type",
        flow("  a_flow:\n    description: d\n    steps:\n      - dance: now\n"),
        True,
        ("data/flows/new.yml", 6, "a_flow.steps[0]", None),
    ),
    (
        "step-two-types",
        flow(
            "  a_flow:\n    description: d\n    steps:\n      - action: utter_greet\n        collect: account_type\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", None),
    ),
    (
        "collect-not-string",
        flow("  a_flow:\n    description: d\n    steps:\n      - collect: 123\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", None),
    ),
    (
        "collect-unknown-slot",
        flow("  a_flow:\n    description: d\n    steps:\n      - collect: no_such_slot\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "no_such_slot"),
    ),
    (
        "action-unknown-response",
        flow("  a_flow:\n    description: d\n    steps:\n      - action: utter_no_such_thing\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "utter_no_such_thing"),
    ),
    (
        "action-unknown-custom",
        flow("  a_flow:\n    description: d\n    steps:\n      - action: action_not_in_domain\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "action_not_in_domain"),
    ),
    (
        "link-unknown-flow",
        flow("  a_flow:\n    description: d\n    steps:\n      - link: no_such_flow\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "no_such_flow"),
    ),
    (
        "call-unknown-flow",
        flow("  a_flow:\n    description: d\n    steps:\n      - call: no_such_flow\n"),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "no_such_flow"),
    ),
    (
        "next-unknown-id",
        flow(
            "  a_flow:\n    description: d\n    steps:\n      - action: utter_greet\n        next: nowhere\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "nowhere"),
    ),
    (
        "duplicate-step-id",
        flow(
            "  a_flow:\n    description: d\n    steps:\n      - id: s\n        action: utter_greet\n      - id: s\n        action: utter_greet\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow", "s"),
    ),
    (
        "set-slots-unknown-slot",
        flow(
            "  a_flow:\n    description: d\n    steps:\n      - set_slots:\n          - ghost: 1\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "ghost"),
    ),
    (
        "set-slots-bad-category",
        flow(
            "  a_flow:\n    description: d\n    steps:\n      - set_slots:\n          - account_type: moon\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", "moon"),
    ),
    (
        "bad-condition-dangling",
        flow(
            "  a_flow:\n    description: d\n    steps:\n      - action: utter_greet\n        next:\n          - if: slots.account_type ==\n            then: END\n          - else: END\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0].next[0]", None),
    ),
    (
        "bad-condition-parens",
        flow(
            '  a_flow:\n    description: d\n    steps:\n      - action: utter_greet\n        next:\n          - if: (slots.account_type = "savings"\n            then: END\n          - else: END\n'
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0].next[0]", None),
    ),
    (
        "bad-guard",
        flow(
            "  a_flow:\n    description: d\n    if: slots.a and and slots.b\n    steps:\n      - action: utter_greet\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow", None),
    ),
    (
        "next-without-else",
        flow(
            '  a_flow:\n    description: d\n    steps:\n      - action: utter_greet\n        next:\n          - if: slots.account_type = "savings"\n            then: END\n'
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0].next", None),
    ),
    (
        "nlu-trigger-bad-threshold",
        flow(
            "  a_flow:\n    description: d\n    nlu_trigger:\n      - intent:\n          name: greet\n          confidence_threshold: high\n    steps:\n      - action: utter_greet\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.nlu_trigger", None),
    ),
    (
        "rejection-bad-condition",
        flow(
            "  a_flow:\n    description: d\n    steps:\n      - collect: account_type\n        rejections:\n          - if: slots.account_type is is\n            utter: utter_greet\n"
        ),
        True,
        ("data/flows/new.yml", None, "a_flow.steps[0]", None),
    ),
    (
        "call-cycle",
        flow(
            "  loop_a:\n    description: d\n    steps:\n      - call: loop_b\n  loop_b:\n    description: d\n    steps:\n      - call: loop_a\n"
        ),
        True,
        ("data/flows/new.yml", None, "loop_", "cycle"),
    ),
    (
        "duplicate-flow-across-files",
        {
            "data/flows/a.yml": FLOW_HEAD
            + "  twin:\n    description: d\n    steps:\n      - action: utter_greet\n",
            "data/flows/b.yml": FLOW_HEAD
            + "  twin:\n    description: d\n    steps:\n      - action: utter_greet\n",
        },
        True,
        (None, None, "twin", None),
    ),
    # --- NLU ----------------------------------------------------------------------------
    (
        "nlu-examples-not-string",
        {"data/nlu/x.yml": 'version: "3.1"\nnlu:\n  - intent: greet\n    examples: [hi, hello]\n'},
        True,
        ("data/nlu/x.yml", None, "nlu[0].examples", None),
    ),
    (
        "nlu-annotation-without-entity",
        {
            "data/nlu/x.yml": 'version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - hi [bob]{"role": "friend"}\n'
        },
        True,
        ("data/nlu/x.yml", None, "nlu[0]", "entity"),
    ),
    (
        "nlu-bad-json-annotation",
        {
            "data/nlu/x.yml": 'version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - hi [bob]{"entity": }\n'
        },
        True,
        ("data/nlu/x.yml", None, "nlu[0]", None),
    ),
    (
        "nlu-item-without-kind",
        {"data/nlu/x.yml": 'version: "3.1"\nnlu:\n  - examples: |\n      - hi\n'},
        True,
        ("data/nlu/x.yml", None, "nlu[0]", None),
    ),
    (
        "nlu-bad-regex",
        {
            "data/nlu/x.yml": 'version: "3.1"\nnlu:\n  - regex: broken\n    examples: |\n      - ([a-z\n'
        },
        True,
        ("data/nlu/x.yml", None, "nlu[0]", None),
    ),
    # --- config and endpoints -----------------------------------------------------------
    ("config-not-mapping", {"config.yml": "- a\n- b\n"}, True, ("config.yml", None, None, None)),
    (
        "config-pipeline-not-list",
        {"config.yml": "recipe: default.v1\nlanguage: en\npipeline: WhitespaceTokenizer\n"},
        True,
        ("config.yml", 3, "pipeline", None),
    ),
    (
        "endpoints-unknown-broker",
        {"endpoints.yml": "event_broker:\n  type: carrier_pigeon\n"},
        True,
        ("endpoints.yml", None, "event_broker", "carrier_pigeon"),
    ),
    (
        "endpoints-kafka-without-url",
        {"endpoints.yml": "event_broker:\n  type: kafka\n  topic: t\n"},
        True,
        ("endpoints.yml", None, "event_broker", "url"),
    ),
    # --- archives and paths -------------------------------------------------------------
    (
        "zip-path-traversal",
        zip_of([("../../etc/evil.yml", "a: 1\n")]),
        True,
        ("../../etc/evil.yml", None, None, "leaves the project folder"),
    ),
    (
        "zip-absolute-path",
        zip_of([("/etc/evil.yml", "a: 1\n")]),
        True,
        (None, None, None, "absolute"),
    ),
    (
        "zip-symlink",
        zip_of([("domain.yml", "intents: [a]\n")], symlink="data/link.yml"),
        True,
        ("data/link.yml", None, None, "points to /etc/passwd, outside the project"),
    ),
    (
        "zip-bomb",
        zip_of([("domain.yml", "#" * 4_000_000)]),
        True,
        ("domain.yml", None, None, "zip bomb"),
    ),
    (
        "zip-too-large-entry",
        zip_of([("domain.yml", "".join(f"# {i}\n" for i in range(800_000)))]),
        True,
        ("domain.yml", None, None, "uncompressed"),
    ),
    (
        "zip-garbage",
        b"PK\x03\x04 this is not really a zip",
        True,
        (None, None, None, "not a readable zip"),
    ),
    ("zip-empty", zip_of([]), True, (None, None, None, "empty")),
    (
        "zip-too-many-files",
        zip_of([(f"data/f{i}.yml", "nlu: []\n") for i in range(2001)]),
        True,
        (None, None, None, "limit is 2000"),
    ),
    (
        "zip-duplicate-entry",
        zip_of([("domain.yml", "intents: [a]\n"), ("domain.yml", "intents: [b]\n")]),
        True,
        ("domain.yml", None, None, "twice"),
    ),
    (
        "zip-nested-archive",
        zip_of([("domain.yml", "intents: [a]\n"), ("inner.zip", zip_of([("x.yml", "a: 1\n")]))]),
        False,
        ("inner.zip", None, None, "archives inside the archive"),
    ),
    (
        "zip-nested-archive-renamed",
        zip_of([("domain.yml", "intents: [a]\n"), ("data/x.yml", zip_of([("x", "a")]))]),
        False,
        ("data/x.yml", None, None, "archives inside the archive"),
    ),
    (
        "zip-nul-name",
        zip_with_nul_name(),
        False,
        ("domain.yml\\0evil.txt", None, None, "NUL"),
    ),
    (
        "loose-files-with-an-archive",
        {"domain.yml": b"intents: [a]\n", "more.tar.gz": b"\x1f\x8b\x08\x00"},
        False,
        ("more.tar.gz", None, None, "on its own"),
    ),
    # --- nothing Studio imports: a full replace would empty the assistant ---------------
    (
        "full-replace-only-unrecognised-file",
        {"notes.txt": "hello"},
        False,
        (None, None, None, "only files Studio keeps without reading them: notes.txt"),
    ),
    (
        "full-replace-only-empty-files",
        {"domain.yml": "", "data/a.yml": "", "data/b.yml": "  \n"},
        False,
        (None, None, None, "data/a.yml (the file is empty)"),
    ),
    (
        "full-replace-only-ignored-folders",
        {"tests/test_x.yml": "stories: []\n", ".github/ci.yml": "on: push\n"},
        False,
        (None, None, None, "keeps without reading them: tests/test_x.yml; 1 file not imported"),
    ),
    (
        "full-replace-unrecognised-yaml",
        {"notes.yml": "hello: world\n"},
        False,
        (None, None, None, "no Rasa project file"),
    ),
    (
        "partial-only-unrecognised-file",
        {"notes.txt": "hello"},
        True,
        (None, None, None, "no Rasa project file"),
    ),
    (
        "full-replace-zip-of-unrecognised-files",
        zip_of([("notes.txt", "hello"), ("README.md", "# bot")]),
        False,
        (None, None, None, "keeps without reading them: README.md, notes.txt"),
    ),
    # --- response URLs ------------------------------------------------------------------
    (
        "response-image-javascript-url",
        {
            "domain.yml": 'version: "3.1"\nresponses:\n  utter_x:\n'
            '  - image: "javascript:alert(1)"\n'
        },
        True,
        ("domain.yml", 4, "responses.utter_x[0].image", "not allowed"),
    ),
    (
        "response-button-url-javascript",
        {
            "domain.yml": 'version: "3.1"\nresponses:\n  utter_x:\n  - text: hi\n'
            "    buttons:\n    - title: Open\n      url: javascript:alert(1)\n"
        },
        True,
        ("domain.yml", 7, "responses.utter_x[0].buttons[0].url", "not allowed"),
    ),
    # --- replacing everything with an inconsistent project ------------------------------
    (
        "full-replace-dangling-references",
        {
            "data/flows.yml": FLOW_HEAD
            + "  a_flow:\n    description: d\n    steps:\n      - collect: account_type\n"
        },
        False,
        ("data/flows.yml", None, "a_flow.steps[0]", "account_type"),
    ),
]
