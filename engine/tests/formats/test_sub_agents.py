"""Call steps of sub-agents (``sub_agents/<folder>/config.yml``) and of MCP tools: accepted as
Rasa Pro accepts them, refused as it refuses them (file, line and key), kept unchanged."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.formats import (
    dump_project,
    load_project_dir,
    load_project_files,
    sub_agent_names,
    sub_agents,
)
from engine.formats.validation import check_project_files, validate_project

PROJECT = Path(__file__).parents[1] / "rasa_projects" / "sub-agents"

DOMAIN = """\
version: "3.1"
slots:
  question:
    type: text
    mappings: [{type: from_llm}]
  ticket:
    type: text
    mappings: [{type: controlled}]
responses:
  utter_ask_question:
    - text: What is your question?
  utter_done:
    - text: Done.
"""
AGENT = """\
agent:
  name: helpdesk
  description: Opens support tickets.
connections:
  mcp_servers:
    - name: tickets
"""
ENDPOINTS = """\
mcp_servers:
  - name: tickets
    url: http://localhost:9000/mcp
    type: http
"""


def flows(steps: str) -> str:
    return "flows:\n  support:\n    description: Get help.\n    steps:\n" + textwrap.indent(
        textwrap.dedent(steps), "      "
    )


def project_files(steps: str, **extra: str) -> dict[str, str]:
    files = {
        "domain.yml": DOMAIN,
        "data/flows.yml": flows(steps),
        "endpoints.yml": ENDPOINTS,
        "sub_agents/helpdesk/config.yml": AGENT,
    }
    files.update({path.replace("__", "/"): text for path, text in extra.items()})
    return files


def errors_of(files: dict[str, str]) -> list:
    _project, problems = check_project_files(files)
    return [p for p in problems if p.severity == "error"]


def only_error(files: dict[str, str]):
    errors = errors_of(files)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# -- the test project -------------------------------------------------------------------------


def test_the_sub_agents_project_is_valid():
    project = load_project_dir(PROJECT)
    problems = validate_project(project)
    assert [str(p) for p in problems if p.severity == "error"] == []
    agents = sub_agents(project.other_files)
    assert sorted(agents) == ["product_expert", "returns_desk"]
    assert agents["product_expert"].mcp_servers == ("catalogue",)
    assert agents["product_expert"].description.startswith("Answers questions about the outdoor")
    assert agents["returns_desk"].folder == "sub_agents/returns_desk"


def test_the_project_exports_its_sub_agents_and_call_steps_unchanged():
    project = load_project_dir(PROJECT)
    out = dump_project(project)
    for rel in (
        "sub_agents/product_expert/config.yml",
        "sub_agents/product_expert/prompt.jinja2",
        "sub_agents/returns_desk/config.yml",
    ):
        assert out[rel] == (PROJECT / rel).read_text(encoding="utf-8")
    again = load_project_files(out)
    steps = {f.id: f.steps for f in again.flows}
    assert steps["return_item"][1] == {
        "id": "start_return",
        "call": "returns_desk",
        "exit_if": ["slots.return_label is not null"],
    }
    assert steps["check_order_status"][1] == {
        "call": "get_order_status",
        "mcp_server": "orders",
        "mapping": {
            "input": [{"param": "order_id", "slot": "order_number"}],
            "output": [{"slot": "order_status", "value": "result.structuredContent.status"}],
        },
    }
    assert steps["ask_product_expert"][1] == {"call": "product_expert"}
    assert again.flows == project.flows
    assert dump_project(again) == out


# -- call targets -----------------------------------------------------------------------------


def test_a_call_of_a_sub_agent_is_accepted():
    assert errors_of(project_files("- collect: question\n- call: helpdesk\n")) == []


def test_the_call_names_the_agent_by_agent_name_not_by_folder():
    files = project_files("- call: helpdesk\n")
    files["sub_agents/desk/config.yml"] = files.pop("sub_agents/helpdesk/config.yml")
    assert errors_of(files) == []
    assert sub_agent_names(files) == {"helpdesk"}
    files = project_files("- call: desk\n")
    files["sub_agents/desk/config.yml"] = files.pop("sub_agents/helpdesk/config.yml")
    error = only_error(files)
    assert error.path == "flows.support.steps[0].call"


def test_a_call_of_neither_a_flow_nor_a_sub_agent_names_file_line_and_key():
    error = only_error(project_files("- collect: question\n- call: help_desk\n"))
    assert (error.file, error.line, error.path) == (
        "data/flows.yml",
        6,
        "flows.support.steps[1].call",
    )
    assert "called flow 'help_desk' does not exist, and no sub-agent has that name" in (
        error.message
    )


def test_a_call_of_a_flow_still_works_and_a_flow_wins_over_nothing():
    files = project_files("- call: other\n")
    files["data/flows.yml"] += (
        "  other:\n    description: o\n    steps:\n      - action: utter_done\n"
    )
    assert errors_of(files) == []


def test_a_sub_agent_without_a_config_is_no_call_target():
    files = project_files("- call: helpdesk\n")
    del files["sub_agents/helpdesk/config.yml"]
    error = only_error(files)
    assert error.path == "flows.support.steps[0].call"


# -- exit_if ----------------------------------------------------------------------------------


def test_exit_if_on_a_sub_agent_call_is_accepted():
    steps = "- call: helpdesk\n  exit_if:\n    - slots.ticket is not null\n"
    assert errors_of(project_files(steps)) == []


def test_exit_if_on_a_flow_call_is_refused():
    files = project_files("- call: other\n  exit_if: [slots.ticket is not null]\n")
    files["data/flows.yml"] += (
        "  other:\n    description: o\n    steps:\n      - action: utter_done\n"
    )
    error = only_error(files)
    assert (error.line, error.path) == (6, "flows.support.steps[0].exit_if")
    assert "only allowed on a call step that calls a sub-agent" in error.message


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("slots.nothing is not null", "uses the slot 'nothing', which is not defined"),
        ("'true'", "must use at least one slot"),
        ("slots.ticket is is", "invalid exit_if condition"),
    ],
)
def test_exit_if_conditions_are_checked(condition, message):
    error = only_error(project_files(f"- call: helpdesk\n  exit_if:\n    - {condition}\n"))
    assert error.path == "flows.support.steps[0].exit_if[0]"
    assert error.file == "data/flows.yml"
    assert message in error.message


def test_exit_if_beside_an_mcp_mapping_is_refused():
    steps = """\
    - call: open_ticket
      mcp_server: tickets
      mapping: {input: [], output: []}
      exit_if: [slots.ticket is not null]
    """
    messages = [e.message for e in errors_of(project_files(steps))]
    assert any("cannot also have 'mcp_server' or 'mapping'" in m for m in messages)


# -- MCP tool calls ---------------------------------------------------------------------------

MCP_STEP = """\
- collect: question
- call: open_ticket
  mcp_server: {server}
  mapping:
    input:
      - param: text
        slot: {slot}
    output:
      - slot: ticket
        value: result.content
"""


def test_an_mcp_tool_call_is_accepted():
    assert errors_of(project_files(MCP_STEP.format(server="tickets", slot="question"))) == []


def test_an_mcp_server_missing_from_endpoints_is_refused():
    error = only_error(project_files(MCP_STEP.format(server="ticketing", slot="question")))
    assert (error.file, error.line, error.path) == (
        "data/flows.yml",
        7,
        "flows.support.steps[1].mcp_server",
    )
    assert "MCP server 'ticketing' is not defined in endpoints.yml's mcp_servers" in error.message


def test_an_mcp_call_without_endpoints_is_refused():
    files = project_files(MCP_STEP.format(server="tickets", slot="question"))
    del files["endpoints.yml"]
    error = only_error(files)
    assert "the project has no endpoints.yml" in error.message


def test_an_mcp_mapping_slot_must_be_in_the_domain():
    error = only_error(project_files(MCP_STEP.format(server="tickets", slot="query")))
    assert error.path == "flows.support.steps[1].mapping.input[0].slot"
    assert error.line == 11
    assert "the slot 'query'" in error.message


@pytest.mark.parametrize(
    ("mapping", "path", "message"),
    [
        ("{input: []}", "flows.support.steps[0].mapping", "missing the required key 'output'"),
        (
            "{input: [{slot: question}], output: []}",
            "flows.support.steps[0].mapping.input[0]",
            "missing the required key 'param'",
        ),
        (
            "{input: [], output: [{slot: ticket, value: v, extra: 1}]}",
            "flows.support.steps[0].mapping.output[0].extra",
            "unknown key 'extra'",
        ),
        ("[]", "flows.support.steps[0].mapping", "must be a mapping"),
    ],
)
def test_a_malformed_mcp_mapping_is_refused_as_the_flows_schema_does(mapping, path, message):
    steps = f"- call: open_ticket\n  mcp_server: tickets\n  mapping: {mapping}\n"
    errors = errors_of(project_files(steps))
    assert any(e.path == path and message in e.message for e in errors), [str(e) for e in errors]


def test_mcp_server_without_mapping_is_refused():
    error = only_error(project_files("- call: open_ticket\n  mcp_server: tickets\n"))
    assert "needs 'mcp_server' and 'mapping' together" in error.message


# -- the sub-agents' config.yml ---------------------------------------------------------------


def agent_errors(config: str, **extra: str) -> list:
    files = project_files("- call: helpdesk\n")
    files["sub_agents/helpdesk/config.yml"] = textwrap.dedent(config)
    files.update({path.replace("__", "/"): text for path, text in extra.items()})
    return [
        e for e in errors_of(files) if e.file and e.file.startswith("sub_agents/helpdesk")
    ] or errors_of(files)


@pytest.mark.parametrize(
    ("config", "line", "path", "message"),
    [
        (
            "agent:\n  name: helpdesk\nconnections:\n  mcp_servers: [{name: tickets}]\n",
            1,
            "agent",
            "the agent's 'description' is missing",
        ),
        (
            AGENT + "configuration:\n  temperature: 0.2\n",
            8,
            "configuration.temperature",
            "unknown key 'temperature' in the 'configuration' section",
        ),
        (
            "agent:\n  name: helpdesk\n  description: d\n  protocol: mcp\n"
            "connections:\n  mcp_servers: [{name: tickets}]\n",
            4,
            "agent.protocol",
            "unknown protocol 'mcp'",
        ),
        (
            "agent:\n  name: helpdesk\n  description: d\n",
            1,
            "agent",
            "needs at least one server in 'connections.mcp_servers'",
        ),
        (
            AGENT.replace("name: tickets", "name: crm"),
            6,
            "connections.mcp_servers[0].name",
            "MCP server 'crm' is not defined in endpoints.yml's mcp_servers",
        ),
        (
            "agent:\n  name: helpdesk\n  description: d\n  protocol: A2A\n",
            4,
            "agent.protocol",
            "an A2A agent needs 'configuration.agent_card'",
        ),
        (AGENT + "tools: []\n", 7, "tools", "unknown section 'tools'"),
    ],
)
def test_a_sub_agent_config_is_checked_as_rasa_does(config, line, path, message):
    errors = agent_errors(config)
    assert any(
        (e.file, e.line, e.path) == ("sub_agents/helpdesk/config.yml", line, path)
        and message in e.message
        for e in errors
    ), [str(e) for e in errors]


def test_an_a2a_agent_with_a_card_needs_no_mcp_servers():
    config = (
        "agent:\n  name: helpdesk\n  description: d\n  protocol: a2a\n"
        "configuration:\n  agent_card: https://agents.example.com/card.json\n"
    )
    assert errors_of(project_files("- call: helpdesk\n") | {AGENT_PATH: config}) == []


AGENT_PATH = "sub_agents/helpdesk/config.yml"


def test_two_sub_agents_with_one_name_are_refused():
    files = project_files("- call: helpdesk\n") | {"sub_agents/zz_copy/config.yml": AGENT}
    error = only_error(files)
    assert (error.file, error.line, error.path) == (
        "sub_agents/zz_copy/config.yml",
        2,
        "agent.name",
    )
    assert "also used by 'sub_agents/helpdesk/config.yml'" in error.message


def test_a_sub_agent_named_like_a_flow_is_refused():
    files = project_files("- call: helpdesk\n")
    files[AGENT_PATH] = AGENT.replace("name: helpdesk", "name: support")
    errors = errors_of(files)
    assert any(
        e.file == AGENT_PATH and e.path == "agent.name" and "also the id of a flow" in e.message
        for e in errors
    ), [str(e) for e in errors]


def test_a_sub_agent_folder_without_config_and_a_loose_file_are_refused():
    files = project_files("- call: helpdesk\n") | {
        "sub_agents/notes.yml": "agents: []\n",
        "sub_agents/drafts/prompt.jinja2": "Hello {{ user }}\n",
    }
    messages = {(e.file, e.message.split(":")[0]) for e in errors_of(files)}
    assert ("sub_agents/notes.yml", "'sub_agents/notes.yml' is not a folder") in messages
    assert (
        "sub_agents/drafts",
        "the sub-agent folder 'sub_agents/drafts/' has no config.yml",
    ) in messages


def test_a_missing_prompt_template_only_warns_as_rasa_falls_back():
    config = AGENT + "configuration:\n  prompt_template: sub_agents/helpdesk/prompt.jinja2\n"
    files = project_files("- call: helpdesk\n") | {AGENT_PATH: config}
    _project, problems = check_project_files(files)
    assert [p for p in problems if p.severity == "error"] == []
    assert any(
        p.path == "configuration.prompt_template" and "Rasa uses its default prompt" in p.message
        for p in problems
    )
    files["sub_agents/helpdesk/prompt.jinja2"] = "You open tickets.\n"
    _, problems = check_project_files(files)
    assert not any(p.path == "configuration.prompt_template" for p in problems)


def test_sub_agent_names_ignore_unreadable_configs():
    files = {
        "sub_agents/a/config.yml": "agent: [",
        "sub_agents/b/config.yml": "agent:\n  description: no name\n",
        "sub_agents/c/config.yml": AGENT,
        "data/flows.yml": "flows: {}\n",
    }
    assert sub_agent_names(files) == {"helpdesk"}


# -- Rasa Pro's flows schema ------------------------------------------------------------------

RASA_PRO_WHEEL = "rasa_pro-3.21.0-py3-none-any.whl"
WHEEL_CACHE = Path(__file__).parents[3] / "var" / "cache" / "rasa-pro"


@pytest.fixture(scope="module")
def rasa_flows_schema() -> dict:
    """Rasa Pro 3.21's flows JSON schema, read from its wheel (downloaded once into var/)."""
    import json
    import subprocess
    import sys
    import zipfile

    wheel = WHEEL_CACHE / RASA_PRO_WHEEL
    if not wheel.exists():
        command = [sys.executable, "-m", "pip", "download", "rasa-pro==3.21.0", "--no-deps"]
        result = subprocess.run(
            [*command, "-d", str(WHEEL_CACHE), "-q"], capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0 or not wheel.exists():
            pytest.skip(f"could not download the rasa-pro wheel: {result.stderr[-300:]}")
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read("rasa/shared/core/flows/flows_yaml_schema.json"))


def test_the_export_validates_against_rasa_pros_flows_schema(rasa_flows_schema):
    import jsonschema
    from ruamel.yaml import YAML

    out = dump_project(load_project_dir(PROJECT))
    data = YAML(typ="safe", pure=True).load(out["data/flows.yml"])
    jsonschema.Draft202012Validator(rasa_flows_schema).validate(data)
    # The schema does refuse what Studio refuses: a mapping without its output.
    broken = YAML(typ="safe", pure=True).load(out["data/flows.yml"])
    del broken["flows"]["check_order_status"]["steps"][1]["mapping"]["output"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(rasa_flows_schema).validate(broken)
