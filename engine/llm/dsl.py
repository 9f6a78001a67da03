"""Rasa's command DSL: an LLM's completion becomes commands, and a GBNF grammar allows only
valid ones.

Three syntaxes, as Rasa 3.21's command classes read them:

* ``v1`` (``SingleStepLLMCommandGenerator``): ``StartFlow(x)``, ``SetSlot(name, value)``,
  ``CancelFlow()``, ``Clarify(a, b)``, ``ChitChat()``, ``SearchAndReply()``,
  ``SkipQuestion()``, ``RepeatLastBotMessages()``, ``HumanHandoff()``, ``CannotHandle()``;
* ``v2`` (``CompactLLMCommandGenerator``): ``start flow x``, ``set slot name value``,
  ``cancel flow``, ``disambiguate flows a b``, ``provide info``, ``offtopic reply``,
  ``skip question``, ``repeat message``, ``hand over``, ``cannot handle``;
* ``v3`` (``SearchReadyLLMCommandGenerator``): as v2, with ``search and reply`` for
  knowledge questions.

Each line of the completion is one command. A line that is no command, or names a flow or
slot the assistant does not have, is dropped with a log line. As in Rasa: ``set slot
flow_name x`` starts flow x; a clarification with one valid option starts that flow; a slot
value like ``None``, ``null`` or ``[missing information]`` sets the slot to null.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SYNTAXES", "ParseResult", "gbnf_grammar", "parse_commands"]

logger = logging.getLogger(__name__)

Command = dict[str, Any]

SYNTAXES = ("v1", "v2", "v3")

_LEAD = r"^[\s\W\d]*"  # list markers, numbering, quotes before a command
_NAME = r"""['"`]?([A-Za-z0-9_-]+)['"`]*"""
_NONE_VALUES = {"", "missing information", "missing", "None", "none", "undefined", "null"}

_V1: list[tuple[str, re.Pattern[str]]] = [
    ("set slot", re.compile(r"""SetSlot\(['"]?([A-Za-z_][A-Za-z0-9_-]*)['"]?,\s*(.*)\)""")),
    ("start flow", re.compile(r"""StartFlow\(['"]?([A-Za-z0-9_-]+)['"]?\)""")),
    ("cancel flow", re.compile(r"CancelFlow\(\)")),
    ("clarify", re.compile(r"""Clarify\(([\"'A-Za-z0-9_, -]*)\)""")),
    ("chitchat", re.compile(r"ChitChat\(\)")),
    ("knowledge", re.compile(r"SearchAndReply\(\)")),
    ("skip question", re.compile(r"SkipQuestion\(\)")),
    ("repeat", re.compile(r"RepeatLastBotMessages\(\)")),
    ("human handoff", re.compile(r"HumanHandoff\(\)")),
    ("cannot handle", re.compile(r"CannotHandle\(\)")),
]


def _word_patterns(knowledge: str) -> list[tuple[str, re.Pattern[str]]]:
    def words(text: str) -> re.Pattern[str]:
        return re.compile(_LEAD + text + r"""['"`.]*\s*$""", re.IGNORECASE)

    return [
        (
            "set slot",
            re.compile(
                _LEAD + r"""set slot ['"`]?([A-Za-z_][A-Za-z0-9_-]*)['"`]? ['"`]?(.+?)[\W]*$""",
                re.IGNORECASE,
            ),
        ),
        ("start flow", re.compile(_LEAD + r"start flow " + _NAME + r"\W*$", re.IGNORECASE)),
        ("cancel flow", words("cancel flow")),
        (
            "clarify",
            re.compile(
                _LEAD + r"""disambiguate flows\s*(["'A-Za-z0-9_, -]*)[\W]*$""", re.IGNORECASE
            ),
        ),
        ("knowledge", words(knowledge)),
        ("chitchat", words("offtopic reply")),
        ("skip question", words("skip question")),
        ("repeat", words("repeat message")),
        ("human handoff", words("hand over")),
        ("cannot handle", words("cannot handle")),
    ]


_PATTERNS = {
    "v1": _V1,
    "v2": _word_patterns("provide info"),
    "v3": _word_patterns("search and reply"),
}


@dataclass
class ParseResult:
    """The commands of a completion and the lines that were dropped (with why)."""

    commands: list[Command] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)


def _options(text: str) -> list[str]:
    parts = text.replace(",", " ").split()
    return sorted({p.strip().strip("'\"") for p in parts if p.strip().strip("'\"")})


def _slot_value(raw: str) -> Any:
    value = raw.strip().strip("'\" `")
    return None if value.strip("[]") in _NONE_VALUES else value


class _Parser:
    def __init__(self, flows: Iterable[str], slots: Iterable[str]) -> None:
        self.flows = set(flows)
        self.slots = set(slots)

    def start(self, flow: str) -> tuple[Command | None, str]:
        if flow in self.flows:
            return {"command": "start flow", "flow": flow}, ""
        return None, f"the assistant has no flow '{flow}' that can be started"

    def build(self, kind: str, match: re.Match[str]) -> tuple[Command | None, str]:
        if kind == "start flow":
            return self.start(match.group(1))
        if kind == "set slot":
            name, value = match.group(1), _slot_value(match.group(2))
            if name == "flow_name" and isinstance(value, str):
                return self.start(value)
            if name not in self.slots:
                return None, f"the assistant has no slot '{name}'"
            return {"command": "set slot", "name": name, "value": value, "extractor": "LLM"}, ""
        if kind == "clarify":
            options = [o for o in _options(match.group(1)) if o in self.flows]
            if len(options) == 1:
                return self.start(options[0])
            return {"command": "clarify", "options": options}, ""
        if kind == "cannot handle":
            return {"command": "cannot handle", "reason": None}, ""
        return {"command": kind}, ""


def parse_commands(
    completion: str | None,
    *,
    flows: Iterable[str],
    slots: Iterable[str],
    syntax: str = "v2",
) -> ParseResult:
    """The commands in `completion`, one per line, for an assistant with the startable
    `flows` and the `slots` (unknown names are dropped). Duplicates are kept once."""
    if syntax not in _PATTERNS:
        raise ValueError(f"unknown command syntax {syntax!r} (one of {', '.join(SYNTAXES)})")
    parser = _Parser(flows, slots)
    result = ParseResult()
    for raw in (completion or "").strip().splitlines():
        line = raw.strip().strip("`").strip()
        if not line:
            continue
        command, why = _match_line(parser, line, syntax)
        if command is None:
            result.dropped.append((line, why))
            logger.info("dropped the LLM's line %r: %s", line[:200], why)
        elif command not in result.commands:
            result.commands.append(command)
    return result


def _match_line(parser: _Parser, line: str, syntax: str) -> tuple[Command | None, str]:
    for kind, pattern in _PATTERNS[syntax]:
        match = pattern.search(line)
        if match:
            return parser.build(kind, match)
    return None, "not a command"


# --------------------------------------------------------------------------------------------
# GBNF: the grammar llama.cpp (and vLLM's guided decoding) constrain a completion with.


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _alternatives(values: Iterable[str]) -> str:
    return " | ".join(_literal(v) for v in sorted(set(values)))


def gbnf_grammar(
    *,
    flows: Iterable[str],
    slots: Iterable[str],
    syntax: str = "v2",
    max_lines: int = 3,
) -> str:
    """A GBNF grammar that only allows up to `max_lines` valid commands for these `flows` and
    `slots`, one per line (the grammar llama.cpp's server takes in its ``grammar`` field)."""
    if syntax not in _PATTERNS:
        raise ValueError(f"unknown command syntax {syntax!r} (one of {', '.join(SYNTAXES)})")
    flows, slots = sorted(set(flows)), sorted(set(slots))
    render: Callable[[list[str], list[str]], list[str]] = (
        _v1_rules if syntax == "v1" else lambda f, s: _word_rules(f, s, syntax)
    )
    commands = render(flows, slots)
    lines = " ".join(["command", *(['("\\n" command)?'] * (max_lines - 1))])
    rules = [
        f"root ::= {lines}",
        "command ::= " + " | ".join(commands),
        'value ::= [^\\n"]{1,60}',
    ]
    if flows:
        rules.append(f"flow ::= {_alternatives(flows)}")
    if slots:
        rules.append(f"slot ::= {_alternatives(slots)}")
    return "\n".join(rules) + "\n"


def _word_rules(flows: list[str], slots: list[str], syntax: str) -> list[str]:
    knowledge = "provide info" if syntax == "v2" else "search and reply"
    commands = [
        _literal(w)
        for w in ("cancel flow", knowledge, "offtopic reply", "skip question", "repeat message")
    ]
    if flows:
        commands.insert(0, '"start flow " flow')
        commands.append('"disambiguate flows " flow (" " flow)+')
    if slots:
        commands.insert(1, '"set slot " slot " " value')
    return commands


def _v1_rules(flows: list[str], slots: list[str]) -> list[str]:
    commands = [
        _literal(w)
        for w in (
            "CancelFlow()",
            "SearchAndReply()",
            "ChitChat()",
            "SkipQuestion()",
            "RepeatLastBotMessages()",
        )
    ]
    if flows:
        commands.insert(0, '"StartFlow(" flow ")"')
        commands.append('"Clarify(" flow (", " flow)+ ")"')
    if slots:
        commands.insert(1, '"SetSlot(" slot ", " value ")"')
    return commands
