"""Enterprise search with the EnterpriseSearchPolicy's LLM: the knowledge question's best
passages go to that LLM, whose answer the bot sends (with the passages as its sources); an LLM
that fails gives pattern_internal_error; without an LLM the best passage answers."""

from __future__ import annotations

import textwrap
from typing import Any

from engine.dialogue import DialogueModel, Processor, UserMessage
from engine.formats import load_project_files
from engine.llm import LlmComponent, build_llm_setup

DOMAIN = """
version: "3.1"
responses:
  utter_hi: [{text: "Hi"}]
"""
FLOWS = """
flows:
  greet:
    description: Say hello
    steps:
    - action: utter_hi
  pattern_search:
    description: Answer knowledge questions from the documents
    steps:
    - action: action_trigger_search
"""
DOCS = {
    "docs/opening.md": "# Opening hours\n\nThe shop opens at nine and closes at six, Monday to "
    "Saturday.\n\n# Returns\n\nItems can be returned within thirty days with the receipt.\n",
}
CONFIG = """
recipe: default.v1
language: en
pipeline: []
policies:
- name: FlowPolicy
- name: EnterpriseSearchPolicy
{llm}
"""


def processor(llm: dict[str, Any] | None) -> Processor:
    block = "  llm:\n    model_group: search" if llm else ""
    project = load_project_files(
        {
            "config.yml": textwrap.dedent(CONFIG).format(llm=block),
            "domain.yml": DOMAIN,
            "data/flows.yml": FLOWS,
            **DOCS,
        }
    )
    model = DialogueModel.build(project)
    endpoints = {"model_groups": [{"id": "search", "models": [llm]}]} if llm else {}
    setup = build_llm_setup(LlmComponent.from_project(project), model, endpoints, environ={})
    return Processor(model, None, None, llm=setup)


def ask(proc: Processor, text: str) -> tuple[list[dict[str, Any]], list[str]]:
    tracker = proc.new_tracker("u")
    messages = proc.handle_message(tracker, UserMessage(text, "u"))
    flows = [e["flow_id"] for e in tracker.events if e["event"] == "flow_started"]
    return messages, flows


def local(base: str) -> dict[str, Any]:
    return {"provider": "self-hosted", "model": "m", "api_base": f"{base}/v1", "max_retries": 0}


def test_the_policys_llm_answers_from_the_best_passages(fake_llm):
    base, behaviour = fake_llm
    behaviour.body = {"choices": [{"message": {"content": "From nine to six."}}]}
    messages, flows = ask(processor(local(base)), "when does the shop open?")
    assert "pattern_search" in flows
    assert messages[0]["text"] == "From nine to six."
    prompt = behaviour.requests[-1]["messages"][-1]["content"]
    assert "when does the shop open?" in prompt
    assert "opens at nine and closes at six" in prompt


def test_an_llm_that_fails_gives_pattern_internal_error(fake_llm):
    base, behaviour = fake_llm
    behaviour.status = 500
    messages, flows = ask(processor(local(base)), "when does the shop open?")
    assert "pattern_internal_error" in flows
    assert messages and "opens at nine" not in messages[0]["text"]


def test_without_an_llm_the_best_passage_answers():
    proc = processor(None)
    assert proc.executor.search_llm is None
    messages, flows = ask(proc, "when does the shop open?")
    assert "pattern_search" in flows
    assert "opens at nine and closes at six" in messages[0]["text"]


def test_the_archive_keeps_the_search_policy(tmp_path):
    project = load_project_files(
        {
            "config.yml": textwrap.dedent(CONFIG).format(llm="  llm:\n    model_group: search"),
            "domain.yml": DOMAIN,
            "data/flows.yml": FLOWS,
        }
    )
    component = LlmComponent.from_project(project)
    component.persist(tmp_path)
    loaded = LlmComponent.load(tmp_path)
    assert loaded.search_policy == {
        "name": "EnterpriseSearchPolicy",
        "llm": {"model_group": "search"},
    }


def test_the_real_llm_answers_a_knowledge_question(llm_server):
    proc = processor(llm_server.client_config())
    tracker = proc.new_tracker("u")
    proc.handle_message(tracker, UserMessage("when does the shop open?", "u"))
    answers = [
        e
        for e in tracker.events
        if e["event"] == "bot" and (e.get("metadata") or {}).get("search_results")
    ]
    assert answers and answers[0]["text"].strip()
    assert answers[0]["metadata"]["search_results"][0]["source"] == "docs/opening.md"
