"""The step operations on a flow's steps JSON."""

import pytest

from apps.flows import steps as ops

LOGIC = {"noop": True, "next": [{"if": "slots.ok", "then": "END"}, {"else": "END"}]}


def test_it_parses_step_paths_and_refuses_others():
    assert ops.parse_path("steps[1].next[0].then[2]") == ["steps", 1, "next", 0, "then", 2]
    for bad in ("", "steps[x]", "flows[0]", "steps[0].then[1]", "steps[0].next[0].foo"):
        with pytest.raises(ops.StepPathError):
            ops.parse_path(bad)


def test_insert_into_an_empty_flow_replaces_the_placeholder():
    assert ops.insert_step([ops.PLACEHOLDER_STEP], "steps", 0, {"action": "utter_hi"}) == [
        {"action": "utter_hi"}
    ]


def test_insert_between_two_steps():
    steps = [{"action": "a"}, {"action": "b"}]
    assert ops.insert_step(steps, "steps", 1, {"action": "x"}) == [
        {"action": "a"},
        {"action": "x"},
        {"action": "b"},
    ]
    assert steps == [{"action": "a"}, {"action": "b"}]  # the input is left alone


def test_a_step_added_at_the_end_of_a_branch_takes_over_its_next():
    steps = [
        {
            "noop": True,
            "next": [{"if": "x", "then": [{"action": "a", "next": "END"}]}, {"else": "END"}],
        }
    ]
    result = ops.insert_step(steps, "steps[0].next[0].then", 1, {"action": "b"})
    assert result[0]["next"][0]["then"] == [{"action": "a"}, {"action": "b", "next": "END"}]


def test_a_step_added_to_a_branch_that_jumps_keeps_the_jump():
    steps = [
        {"id": "s", "action": "a"},
        {"noop": True, "next": [{"if": "x", "then": "s"}, {"else": "END"}]},
    ]
    result = ops.insert_step(steps, "steps[1].next[0].then", 0, {"action": "b"})
    assert result[1]["next"][0]["then"] == [{"action": "b", "next": "s"}]


def test_a_logic_step_takes_the_following_steps_into_its_else():
    steps = [{"action": "a"}, {"action": "b"}, {"action": "c"}]
    result = ops.insert_logic(steps, "steps", 1, LOGIC)
    assert result == [
        {"action": "a"},
        {
            "noop": True,
            "next": [
                {"if": "slots.ok", "then": "END"},
                {"else": [{"action": "b"}, {"action": "c", "next": "END"}]},
            ],
        },
    ]


def test_replace_renames_jumps_with_the_step():
    steps = [{"id": "ask", "collect": "x"}, {"action": "a", "next": "ask"}]
    result = ops.replace_step(steps, "steps[0]", {"id": "ask_again", "collect": "x"})
    assert result == [{"id": "ask_again", "collect": "x"}, {"action": "a", "next": "ask_again"}]


def test_deleting_the_last_step_of_a_branch_hands_its_next_back():
    steps = [
        {
            "noop": True,
            "next": [
                {"if": "x", "then": [{"action": "a"}, {"action": "b", "next": "END"}]},
                {"else": [{"action": "c", "next": "END"}]},
            ],
        }
    ]
    result = ops.delete_step(steps, "steps[0].next[0].then[1]")
    assert result[0]["next"][0]["then"] == [{"action": "a", "next": "END"}]
    result = ops.delete_step(steps, "steps[0].next[1].else[0]")
    assert result[0]["next"][1] == {"else": "END"}


def test_deleting_a_logic_step_deletes_its_branches():
    steps = [
        {"action": "a"},
        {**LOGIC, "next": [{"if": "x", "then": [{"action": "b", "next": "END"}]}, {"else": "END"}]},
    ]
    assert ops.delete_step(steps, "steps[1]") == [{"action": "a"}]


def test_deleting_the_only_step_leaves_an_empty_flow():
    assert ops.delete_step([{"action": "a"}], "steps[0]") == [ops.PLACEHOLDER_STEP]


def test_ensure_id_names_a_generated_step():
    result = ops.ensure_id([{"action": "a"}, {"collect": "x"}], "f_1_collect_x", "f")
    assert result == [{"action": "a"}, {"id": "f_1_collect_x", "collect": "x"}]


NESTED = [
    {"id": "ask", "collect": "amount"},
    {
        "noop": True,
        "next": [
            {
                "if": "slots.amount > 100",
                "then": [
                    {"id": "big", "action": "utter_big"},
                    {
                        "noop": True,
                        "next": [
                            {"if": "slots.ok", "then": [{"id": "deep", "action": "a"}]},
                            {"else": "ask"},
                        ],
                    },
                ],
            },
            {"else": [{"id": "small", "action": "utter_small", "next": "ask"}]},
        ],
    },
    {"id": "done", "action": "utter_done"},
]


def test_step_ids_walk_every_branch_in_order():
    assert ops.step_ids(NESTED) == ["ask", "big", "deep", "small", "done"]


def test_replace_renames_jumps_in_nested_branches():
    result = ops.replace_step(NESTED, "steps[0]", {"id": "amount", "collect": "amount"})
    inner = result[1]["next"][0]["then"][1]["next"]
    assert inner[1] == {"else": "amount"}
    assert result[1]["next"][1]["else"][0]["next"] == "amount"
    assert "ask" not in str(result)


def test_a_branch_with_both_then_and_else_is_walked_by_its_else():
    # Not a valid branch (the schema check refuses it); the walk follows its `else`, as
    # engine.formats reads such a branch.
    steps = [
        {
            "noop": True,
            "next": [
                {
                    "then": [{"id": "then_step", "action": "a"}],
                    "else": [{"id": "else_step", "action": "b"}],
                }
            ],
        }
    ]
    assert ops.step_ids(steps) == ["else_step"]
