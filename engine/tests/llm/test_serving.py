"""An LLM assistant trained and served: the archive keeps the generator settings and the
prompt files, and the bot connects them to endpoints.yml's model groups when it starts (an
archive without them still loads and runs offline)."""

from __future__ import annotations

import shutil
import tarfile
import textwrap
from pathlib import Path

import pytest

from engine.archive import load_model
from engine.server.serve import build_bot
from engine.train import train_project

CONFIG = """
recipe: default.v1
language: en
pipeline:
- name: NLUCommandAdapter
- name: SearchReadyLLMCommandGenerator
  llm:
    model_group: local
  prompt_template: prompts/commands.jinja2
  flow_retrieval:
    active: false
policies:
- name: FlowPolicy
"""
DOMAIN = """
version: "3.1"
responses:
  utter_hi: [{text: "Hi!"}]
"""
FLOWS = """
flows:
  say_hi:
    description: greet the user
    steps:
    - action: utter_hi
"""


@pytest.fixture
def llm_model(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "prompts").mkdir()
    (project / "config.yml").write_text(textwrap.dedent(CONFIG))
    (project / "domain.yml").write_text(DOMAIN)
    (project / "data" / "flows.yml").write_text(FLOWS)
    (project / "prompts" / "commands.jinja2").write_text("Flows: {{ available_flows }}")
    return train_project(project, tmp_path / "models").path


def test_the_archive_keeps_the_generators_and_their_prompt(llm_model):
    with tarfile.open(llm_model) as tar:
        assert "components/llm/llm.json" in tar.getnames()
    component = load_model(llm_model).llm
    assert [e["name"] for e in component.pipeline] == [
        "NLUCommandAdapter",
        "SearchReadyLLMCommandGenerator",
    ]
    assert component.prompt("./prompts/commands.jinja2") == "Flows: {{ available_flows }}"


def test_the_bot_connects_the_generator_to_the_model_group(llm_model, fake_llm):
    base, behaviour = fake_llm
    behaviour.body = {"choices": [{"message": {"content": "start flow say_hi"}}]}
    endpoints = {
        "model_groups": [
            {"id": "local", "models": [{"provider": "self-hosted", "model": "m", "api_base": base}]}
        ]
    }
    bot = build_bot(llm_model, endpoints=endpoints)
    try:
        (generator,) = bot.processor.llm.generators
        assert generator.name == "SearchReadyLLMCommandGenerator" and generator.syntax == "v3"
        assert bot.processor.llm.nlu_adapter is True
        assert bot.handle_message("ann", "hello")[0]["text"] == "Hi!"
        assert behaviour.requests[0]["messages"][0]["content"].startswith(
            "Flows: [{'name': 'say_hi'"
        )
        user = next(e for e in bot.tracker("ann").events if e["event"] == "user")
        assert user["parse_data"]["commands"][0]["generator"] == "SearchReadyLLMCommandGenerator"
    finally:
        bot.close()


def test_without_model_groups_the_bot_runs_offline(llm_model, caplog):
    bot = build_bot(llm_model, endpoints={})
    try:
        assert not bot.processor.llm.uses_llm
        assert "no model group 'local' in endpoints.yml" in caplog.text
        bot.handle_message("ann", "hello")
    finally:
        bot.close()


def test_an_archive_without_the_llm_component_still_loads(llm_model, tmp_path):
    unpacked = tmp_path / "unpacked"
    with tarfile.open(llm_model) as tar:
        tar.extractall(unpacked, filter="data")
    shutil.rmtree(unpacked / "components" / "llm")
    older = tmp_path / "older.tar.gz"
    with tarfile.open(older, "w:gz") as tar:
        for item in sorted(unpacked.iterdir()):
            tar.add(item, arcname=item.name)
    model = load_model(older)
    assert model.llm is None
    bot = build_bot(older, endpoints={})
    try:
        assert not bot.processor.llm.uses_llm and bot.processor.llm.notes == []
    finally:
        bot.close()


def test_engine_test_runs_e2e_cases_with_the_llm_of_the_endpoints_file(
    llm_model, fake_llm, tmp_path, capsys
):
    from engine.__main__ import main

    base, behaviour = fake_llm
    behaviour.body = {"choices": [{"message": {"content": "start flow say_hi"}}]}
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "model_groups:\n- id: local\n  models:\n  - provider: self-hosted\n    model: m\n"
        f"    api_base: {base}\n"
    )
    cases = tmp_path / "e2e.yml"
    cases.write_text(
        "test_cases:\n- test_case: hi\n  steps:\n  - user: hello\n  - bot: Hi!\n"
        "  - bot: Can I help you with anything else?\n"
    )
    assert main(["test", str(llm_model), "--e2e", str(cases), "--endpoints", str(endpoints)]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    assert len(behaviour.requests) == 1
    # Without the endpoints file the offline generator runs: the LLM is not asked.
    main(["test", str(llm_model), "--e2e", str(cases)])
    assert len(behaviour.requests) == 1
    missing = str(tmp_path / "nope.yml")
    assert main(["test", str(llm_model), "--e2e", str(cases), "--endpoints", missing]) == 2
    assert "cannot read the endpoints file" in capsys.readouterr().err
