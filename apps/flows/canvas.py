"""What the flow canvas draws, built from `engine.formats.step_views` (issue 7).

The canvas is server-rendered: this module turns a flow's steps into nested plain objects
(sequences of step cards, branches side by side, "+" gaps where a step can be added, jumps and
ends) that templates/flows/_sequence.html draws top to bottom.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from apps.flows import steps as step_ops
from engine import formats
from engine.formats import END

KIND_LABELS = {
    "message": "Message",
    "action": "Custom action",
    "collect": "Collect",
    "logic": "Logic",
    "set_slots": "Set slots",
    "link": "Link",
    "call": "Call",
    "agent": "Sub-agent",
    "mcp": "MCP tool",
    "noop": "Logic",
}


@dataclass
class Gap:
    """A place where a step can be added: position `index` of the list at `list_path`."""

    list_path: str
    index: int
    at_end_of_branch: bool = False


@dataclass
class Card:
    kind: str  # message, action, collect, logic, set_slots, link, call, agent, mcp
    label: str
    id: str
    explicit_id: bool
    path: str
    title: str
    lines: list[str] = field(default_factory=list)
    problems: list[Any] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    jump: str | None = None  # the id this step goes to next (None: the following step)
    ends: bool = False  # the flow ends after this step
    hands_over: bool = False  # a link step
    jump_target: bool = False  # reached only through a jump from elsewhere
    gap_after: Gap | None = None


@dataclass
class Branch:
    path: str
    condition: str | None  # None for Else
    list_path: str
    sequence: list[Card] | None = None
    first_gap: Gap | None = None
    target: str | None = None  # a branch that goes straight to a step id or END


def _text_of(variations: list | None) -> str:
    for variation in variations or []:
        if isinstance(variation, dict):
            if variation.get("text"):
                return str(variation["text"])
            if variation.get("image"):
                return f"[image] {variation['image']}"
            if variation.get("custom") is not None:
                return "[custom payload]"
    return ""


def _call_card(
    view: formats.StepView, agents: dict[str, formats.SubAgent]
) -> tuple[str, str, list[str]]:
    """(kind, title, lines) of a call step: of a flow, of a sub-agent that runs outside the
    assistant, or of an MCP tool."""
    data = view.data
    target = view.target or ""
    if "mcp_server" in data:
        mapping = data.get("mapping")
        if not isinstance(mapping, dict):
            mapping = {}
        lines = [f"On MCP server {data['mcp_server']}"]
        lines += [
            f"{item.get('slot')} → {item.get('param')}"
            for item in mapping.get("input") or []
            if isinstance(item, dict)
        ]
        lines += [
            f"{item.get('value')} → {item.get('slot')}"
            for item in mapping.get("output") or []
            if isinstance(item, dict)
        ]
        return "mcp", f"Calls MCP tool {target}", lines
    agent = agents.get(target)
    if agent is not None:
        lines = [agent.description] if agent.description else []
        lines += [f"Exits when {condition}" for condition in data.get("exit_if") or []]
        lines.append(f"Runs outside the assistant ({agent.folder}/)")
        return "agent", f"Calls sub-agent {target}", lines
    return "call", target, []


def _card(
    view: formats.StepView,
    responses: dict[str, list],
    agents: dict[str, formats.SubAgent] | None = None,
) -> Card:
    data = view.data
    kind = view.kind
    lines: list[str] = []
    if kind == "action" and (view.target or "").startswith("utter_"):
        kind = "message"
        title = view.target or ""
        text = _text_of(responses.get(title))
        if text:
            lines.append(text)
    elif kind == "action":
        title = view.target or ""
    elif kind == "collect":
        title = view.target or ""
        utter = data.get("utter") or f"utter_ask_{title}"
        question = _text_of(responses.get(utter))
        if question:
            lines.append(question)
        if data.get("description"):
            lines.append(str(data["description"]))
        for rejection in data.get("rejections") or []:
            if isinstance(rejection, dict):
                lines.append(f"Rejects if {rejection.get('if')}")
    elif kind == "set_slots":
        title = ", ".join(name for name, _ in view.set_slots) or "set slots"
        lines = [f"{name} = {_shown(value)}" for name, value in view.set_slots]
    elif kind == "call":
        kind, title, lines = _call_card(view, agents or {})
    elif kind == "link":
        title = view.target or ""
    else:
        kind = "logic"
        title = data.get("description") or "Check conditions"
    return Card(
        kind=kind,
        label=KIND_LABELS[kind],
        id=view.id,
        explicit_id=view.explicit_id,
        path=view.path,
        title=title,
        lines=lines,
        hands_over=view.kind == "link",
    )


def _shown(value: Any) -> str:
    if value is None:
        return "null (reset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _falls_through(view: formats.StepView) -> bool:
    return view.kind != "link" and view.next is None and not view.branches


def build(
    steps: list,
    flow_id: str,
    responses: dict[str, list],
    problems: list | None = None,
    agents: dict[str, formats.SubAgent] | None = None,
) -> list[Card]:
    """The root sequence of cards; `problems` (relative ShownProblems) go on their step;
    `agents` are the assistant's sub-agents, which call steps may name."""
    if step_ops.is_placeholder(steps):
        return []
    views = formats.step_views(steps, flow_id)
    cards = _sequence(views, "steps", True, responses, agents or {})
    if problems:
        by_path = {card.path: card for card in iter_cards(cards)}
        for problem in problems:
            card = _owner(by_path, problem.path)
            if card is not None:
                card.problems.append(problem)
    return cards


def _owner(by_path: dict[str, Card], path: str) -> Card | None:
    best = None
    for step_path, card in by_path.items():
        inside = path == step_path or path.startswith((step_path + ".", step_path + "["))
        if inside and (best is None or len(step_path) > len(best.path)):
            best = card
    return best


def _sequence(
    views: list[formats.StepView],
    list_path: str,
    is_root: bool,
    responses: dict,
    agents: dict[str, formats.SubAgent],
) -> list[Card]:
    cards: list[Card] = []
    previous: formats.StepView | None = None
    for view in views:
        card = _card(view, responses, agents)
        card.jump_target = previous is not None and not _falls_through(previous)
        if view.next is not None:
            if view.next == END:
                card.ends = True
            else:
                card.jump = view.next
        elif is_root and view.is_last and not view.branches and view.kind != "link":
            card.ends = True
        if _falls_through(view) or (not is_root and view.is_last and view.next is not None):
            at_end = view.is_last and not is_root
            card.gap_after = Gap(list_path, view.index + 1, at_end_of_branch=at_end)
        elif is_root and view.is_last and view.next == END:
            card.gap_after = Gap(list_path, view.index + 1)
        for bview in view.branches or []:
            key = "else" if bview.condition is None else "then"
            b_list = f"{bview.path}.{key}"
            condition = None
            if bview.condition is not None:
                condition = (
                    str(bview.condition).lower()
                    if isinstance(bview.condition, bool)
                    else bview.condition
                )
            branch = Branch(
                path=bview.path,
                condition=condition,
                list_path=b_list,
                first_gap=Gap(b_list, 0, at_end_of_branch=bview.steps is None),
            )
            if bview.steps is not None:
                branch.sequence = _sequence(bview.steps, b_list, False, responses, agents)
            else:
                branch.target = bview.target
            card.branches.append(branch)
        cards.append(card)
        previous = view
    return cards


def iter_cards(cards: list[Card]):
    for card in cards:
        yield card
        for branch in card.branches:
            if branch.sequence:
                yield from iter_cards(branch.sequence)


def card_at(steps: list, flow_id: str, path: str) -> Card:
    """The card of the step at `path` (a path `steps.get_step` has found)."""
    return next(c for c in iter_cards(build(steps, flow_id, {})) if c.path == path)


def step_choices(steps: list, flow_id: str) -> list[tuple[str, str]]:
    """(step id, label) for every step, for "go to" pickers."""
    if step_ops.is_placeholder(steps):
        return []
    out = []
    for view in formats.iter_step_views(formats.step_views(steps, flow_id)):
        target = view.target or ("logic" if view.kind == "noop" else view.kind)
        out.append((view.id, f"{view.id} ({view.kind} {target})"))
    return out


def triggers(definition: dict) -> list[tuple[str, float | None]]:
    """The start node's NLU triggers: (intent, confidence threshold or None) for each."""
    return [
        (trigger.intent, trigger.confidence_threshold)
        for trigger in formats.trigger_intents(definition.get("nlu_trigger"))
    ]


# ---- The graph the canvas workspace lays out (issue 17) ----

END_NODE = "__end__"
EDGE_KINDS = ("next", "branch", "jump", "loop", "end", "link", "call")


def graph(
    cards: list[Card],
    description: str = "",
    triggers: list[tuple[str, float | None]] | None = None,
    guard: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The flow as nodes and edges, for the client to lay out and draw.

    Nodes are the start, every step (its card's content, id and path), one End when something
    ends the flow, and for each link or call step a node of the flow it names. Edges say how the
    flow moves: `next` (the following step), `branch` (a condition's first step, or where it
    goes straight to; `label` is the condition, "Else" for else), `jump` (a "next" to a later
    step id), `loop` (a "next" back to this step or an earlier one), `end`, `link` (hands over)
    and `call` (runs a flow and comes back). An edge with `add` marks the place where a step
    can be added between its ends (`list` path and `index`, as the "+" gaps of the list view).
    """
    lines = [
        f"⚡ {intent}" + (f" ≥ {threshold}" if threshold is not None else "")
        for intent, threshold in triggers or []
    ]
    if guard:
        lines.append(f"🔒 {guard}")
    nodes: list[dict[str, Any]] = [
        {
            "id": "start",
            "kind": "start",
            "label": "Start",
            "title": description or "No description yet",
            "lines": lines,
        }
    ]
    order = {card.id: number for number, card in enumerate(iter_cards(cards))}
    builder = _GraphBuilder(nodes, order)
    for card in iter_cards(cards):
        nodes.append(_node(card))
    if cards:
        builder.sequence(cards, "start", "next", None, Gap("steps", 0))
    else:
        builder.edge("start", END_NODE, "end", add=Gap("steps", 0))
    nodes.extend(builder.extra_nodes())
    _mark_unreached(nodes, builder.edges)
    return {"nodes": nodes, "edges": builder.edges}


def _mark_unreached(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
    """Flag the steps no path from the start reaches (say, after a step that ends the flow),
    so that the canvas can show them as such."""
    targets: dict[str, list[str]] = {}
    for edge in edges:
        targets.setdefault(edge["from"], []).append(edge["to"])
    reached = {"start"}
    todo = ["start"]
    while todo:
        for target in targets.get(todo.pop(), []):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    for node in nodes:
        if "path" in node and node["id"] not in reached:
            node["unreached"] = True


def _node(card: Card) -> dict[str, Any]:
    return {
        "id": card.id,
        "kind": card.kind,
        "label": card.label,
        "title": card.title,
        "lines": list(card.lines),
        "path": card.path,
        "explicit_id": card.explicit_id,
        "problems": [
            {"severity": str(problem.severity), "message": str(problem.message)}
            for problem in card.problems
        ],
    }


class _GraphBuilder:
    def __init__(self, nodes: list[dict[str, Any]], order: dict[str, int]):
        self.nodes = nodes
        self.order = order
        self.edges: list[dict[str, Any]] = []
        self.flows: list[tuple[str, str]] = []  # (node id, flow name)
        self.ends = False

    def edge(
        self,
        source: str,
        target: str,
        kind: str,
        label: str | None = None,
        add: Gap | None = None,
    ) -> None:
        if target == END_NODE:
            self.ends = True
        edge: dict[str, Any] = {"from": source, "to": target, "kind": kind}
        if label is not None:
            edge["label"] = label
        if add is not None:
            edge["add"] = {"list": add.list_path, "index": add.index}
        self.edges.append(edge)

    def goes_to(self, card: Card, target: str, add: Gap | None) -> None:
        """An edge for a "next" (or a branch's direct target) naming a step id or END."""
        if target == END:
            self.edge(card.id, END_NODE, "end", add=add)
        elif target in self.order:
            back = self._back(card, target)
            self.edge(card.id, target, "loop" if back else "jump", add=add)
            if back:
                self.edges[-1]["back"] = True

    def sequence(
        self, cards: list[Card], source: str, kind: str, label: str | None, gap: Gap | None
    ) -> None:
        self.edge(source, cards[0].id, kind, label, add=gap)
        for previous, card in itertools.pairwise(cards):
            if _continues(previous):
                self.edge(previous.id, card.id, "next", add=previous.gap_after)
        for number, card in enumerate(cards):
            self.card_edges(card, is_last=number == len(cards) - 1)

    def card_edges(self, card: Card, is_last: bool) -> None:
        if card.kind == "call":
            self.edge(card.id, self.flow_node(card), "call")
        if card.hands_over:
            self.edge(card.id, self.flow_node(card), "link")
        elif card.jump is not None:
            self.goes_to(card, card.jump, card.gap_after)
        elif card.ends or (is_last and _continues(card)):
            self.edge(card.id, END_NODE, "end", add=card.gap_after)
        for branch in card.branches:
            label = "Else" if branch.condition is None else str(branch.condition)
            if branch.sequence:
                self.sequence(branch.sequence, card.id, "branch", label, branch.first_gap)
            elif branch.target == END:
                self.edge(card.id, END_NODE, "branch", label, add=branch.first_gap)
            elif branch.target in self.order:
                self.edge(card.id, branch.target, "branch", label, add=branch.first_gap)
                if self._back(card, branch.target):
                    self.edges[-1]["back"] = True

    def _back(self, card: Card, target: str) -> bool:
        return self.order[target] <= self.order[card.id]

    def flow_node(self, card: Card) -> str:
        """The node of the flow a link or call step names: one for each step, which keeps
        each next to its step (a flow called from ten places is drawn ten times)."""
        node_id = f"flow:{card.title}:{card.id}"
        self.flows.append((node_id, card.title))
        return node_id

    def extra_nodes(self) -> list[dict[str, Any]]:
        extra: list[dict[str, Any]] = [
            {"id": node_id, "kind": "flow", "label": "Flow", "title": name, "flow": name}
            for node_id, name in self.flows
        ]
        if self.ends:
            extra.append({"id": END_NODE, "kind": "end", "label": "End", "title": "End"})
        return extra


def _continues(card: Card) -> bool:
    """The card goes on to the step after it in its list (no jump, end, branches or link)."""
    return not (card.jump or card.ends or card.branches or card.hands_over)
