"""The contextual response rephraser: responses marked ``rephrase: true`` (or all, with
``rephrase_all``) go through the LLM; the others, and every response when the LLM fails, are
sent as written."""

from __future__ import annotations

import textwrap
from typing import Any

from engine.dialogue import DialogueModel, Processor, UserMessage
from engine.formats import load_project_files
from engine.llm import LlmComponent, build_llm_setup
from tests.support.processes import free_port

DOMAIN = """
version: "3.1"
slots:
  name: {type: text, mappings: [{type: from_llm}]}
responses:
  utter_greet:
  - text: "Hello {name}, how can I help?"
    metadata: {rephrase: true}
  utter_plain: [{text: "This stays as it is."}]
  utter_own_prompt:
  - text: "Bye"
    metadata:
      rephrase: true
      rephrase_prompt: "Say '{{ suggested_response }}' in {{ language }} to {{ slots.name }}"
"""
FLOWS = """
flows:
  greet:
    description: greet the user
    steps:
    - action: utter_greet
    - action: utter_plain
    - action: utter_own_prompt
"""


def chat(nlg: dict[str, Any], files: dict[str, str] | None = None) -> tuple[Processor, Any]:
    project = load_project_files({"domain.yml": DOMAIN, "data/flows.yml": FLOWS, **(files or {})})
    model = DialogueModel.build(project)
    setup = build_llm_setup(LlmComponent.from_project(project), model, {"nlg": nlg}, environ={})
    proc = Processor(model, None, None, llm=setup)
    return proc, proc.new_tracker("bob")


def llm(base: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "self-hosted", "model": "m", "api_base": f"{base}/v1", "max_retries": 0,
            **extra}  # fmt: skip


def test_marked_responses_are_rephrased_with_the_conversation(fake_llm):
    base, behaviour = fake_llm
    behaviour.body = {"choices": [{"message": {"content": ' "Hi Ann! What can I do for you?" '}}]}
    proc, tracker = chat({"type": "rephrase", "llm": llm(base)})
    proc.handle_message(tracker, UserMessage("hi", "bob"))
    messages = proc.start_flow(tracker, "greet", {"name": "Ann"})
    texts = [m["text"] for m in messages]
    assert texts[:2] == ["Hi Ann! What can I do for you?", "This stays as it is."]
    greet = next(e for e in tracker.events if e["event"] == "bot" and "Ann" in e["text"])
    assert greet["text"] == "Hi Ann! What can I do for you?"
    assert greet["metadata"]["rephrased"] is True
    assert greet["metadata"]["template_text"] == "Hello Ann, how can I help?"
    first = behaviour.requests[0]["messages"][0]["content"]
    assert "Suggested response: Hello Ann, how can I help?" in first
    assert "USER: hi" in first and "simple English" in first
    # The response's own rephrase_prompt replaces the template.
    assert behaviour.requests[-1]["messages"][0]["content"] == "Say 'Bye' in English to Ann"
    assert "grammar" not in behaviour.requests[0]


def test_rephrase_all_and_the_projects_prompt_template(fake_llm):
    base, behaviour = fake_llm
    behaviour.body = {"choices": [{"message": {"content": "Rephrased."}}]}
    nlg = {"type": "rephrase", "llm": llm(base), "rephrase_all": True,
           "prompt_template": "prompts/voice.jinja2"}  # fmt: skip
    files = {"prompts/voice.jinja2": "Voice: {{ suggested_response }}"}
    proc, tracker = chat(nlg, files)
    texts = [m["text"] for m in proc.start_flow(tracker, "greet", {"name": "Ann"})]
    assert texts[:3] == ["Rephrased.", "Rephrased.", "Rephrased."]
    assert behaviour.requests[1]["messages"][0]["content"] == "Voice: This stays as it is."


def test_responses_are_sent_as_written_when_the_llm_fails():
    down = llm(f"http://127.0.0.1:{free_port()}")
    proc, tracker = chat({"type": "rephrase", "llm": down})
    texts = [m["text"] for m in proc.start_flow(tracker, "greet", {"name": "Ann"})]
    assert texts[:3] == ["Hello Ann, how can I help?", "This stays as it is.", "Bye"]


def test_a_missing_prompt_file_or_llm_leaves_the_responses_alone():
    proc, _ = chat({"type": "rephrase", "llm": llm("http://h"), "prompt_template": "nope.j2"})
    assert proc.llm.rephraser is None
    assert "the project has no file 'nope.j2'" in proc.llm.notes[0]
    proc, _ = chat({"type": "rephrase"})
    assert proc.llm.rephraser is None
    proc, _ = chat({"type": "callback", "url": "http://h"})
    assert proc.llm.rephraser is None and proc.llm.notes == []


def test_the_real_llm_rephrases_a_response(llm_server):
    proc, tracker = chat({"type": "rephrase", "llm": llm_server.client_config(max_tokens=24)})
    messages = proc.start_flow(tracker, "greet", {"name": "Ann"})
    greet = next(e for e in tracker.events if e["event"] == "bot")
    assert messages[0]["text"].strip()
    assert greet["metadata"].get("rephrased") is True
    assert greet["metadata"]["template_text"] == "Hello Ann, how can I help?"
    assert textwrap.shorten(messages[1]["text"], 60) == "This stays as it is."
