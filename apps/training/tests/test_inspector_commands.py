"""The inspector shows each turn's commands with the generator that produced them, and the
LLM's answer and prompt."""

from types import SimpleNamespace

from django.template.loader import render_to_string

from apps.training.inspector import describe_command, turns_of

TRACKER = {
    "events": [
        {
            "event": "user",
            "text": "send 50 to Jane",
            "parse_data": {
                "intent": {},
                "commands": [
                    {"command": "start flow", "flow": "transfer_money", "generator": "CompactLLMCommandGenerator"},
                    {"command": "set slot", "name": "amount", "value": 50, "generator": "CompactLLMCommandGenerator"},
                    {"command": "set slot", "name": "recipient", "value": "Jane", "generator": "payload"},
                ],
                "prompts": [
                    {
                        "component_name": "CompactLLMCommandGenerator",
                        "prompt": "Flows you may start: ...",
                        "llm_output": "start flow transfer_money\\nset slot amount 50",
                        "latency_ms": 812.5,
                    }
                ],
            },
        },
        {"event": "bot", "text": "How much?"},
    ]
}  # fmt: skip


def test_each_command_is_listed_with_its_generator():
    (turn,) = turns_of(TRACKER)
    assert turn["commands"] == [
        {"text": "start flow transfer_money", "generator": "CompactLLMCommandGenerator"},
        {"text": "set slot amount = 50", "generator": "CompactLLMCommandGenerator"},
        {"text": "set slot recipient = Jane", "generator": "payload"},
    ]
    assert turn["prompts"][0]["latency_ms"] == 812.5


def test_commands_read_as_what_they_do():
    def text(command):
        return describe_command(command)

    assert text({"command": "clarify", "options": ["a", "b"]}) == "clarify options: a, b"
    assert text({"command": "error", "error_type": "rasa_internal_error_default"}) == (
        "error error_type: rasa_internal_error_default"
    )
    assert text({"command": "cannot handle", "reason": "no_command"}) == (
        "cannot handle reason: no_command"
    )
    assert text({"command": "chitchat", "generator": "x"}) == "chitchat"
    assert text({}) == "command"


def test_the_turn_shows_the_commands_and_the_llms_answer():
    context = {
        "assistant": SimpleNamespace(name="tiny"),
        "version": SimpleNamespace(number=1, label="Version 1", pk=1),
        "deployment": SimpleNamespace(status="live", get_status_display="Live"),
        "is_live_version": True,
        "tracker": TRACKER,
        "turns": turns_of(TRACKER),
    }
    html = render_to_string("training/_chat.html", context)
    assert (
        '<code>start flow transfer_money</code> <span class="muted">· CompactLLMCommandGenerator</span>'
        in html
    )
    assert "CompactLLMCommandGenerator: the LLM's answer (812.5 ms)" in html
    assert "Flows you may start: ..." in html
