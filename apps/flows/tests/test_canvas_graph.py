"""The graph the canvas workspace draws (`canvas.graph`), its place on the canvas page, and the
vendored layout library's record."""

import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from apps.flows import canvas
from apps.projects.content.checks import ShownProblem

ROOT = Path(settings.BASE_DIR)
VENDOR = ROOT / "static" / "studio" / "vendor"

STEPS = [
    {"call": "helper"},
    {"id": "ask", "collect": "amount"},
    {
        "noop": True,
        "next": [
            {"if": "slots.amount > 100", "then": [{"action": "utter_no", "next": "ask"}]},
            {"if": "slots.amount < 1", "then": "END"},
            {"if": "slots.amount = 5", "then": "done"},
            {"else": [{"action": "utter_maybe"}]},
        ],
    },
    {"id": "done", "action": "utter_done", "next": "later"},
    {"id": "later", "set_slots": [{"amount": None}]},
    {"link": "goodbye"},
]


def edges_of(result):
    return {
        (edge["from"], edge["to"], edge["kind"], edge.get("label"), edge.get("back", False))
        for edge in result["edges"]
    }


def build(steps=STEPS, problems=None):
    cards = canvas.build(steps, "pay", {"utter_no": [{"text": "No way"}]}, problems)
    return canvas.graph(cards, "Pay", [("pay", 0.8)], None)


def test_every_step_is_a_node_with_its_card_content_and_path():
    result = build()
    nodes = {node["id"]: node for node in result["nodes"]}
    assert nodes["start"] == {
        "id": "start",
        "kind": "start",
        "label": "Start",
        "title": "Pay",
        "lines": ["⚡ pay ≥ 0.8"],
    }
    assert nodes["ask"]["path"] == "steps[1]" and nodes["ask"]["kind"] == "collect"
    assert nodes["ask"]["explicit_id"] is True
    no = next(node for node in result["nodes"] if node.get("title") == "utter_no")
    assert no["kind"] == "message" and no["lines"] == ["No way"]
    assert no["path"] == "steps[2].next[0].then[0]"
    # The called and linked flows, and one End.
    flows = [node for node in result["nodes"] if node["kind"] == "flow"]
    assert [node["flow"] for node in flows] == ["helper", "goodbye"]
    assert nodes[canvas.END_NODE]["kind"] == "end"
    assert len(result["nodes"]) == 1 + 8 + 2 + 1


def test_edges_say_how_the_flow_moves():
    result = build()
    ids = {node.get("path"): node["id"] for node in result["nodes"]}
    call, logic = ids["steps[0]"], ids["steps[2]"]
    no, maybe = ids["steps[2].next[0].then[0]"], ids["steps[2].next[3].else[0]"]
    end = canvas.END_NODE
    assert edges_of(result) == {
        ("start", call, "next", None, False),
        (call, f"flow:helper:{call}", "call", None, False),
        (call, "ask", "next", None, False),
        ("ask", logic, "next", None, False),
        (logic, no, "branch", "slots.amount > 100", False),
        (no, "ask", "loop", None, True),
        (logic, end, "branch", "slots.amount < 1", False),
        (logic, "done", "branch", "slots.amount = 5", False),
        (logic, maybe, "branch", "Else", False),
        (maybe, end, "end", None, False),
        ("done", "later", "jump", None, False),
        ("later", ids["steps[5]"], "next", None, False),
        (ids["steps[5]"], f"flow:goodbye:{ids['steps[5]']}", "link", None, False),
    }
    assert {edge["kind"] for edge in result["edges"]} <= set(canvas.EDGE_KINDS)


def test_edges_carry_the_places_where_a_step_can_be_added():
    result = build()
    adds = {(edge["from"], edge["to"]): edge.get("add") for edge in result["edges"]}
    assert adds[("start", result["nodes"][1]["id"])] == {"list": "steps", "index": 0}
    assert adds[("ask", result["nodes"][3]["id"])] == {"list": "steps", "index": 2}
    logic = result["nodes"][3]["id"]
    assert adds[(logic, "done")] == {"list": "steps[2].next[2].then", "index": 0}
    # Nothing can be added on a call's edge to the flow it calls, nor after a link.
    call = result["nodes"][1]["id"]
    assert adds[(call, f"flow:helper:{call}")] is None


def test_problems_go_on_their_step_and_an_empty_flow_is_start_to_end():
    problems = [ShownProblem("steps[1].collect", "no such slot", "error")]
    ask = next(node for node in build(problems=problems)["nodes"] if node["id"] == "ask")
    assert ask["problems"] == [{"severity": "error", "message": "no such slot"}]

    empty = canvas.graph([], "", [], "only via link or call")
    assert [node["kind"] for node in empty["nodes"]] == ["start", "end"]
    assert empty["nodes"][0]["lines"] == ["🔒 only via link or call"]
    assert empty["edges"] == [
        {
            "from": "start",
            "to": canvas.END_NODE,
            "kind": "end",
            "add": {"list": "steps", "index": 0},
        }
    ]


@pytest.mark.django_db
def test_the_canvas_page_carries_the_graph_and_keeps_the_card_list(ed_client, shop):
    page = ed_client.get(reverse("flows:detail", args=[shop.name, "order"])).content.decode()
    start = page.index('<script id="canvas-graph" type="application/json">')
    data = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
    assert [node["kind"] for node in data["nodes"]] == ["start", "collect", "message", "end"]
    assert 'id="workspace" hidden' in page  # shown by the script; the list is the no-JS page
    assert 'class="node node-step kind-collect' in page
    assert "studio/vendor/dagre.min.js" in page


def test_the_vendored_layout_library_is_the_recorded_version():
    record = json.loads((VENDOR / "versions.json").read_text())["@dagrejs/dagre"]
    package = json.loads((ROOT / "frontend" / "package.json").read_text())
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    assert package["dependencies"]["@dagrejs/dagre"] == record["version"]
    assert lock["packages"]["node_modules/@dagrejs/dagre"]["version"] == record["version"]
    graphlib = record["bundles"]["@dagrejs/graphlib"]["version"]
    assert lock["packages"]["node_modules/@dagrejs/graphlib"]["version"] == graphlib
    for name, digest in record["files"].items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert f'"{record["version"]}"' in (VENDOR / "dagre.min.js").read_text()
    assert "MIT" in (VENDOR / "README.md").read_text()
    assert "Permission is hereby granted" in (VENDOR / record["licence"]).read_text()


def test_a_step_no_path_reaches_is_marked():
    steps = [
        {
            "noop": True,
            "next": [
                {"if": "slots.confirmed", "then": "END"},
                {"else": [{"action": "utter_done", "next": "END"}, {"link": "helper"}]},
            ],
        },
        {"action": "utter_cancelled"},
    ]
    nodes = build(steps)["nodes"]
    unreached = {node["title"] for node in nodes if node.get("unreached")}
    assert unreached == {"helper", "utter_cancelled"}
    assert not any(node.get("unreached") for node in build()["nodes"])
