"""Edits of config.yml and endpoints.yml, and the raw reading of endpoints.yml."""

import pytest

from engine import formats


def test_with_assistant_id_sets_the_name_and_keeps_comments():
    text = '# the recipe\nrecipe: default.v1\nlanguage: "en"\n'
    edited = formats.with_assistant_id(text, "harbor_bank")
    assert edited.startswith("# the recipe\n")
    assert 'language: "en"' in edited
    assert formats.ConfigFile.parse(edited, "config.yml").assistant_id == "harbor_bank"


def test_with_assistant_id_leaves_a_set_name_alone():
    text = "assistant_id: harbor_bank   # routes events\n"
    assert formats.with_assistant_id(text, "harbor_bank") is text
    assert formats.with_assistant_id("", "x") == "assistant_id: x\n"


def test_with_event_broker_replaces_the_section_only():
    text = "action_endpoint:\n  url: http://a:5055/webhook\nevent_broker:\n  type: kafka\n"
    edited = formats.with_event_broker(text, {"type": "file", "path": "/spool/a.jsonl"})
    data = formats.read_endpoints(edited)
    assert data == {
        "action_endpoint": {"url": "http://a:5055/webhook"},
        "event_broker": {"type": "file", "path": "/spool/a.jsonl"},
    }
    assert formats.read_endpoints(formats.with_event_broker("", {"type": "file"})) == {
        "event_broker": {"type": "file"}
    }


def test_read_endpoints_keeps_env_references_and_names_the_file():
    assert formats.read_endpoints("nlg:\n  url: ${NLG_URL}\n") == {"nlg": {"url": "${NLG_URL}"}}
    assert formats.read_endpoints("") == {}
    with pytest.raises(ValueError, match=r"bot\.yml must hold a mapping of endpoints"):
        formats.read_endpoints("- a\n", "bot.yml")
    with pytest.raises(ValueError, match=r"endpoints\.yml is not valid YAML"):
        formats.read_endpoints("a: [b\n")
