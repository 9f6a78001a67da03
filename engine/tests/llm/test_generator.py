"""The LLM command generators in a conversation: the prompt they write, the commands they give
(each naming its generator, recorded in the user event), flow retrieval, the project's own
prompt template, the NLU command adapter before them, and what an LLM failure or a garbage
completion does. The fake server answers recorded completions; the last test runs the real
local LLM end to end."""

from __future__ import annotations

import textwrap
from typing import Any

from engine.dialogue import DialogueModel, Processor, UserMessage
from engine.formats import load_project_files
from engine.llm import LlmComponent, build_llm_setup
from tests.support.processes import free_port

DOMAIN = """
version: "3.1"
intents: [transfer]
slots:
  recipient: {type: text, mappings: [{type: from_llm}]}
  amount: {type: float, mappings: [{type: from_llm}]}
  account: {type: categorical, values: [checking, savings], mappings: [{type: from_llm}]}
responses:
  utter_ask_recipient: [{text: "Who do you want to send money to?"}]
  utter_ask_amount: [{text: "How much?"}]
  utter_done: [{text: "Sent {amount} to {recipient}."}]
  utter_balance: [{text: "You have 100."}]
"""
FLOWS = """
flows:
  transfer_money:
    description: Send money to a friend
    steps:
    - collect: recipient
      description: the name of the person to send money to
    - collect: amount
    - action: utter_done
  check_balance:
    description: Show the balance of an account
    steps:
    - collect: account
    - action: utter_balance
"""


def config(generator: str = "CompactLLMCommandGenerator", extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        recipe: default.v1
        language: en
        pipeline:
        {extra}
        - name: {generator}
          llm:
            model_group: local
        policies:
        - name: FlowPolicy
        """
    )


def processor(
    llm: dict[str, Any] | None,
    *,
    files: dict[str, str] | None = None,
    cfg: str | None = None,
    flows: str = FLOWS,
    nlu: Any = None,
) -> Processor:
    project = load_project_files(
        {
            "config.yml": cfg or config(),
            "domain.yml": DOMAIN,
            "data/flows.yml": flows,
            **(files or {}),
        }
    )
    model = DialogueModel.build(project)
    endpoints = {"model_groups": [{"id": "local", "models": [llm]}]} if llm else {}
    setup = build_llm_setup(LlmComponent.from_project(project), model, endpoints, environ={})
    return Processor(model, nlu, None, llm=setup)


def local(base: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "self-hosted", "model": "m", "api_base": f"{base}/v1", "max_retries": 0,
            **extra}  # fmt: skip


def answer(behaviour: Any, text: str) -> None:
    behaviour.body = {"choices": [{"message": {"content": text}}]}


class Conversation:
    def __init__(self, proc: Processor) -> None:
        self.proc = proc
        self.tracker = proc.new_tracker("alice")

    def say(self, text: str) -> list[str]:
        messages = self.proc.handle_message(self.tracker, UserMessage(text, "alice"))
        return [m.get("text") for m in messages]

    @property
    def parse(self) -> dict[str, Any]:
        return [e for e in self.tracker.events if e["event"] == "user"][-1]["parse_data"]

    def commands(self) -> list[tuple[str, str]]:
        return [(c["command"], c["generator"]) for c in self.parse["commands"]]


def test_it_starts_a_flow_and_fills_slots_from_the_llms_commands(fake_llm):
    base, behaviour = fake_llm
    chat = Conversation(processor(local(base)))
    answer(behaviour, "start flow transfer_money")
    assert chat.say("I want to send some money to a friend") == [
        "Who do you want to send money to?"
    ]
    assert chat.parse["commands"] == [
        {
            "command": "start flow",
            "flow": "transfer_money",
            "generator": "CompactLLMCommandGenerator",
        }
    ]
    answer(behaviour, "set slot recipient Jane")
    assert chat.say("Jane") == ["How much?"]
    answer(behaviour, "set slot recipient Joe")
    assert chat.say("I meant Joe")  # a correction of an answer already given
    assert chat.tracker.slots["recipient"] == "Joe"
    answer(behaviour, "set slot amount 50")
    assert "Sent 50.0 to Joe." in chat.say("50")
    (prompt,) = chat.parse["prompts"]
    assert prompt["component_name"] == "CompactLLMCommandGenerator"
    assert prompt["llm_output"] == "set slot amount 50"
    assert prompt["model"] == "self-hosted/m"


def test_the_prompt_holds_the_flows_the_active_flow_its_slots_and_the_conversation(fake_llm):
    base, behaviour = fake_llm
    chat = Conversation(processor(local(base)))
    answer(behaviour, "start flow transfer_money")
    chat.say("send money")
    answer(behaviour, "offtopic reply")
    chat.say("to my\nfriend Jane")
    prompt = behaviour.requests[-1]["messages"][0]["content"]
    assert "- transfer_money: Send money to a friend" in prompt
    assert "- check_balance: Show the balance of an account" in prompt
    assert "slot account (one of [checking, savings])" in prompt
    assert "Active flow: transfer_money." in prompt
    assert "asked for the slot recipient (the name of the person to send money to)" in prompt
    assert "- recipient = undefined (text)" in prompt
    assert (
        "USER: send money\nAI: Who do you want to send money to?\nUSER: to my friend Jane" in prompt
    )
    assert 'The user\'s last message: """to my friend Jane"""' in prompt
    # The grammar offered lists the flows and slots of the assistant.
    grammar = behaviour.requests[-1]["grammar"]
    assert 'flow ::= "check_balance" | "transfer_money"' in grammar
    assert 'slot ::= "account" | "amount" | "recipient"' in grammar


def test_the_projects_prompt_template_is_rendered_with_rasas_variables(fake_llm):
    base, behaviour = fake_llm
    template = (
        "{% for flow in available_flows %}{{ flow.name }}={{ flow.description | "
        "to_json_escaped_string }};{% endfor %}\ncurrent={{ current_flow }}\n"
        "{{ current_conversation }}\nlast={{ user_message }}"
    )
    extra = "  prompt_template: prompts/commands.jinja2"
    cfg = config().replace("    model_group: local", "    model_group: local\n" + extra)
    proc = processor(local(base), files={"prompts/commands.jinja2": template}, cfg=cfg)
    answer(behaviour, "start flow check_balance")
    Conversation(proc).say("balance please")
    prompt = behaviour.requests[-1]["messages"][0]["content"]
    assert prompt == (
        'transfer_money="Send money to a friend";check_balance="Show the balance of an account";'
        "\ncurrent=None\n\nUSER: balance please\nlast=balance please"
    )


def test_flow_retrieval_puts_the_closest_flows_in_the_prompt(fake_llm):
    base, behaviour = fake_llm
    many = FLOWS + textwrap.indent(
        textwrap.dedent(
            """
            order_pizza:
              description: Order a pizza for delivery
              steps: [{action: utter_done}]
            book_flight:
              description: Book a flight ticket
              always_include_in_prompt: true
              steps: [{action: utter_done}]
            """
        ),
        "  ",
    )
    cfg = config().replace(
        "    model_group: local", "    model_group: local\n  flow_retrieval:\n    num_flows: 1"
    )
    proc = processor(local(base), cfg=cfg, flows=many)
    answer(behaviour, "offtopic reply")
    Conversation(proc).say("I'd like to order a pizza")
    prompt = behaviour.requests[-1]["messages"][0]["content"]
    listed = [
        line.split(":")[0][2:]
        for line in prompt.splitlines()
        if line.startswith("- ") and ": " in line and "`" not in line
    ]
    assert "order_pizza" in listed and "book_flight" in listed
    assert "transfer_money" not in listed and "check_balance" not in listed


def test_a_completion_without_a_valid_command_cannot_be_handled(fake_llm):
    base, behaviour = fake_llm
    chat = Conversation(processor(local(base)))
    answer(behaviour, "Sure! I think the user wants pizza.\nstart flow order_pizza")
    messages = chat.say("pizza")
    assert chat.commands() == [("cannot handle", "CompactLLMCommandGenerator")]
    assert messages  # the turn does not end silent
    assert chat.parse["prompts"][0]["dropped_lines"] == [
        "Sure! I think the user wants pizza.",
        "start flow order_pizza",
    ]


def test_an_llm_that_fails_gives_an_error_command_and_the_bot_answers():
    down = local(f"http://127.0.0.1:{free_port()}")
    chat = Conversation(processor(down))
    messages = chat.say("send money")
    (command,) = chat.parse["commands"]
    assert command["command"] == "error" and command["error_type"] == "rasa_internal_error_default"
    assert command["generator"] == "CompactLLMCommandGenerator"
    assert "cannot reach self-hosted/m" in command["info"]["llm"]
    assert messages and all(messages)
    assert "error" in chat.parse["prompts"][0]


def test_payload_and_nlu_commands_come_first_and_spare_the_llm_call(fake_llm):
    base, behaviour = fake_llm

    class Nlu:
        def parse(self, text: str) -> dict[str, Any]:
            from engine.nlu import parse_payload

            payload = parse_payload(text)
            if payload is not None:
                return {"text": text, **payload}
            return {"text": text, "intent": {"name": "transfer", "confidence": 0.99}}

    triggered = FLOWS.replace(
        "    description: Send money to a friend\n",
        "    description: Send money to a friend\n    nlu_trigger: [{intent: transfer}]\n",
    )
    cfg = config(extra="- name: NLUCommandAdapter")
    chat = Conversation(processor(local(base), cfg=cfg, flows=triggered, nlu=Nlu()))
    assert chat.say("send money") == ["Who do you want to send money to?"]
    assert chat.commands() == [("start flow", "NLUCommandAdapter")]
    assert behaviour.requests == []  # the adapter started the flow: the LLM was not asked
    assert chat.say('/SetSlots(recipient="Joe")') == ["How much?"]
    assert chat.commands()[0] == ("set slot", "payload")


def test_without_an_llm_the_offline_generator_understands():
    proc = processor(None)
    assert proc.llm is not None and not proc.llm.uses_llm
    assert "no model group 'local'" in proc.llm.notes[0]
    chat = Conversation(proc)
    chat.say("hello there")
    assert {generator for _, generator in chat.commands()} == {"OfflineCommandGenerator"}


def test_the_real_llm_gives_valid_commands_that_are_applied(llm_server):
    chat = Conversation(processor(llm_server.client_config()))
    before = len(chat.tracker.events)
    messages = chat.say("I want to send some money to a friend")
    commands = chat.parse["commands"]
    prompt = chat.parse["prompts"][0]
    assert prompt["llm_output"].strip(), prompt
    assert commands and all(c["generator"] == "CompactLLMCommandGenerator" for c in commands)
    valid = {"start flow", "set slot", "cancel flow", "clarify", "knowledge", "chitchat",
             "skip question", "repeat", "human handoff", "cannot handle"}  # fmt: skip
    assert {c["command"] for c in commands} <= valid
    # The grammar allows only valid lines: at most the last one, cut by max_tokens, is dropped.
    assert len(prompt["dropped_lines"]) <= 1
    assert messages and len(chat.tracker.events) > before + 2
    started = [c["flow"] for c in commands if c["command"] == "start flow"]
    if started and not any(c["command"] == "cancel flow" for c in commands):
        assert started[0] in chat.tracker.active_flow_ids()


def test_a_prompt_template_that_fails_to_render_gives_an_error_command(fake_llm):
    base, behaviour = fake_llm
    extra = "  prompt_template: prompts/bad.jinja2"
    cfg = config().replace("    model_group: local", "    model_group: local\n" + extra)
    files = {"prompts/bad.jinja2": "{{ available_flows[0].name | int / 0 }}"}
    chat = Conversation(processor(local(base), files=files, cfg=cfg))
    assert chat.say("hi")
    assert chat.commands() == [("error", "CompactLLMCommandGenerator")]
    assert "prompts/bad.jinja2: ZeroDivisionError" in chat.parse["commands"][0]["info"]["llm"]
    assert behaviour.requests == []


def test_a_prompt_template_that_does_not_compile_leaves_the_offline_generator():
    cfg = config().replace(
        "    model_group: local", "    model_group: local\n  prompt_template: p.jinja2"
    )
    proc = processor(local("http://h"), files={"p.jinja2": "{% for %}"}, cfg=cfg)
    assert not proc.llm.uses_llm
    assert proc.llm.notes[0].startswith("CompactLLMCommandGenerator: p.jinja2:1:")
