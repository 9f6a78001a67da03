"""Edits of a flow's steps JSON, as operations at a path (issue 7).

A flow's ``steps`` is one JSON document in the compact form (see engine.formats.steps). The
builder never rewrites it wholesale: each edit is one of

* `insert_step`  - put a step into a step list at an index,
* `replace_step` - put a step in place of the step at a path,
* `delete_step`  - remove the step at a path (and, for a branching step, its branches),

addressed with the key paths `engine.formats.step_views` gives each step (``steps[2]``,
``steps[1].next[0].then[0]``). Every function returns a new list and leaves its input alone;
the caller validates the result (apps.flows.services) before anything is stored.

These functions keep the graph connected where the compact form would otherwise lose an edge:
a step added after a step that jumps (the last step of a branch or of the flow with its
``next: END``, or a jump to a step id) takes over that ``next``, so it is reached; a step
removed from the end of a branch hands its ``next`` back to the step before it.

`step_label` names a step for people (history entries: "Edited message utter_greet"), and
`step_id_at` gives the id the engine knows a step by, which edits name with the path.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from engine.formats import END, iter_steps, step_type

# A flow that has no steps yet. Rasa needs at least one step, so a new flow is stored with
# this one; the canvas shows it as an empty flow and the first inserted step replaces it.
PLACEHOLDER_STEP = {"noop": True, "next": END}

_TOKEN_RE = re.compile(r"\.?([A-Za-z_]+)|\[(\d+)\]")


class StepPathError(ValueError):
    """The path does not name a step (or a step list) of this flow."""


def is_placeholder(steps: list) -> bool:
    return steps == [PLACEHOLDER_STEP]


def parse_path(path: str) -> list[str | int]:
    """``steps[1].next[0].then`` -> ``["steps", 1, "next", 0, "then"]``."""
    tokens: list[str | int] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN_RE.match(path, pos)
        if match is None:
            raise StepPathError(f"not a step path: {path!r}")
        tokens.append(match.group(1) if match.group(1) else int(match.group(2)))
        pos = match.end()
    if not tokens or tokens[0] != "steps":
        raise StepPathError(f"not a step path: {path!r}")
    # steps[i] (.next[j] (.then|.else) [k])*
    shape = tokens[1:]
    index = 0
    while index < len(shape):
        expected_int = index % 4 in (0, 2)
        token = shape[index]
        if expected_int != isinstance(token, int):
            raise StepPathError(f"not a step path: {path!r}")
        if index % 4 == 1 and token != "next":
            raise StepPathError(f"not a step path: {path!r}")
        if index % 4 == 3 and token not in ("then", "else"):
            raise StepPathError(f"not a step path: {path!r}")
        index += 1
    return tokens


def format_path(tokens: list[str | int]) -> str:
    out = ""
    for token in tokens:
        out += f"[{token}]" if isinstance(token, int) else (f".{token}" if out else token)
    return out


def _walk(root: dict, tokens: list[str | int]) -> Any:
    node: Any = root
    for token in tokens:
        try:
            node = node[token]
        except (KeyError, IndexError, TypeError):
            raise StepPathError(f"no step at {format_path(tokens)}") from None
    return node


def get_step(steps: list, path: str) -> dict:
    tokens = parse_path(path)
    if not isinstance(tokens[-1], int):
        raise StepPathError(f"{path} names a step list, not a step")
    step = _walk({"steps": steps}, tokens)
    if step_type(step) is None:
        raise StepPathError(f"no step at {path}")
    return step


def _is_root(tokens: list[str | int]) -> bool:
    return len(tokens) <= 2


def _is_root_list(list_tokens: list[str | int]) -> bool:
    return len(list_tokens) == 1


def _falls_through(step: dict) -> bool:
    """Whether control goes from this step to the one after it in the list."""
    return step_type(step) != "link" and step.get("next") in (None, [])


def insert_step(steps: list, list_path: str, index: int, step: dict) -> list:
    """Insert `step` into the step list at `list_path` (``steps`` or a branch's
    ``...next[j].then`` / ``...next[j].else``) before position `index` (len = at the end).

    A branch that goes straight to a step id or END becomes a list holding the new step, which
    then goes there. A step added at the end of a branch takes over the ``next`` of the step
    that was last.
    """
    if is_placeholder(steps) and list_path == "steps":
        return [copy.deepcopy(step)]
    tokens = parse_path(list_path)
    if isinstance(tokens[-1], int):
        raise StepPathError(f"{list_path} names a step, not a step list")
    root = {"steps": copy.deepcopy(steps)}
    new = copy.deepcopy(step)
    if len(tokens) == 1:
        target = root["steps"]
    else:
        branch = _walk(root, tokens[:-1])
        key = tokens[-1]
        if not isinstance(branch, dict) or key not in branch:
            raise StepPathError(f"no step list at {list_path}")
        value = branch[key]
        if isinstance(value, str):
            if step_type(new) != "link" and "next" not in new:
                new["next"] = value
            branch[key] = [new]
            return root["steps"]
        target = value
    if not isinstance(target, list) or not 0 <= index <= len(target):
        raise StepPathError(f"no position {index} in {list_path}")
    if index > 0:
        _take_over_jump(target[index - 1], new)
    target.insert(index, new)
    return root["steps"]


def _take_over_jump(before: dict, new: dict) -> None:
    """A step put after `before`, which jumps (``next: END`` or a step id), takes over the jump
    so that it is reached: `before` then goes on to it. A link step ends the flow itself, so
    the jump stays (and the new step is unreachable, which validation reports)."""
    nxt = before.get("next")
    if isinstance(nxt, str) and step_type(new) != "link" and "next" not in new:
        new["next"] = nxt
        del before["next"]


def replace_step(steps: list, path: str, step: dict) -> list:
    """Put `step` in place of the step at `path`. When the step's id changes, every jump to
    the old id follows it."""
    tokens = parse_path(path)
    old = get_step(steps, path)
    root = {"steps": copy.deepcopy(steps)}
    container = _walk(root, tokens[:-1])
    container[tokens[-1]] = copy.deepcopy(step)
    old_id, new_id = old.get("id"), step.get("id")
    if old_id and new_id and old_id != new_id:
        _rename_targets(root["steps"], old_id, new_id)
    return root["steps"]


def delete_step(steps: list, path: str) -> list:
    """Remove the step at `path` with its branches. A branch left without steps goes to END;
    the step before a removed last step of a branch inherits its ``next``."""
    tokens = parse_path(path)
    old = get_step(steps, path)
    root = {"steps": copy.deepcopy(steps)}
    container = _walk(root, tokens[:-1])
    index = tokens[-1]
    assert isinstance(index, int)
    del container[index]
    nxt = old.get("next")
    if not container:
        if len(tokens) == 2:
            return [copy.deepcopy(PLACEHOLDER_STEP)]
        branch = _walk(root, tokens[:-2])
        branch[tokens[-2]] = nxt if isinstance(nxt, str) else END
        return root["steps"]
    if index == len(container) and not _is_root(tokens):
        previous = container[-1]
        if _falls_through(previous):
            previous["next"] = nxt if isinstance(nxt, str) else END
    return root["steps"]


def _rename_targets(steps: list, old: str, new: str) -> None:
    for step in iter_steps(steps):
        nxt = step.get("next")
        if nxt == old:
            step["next"] = new
        elif isinstance(nxt, list):
            for branch in nxt:
                for key in ("then", "else"):
                    if isinstance(branch, dict) and branch.get(key) == old:
                        branch[key] = new


def step_ids(steps: list) -> list[str]:
    """Explicit step ids, in order."""
    return [s["id"] for s in iter_steps(steps) if isinstance(s.get("id"), str)]


def insert_logic(steps: list, list_path: str, index: int, step: dict) -> list:
    """Insert a branching step (a ``noop`` whose ``next`` lists ``if``/``then`` branches)
    before position `index`. The steps that followed it in its list become its Else branch,
    as in Rasa Studio, so the flow keeps doing what it did when no condition holds."""
    tokens = parse_path(list_path)
    if is_placeholder(steps) and list_path == "steps":
        steps = []
    root = {"steps": copy.deepcopy(steps)}
    new = copy.deepcopy(step)
    branches = [b for b in new.get("next") or [] if "else" not in b]
    if len(tokens) == 1:
        target = root["steps"]
    else:
        branch = _walk(root, tokens[:-1])
        value = branch.get(tokens[-1]) if isinstance(branch, dict) else None
        if isinstance(value, str):
            new["next"] = [*branches, {"else": value}]
            branch[tokens[-1]] = [new]
            return root["steps"]
        target = value
    if not isinstance(target, list) or not 0 <= index <= len(target):
        raise StepPathError(f"no position {index} in {list_path}")
    rest = target[index:]
    del target[index:]
    if rest:
        last = rest[-1]
        if _is_root_list(tokens) and _falls_through(last):
            last["next"] = END
        otherwise: Any = rest
    elif target and isinstance(target[-1].get("next"), str):
        otherwise = target[-1].pop("next")
    else:
        given = next((b["else"] for b in new.get("next") or [] if "else" in b), END)
        otherwise = given if isinstance(given, str) else END
    new["next"] = [*branches, {"else": otherwise}]
    target.append(new)
    return root["steps"]


def ensure_id(steps: list, step_id: str, flow_id: str) -> list:
    """Make `step_id` an explicit id of its step (a jump to a generated id must name it, and
    generated ids change when steps are added before it). Unknown ids are left alone."""
    from engine.formats import iter_step_views, step_views

    result = copy.deepcopy(steps)
    for view in iter_step_views(step_views(result, flow_id)):
        if view.id == step_id and not view.explicit_id:
            rebuilt = {"id": step_id, **view.data}
            view.data.clear()
            view.data.update(rebuilt)
    return result


def set_end_target(steps: list, list_path: str, index: int, target: str) -> list:
    """Connect the end of a branch (or the gap at `index` of the list at `list_path`) to the
    step `target`: the step before the gap jumps there (a loop back or a merge)."""
    root = {"steps": copy.deepcopy(steps)}
    tokens = parse_path(list_path)
    if len(tokens) == 1:
        # The root sequence: the step before the gap jumps.
        if index == 0 or index > len(root["steps"]):
            raise StepPathError("nothing before this place to connect")
        root["steps"][index - 1]["next"] = target
        return root["steps"]
    container = root
    for token in tokens[:-1]:
        container = container[token]
    value = container[tokens[-1]]
    if isinstance(value, str) or index == 0:
        container[tokens[-1]] = target
    else:
        value[index - 1]["next"] = target
    return root["steps"]


def new_step_path(steps: list, list_path: str, index: int) -> str:
    """The path a step inserted at `index` of the list at `list_path` will have (where the
    problems of the new step are reported)."""
    if is_placeholder(steps):
        return "steps[0]"
    try:
        tokens = parse_path(list_path)
        value: Any = {"steps": steps}
        for token in tokens:
            value = value[token]
    except (KeyError, IndexError, TypeError, StepPathError):
        return f"{list_path}[{index}]"
    return f"{list_path}[0]" if isinstance(value, str) else f"{list_path}[{index}]"


def step_id_at(steps: list, path: str, flow_id: str) -> str:
    """The id of the step at `path`: its explicit ``id``, or the one Rasa generates for it
    (the flow id, the step's place in the flow and what it does)."""
    from engine.formats import iter_step_views, step_views

    get_step(steps, path)
    for view in iter_step_views(step_views(steps, flow_id)):
        if view.path == path:
            return view.id
    raise StepPathError(f"no step at {path}")


def step_label(step: dict) -> str:
    """A step as people name it: its kind and what it names (``message utter_greet``,
    ``collect pizza_size``, ``set slots a, b``)."""
    kind = step_type(step)
    if kind == "action":
        name = str(step["action"])
        return f"message {name}" if name.startswith("utter_") else f"custom action {name}"
    if kind in ("collect", "call"):
        return f"{kind} {step[kind]}"
    if kind == "link":
        return f"link to {step['link']}"
    if kind == "set_slots":
        names = [n for item in step.get("set_slots") or [] if isinstance(item, dict) for n in item]
        return "set slots " + ", ".join(names) if names else "set slots"
    if isinstance(step.get("next"), list):
        return "logic"
    return kind or "step"
