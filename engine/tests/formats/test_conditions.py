import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.formats.conditions import (
    EMPTY,
    UNDEFINED,
    And,
    Compare,
    ConditionError,
    Const,
    Not,
    Or,
    Placeholder,
    SetLiteral,
    SimpleCondition,
    Var,
    build_condition,
    decompose_condition,
    evaluate,
    parse_condition,
    referenced_slots,
    slot_comparisons,
    to_string,
)

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
var = st.one_of(
    names.map(lambda n: Var(f"slots.{n}")),
    names.map(lambda n: Var(f"context.{n}")),
    names.map(lambda n: Var(f"v_{n}")),
)
const = st.one_of(
    st.text(max_size=12).map(Const),
    st.integers(-(10**6), 10**6).map(Const),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(Const),
    st.sampled_from([True, False, None, UNDEFINED, EMPTY]).map(Const),
)
plain_operand = st.one_of(var, const, names.map(lambda n: Placeholder(f"context.{n}")))
operand = st.one_of(
    plain_operand, st.lists(st.one_of(var, const), max_size=3).map(lambda i: SetLiteral(tuple(i)))
)
ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "is", "is not", "contains"])
compare = st.builds(Compare, operand, ops, operand)
leaf = st.one_of(compare, operand)


def extend(children):
    return st.one_of(
        children.map(Not),
        st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
    )


conditions = st.recursive(leaf, extend, max_leaves=12)


@given(conditions)
def test_it_round_trips_any_ast_through_text(node):
    text = to_string(node)
    assert parse_condition(text) == node
    assert to_string(parse_condition(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slots.a > 5", Compare(Var("slots.a"), ">", Const(5))),
        ("slots.a == 'x'", Compare(Var("slots.a"), "=", Const("x"))),
        ("slots.a is not null", Compare(Var("slots.a"), "is not", Const(None))),
        ("not slots.ok", Not(Var("slots.ok"))),
        (
            "a and b or c",
            Or((And((Var("a"), Var("b"))), Var("c"))),
        ),
        ("a and (b or c)", And((Var("a"), Or((Var("b"), Var("c")))))),
        (
            "{gold silver} contains slots.tier",
            Compare(SetLiteral((Var("gold"), Var("silver"))), "contains", Var("slots.tier")),
        ),
        ('slots.x matches "^\\d+$"', Compare(Var("slots.x"), "matches", Const("^\\d+$"))),
        ("{{context.step}} = 'ask'", Compare(Placeholder("context.step"), "=", Const("ask"))),
        ("slots.flag = True", Compare(Var("slots.flag"), "=", Const(True))),
        ("slots.n = -1.5", Compare(Var("slots.n"), "=", Const(-1.5))),
    ],
)
def test_it_parses(text, expected):
    assert parse_condition(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("slots.a >", 9, "expected a value"),
        ("slots.a > 5 and", 15, "expected a value"),
        ("(slots.a > 5", 12, "expected ')'"),
        ("slots.a = 'open", 10, "unterminated string"),
        ("slots.a $ 5", 8, "unexpected character '$'"),
        ("slots.a 5", 8, "expected 'and', 'or' or the end"),
        ("", 0, "empty condition"),
        ("slots.a matches '('", 16, "invalid regular expression"),
        ("slots.a = 5x", 10, "malformed number"),
        ("slots. = 1", 0, "malformed name"),
    ],
)
def test_it_reports_the_position_of_errors(text, position, reason):
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert info.value.position == position
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("text", "slots", "expected"),
    [
        ("slots.amount > 100", {"amount": 150.0}, True),
        ("slots.amount > 100", {"amount": None}, False),
        ("slots.amount > 100", {}, False),
        ("slots.amount > 100", {"amount": "abc"}, False),
        ("slots.amount = '18'", {"amount": 18.0}, True),
        ("slots.amount != 5", {"amount": None}, True),
        ("slots.name is null", {"name": None}, True),
        ("slots.name is undefined", {}, True),
        ("slots.name is empty", {"name": ""}, True),
        ("slots.tier = gold", {"tier": "gold"}, True),
        ("slots.tier = gold", {"tier": "silver"}, False),
        ("{gold silver} contains slots.tier", {"tier": "silver"}, True),
        ("slots.items contains 'a'", {"items": ["a", "b"]}, True),
        ("slots.text contains 'ell'", {"text": "hello"}, True),
        ("slots.code matches '^[0-9]+$'", {"code": "123"}, True),
        ("slots.code matches '^[0-9]+$'", {"code": None}, False),
        ("slots.ok", {"ok": True}, True),
        ("not slots.ok", {"ok": None}, True),
        ("slots.a > 1 and (slots.b or slots.c)", {"a": 2, "b": False, "c": True}, True),
        ("slots.flag = true", {"flag": 1}, False),
        ("context.step = 'x'", {}, False),
    ],
)
def test_it_evaluates_with_rasa_semantics(text, slots, expected):
    assert evaluate(text, slots, {}) is expected


def test_it_evaluates_context_and_placeholders():
    assert evaluate("context.collect = 'amount'", {}, {"collect": "amount"})
    assert evaluate("{{context.collect}} = 'amount'", {}, {"collect": "amount"})


def test_it_lists_referenced_slots():
    node = parse_condition("slots.a > 1 and not slots.b.c or context.x = tier")
    assert referenced_slots(node) == {"a", "b"}
    assert referenced_slots(parse_condition("tier = gold"), {"tier"}) == {"tier"}
    assert list(slot_comparisons(parse_condition("slots.t = gold or {a b} contains slots.u"))) == [
        ("t", "=", ["gold"]),
        ("u", "contains", ["a", "b"]),
    ]


def test_it_builds_and_decomposes_simple_conditions():
    clauses = [
        SimpleCondition("amount", ">", 100),
        SimpleCondition("tier", "=", "gold"),
        SimpleCondition("name", "is set"),
        SimpleCondition("vip", "true"),
    ]
    text = build_condition(clauses, "and")
    assert (
        text
        == 'slots.amount > 100 and slots.tier = "gold" and slots.name is not null and slots.vip'
    )
    assert decompose_condition(text) == (clauses, "and")
    assert decompose_condition("slots.a = 1 or slots.b = 2")[1] == "or"
    assert decompose_condition("slots.a = 1 and (slots.b = 2 or slots.c = 3)") is None
