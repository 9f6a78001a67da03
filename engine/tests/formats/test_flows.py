import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.formats.errors import ProblemCollector
from engine.formats.flows import Flow, NluTrigger, flows_to_dict, parse_flows, trigger_intents
from engine.formats.steps import (
    compact_steps,
    expand_steps,
    is_compact,
    iter_step_views,
    iter_steps,
    referenced_ids,
    step_views,
)
from engine.formats.yamlio import dump_yaml, load_yaml

# A flow as `rasa studio upload` sends it: every step with an id and a next, collect defaults
# spelled out, generated ids of the form <flow>_<index>_<postfix>.
EXPANDED_TRANSFER = """\
flows:
  transfer_money:
    description: Send money.
    run_pattern_completed: true
    steps:
      - id: transfer_money_0_collect_recipient
        next: transfer_money_1_collect_amount
        collect: recipient
        utter: utter_ask_recipient
        ask_before_filling: false
        reset_after_flow_ends: true
        rejections: []
        force_slot_filling: false
      - id: transfer_money_1_collect_amount
        next: check_funds
        collect: amount
        utter: utter_ask_amount_custom
        ask_before_filling: true
        reset_after_flow_ends: true
        rejections:
          - if: slots.amount <= 0
            utter: utter_invalid_amount
        force_slot_filling: false
      - id: check_funds
        next:
          - if: slots.has_funds
            then:
              - id: transfer_money_3_action_execute_transfer
                next: transfer_money_4_utter_transfer_done
                action: action_execute_transfer
              - id: transfer_money_4_utter_transfer_done
                next: END
                action: utter_transfer_done
          - else:
              - id: transfer_money_5_set_slots
                next: transfer_money_1_collect_amount
                set_slots:
                  - amount: null
        action: action_check_funds
      - id: transfer_money_6_noop
        next: transfer_money_7_call_confirm
        noop: true
      - id: transfer_money_7_call_confirm
        next: transfer_money_8_link_feedback
        call: confirm
      - id: transfer_money_8_link_feedback
        next: null
        link: feedback
"""

COMPACT_TRANSFER = [
    {"collect": "recipient"},
    {
        "id": "transfer_money_1_collect_amount",
        "collect": "amount",
        "utter": "utter_ask_amount_custom",
        "ask_before_filling": True,
        "rejections": [{"if": "slots.amount <= 0", "utter": "utter_invalid_amount"}],
    },
    {
        "id": "check_funds",
        "next": [
            {
                "if": "slots.has_funds",
                "then": [
                    {"action": "action_execute_transfer"},
                    {"next": "END", "action": "utter_transfer_done"},
                ],
            },
            {
                "else": [
                    {"next": "transfer_money_1_collect_amount", "set_slots": [{"amount": None}]}
                ]
            },
        ],
        "action": "action_check_funds",
    },
    {"next": "transfer_money_7_call_confirm", "noop": True},
    {"id": "transfer_money_7_call_confirm", "call": "confirm"},
    {"link": "feedback"},
]


def _edges(steps, flow_id="transfer_money"):
    """The flow graph as (step id, condition, target id) triples, implicit links resolved."""
    edges = set()

    def walk(views, is_root):
        for index, view in enumerate(views):
            if view.next:
                edges.add((view.id, None, view.next))
            elif view.branches:
                for branch in view.branches:
                    target = branch.target or branch.steps[0].id
                    edges.add((view.id, branch.condition, target))
                    if branch.steps:
                        walk(branch.steps, False)
            elif view.kind == "link":
                edges.add((view.id, None, "link:" + view.target))
            elif index + 1 < len(views):
                edges.add((view.id, None, views[index + 1].id))
            elif is_root:
                edges.add((view.id, None, "END"))

    walk(step_views(steps, flow_id), True)
    return edges


def test_it_compacts_the_expanded_form():
    steps = load_yaml(EXPANDED_TRANSFER, "f.yml").data["flows"]["transfer_money"]["steps"]
    compact = compact_steps(steps, "transfer_money")
    assert compact == COMPACT_TRANSFER
    # The flow id is not needed to recognise generated ids.
    assert compact_steps(steps) == COMPACT_TRANSFER


def test_it_expands_back_to_the_same_graph():
    steps = load_yaml(EXPANDED_TRANSFER, "f.yml").data["flows"]["transfer_money"]["steps"]
    expanded = expand_steps(compact_steps(steps), "transfer_money")
    original = [{k: v for k, v in s.items() if not (k == "next" and v is None)} for s in steps]
    assert expanded == original
    assert _edges(expanded) == _edges(COMPACT_TRANSFER) == _edges(steps)


def test_compact_stays_compact():
    assert compact_steps(COMPACT_TRANSFER, "transfer_money") == COMPACT_TRANSFER
    assert is_compact(COMPACT_TRANSFER)
    authored = [{"id": "start", "collect": "x"}, {"action": "utter_x", "next": "start"}]
    assert compact_steps(authored) == authored


def test_it_parses_the_expanded_form_into_a_compact_flow():
    collector = ProblemCollector("data/flows.yml", load_yaml(EXPANDED_TRANSFER, "f").lines)
    flows = parse_flows(load_yaml(EXPANDED_TRANSFER, "f").data["flows"], collector)
    assert not collector.problems
    assert flows[0].steps == COMPACT_TRANSFER
    assert flows[0].run_pattern_completed is True
    assert flows[0].source_line == 2
    assert flows[0].source_lines["steps[2]"] == 24


# --------------------------------------------------------------------------------------------
# Property: generated flows survive dump -> parse, and compact/expand are inverse


ident = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
condition_text = st.sampled_from(
    ["slots.a > 1", 'slots.tier = "gold"', "not slots.ok", "slots.a is null or slots.b", "true"]
)


@st.composite
def step_lists(draw, depth=0, nested=False, counter=None):
    counter = counter if counter is not None else itertools.count()
    size = draw(st.integers(1, 3))
    steps = []
    for index in range(size):
        last = index == size - 1
        kinds = ["action", "collect", "call", "set_slots", "noop"] + (["link"] if last else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "set_slots":
            step = {
                "set_slots": [
                    {
                        draw(ident): draw(
                            st.one_of(st.none(), st.booleans(), ident, st.integers(0, 9))
                        )
                    }
                ]
            }
        elif kind == "noop":
            step = {"noop": True}
        else:
            step = {kind: draw(ident)}
        if kind == "collect" and draw(st.booleans()):
            step["ask_before_filling"] = True
            step["rejections"] = [{"if": draw(condition_text), "utter": "utter_" + draw(ident)}]
        if kind == "collect" and draw(st.booleans()):
            step["description"] = draw(st.text(min_size=1, max_size=20).filter(str.strip))
        if draw(st.booleans()):
            step["id"] = f"s{next(counter)}"
        if kind != "link":
            branch = depth < 2 and draw(st.booleans())
            if branch:
                items = []
                for _ in range(draw(st.integers(1, 2))):
                    target = draw(st.one_of(st.just("END"), step_lists(depth + 1, True, counter)))
                    items.append({"if": draw(condition_text), "then": target})
                items.append(
                    {"else": draw(st.one_of(st.just("END"), step_lists(depth + 1, True, counter)))}
                )
                step["next"] = items
            elif kind == "noop" or (nested and last):
                step["next"] = "END"
        steps.append(step)
    return steps


flow_objects = st.builds(
    Flow,
    id=ident,
    description=st.text(max_size=30),
    steps=step_lists().map(compact_steps),
    name=st.one_of(st.none(), st.text(min_size=1, max_size=20).filter(str.strip)),
    guard=st.one_of(st.none(), st.booleans(), condition_text),
    nlu_trigger=st.one_of(
        st.none(),
        st.lists(
            st.builds(NluTrigger, ident, st.one_of(st.none(), st.floats(0, 1))),
            min_size=1,
            max_size=2,
        ),
    ),
    persisted_slots=st.one_of(st.none(), st.lists(ident, max_size=2)),
    always_include_in_prompt=st.one_of(st.none(), st.booleans()),
    run_pattern_completed=st.one_of(st.none(), st.booleans()),
    translation=st.one_of(st.none(), st.just({"de": {"name": "Geld senden"}})),
    metadata=st.one_of(st.none(), st.just({"owner": "team-a", "tags": ["x"]})),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(flow_objects, max_size=3, unique_by=lambda f: f.id))
def test_it_round_trips_generated_flows(flows):
    text = dump_yaml(flows_to_dict(flows))
    doc = load_yaml(text, "data/flows.yml")
    collector = ProblemCollector("data/flows.yml", doc.lines)
    parsed = parse_flows(doc.data["flows"], collector)
    assert [p for p in collector.problems if p.severity == "error"] == []
    assert parsed == flows


@settings(max_examples=150, deadline=None)
@given(step_lists())
def test_it_expands_and_compacts_without_changing_the_graph(steps):
    compact = compact_steps(steps, "f")
    expanded = expand_steps(compact, "f")
    assert compact_steps(expanded, "f") == compact
    assert compact_steps(compact, "f") == compact
    assert expand_steps(expanded, "f") == expanded
    assert _edges(expanded, "f") == _edges(compact, "f") == _edges(steps, "f")
    for view in iter_step_views(step_views(expanded, "f")):
        assert "id" in view.data
        assert view.kind == "link" or "next" in view.data or (not view.is_root and view.is_last)


def test_iter_steps_walks_the_step_tree_in_pre_order():
    steps = [
        {"id": "ask", "collect": "amount"},
        {
            "noop": True,
            "next": [
                {"if": "slots.amount > 100", "then": [{"action": "utter_big", "next": "END"}]},
                {"else": "done"},
            ],
        },
        {"id": "done", "action": "utter_done"},
    ]
    walked = [step.get("id") or step.get("action") or "noop" for step in iter_steps(steps)]
    assert walked == ["ask", "noop", "utter_big", "done"]


def test_referenced_ids_are_the_ids_something_jumps_to():
    steps = [
        {"id": "ask", "collect": "amount", "next": "check"},
        {
            "id": "check",
            "noop": True,
            "next": [
                {"if": "slots.amount > 100", "then": "ask"},
                {"else": [{"action": "utter_done", "next": "END"}]},
            ],
        },
    ]
    assert referenced_ids(steps) == {"check", "ask"}


def test_trigger_intents_reads_a_stored_nlu_trigger_in_every_form():
    stored = [
        {"intent": "greet"},
        {"intent": {"name": "book", "confidence_threshold": 0.5}},
        {"intent": {"name": "bye"}},
        "help",
    ]
    assert trigger_intents(stored) == [
        NluTrigger("greet"),
        NluTrigger("book", 0.5),
        NluTrigger("bye"),
        NluTrigger("help"),
    ]
    assert trigger_intents(None) == []
    assert trigger_intents([]) == []


def test_trigger_intents_matches_what_parse_flows_reads():
    stored = [{"intent": "greet"}, {"intent": {"name": "book", "confidence_threshold": 1}}]
    (flow,) = parse_flows(
        {"f": {"nlu_trigger": stored, "steps": [{"action": "utter_hi"}]}}, ProblemCollector(None)
    )
    assert trigger_intents(stored) == flow.nlu_trigger


def test_trigger_intents_leaves_out_items_that_name_no_intent():
    stored = [{"intent": {"confidence_threshold": 0.5}}, {"intent": 3}, 7, {"other": "x"}]
    assert trigger_intents(stored) == []
    assert trigger_intents("greet") == []
