"""Rasa's command DSL: completions (some recorded from the test server's small model) parsed
into commands, invalid lines dropped, and the grammar that allows only valid commands."""

from __future__ import annotations

import logging

import pytest

from engine.llm import gbnf_grammar, parse_commands

FLOWS = ["transfer_money", "check_balance", "add_contact"]
SLOTS = ["recipient", "amount", "flow_name_other"]


def parse(text: str, syntax: str = "v2"):
    return parse_commands(text, flows=FLOWS, slots=SLOTS, syntax=syntax)


def test_it_parses_every_v2_command():
    result = parse(
        "start flow transfer_money\n"
        "set slot recipient Jane\n"
        "cancel flow\n"
        "disambiguate flows transfer_money check_balance\n"
        "provide info\n"
        "offtopic reply\n"
        "skip question\n"
        "repeat message\n"
        "hand over\n"
        "cannot handle\n"
    )
    assert result.commands == [
        {"command": "start flow", "flow": "transfer_money"},
        {"command": "set slot", "name": "recipient", "value": "Jane", "extractor": "LLM"},
        {"command": "cancel flow"},
        {"command": "clarify", "options": ["check_balance", "transfer_money"]},
        {"command": "knowledge"},
        {"command": "chitchat"},
        {"command": "skip question"},
        {"command": "repeat"},
        {"command": "human handoff"},
        {"command": "cannot handle", "reason": None},
    ]
    assert result.dropped == []


def test_it_reads_v3_search_and_reply_and_not_v2_provide_info():
    assert parse("search and reply", "v3").commands == [{"command": "knowledge"}]
    result = parse("search and reply", "v2")
    assert result.commands == []
    assert result.dropped == [("search and reply", "not a command")]


def test_it_parses_v1_calls():
    result = parse(
        "StartFlow(transfer_money)\nSetSlot(amount, 50)\nClarify(add_contact, check_balance)\n"
        "SearchAndReply()\nChitChat()\nHumanHandoff()\nCancelFlow()\nRepeatLastBotMessages()",
        "v1",
    )
    assert [c["command"] for c in result.commands] == [
        "start flow", "set slot", "clarify", "knowledge", "chitchat", "human handoff",
        "cancel flow", "repeat",
    ]  # fmt: skip
    assert result.commands[1]["value"] == "50"


def test_it_drops_invalid_lines_with_a_log_line(caplog):
    caplog.set_level(logging.INFO, logger="engine.llm.dsl")
    result = parse(
        "Sure! Here are the actions:\nstart flow order_pizza\nset slot colour red\n"
        "1. start flow check_balance\n"
    )
    assert result.commands == [{"command": "start flow", "flow": "check_balance"}]
    assert [why for _, why in result.dropped] == [
        "not a command",
        "the assistant has no flow 'order_pizza' that can be started",
        "the assistant has no slot 'colour'",
    ]
    assert "dropped the LLM's line 'start flow order_pizza'" in caplog.text


def test_it_follows_rasas_special_cases():
    # set slot flow_name X starts X; one valid clarification option starts it; null values
    assert parse("set slot flow_name add_contact").commands == [
        {"command": "start flow", "flow": "add_contact"}
    ]
    assert parse("disambiguate flows add_contact order_pizza").commands == [
        {"command": "start flow", "flow": "add_contact"}
    ]
    assert parse("set slot amount [missing information]").commands[0]["value"] is None
    assert parse("set slot amount None").commands[0]["value"] is None


def test_it_strips_list_markers_quotes_and_duplicates():
    result = parse('- `start flow transfer_money`\n* set slot recipient "Jane Doe".\n'
                   "start flow transfer_money")  # fmt: skip
    assert result.commands == [
        {"command": "start flow", "flow": "transfer_money"},
        {"command": "set slot", "name": "recipient", "value": "Jane Doe", "extractor": "LLM"},
    ]


# Completions the test server's SmolLM2-135M gave, with and without the grammar.
RECORDED = [
    (
        "skip question\nrepeat message\nstart flow transfer_money",
        ["skip question", "repeat", "start flow"],
    ),
    (
        "start flow transfer_money\nset slot recipient = undefined\ncancel flow",
        ["start flow", "set slot", "cancel flow"],
    ),
    (
        "provide info\nskip question\nrepeat message\ndisambiguate flows ",
        ["knowledge", "skip question", "repeat", "clarify"],
    ),
    ("I'm sorry, I can't help with that. As an AI language model", []),
]


@pytest.mark.parametrize(("completion", "kinds"), RECORDED)
def test_it_parses_recorded_completions(completion, kinds):
    assert [c["command"] for c in parse(completion).commands] == kinds


def test_the_grammar_lists_only_valid_commands():
    grammar = gbnf_grammar(flows=FLOWS, slots=["amount"], syntax="v2", max_lines=2)
    assert grammar.splitlines()[0] == 'root ::= command ("\\n" command)?'
    assert 'flow ::= "add_contact" | "check_balance" | "transfer_money"' in grammar
    assert 'slot ::= "amount"' in grammar
    assert '"provide info"' in grammar and "search and reply" not in grammar
    assert '"search and reply"' in gbnf_grammar(flows=FLOWS, slots=[], syntax="v3")
    v1 = gbnf_grammar(flows=FLOWS, slots=SLOTS, syntax="v1")
    assert '"StartFlow(" flow ")"' in v1 and "start flow" not in v1
    # Without flows or slots, the rules that would need them are left out.
    empty = gbnf_grammar(flows=[], slots=[], syntax="v2")
    assert "flow ::=" not in empty and "slot ::=" not in empty


def test_it_refuses_an_unknown_syntax():
    with pytest.raises(ValueError, match="unknown command syntax 'v9'"):
        parse("start flow x", "v9")
