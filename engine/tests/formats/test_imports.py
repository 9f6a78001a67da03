import subprocess
import sys


def test_it_imports_without_django():
    code = (
        "import sys, engine.formats; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_api_is_exported():
    import engine.formats as formats

    for name in formats.__all__:
        assert hasattr(formats, name), name


#: What the apps use of the formats API (``from engine import formats``; nothing deeper).
APP_NAMES = [
    "CLASSIC_POLICIES",
    "COEXISTENCE_ROUTERS",
    "FLOW_ID_RE",
    "SLOT_TYPES",
    "Action",
    "AnnotationError",
    "ConditionError",
    "Entity",
    "EntityAnnotation",
    "Example",
    "Intent",
    "IntentExamples",
    "Lookup",
    "NluData",
    "ProblemCollector",
    "Regex",
    "Slot",
    "Synonym",
    "action_to_yaml",
    "dump_yaml",
    "entity_to_yaml",
    "example_to_text",
    "flow_to_dict",
    "intent_to_yaml",
    "iter_steps",
    "load_stories",
    "load_yaml",
    "parse_condition",
    "parse_domain",
    "parse_example",
    "parse_flows",
    "parse_responses",
    "referenced_ids",
    "referenced_slots",
    "slot_to_yaml",
    "story_counts",
    "variation_to_yaml",
]


def test_what_the_apps_use_is_exported():
    import engine.formats as formats

    missing = [name for name in APP_NAMES if name not in formats.__all__]
    assert not missing, missing
