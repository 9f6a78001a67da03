"""Reading a Rasa project into the parts of an upload, and writing an export back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from studio_cli import project, writer
from studio_cli.errors import CliError, ExitCode

PROJECTS = Path(__file__).resolve().parents[2] / "engine" / "tests" / "rasa_projects"


def test_split_folders_are_merged_as_rasas_importer_merges_them(tmp_path):
    root = tmp_path / "p"
    shutil.copytree(PROJECTS / "split-folders", root)
    upload = project.read_project(
        project.Paths(
            root=root,
            config=root / "config" / "assistant.yml",
            endpoints=root / "config" / "endpoints.yml",
        )
    )
    domain = yaml.safe_load(upload.parts["domain"])
    assert set(domain) <= set(project.DOMAIN_KEYS)
    for part in ("intents", "slots", "responses", "actions"):
        assert domain[part], part
    flows = yaml.safe_load(upload.parts["flows"])["flows"]
    assert set(flows) == {"greet", "opening_hours", "renew_book"}
    assert all("id" not in flow for flow in flows.values())
    nlu = yaml.safe_load(upload.parts["nlu"])
    assert nlu["version"] == "3.1"
    assert all(isinstance(item.get("examples", ""), str) for item in nlu["nlu"])
    # Its config names a rephraser prompt nowhere: no custom prompts are sent.
    assert upload.prompts == {}


def test_env_vars_are_sent_as_written(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "config.yml").write_text("recipe: default.v1\nlanguage: en\n")
    (tmp_path / "endpoints.yml").write_text("action_endpoint:\n  url: ${ACTIONS_URL}\n")
    (tmp_path / "data" / "nlu.yml").write_text("nlu:\n- intent: hi\n  examples: |\n    - hello\n")
    upload = project.read_project(
        project.Paths(
            root=tmp_path,
            data=[tmp_path / "data"],
            config=tmp_path / "config.yml",
            endpoints=tmp_path / "endpoints.yml",
        )
    )
    assert "${ACTIONS_URL}" in upload.parts["endpoints"]
    assert "domain" not in upload.parts and "flows" not in upload.parts


def test_broken_yaml_names_the_file_and_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "config.yml").write_text("recipe: default.v1\n")
    (tmp_path / "data" / "flows.yml").write_text("flows:\n  a:\n    steps: [\n")
    with pytest.raises(CliError) as caught:
        project.read_project(
            project.Paths(root=tmp_path, data=[tmp_path / "data"], config=tmp_path / "config.yml")
        )
    assert caught.value.code == ExitCode.REFUSED
    assert "flows.yml:" in caught.value.message


def test_a_flow_defined_twice_is_refused(tmp_path):
    (tmp_path / "a.yml").write_text("flows:\n  f:\n    steps: []\n")
    (tmp_path / "b.yml").write_text("flows:\n  f:\n    steps: []\n")
    with pytest.raises(CliError, match="'f' is also defined"):
        project.read_data([tmp_path])


def test_an_export_is_written_as_rasas_download_lays_it_out(tmp_path):
    export = {
        "config": "recipe: default.v1\npipeline:\n- name: CompactLLMCommandGenerator\n"
        "  prompt_template: prompts/cg.jinja2\n",
        "endpoints": "nlg:\n  type: rephrase\n",
        "domain": "version: '3.1'\nintents:\n- hi\n",
        "nlu": "version: '3.1'\nnlu:\n- intent: hi\n  examples: |\n    - hello\n",
        "flows": "flows:\n  a:\n    description: A\n    steps:\n    - action: utter_a\n"
        "  b:\n    description: B\n    steps:\n    - action: utter_b\n",
        "prompts": {"command_generator": "Prompt {{ x }}", "enterprise_search": "ES"},
    }
    target = tmp_path / "bot"
    target.mkdir()
    (target / "stale.yml").write_text("x: 1\n")
    writer.write_project(export, target)
    assert not (target / "stale.yml").exists()
    assert (target / "config.yml").read_text() == export["config"]
    assert yaml.safe_load((target / "data" / "flows" / "b.yml").read_text()) == {
        "flows": {"b": {"description": "B", "steps": [{"action": "utter_b"}]}}
    }
    assert (target / "data" / "training_data.yml").is_file()
    assert (target / "prompts" / "cg.jinja2").read_text() == "Prompt {{ x }}"
    assert (target / "prompts" / "enterprise_search.jinja2").read_text() == "ES"


def test_an_export_without_endpoints_writes_nothing(tmp_path):
    with pytest.raises(CliError, match="no endpoints"):
        writer.write_project({"config": "a: 1\n", "flows": "flows: {}\n"}, tmp_path / "bot")
    assert not (tmp_path / "bot").exists()


def test_custom_prompts_are_read_from_the_paths_config_names():
    root = PROJECTS / "calm-basic"
    upload = project.read_project(
        project.Paths(
            root=root,
            data=[root / "data"],
            config=root / "config.yml",
            endpoints=root / "endpoints.yml",
        )
    )
    assert upload.prompts == {
        "command_generator": (root / "prompts" / "command_prompt.jinja2").read_text()
    }


def test_pull_merges_flows_in_place_and_puts_the_rest_beside(tmp_path):
    from studio_cli import pulling

    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    (root / "data" / "main.yml").write_text(
        "flows:\n  a:\n    description: old\n    steps:\n    - action: utter_a\n"
        "nlu:\n- intent: hi\n  examples: |\n    - hello\n"
    )
    (root / "domain.yml").write_text("version: '3.1'\nintents:\n- hi\n")
    export = {
        "flows": "flows:\n  a:\n    description: new\n    steps:\n    - action: utter_a\n"
        "  b:\n    description: B\n    steps:\n    - action: utter_b\n",
        "nlu": "version: '3.1'\nnlu:\n- intent: hi\n  examples: |\n    - hello\n    - hey\n"
        "- intent: bye\n  examples: |\n    - bye\n",
        "domain": "version: '3.1'\nintents:\n- hi\n- bye\nresponses:\n  utter_b:\n  - text: B\n",
    }
    pulling.merge(export, project.Paths(root=root).resolve())
    main = yaml.safe_load((root / "data" / "main.yml").read_text())
    assert main["flows"]["a"]["description"] == "new"
    assert "hey" in main["nlu"][0]["examples"]
    assert set(yaml.safe_load((root / "data" / "flows" / "b.yml").read_text())["flows"]) == {"b"}
    studio_nlu = yaml.safe_load((root / "data" / "studio_nlu.yml").read_text())
    assert [item["intent"] for item in studio_nlu["nlu"]] == ["bye"]
    leftovers = yaml.safe_load((root / "studio_domain.yml").read_text())
    assert leftovers["intents"] == ["bye"] and set(leftovers["responses"]) == {"utter_b"}
