"""The condition language of flow guards, ``next`` branches, rejections and response conditions.

Rasa evaluates these strings with pypred. This module is a self-contained implementation of the
same language: a tokenizer, a recursive-descent parser producing an immutable AST, a
deterministic printer, and an evaluator.

Grammar (keywords are case-insensitive)::

    expression  := or_expr
    or_expr     := and_expr ("or" and_expr)*
    and_expr    := not_expr ("and" not_expr)*
    not_expr    := "not" not_expr | primary
    primary     := "(" expression ")" | operand [operator operand]
    operator    := "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "is" | "is not"
                   | "contains" | "matches"
    operand     := STRING | NUMBER | "true" | "false" | "null" | "none" | "undefined"
                   | "empty" | IDENTIFIER | "{{" IDENTIFIER "}}" | "{" operand* "}"

* Strings use single or double quotes. Inside them ``\\<quote>`` is the quote and ``\\\\`` a
  backslash; any other backslash is kept as written, so regexes such as ``"^\\d+$"`` read as
  expected.
* An IDENTIFIER is a path such as ``slots.amount`` or ``context.collect`` (looked up in the
  document), or a bare word. A bare word names a slot when a slot of that name exists, and is
  otherwise the string itself (so ``slots.tier = premium`` compares with ``"premium"``).
* ``{a b c}`` is a set literal, used with ``contains``. ``{{context.x}}`` is a placeholder that
  Rasa renders before evaluation; here it evaluates to the value at that path.
* There is no ``in`` operator in pypred: write ``{a b} contains slots.x`` instead.

Evaluation semantics (`evaluate`):

* ``=``/``==``/``is`` are equality, ``!=``/``is not`` its negation. A number and a string that
  parses as a number compare numerically (``slots.age = "18"`` holds when age is 18.0); booleans
  never equal numbers. ``null``/``none`` equal ``None`` (an unset slot); ``undefined`` equals a
  value missing from the document; ``empty`` equals ``""``, ``[]`` and ``{}``.
* ``<``, ``<=``, ``>``, ``>=`` compare numbers with numbers (numeric strings are converted) and
  strings with strings. Anything else, including an unset slot, is false, never an exception.
* ``a contains b``: substring test when both are strings, membership when ``a`` is a list, set or
  dict; false otherwise. ``a matches "re"``: `re.match` of the pattern at the start of the string
  ``a``; false when ``a`` is not a string.
* A bare operand used as a condition is its truthiness; ``undefined`` and ``empty`` are false.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

# --------------------------------------------------------------------------------------------
# AST


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:
        return self.name


UNDEFINED: Any = _Marker("UNDEFINED")
EMPTY: Any = _Marker("EMPTY")


@dataclass(frozen=True)
class Const:
    """A literal: str, int, float, bool, None, `UNDEFINED` or `EMPTY`."""

    value: Any


@dataclass(frozen=True)
class Var:
    """An unquoted identifier: a path like ``slots.x`` / ``context.y``, or a bare word."""

    name: str


@dataclass(frozen=True)
class Placeholder:
    """A ``{{path}}`` placeholder."""

    name: str


@dataclass(frozen=True)
class SetLiteral:
    """A ``{a b c}`` set literal."""

    items: tuple[Operand, ...]


Operand = Union[Const, Var, Placeholder, SetLiteral]  # noqa: UP007 (runtime alias)

CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "is", "is not", "contains", "matches"]
COMPARE_OPS: tuple[str, ...] = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "is",
    "is not",
    "contains",
    "matches",
)


@dataclass(frozen=True)
class Compare:
    left: Operand
    op: str
    right: Operand


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    """Two or more operands joined by ``and`` (a parenthesised ``and`` stays nested)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Union[Const, Var, Placeholder, SetLiteral, Compare, Not, And, Or]  # noqa: UP007


class ConditionError(ValueError):
    """A condition that does not parse. `position` is the 0-based offset in the text."""

    def __init__(self, message: str, position: int, text: str) -> None:
        self.reason = message
        self.position = position
        self.text = text
        super().__init__(f"{message} at position {position} in condition {text!r}")


# --------------------------------------------------------------------------------------------
# Tokenizer

_KEYWORDS = {
    "and",
    "or",
    "not",
    "is",
    "contains",
    "matches",
    "true",
    "false",
    "null",
    "none",
    "undefined",
    "empty",
}
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NUMBER_RE = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


@dataclass(frozen=True)
class Token:
    kind: str  # "op", "kw", "word", "string", "number", "placeholder", "(", ")", "{", "}", "end"
    value: Any
    pos: int
    text: str


def tokenize(text: str) -> list[Token]:
    """Split a condition into tokens; raises `ConditionError` on a character it cannot read."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if text.startswith("{{", i):
            m = _PLACEHOLDER_RE.match(text, i)
            if not m:
                raise ConditionError("malformed {{...}} placeholder", i, text)
            tokens.append(Token("placeholder", m.group(1), i, m.group(0)))
            i = m.end()
            continue
        if ch in "(){}":
            tokens.append(Token(ch, ch, i, ch))
            i += 1
            continue
        if ch == ",":
            # Set literals may separate items with commas as well as spaces.
            i += 1
            continue
        two = text[i : i + 2]
        if two in ("==", "!=", "<=", ">="):
            tokens.append(Token("op", "=" if two == "==" else two, i, two))
            i += 2
            continue
        if ch in "=<>":
            tokens.append(Token("op", ch, i, ch))
            i += 1
            continue
        if ch in "\"'":
            string, end = _read_string(text, i)
            tokens.append(Token("string", string, i, text[i:end]))
            i = end
            continue
        if ch.isdigit() or (
            ch in "-." and i + 1 < n and (text[i + 1].isdigit() or text[i + 1] == ".")
        ):
            m = _NUMBER_RE.match(text, i)
            if m:
                raw = m.group(0)
                is_float = any(c in raw for c in ".eE")
                value: Any = float(raw) if is_float else int(raw)
                end = m.end()
                if end < n and (text[end].isalnum() or text[end] == "_"):
                    raise ConditionError(f"malformed number {text[i : end + 1]!r}", i, text)
                tokens.append(Token("number", value, i, raw))
                i = end
                continue
        m = _WORD_RE.match(text, i)
        if m:
            word = m.group(0)
            if word.endswith((".", "-")):
                raise ConditionError(f"malformed name {word!r}", i, text)
            lower = word.lower()
            if lower in _KEYWORDS:
                tokens.append(Token("kw", lower, i, word))
            else:
                tokens.append(Token("word", word, i, word))
            i = m.end()
            continue
        raise ConditionError(f"unexpected character {ch!r}", i, text)
    tokens.append(Token("end", None, n, ""))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise ConditionError("unterminated string", start, text)


# --------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        tok = self.tokens[self.index]
        self.index += 1
        return tok

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "kw" and self.tok.value in words

    def error(self, expected: str) -> ConditionError:
        tok = self.tok
        found = "the end of the condition" if tok.kind == "end" else repr(tok.text)
        return ConditionError(f"expected {expected} but found {found}", tok.pos, self.text)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ConditionError("empty condition", 0, self.text)
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self.error("'and', 'or' or the end of the condition")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.is_kw("or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.is_kw("and"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        if self.is_kw("not"):
            self.advance()
            return Not(self.not_expr())
        return self.primary()

    def primary(self) -> Node:
        if self.tok.kind == "(":
            self.advance()
            node = self.or_expr()
            if self.tok.kind != ")":
                raise self.error("')'")
            self.advance()
            return node
        left = self.operand()
        op = self.operator()
        if op is None:
            return left
        right = self.operand()
        if op == "matches" and isinstance(right, Const) and isinstance(right.value, str):
            try:
                re.compile(right.value)
            except re.error as exc:
                raise ConditionError(
                    f"invalid regular expression {right.value!r} ({exc})",
                    self.tokens[self.index - 1].pos,
                    self.text,
                ) from None
        return Compare(left, op, right)

    def operator(self) -> str | None:
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            return str(tok.value)
        if tok.kind == "kw" and tok.value == "is":
            self.advance()
            if self.is_kw("not"):
                self.advance()
                return "is not"
            return "is"
        if tok.kind == "kw" and tok.value in ("contains", "matches"):
            self.advance()
            return str(tok.value)
        return None

    def operand(self) -> Operand:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return Const(tok.value)
        if tok.kind == "number":
            self.advance()
            return Const(tok.value)
        if tok.kind == "word":
            self.advance()
            return Var(tok.value)
        if tok.kind == "placeholder":
            self.advance()
            return Placeholder(tok.value)
        if tok.kind == "kw" and tok.value in _CONSTANTS:
            self.advance()
            return Const(_CONSTANTS[tok.value])
        if tok.kind == "{":
            self.advance()
            items: list[Operand] = []
            while self.tok.kind != "}":
                if self.tok.kind == "{":
                    raise self.error("a value (sets cannot be nested)")
                if self.tok.kind == "end":
                    raise self.error("'}'")
                items.append(self.operand())
            self.advance()
            return SetLiteral(tuple(items))
        raise self.error("a value, a slot or '('")


_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "none": None,
    "undefined": UNDEFINED,
    "empty": EMPTY,
}


def parse_condition(text: str | bool) -> Node:
    """Parse a condition string into an AST. A YAML boolean becomes ``Const(True/False)``.

    Raises `ConditionError` with the 0-based position of the problem.
    """
    if isinstance(text, bool):
        return Const(text)
    if not isinstance(text, str):
        raise ConditionError(f"a condition must be a string, not {type(text).__name__}", 0, "")
    return _Parser(text).parse()


# --------------------------------------------------------------------------------------------
# Printer


def _quote(value: str) -> str:
    quote = '"' if '"' not in value or "'" in value else "'"
    out = [quote]
    for i, ch in enumerate(value):
        if ch == "\\":
            nxt = value[i + 1] if i + 1 < len(value) else ""
            out.append("\\\\" if nxt in ("", "\\", quote) else "\\")
        elif ch == quote:
            out.append("\\" + quote)
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


def _const_to_string(value: Any) -> str:
    if value is UNDEFINED:
        return "undefined"
    if value is EMPTY:
        return "empty"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no literal in the condition language")
        text = repr(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, str):
        return _quote(value)
    raise ValueError(f"cannot write {value!r} in a condition")


def to_string(node: Node) -> str:
    """Print an AST as canonical condition text; ``parse_condition(to_string(n)) == n``."""
    return _print(node, 0)


# Binding strength: or=1, and=2, not=3, comparison/operand=4.
def _print(node: Node, context: int) -> str:
    if isinstance(node, Or):
        text = " or ".join(_print(item, 2) for item in node.items)
        return f"({text})" if context >= 1 else text
    if isinstance(node, And):
        text = " and ".join(_print(item, 3) for item in node.items)
        return f"({text})" if context >= 2 else text
    if isinstance(node, Not):
        return f"not {_print(node.operand, 3)}"
    if isinstance(node, Compare):
        return f"{_print_operand(node.left)} {node.op} {_print_operand(node.right)}"
    return _print_operand(node)


def _print_operand(node: Node) -> str:
    if isinstance(node, Const):
        return _const_to_string(node.value)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Placeholder):
        return "{{" + node.name + "}}"
    if isinstance(node, SetLiteral):
        return "{" + " ".join(_print_operand(item) for item in node.items) + "}"
    raise TypeError(f"not an operand: {node!r}")


def normalize_condition(text: str | bool) -> str | bool:
    """Canonical text of a condition (booleans stay booleans)."""
    if isinstance(text, bool):
        return text
    return to_string(parse_condition(text))


# --------------------------------------------------------------------------------------------
# Analysis


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, (And, Or)):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.operand)
    elif isinstance(node, Compare):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, SetLiteral):
        for item in node.items:
            yield from walk(item)


def slot_of(node: Node, known_slots: set[str] | None = None) -> str | None:
    """The slot an operand refers to: ``slots.x`` -> ``x``; a bare known slot name -> itself."""
    if isinstance(node, (Var, Placeholder)):
        if node.name.startswith("slots."):
            return node.name[len("slots.") :].split(".", 1)[0] or None
        if isinstance(node, Var) and known_slots is not None and node.name in known_slots:
            return node.name
    return None


def referenced_slots(node: Node, known_slots: set[str] | None = None) -> set[str]:
    """Names of the slots a condition reads (``slots.x``; bare names only if in `known_slots`)."""
    found: set[str] = set()
    for item in walk(node):
        slot = slot_of(item, known_slots)
        if slot:
            found.add(slot)
    return found


def literal_values(node: Operand, known_slots: set[str] | None = None) -> list[Any] | None:
    """The literal value(s) an operand stands for, or None if it reads the document."""
    if isinstance(node, Const):
        return [node.value]
    if isinstance(node, Var):
        if node.name.startswith(("slots.", "context.")):
            return None
        if known_slots is not None and node.name in known_slots:
            return None
        return [node.name]
    if isinstance(node, SetLiteral):
        values: list[Any] = []
        for item in node.items:
            sub = literal_values(item, known_slots)
            if sub is None:
                return None
            values.extend(sub)
        return values
    return None


def slot_comparisons(
    node: Node, known_slots: set[str] | None = None
) -> Iterator[tuple[str, str, list[Any]]]:
    """``(slot, operator, literal values)`` for each comparison of a slot with literals."""
    for item in walk(node):
        if not isinstance(item, Compare):
            continue
        for slot_side, value_side in ((item.left, item.right), (item.right, item.left)):
            slot = slot_of(slot_side, known_slots)
            if slot is None:
                continue
            values = literal_values(value_side, known_slots)
            if values is not None:
                yield slot, item.op, values


# --------------------------------------------------------------------------------------------
# Evaluation


def _lookup(name: str, slots: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    head, _, rest = name.partition(".")
    if head == "slots" and rest:
        base: Any = slots
    elif head == "context" and rest:
        base = context
    else:
        # A bare word: a slot of that name, else the word itself as a string.
        return slots.get(name, name)
    for part in rest.split("."):
        if isinstance(base, Mapping) and part in base:
            base = base[part]
        else:
            return UNDEFINED
    return base


def _value(node: Operand, slots: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Var):
        return _lookup(node.name, slots, context)
    if isinstance(node, Placeholder):
        return _lookup(node.name, slots, context)
    if isinstance(node, SetLiteral):
        return [_value(item, slots, context) for item in node.items]
    raise TypeError(f"not an operand: {node!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _equal(a: Any, b: Any) -> bool:
    if a is UNDEFINED or b is UNDEFINED:
        return a is b
    if a is EMPTY or b is EMPTY:
        other = b if a is EMPTY else a
        return other is EMPTY or (isinstance(other, (str, list, dict, set, tuple)) and not other)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) or _is_number(b):
        x, y = _as_number(a), _as_number(b)
        return x is not None and y is not None and x == y
    return bool(a == b)


def _order(a: Any, b: Any, op: str) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a
        y: Any = b
    else:
        x, y = _as_number(a), _as_number(b)
        if x is None or y is None:
            return False
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    return bool(x >= y)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, (list, tuple, set)):
        return any(_equal(element, item) for element in container)
    if isinstance(container, dict):
        return any(_equal(key, item) for key in container)
    return False


def _truthy(value: Any) -> bool:
    if value is UNDEFINED or value is EMPTY:
        return False
    return bool(value)


def evaluate(
    node: Node | str | bool,
    slots: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> bool:
    """Evaluate a condition (AST or text) against slot values and the flow context."""
    slots = slots or {}
    context = context or {}
    if isinstance(node, (str, bool)):
        node = parse_condition(node)
    return _eval(node, slots, context)


def _eval(node: Node, slots: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    if isinstance(node, Or):
        return any(_eval(item, slots, context) for item in node.items)
    if isinstance(node, And):
        return all(_eval(item, slots, context) for item in node.items)
    if isinstance(node, Not):
        return not _eval(node.operand, slots, context)
    if isinstance(node, Compare):
        left = _value(node.left, slots, context)
        right = _value(node.right, slots, context)
        op = node.op
        if op in ("=", "is"):
            return _equal(left, right)
        if op in ("!=", "is not"):
            return not _equal(left, right)
        if op in ("<", "<=", ">", ">="):
            return _order(left, right, op)
        if op == "contains":
            return _contains(left, right)
        if op == "matches":
            if not isinstance(left, str) or not isinstance(right, str):
                return False
            try:
                return re.match(right, left) is not None
            except re.error:
                return False
        raise ValueError(f"unknown operator {op!r}")
    return _truthy(_value(node, slots, context))


# --------------------------------------------------------------------------------------------
# Structured builder for form-based editors


@dataclass(frozen=True)
class SimpleCondition:
    """One ``slots.<slot> <operator> <value>`` clause, as a form row edits it.

    `value` is a str, number, bool or None; `operator` is one of `COMPARE_OPS`, or ``"is set"``
    / ``"is not set"`` (value ignored), or ``"true"`` / ``"false"`` for boolean slots tested
    without a value.
    """

    slot: str
    operator: str
    value: Any = None


def _clause_node(clause: SimpleCondition) -> Node:
    var = Var(f"slots.{clause.slot}")
    op = clause.operator
    if op == "is set":
        return Compare(var, "is not", Const(None))
    if op == "is not set":
        return Compare(var, "is", Const(None))
    if op == "true":
        return var
    if op == "false":
        return Not(var)
    if op == "==":
        op = "="
    if op not in COMPARE_OPS:
        raise ValueError(f"unknown operator {clause.operator!r}")
    return Compare(var, op, Const(clause.value))


def build_condition(clauses: list[SimpleCondition], joiner: Literal["and", "or"] = "and") -> str:
    """Condition text for clauses joined by one connective."""
    if not clauses:
        raise ValueError("at least one clause is needed")
    nodes = [_clause_node(c) for c in clauses]
    if len(nodes) == 1:
        return to_string(nodes[0])
    return to_string(And(tuple(nodes)) if joiner == "and" else Or(tuple(nodes)))


def decompose_condition(text: str) -> tuple[list[SimpleCondition], str] | None:
    """The clauses and connective of a condition a form can show, or None if it is too complex.

    Raises `ConditionError` if the text does not parse.
    """
    node = parse_condition(text)
    joiner = "and"
    items: tuple[Node, ...] = (node,)
    if isinstance(node, (And, Or)):
        joiner = "and" if isinstance(node, And) else "or"
        items = node.items
    clauses: list[SimpleCondition] = []
    for item in items:
        clause = _decompose_clause(item)
        if clause is None:
            return None
        clauses.append(clause)
    return clauses, joiner


def _decompose_clause(node: Node) -> SimpleCondition | None:
    if isinstance(node, Var) and node.name.startswith("slots.") and node.name.count(".") == 1:
        return SimpleCondition(node.name[6:], "true")
    if (
        isinstance(node, Not)
        and isinstance(node.operand, Var)
        and node.operand.name.startswith("slots.")
        and node.operand.name.count(".") == 1
    ):
        return SimpleCondition(node.operand.name[6:], "false")
    if not isinstance(node, Compare) or not isinstance(node.left, Var):
        return None
    name = node.left.name
    if not name.startswith("slots.") or name.count(".") != 1:
        return None
    slot = name[6:]
    right = node.right
    if isinstance(right, Var) and "." not in right.name:
        value: Any = right.name
    elif isinstance(right, Const) and right.value is not UNDEFINED and right.value is not EMPTY:
        value = right.value
    else:
        return None
    if value is None and node.op in ("is not", "!="):
        return SimpleCondition(slot, "is set")
    if value is None and node.op in ("is", "="):
        return SimpleCondition(slot, "is not set")
    return SimpleCondition(slot, node.op, value)
