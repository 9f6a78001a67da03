"""Flow steps: the compact/expanded step forms, the step walk, a typed view over steps, and
the schema check of a step list.

Studio stores a flow's ``steps`` as ONE JSON document (lists, dicts, str, bool, numbers) in the
*compact* form that authors write: ids only on steps something jumps to (or that the author
named), ``next`` only where it is not the implicit "following step" / ``END``. Rasa's CLI uploads
the *expanded* form (every step with an ``id`` and a ``next``, collect defaults spelled out);
`compact_steps` and `expand_steps` convert between the two without changing the graph.

Step ids that Rasa generates look like ``<flow_id>_<index>_<postfix>``, where index counts steps
in pre-order (a step before the steps nested in its branches; `iter_steps` walks them in that
order) and postfix is the action name, ``collect_<slot>``, ``link_<flow>``, ``call_<flow>``,
``set_slots`` or ``noop``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.formats._check import Checker, describe
from engine.formats.errors import join_path

STEP_TYPES = ("action", "collect", "link", "call", "set_slots", "noop")
END = "END"

_COMMON_STEP_KEYS = ("id", "next", "description", "metadata")
STEP_KEYS: dict[str, tuple[str, ...]] = {
    "action": ("action", "id", "next", "metadata", "description"),
    "collect": (
        *_COMMON_STEP_KEYS,
        "collect",
        "utter",
        "ask_before_filling",
        "reset_after_flow_ends",
        "force_slot_filling",
        "rejections",
        "silence_timeout",
        "dtmf",
        "collect-tool-binding",
    ),
    "link": ("link", "id", "next", "description", "metadata"),
    "call": (*_COMMON_STEP_KEYS, "call", "mcp_server", "mapping", "exit_if"),
    "set_slots": (*_COMMON_STEP_KEYS, "set_slots"),
    "noop": (*_COMMON_STEP_KEYS, "noop"),
}
#: The step types whose schema in Rasa's flows schema allows keys of its own beyond the known
#: ones (no ``additionalProperties: false``): such keys are kept unchanged, with a warning. The
#: other types (action, collect, call) refuse unknown keys, as Rasa does.
OPEN_STEP_TYPES = ("link", "set_slots", "noop")


# --------------------------------------------------------------------------------------------
# Step helpers on plain JSON


def step_type(step: Any) -> str | None:
    """The type of a step dict (first of `STEP_TYPES` present, as Rasa checks), or None."""
    if not isinstance(step, dict):
        return None
    return next((t for t in STEP_TYPES if t in step), None)


def _postfix(step: dict[str, Any]) -> str:
    kind = step_type(step)
    if kind == "action":
        return str(step["action"])
    if kind in ("collect", "link", "call"):
        return f"{kind}_{step[kind]}"
    return kind or "step"


def _has_next(step: dict[str, Any]) -> bool:
    value = step.get("next")
    return value is not None and value != []


def _branch_target(branch: dict[str, Any]) -> tuple[str, Any] | None:
    if "else" in branch:
        return "else", branch["else"]
    if "then" in branch:
        return "then", branch["then"]
    return None


def _sequences(steps: list[Any], is_root: bool = True) -> Iterator[tuple[list[Any], bool]]:
    """Every step list in the tree (root first), with whether it is the root sequence."""
    yield steps, is_root
    for step in steps:
        if not isinstance(step, dict):
            continue
        nxt = step.get("next")
        if isinstance(nxt, list):
            for branch in nxt:
                if not isinstance(branch, dict):
                    continue
                target = _branch_target(branch)
                if target and isinstance(target[1], list):
                    yield from _sequences(target[1], False)


def iter_steps(steps: list[Any]) -> Iterator[dict[str, Any]]:
    """Every step dict of a step list, branches included, in pre-order (a step before the
    steps nested in its ``next`` branches)."""
    for step in steps:
        if not isinstance(step, dict):
            continue
        yield step
        nxt = step.get("next")
        if isinstance(nxt, list):
            for branch in nxt:
                if isinstance(branch, dict):
                    target = _branch_target(branch)
                    if target and isinstance(target[1], list):
                        yield from iter_steps(target[1])


def referenced_ids(steps: list[Any]) -> set[str]:
    """The step ids that ``next`` values and branch targets jump to (``END`` left out)."""
    found: set[str] = set()
    for step in iter_steps(steps):
        nxt = step.get("next")
        if isinstance(nxt, str):
            found.add(nxt)
        elif isinstance(nxt, list):
            for branch in nxt:
                if isinstance(branch, dict):
                    target = _branch_target(branch)
                    if target and isinstance(target[1], str):
                        found.add(target[1])
    found.discard(END)
    return found


def default_step_id(flow_id: str, index: int, step: dict[str, Any]) -> str:
    """The id Rasa gives an unnamed step."""
    return f"{flow_id}_{index}_{_postfix(step)}"


def _is_generated_id(step_id: str, index: int, step: dict[str, Any], flow_id: str | None) -> bool:
    suffix = f"_{index}_{_postfix(step)}"
    if flow_id is not None:
        return step_id == flow_id + suffix
    return step_id.endswith(suffix) and len(step_id) > len(suffix)


_COLLECT_DEFAULTS = {
    "ask_before_filling": False,
    "reset_after_flow_ends": True,
    "force_slot_filling": False,
    "rejections": [],
}


def compact_steps(steps: list[Any], flow_id: str | None = None) -> list[Any]:
    """The compact form of a step list (a new list; the input is not changed).

    Drops ``next`` where it is the implicit following step (or ``END`` after the last root step),
    generated ids that nothing jumps to, and collect options equal to their defaults. Ids an
    author chose are kept. Compacting a compact list returns an equal list. `flow_id`, when
    given, makes the recognition of generated ids exact.
    """
    steps = copy.deepcopy(steps)
    for sequence, is_root in _sequences(steps):
        for index, step in enumerate(sequence):
            if not isinstance(step, dict):
                continue
            if "next" in step and not _has_next(step):
                del step["next"]
            kind = step_type(step)
            if kind == "link" and step.get("next") == END:
                del step["next"]
            nxt = step.get("next")
            if isinstance(nxt, str) and kind != "noop":
                following = sequence[index + 1] if index + 1 < len(sequence) else None
                implicit = (isinstance(following, dict) and following.get("id") == nxt) or (
                    following is None and is_root and nxt == END
                )
                if implicit:
                    del step["next"]
            if kind == "collect":
                slot = step.get("collect")
                if step.get("utter") == f"utter_ask_{slot}":
                    del step["utter"]
                for key, default in _COLLECT_DEFAULTS.items():
                    if key in step and step[key] == default and type(step[key]) is type(default):
                        del step[key]
            for key in ("description", "metadata"):
                if key in step and step[key] is None:
                    del step[key]
    referenced = referenced_ids(steps)
    for index, step in enumerate(iter_steps(steps)):
        step_id = step.get("id")
        if (
            isinstance(step_id, str)
            and step_id not in referenced
            and step_type(step) is not None
            and _is_generated_id(step_id, index, step, flow_id)
        ):
            del step["id"]
    return steps


def expand_steps(steps: list[Any], flow_id: str = "flow") -> list[Any]:
    """The expanded form: every step with an ``id`` and a ``next``, collect defaults explicit.

    The last step of a nested branch keeps whatever ``next`` it has (it must have one), and
    ``link`` steps never get a ``next``.
    """
    steps = copy.deepcopy(steps)
    for index, step in enumerate(iter_steps(steps)):
        if "id" not in step or step["id"] is None:
            step["id"] = default_step_id(flow_id, index, step)
    for sequence, is_root in _sequences(steps):
        for index, step in enumerate(sequence):
            if not isinstance(step, dict):
                continue
            kind = step_type(step)
            if "next" in step and not _has_next(step):
                del step["next"]
            if kind == "link" or _has_next(step):
                continue
            if index + 1 < len(sequence) and isinstance(sequence[index + 1], dict):
                step["next"] = sequence[index + 1]["id"]
            elif is_root:
                step["next"] = END
    for step in iter_steps(steps):
        if step_type(step) == "collect":
            step.setdefault("utter", f"utter_ask_{step['collect']}")
            for key, default in _COLLECT_DEFAULTS.items():
                step.setdefault(key, copy.copy(default))
    return steps


def is_compact(steps: list[Any], flow_id: str | None = None) -> bool:
    """Whether `compact_steps` would leave the list unchanged."""
    return compact_steps(steps, flow_id) == steps


# --------------------------------------------------------------------------------------------
# Typed view


@dataclass
class BranchView:
    """One item of a ``next`` list: `condition` is None for ``else``."""

    path: str
    condition: str | bool | None
    target: str | None = None
    steps: list[StepView] | None = None


@dataclass
class StepView:
    """A read-only typed view of one step dict, for validation and execution.

    `target` is the action, slot, or flow the step names (None for set_slots/noop); `id` is the
    explicit or generated id; `path` is relative to the flow (``steps[1].next[0].then[0]``).
    """

    kind: str
    id: str
    explicit_id: bool
    target: str | None
    data: dict[str, Any]
    path: str
    index: int
    is_root: bool
    is_last: bool
    next: str | None = None
    branches: list[BranchView] | None = None

    @property
    def set_slots(self) -> list[tuple[str, Any]]:
        items = self.data.get("set_slots") if self.kind == "set_slots" else None
        out: list[tuple[str, Any]] = []
        for item in items or []:
            if isinstance(item, dict):
                out.extend(item.items())
        return out


def step_views(steps: list[Any], flow_id: str = "flow") -> list[StepView]:
    """Typed views of a (structurally valid) step list; malformed steps are skipped."""
    counter = iter(range(1_000_000))
    return _views(steps, "steps", flow_id, counter, True)


def _views(
    steps: list[Any], path: str, flow_id: str, counter: Iterator[int], is_root: bool
) -> list[StepView]:
    views: list[StepView] = []
    if not isinstance(steps, list):
        return views
    for index, step in enumerate(steps):
        kind = step_type(step)
        if kind is None:
            continue
        order = next(counter)
        step_path = join_path(path, index)
        explicit = isinstance(step.get("id"), str)
        view = StepView(
            kind=kind,
            id=step["id"] if explicit else default_step_id(flow_id, order, step),
            explicit_id=explicit,
            target=step.get(kind) if kind in ("action", "collect", "link", "call") else None,
            data=step,
            path=step_path,
            index=index,
            is_root=is_root,
            is_last=index == len(steps) - 1,
        )
        nxt = step.get("next")
        if isinstance(nxt, str):
            view.next = nxt
        elif isinstance(nxt, list) and nxt:
            view.branches = []
            for b_index, branch in enumerate(nxt):
                if not isinstance(branch, dict):
                    continue
                b_path = join_path(step_path, "next", b_index)
                target = _branch_target(branch)
                if target is None:
                    continue
                key, value = target
                bview = BranchView(
                    path=b_path, condition=None if key == "else" else branch.get("if")
                )
                if isinstance(value, str):
                    bview.target = value
                elif isinstance(value, list):
                    bview.steps = _views(value, join_path(b_path, key), flow_id, counter, False)
                view.branches.append(bview)
        views.append(view)
    return views


def iter_step_views(views: list[StepView]) -> Iterator[StepView]:
    """All step views in pre-order."""
    for view in views:
        yield view
        for branch in view.branches or []:
            if branch.steps:
                yield from iter_step_views(branch.steps)


# --------------------------------------------------------------------------------------------
# Schema check of a step list


def check_steps(steps: Any, check: Checker, path: str, *, nested: bool = False) -> None:
    """Report schema problems in a step list (`path` is the full key path of the list)."""
    items = check.seq(steps, path, "steps")
    if items is None:
        return
    if not items:
        check.error(path, "a step list must not be empty")
    for index, step in enumerate(items):
        _check_step(step, check, join_path(path, index))


def _check_step(step: Any, check: Checker, path: str) -> None:
    body = check.mapping(step, path, "a step")
    if body is None:
        return
    kinds = [t for t in STEP_TYPES if t in body]
    if not kinds:
        keys = ", ".join(str(k) for k in body) or "none"
        check.error(
            path,
            f"unknown step type: a step needs exactly one of {', '.join(STEP_TYPES)} "
            f"(found keys: {keys})",
        )
        return
    if len(kinds) > 1:
        check.error(path, f"a step can only be one type, but this one has {' and '.join(kinds)}")
        return
    kind = kinds[0]
    if kind in OPEN_STEP_TYPES:
        _keep_extra_keys(body, check, path, STEP_KEYS[kind], f"a {kind} step")
    else:
        article = "an" if kind == "action" else "a"
        check.keys(body, path, STEP_KEYS[kind], what=f"{article} {kind} step")
    value = body[kind]
    kind_path = join_path(path, kind)
    if kind in ("action", "collect", "link", "call"):
        check.string(value, kind_path, f"the {kind} name")
    elif kind == "set_slots":
        _check_set_slots(value, check, kind_path)
    elif kind == "noop" and value is not True:
        check.error(kind_path, f"noop must be true, not {describe(value)}")
    for key in ("id", "description", "utter", "mcp_server"):
        if key in body:
            check.string(body[key], join_path(path, key), key)
    for key in ("ask_before_filling", "reset_after_flow_ends", "force_slot_filling"):
        if key in body:
            check.boolean(body[key], join_path(path, key), key)
    if "metadata" in body and body["metadata"] is not None:
        check.mapping(body["metadata"], join_path(path, "metadata"), "metadata")
    if "rejections" in body:
        _check_rejections(body["rejections"], check, join_path(path, "rejections"))
    if "exit_if" in body:
        check.str_list(body["exit_if"], join_path(path, "exit_if"), "exit_if")
    if "silence_timeout" in body and not isinstance(body["silence_timeout"], (int, float, dict)):
        check.error(
            join_path(path, "silence_timeout"), "silence_timeout must be a number or a mapping"
        )
    if kind == "call":
        _check_call_keys(body, check, path)
    has_next = _has_next(body)
    if kind == "noop" and not has_next:
        check.error(path, "a noop step must have a 'next'")
    if kind == "link" and has_next and body.get("next") != END:
        check.error(
            join_path(path, "next"),
            "a link step cannot have a 'next': it hands over to the linked flow",
        )
    if "next" in body and body["next"] is not None:
        _check_next(body["next"], check, join_path(path, "next"))


def _keep_extra_keys(
    body: dict[Any, Any],
    check: Checker,
    path: str,
    known: tuple[str, ...],
    what: str,
    *,
    note: dict[str, str] | None = None,
) -> None:
    """Warn about keys that Rasa's flows schema allows in `what` but Studio does not read: they
    are stored and exported unchanged. `note` gives a key-specific explanation."""
    for key in body:
        if key in known:
            continue
        reason = (note or {}).get(str(key)) or "Studio does not use it"
        check.warning(
            join_path(path, str(key)),
            f"key '{key}' in {what} is kept unchanged: {reason} (known keys: {', '.join(known)})",
        )


_REJECTION_NOTES = {
    "then": "neither Rasa nor the built-in engine follows it (after a rejection the slot is "
    "asked again)",
}


def _check_call_keys(body: dict[str, Any], check: Checker, path: str) -> None:
    """The keys of a call of an MCP tool (``mcp_server`` with ``mapping``) or of a sub-agent
    (``exit_if``), as Rasa's flows schema has them."""
    if ("mcp_server" in body) != ("mapping" in body):
        check.error(path, "a call step needs 'mcp_server' and 'mapping' together")
    if "mapping" in body:
        _check_mapping(body["mapping"], check, join_path(path, "mapping"))
    if "exit_if" in body and ("mcp_server" in body or "mapping" in body):
        check.error(
            join_path(path, "exit_if"),
            "a call step with 'exit_if' calls a sub-agent: it cannot also have "
            "'mcp_server' or 'mapping'",
        )


#: The keys of the items of an MCP tool mapping's ``input`` and ``output`` lists.
_MAPPING_ITEM_KEYS = {"input": ("slot", "param"), "output": ("slot", "value")}


def _check_mapping(value: Any, check: Checker, path: str) -> None:
    spec = check.mapping(value, path, "the MCP tool mapping")
    if spec is None:
        return
    check.keys(spec, path, ("input", "output"), what="a mapping", required=("input", "output"))
    for key, item_keys in _MAPPING_ITEM_KEYS.items():
        if key not in spec:
            continue
        items = check.seq(spec[key], join_path(path, key), f"mapping {key}")
        if items is None:
            continue
        for item, item_path in check.mappings(items, join_path(path, key), f"a mapping {key}"):
            check.keys(item, item_path, item_keys, what=f"a mapping {key}", required=item_keys)
            for name in item_keys:
                if name in item:
                    check.string(item[name], join_path(item_path, name), name)


def _check_set_slots(value: Any, check: Checker, path: str) -> None:
    items = check.seq(value, path, "set_slots")
    if items is None:
        return
    for index, item in enumerate(items):
        item_path = join_path(path, index)
        if not isinstance(item, dict) or len(item) != 1:
            check.error(
                item_path,
                f"each set_slots item must be a single 'slot: value' pair, not {describe(item)}",
            )
        elif not isinstance(next(iter(item)), str):
            check.error(item_path, "a slot name in set_slots must be a string")


def _check_rejections(value: Any, check: Checker, path: str) -> None:
    items = check.seq(value, path, "rejections")
    if items is None:
        return
    for spec, item_path in check.mappings(items, path, "a rejection"):
        # Rasa's schema allows other keys in a rejection (its own templates write `then`).
        check.keys(
            spec, item_path, (), what="a rejection", required=("if", "utter"), unknown="ignore"
        )
        _keep_extra_keys(
            spec, check, item_path, ("if", "utter"), "a rejection", note=_REJECTION_NOTES
        )
        if "if" in spec and not isinstance(spec["if"], (str, bool)):
            check.error(
                join_path(item_path, "if"),
                f"a rejection condition must be a string, not {describe(spec['if'])}",
            )
        if "utter" in spec:
            check.string(spec["utter"], join_path(item_path, "utter"), "utter")


def _check_next(value: Any, check: Checker, path: str) -> None:
    if isinstance(value, str):
        if not value.strip():
            check.error(path, "next must name a step id or END")
        return
    items = check.seq(value, path, "next (a step id, END, or a list of if/then/else branches)")
    if items is None:
        return
    if not items:
        return
    for index, branch in enumerate(items):
        b_path = join_path(path, index)
        spec = check.mapping(branch, b_path, "a next branch ({if, then} or {else})")
        if spec is None:
            continue
        if "else" in spec:
            _check_else_branch(spec, check, b_path, is_last=index == len(items) - 1)
        elif "if" in spec or "then" in spec:
            check.keys(
                spec, b_path, (), what="an if branch", required=("if", "then"), unknown="ignore"
            )
            # Rasa's schema allows other keys in a branch; Rasa ignores them, Studio keeps them.
            _keep_extra_keys(
                spec, check, b_path, ("if", "then"), "an if branch", note=_BRANCH_NOTES
            )
            if "if" in spec and not isinstance(spec["if"], (str, bool)):
                check.error(
                    join_path(b_path, "if"),
                    f"a condition must be a string, not {describe(spec['if'])}",
                )
            if "then" in spec:
                _check_target(spec["then"], check, join_path(b_path, "then"))
        else:
            check.error(b_path, "a next branch needs 'if' and 'then', or 'else'")
    last = items[-1]
    if not (isinstance(last, dict) and "else" in last):
        # Rasa refuses a conditional next without an else: the flow would have no way on.
        check.error(path, "a list of branches must end with an 'else' branch")


_BRANCH_NOTES = {"next": "Rasa ignores it (the branch's target decides where the flow goes)"}


def _check_else_branch(spec: dict[Any, Any], check: Checker, path: str, *, is_last: bool) -> None:
    if "if" in spec:
        # Rasa reads a branch with an `if` as an if branch, and refuses one that also has `else`.
        check.error(
            join_path(path, "if"),
            "a branch cannot have both 'if' and 'else': give the else branch its own item",
        )
    # Rasa's flows schema allows a `next` (and other keys) beside `else`; Rasa ignores them and
    # Studio keeps them. A sibling `next` is common, so it is kept without a warning.
    extra = {k: v for k, v in spec.items() if k not in ("if", "next")}
    _keep_extra_keys(extra, check, path, ("else",), "an else branch", note=_BRANCH_NOTES)
    if not is_last:
        check.error(path, "the 'else' branch must be the last item of 'next'")
    _check_target(spec["else"], check, join_path(path, "else"))


def _check_target(value: Any, check: Checker, path: str) -> None:
    if isinstance(value, str):
        if not value.strip():
            check.error(path, "a branch target must be a step id, END, or a list of steps")
        return
    if isinstance(value, list):
        check_steps(value, check, path, nested=True)
        return
    check.error(
        path, f"a branch target must be a step id, END, or a list of steps, not {describe(value)}"
    )
