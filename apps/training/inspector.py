"""What the inspector of Try your assistant shows, read from a bot's tracker (Rasa's shape).

CALM assistants show their commands and flow stack; classic ones (policies, forms, retrieval
intents) show, for each action, the policy that chose it with its confidence, the other
policies' guesses and the ranking (``metadata.prediction`` of the action event), the active
form and its requested slot, and for each message the response selector's choice, an
``nlu_fallback`` for what it is, and the coexistence router's decision."""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
from jsonpointer import JsonPointerException

from apps.projects.quick_replies import shown_user_text

# Slots Rasa keeps for itself: their values are internal state, shown in the tracker JSON only.
INTERNAL_SLOTS = frozenset({"dialogue_stack", "flow_hashes", "session_started_metadata"})

# Events that only move the dialogue stack or wait for the user: the stack and the turn's other
# events already say what happened.
QUIET_EVENTS = frozenset({"stack", "user", "user_featurization"})
QUIET_ACTIONS = frozenset({"action_listen"})

#: The intent Rasa's FallbackClassifier predicts when the NLU is not confident enough.
NLU_FALLBACK = "nlu_fallback"
#: The slot a form fills next (Rasa adds it to every domain that has forms).
REQUESTED_SLOT = "requested_slot"
#: How many entries of a policy's or a response selector's ranking are shown.
RANKING_SHOWN = 5

FLOW_EVENTS = {
    "flow_started": "flow started",
    "flow_completed": "flow completed",
    "flow_interrupted": "flow interrupted",
    "flow_resumed": "flow resumed",
    "flow_cancelled": "flow cancelled",
}


def show_value(value: Any) -> str:
    """A slot value as a person reads it: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def turns_of(tracker: dict) -> list[dict]:
    """The conversation as turns: each user message with what the bot said and did after it."""
    turns: list[dict] = []
    current: dict[str, Any] = {"user": None, "bot": [], "events": []}
    for event in _sequence(_mapping(tracker).get("events")):
        if not isinstance(event, dict):
            continue
        if event.get("event") == "user":
            if current["user"] or current["bot"] or current["events"]:
                turns.append(current)
            current = {"user": event, "bot": [], "events": [event]}
            continue
        current["events"].append(event)
        if event.get("event") == "bot":
            current["bot"].append(event)
    if current["user"] or current["bot"]:
        turns.append(current)
    previous_bot: list[dict] = []
    form: list[str] = []  # the form that runs, across turns, to name the one that ends
    stack = StackReplay()
    for turn in turns:
        turn["steps"] = stack.steps_of(turn["events"])
        turn["shown"] = shown_user_text(turn["user"], previous_bot) if turn["user"] else ""
        previous_bot = turn["bot"]
        turn["lines"] = _named_form_ends(
            [line for line in map(describe_event, turn["events"]) if line], form
        )
        parse = _mapping((turn["user"] or {}).get("parse_data"))
        turn["intent"] = _mapping(parse.get("intent"))
        turn["ranking"] = [r for r in _sequence(parse.get("intent_ranking")) if _is_map(r)][:5]
        turn["entities"] = [e for e in _sequence(parse.get("entities")) if _is_map(e)]
        turn["commands"] = command_lines(parse.get("commands"))
        turn["prompts"] = [p for p in _sequence(parse.get("prompts")) if _is_map(p)]
        turn["fallback"] = nlu_fallback(parse)
        turn["selections"] = response_selections(parse)
        turn["retrieval"] = retrieval_key(turn["intent"], turn["selections"])
        turn["unused_selections"] = [sel for sel in turn["selections"] if not sel["used"]]
        turn["routing"] = routing_of(parse)
    return turns


class StackReplay:
    """The dialogue stack as the tracker's ``stack`` events build it (JSON patches, as Rasa
    writes them), to tell which flow steps ran: a step ran when a frame moved to it."""

    MARKERS = ("START", "END")

    def __init__(self) -> None:
        self.frames: list[Any] = []

    def steps_of(self, events: list[dict]) -> list[dict]:
        """The steps that ran during `events`, in order: ``{"flow", "step"}`` each."""
        ran: list[dict] = []
        for event in events:
            if event.get("event") in ("restart", "session_started"):
                self.frames = []
            if event.get("event") != "stack":
                continue
            before = self._positions()
            self._apply(event.get("update"))
            for position in self._positions() - before:
                flow, step = position[1:]
                if step not in self.MARKERS:
                    ran.append({"flow": flow, "step": step})
        return ran

    def _positions(self) -> set[tuple[str, str, str]]:
        # A frame is known by its frame_id (Rasa gives each one), else by its place.
        return {
            (
                str(frame.get("frame_id") or index),
                str(frame.get("flow_id")),
                str(frame.get("step_id")),
            )
            for index, frame in enumerate(self.frames)
            if isinstance(frame, dict) and frame.get("flow_id") and frame.get("step_id")
        }

    def _apply(self, update: Any) -> None:
        try:
            ops = json.loads(update) if isinstance(update, str) else update
            self.frames = jsonpatch.apply_patch(self.frames, ops or [])
        except (ValueError, TypeError, jsonpatch.JsonPatchException, JsonPointerException):
            pass  # a patch this stack cannot take (a partial tracker): keep what there was


def path_of(turns: list[dict]) -> dict[str, list[str]]:
    """The ids of the steps each flow ran over these turns, in the order they first ran (the
    canvas's live path)."""
    path: dict[str, dict[str, None]] = {}
    for turn in turns:
        for step in turn["steps"]:
            path.setdefault(step["flow"], {}).setdefault(step["step"])
    return {flow: list(steps) for flow, steps in path.items()}


def steps_ran(tracker: dict, flow: str) -> list[str]:
    """The ids of the steps of `flow` the whole conversation ran."""
    return path_of(turns_of(tracker)).get(flow, [])


def _named_form_ends(lines: list[dict], form: list[str]) -> list[dict]:
    """Name the form in each "form ended" line (Rasa's deactivating ``active_loop`` event has
    no name): the one the last "form started" line activated. `form` carries it over turns."""
    for line in lines:
        if line["kind"] == "form started":
            form[:] = [line["text"]]
        elif line["kind"] == "form ended" and form:
            line["text"] = form.pop()
    return lines


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def nlu_fallback(parse: dict) -> dict | None:
    """For a message the FallbackClassifier turned into ``nlu_fallback``: its threshold (the
    confidence it gives the fallback intent) and the intent the NLU would have predicted, from
    the ranking (where the fallback intent is inserted first). None for any other message."""
    intent = _mapping(parse.get("intent"))
    if intent.get("name") != NLU_FALLBACK:
        return None
    best: dict = next(
        (
            r
            for r in _sequence(parse.get("intent_ranking"))
            if _is_map(r) and r.get("name") != NLU_FALLBACK
        ),
        {},
    )
    return {
        "threshold": _number(intent.get("confidence")),
        "best": best.get("name") if isinstance(best.get("name"), str) else "",
        "best_confidence": _number(best.get("confidence")),
    }


def response_selections(parse: dict) -> list[dict]:
    """The response selector's choice for each retrieval intent it answers for
    (``parse_data["response_selector"]``, Rasa's shape): the key (``chitchat``, or
    ``default`` for a selector trained on all of them), the chosen ``intent_response_key``, its
    confidence and response action, the first response text, and the ranking. Every selector
    answers every message; `used` says whether this one answers the message's intent."""
    selector = _mapping(parse.get("response_selector"))
    intent = _mapping(parse.get("intent")).get("name")
    selections = []
    for key, value in selector.items():
        if key == "all_retrieval_intents" or not isinstance(value, dict):
            continue
        response = _mapping(value.get("response"))
        texts = [
            r.get("text")
            for r in _sequence(response.get("responses"))
            if _is_map(r) and isinstance(r.get("text"), str)
        ]
        response_key = str(response.get("intent_response_key") or "")
        selections.append(
            {
                "retrieval_intent": str(key),
                "used": _answers(intent, str(key), response_key),
                "intent_response_key": response_key,
                "confidence": _number(response.get("confidence")),
                "utter_action": str(response.get("utter_action") or ""),
                "text": texts[0] if texts else "",
                "ranking": [
                    {
                        "intent_response_key": str(r.get("intent_response_key") or ""),
                        "confidence": _number(r.get("confidence")),
                    }
                    for r in _sequence(value.get("ranking"))[:RANKING_SHOWN]
                    if _is_map(r)
                ],
            }
        )
    return selections


def _answers(intent: Any, selector_key: str, response_key: str) -> bool:
    """Whether a selector answers the retrieval intent `intent`: its own key is the intent, or
    it is the ``default`` selector and chose a response of that intent (``chitchat/...``)."""
    if not isinstance(intent, str) or not intent:
        return False
    return selector_key == intent or (
        selector_key == "default" and response_key.startswith(intent + "/")
    )


def retrieval_key(intent: dict, selections: list[dict]) -> str:
    """``chitchat/ask_name`` for a message whose intent is the retrieval intent ``chitchat``:
    the intent's ``full_retrieval_intent_name`` (as Rasa's ResponseSelector sets it), else the
    response the selector that answers the intent chose; "" for any other message."""
    full = intent.get("full_retrieval_intent_name")
    if isinstance(full, str) and full:
        return full
    return next((str(s["intent_response_key"]) for s in selections if s["used"]), "")


def routing_of(parse: dict) -> dict | None:
    """The coexistence router's decision for the message (``parse_data["routing"]``):
    {"router", "route" ("calm" or "nlu"), "reason"}; None when no router decided."""
    routing = _mapping(parse.get("routing"))
    if not routing:
        return None
    route = routing.get("route")
    return {
        "router": str(routing.get("router") or "router"),
        "route": route if isinstance(route, str) else "",
        "shown_route": {"calm": "CALM flows", "nlu": "stories and rules (NLU)"}.get(
            str(route), show_value(route)
        ),
        "reason": str(routing.get("reason") or ""),
    }


def _is_map(value: Any) -> bool:
    return isinstance(value, dict)


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list:
    return value if isinstance(value, list) else []


#: Keys of a command that are shown as its subject, in this order, before any other keys.
_COMMAND_SUBJECTS = ("flow", "name")
_COMMAND_SKIPPED = frozenset({"command", "generator"})


def command_lines(commands: Any) -> list[dict]:
    """The commands a turn's message was understood as (``parse_data["commands"]``: a list of
    {"command": "set slot", "name": ..., "value": ..., "generator": ...}), each as
    {"text": "set slot amount = 50", "generator": "CompactLLMCommandGenerator"}. Anything of
    another shape is shown as it is, never an error."""
    lines = []
    for command in _sequence(commands):
        if not isinstance(command, dict):
            lines.append({"text": show_value(command), "generator": ""})
            continue
        generator = command.get("generator")
        lines.append(
            {
                "text": describe_command(command),
                "generator": generator if isinstance(generator, str) else "",
            }
        )
    return lines


def describe_command(command: dict) -> str:
    """``start flow transfer_money``, ``set slot amount = 50``, ``clarify options: a, b``..."""
    name = command.get("command")
    parts = [name if isinstance(name, str) and name else "command"]
    for key in _COMMAND_SUBJECTS:
        if key in command and command[key] not in (None, ""):
            parts.append(show_value(command[key]))
    if "value" in command:
        parts.append(f"= {show_value(command['value'])}")
    for key, value in command.items():
        if key in _COMMAND_SKIPPED or key in _COMMAND_SUBJECTS or key == "value":
            continue
        parts.append(f"{key}: {_show_argument(value)}")
    return " ".join(parts)


def _show_argument(value: Any) -> str:
    """A command's other argument: a list of names as ``a, b``; slot pairs as ``a = 1``."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value) or "none"
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return ", ".join(f"{v['name']} = {show_value(v.get('value'))}" for v in value)
    return show_value(value)


def describe_event(event: dict) -> dict | None:
    """One event as a line of the inspector ({"kind", "text"}), or None for bookkeeping."""
    kind = event.get("event")
    kind = kind if isinstance(kind, str) else ""
    if kind == "stack":
        reason = pattern_reason(event)
        return {"kind": "reason", "text": reason} if reason else None
    if kind in QUIET_EVENTS:
        return None
    if kind == "action":
        name = event.get("name") or ""
        if name in QUIET_ACTIONS:
            return None
        return {"kind": "action", "text": name, **prediction_of(event)}
    if kind == "bot":
        return {"kind": "bot", "text": event.get("text") or "(no text)"}
    if kind == "slot":
        return {
            "kind": "slot",
            "text": f"{event.get('name')} = {show_value(event.get('value'))}",
        }
    if kind in FLOW_EVENTS:
        return {"kind": FLOW_EVENTS[kind], "text": event.get("flow_id") or ""}
    if kind in CLASSIC_EVENTS:
        return CLASSIC_EVENTS[kind](event)
    return {"kind": kind.replace("_", " "), "text": event.get("name") or ""}


def _policy_guess(entry: dict) -> dict:
    action = entry.get("action")
    return {
        "policy": str(entry.get("policy") or ""),
        "action": action if isinstance(action, str) else "",
        "confidence": _number(entry.get("confidence")),
    }


def prediction_of(event: dict) -> dict:
    """What chose an action (Rasa's ``policy`` and ``confidence`` of the action event) and,
    when the engine recorded it (``metadata.prediction``), the ranking of actions and every
    configured policy's own best guess. Empty for an action no policy chose."""
    shown: dict[str, Any] = {}
    if isinstance(event.get("policy"), str) and event["policy"]:
        shown["policy"] = event["policy"]
    confidence = _number(event.get("confidence"))
    if confidence is not None:
        shown["confidence"] = confidence
    prediction = _mapping(_mapping(event.get("metadata")).get("prediction"))
    ranking = [
        {"action": str(r.get("action") or ""), "confidence": _number(r.get("confidence"))}
        for r in _sequence(prediction.get("ranking"))[:RANKING_SHOWN]
        if _is_map(r)
    ]
    if ranking:
        shown["ranking"] = ranking
    policies = [_policy_guess(p) for p in _sequence(prediction.get("policies")) if _is_map(p)]
    if policies:
        shown["policies"] = policies
    if event.get("hide_rule_turn") is True:
        shown["rule_turn"] = True
    return shown


def _active_loop(event: dict) -> dict:
    name = event.get("name")
    if name:
        return {"kind": "form started", "text": str(name)}
    return {"kind": "form ended", "text": ""}


def _rejected(event: dict) -> dict:
    """An action that refused to run (a form whose validation rejected the message), with
    the policy that had predicted it."""
    text = f"{event.get('name') or '?'} refused to run"
    return {"kind": "rejected", "text": text, **prediction_of(event)}


def _loop_interrupted(event: dict) -> dict:
    if event.get("is_interrupted"):
        return {"kind": "form interrupted", "text": "the form does not validate this message"}
    return {"kind": "form continues", "text": "the form validates this message"}


def _reminder(event: dict) -> dict:
    name = event.get("name") or "unnamed"
    return {
        "kind": "reminder set",
        "text": f"{name}: {event.get('intent') or '?'} at {event.get('date_time') or '?'}",
    }


def _reminder_cancelled(event: dict) -> dict:
    keys = ("name", "intent", "entities")
    what = [f"{key} {show_value(event[key])}" for key in keys if event.get(key)]
    return {"kind": "reminder cancelled", "text": ", ".join(what) or "all reminders"}


#: How the events of classic (policy-run) conversations read, by event type.
CLASSIC_EVENTS = {
    "active_loop": _active_loop,
    "action_execution_rejected": _rejected,
    "loop_interrupted": _loop_interrupted,
    "followup": lambda e: {"kind": "followup", "text": e.get("name") or ""},
    "reminder": _reminder,
    "cancel_reminder": _reminder_cancelled,
    "rewind": lambda e: {"kind": "rewind", "text": "the last user message is reverted"},
    "undo": lambda e: {"kind": "undo", "text": "the last action is reverted"},
    "restart": lambda e: {"kind": "restart", "text": "the conversation starts over"},
    "reset_slots": lambda e: {"kind": "slots reset", "text": "all slots to initial values"},
}


def pattern_reason(event: dict) -> str | None:
    """The reason a ``stack`` event gives for the pattern it pushes (pattern_internal_error
    says why a step could not run), as "pattern: reason"; None when it gives none."""
    try:
        ops = json.loads(event.get("update") or "[]")
    except (TypeError, ValueError):
        return None
    for op in ops if isinstance(ops, list) else []:
        value = op.get("value") if isinstance(op, dict) and op.get("op") == "add" else None
        if isinstance(value, dict) and isinstance(value.get("reason"), str):
            return f"{value.get('flow_id')}: {value['reason']}"
    return None


def slot_rows(tracker: dict) -> list[dict]:
    """The assistant's slots with their values: set ones first, in the tracker's order."""
    rows = [
        {"name": name, "value": show_value(value), "is_set": value is not None}
        for name, value in _mapping(_mapping(tracker).get("slots")).items()
        if name not in INTERNAL_SLOTS
    ]
    return sorted(rows, key=lambda row: not row["is_set"])


def stack_frames(tracker: dict) -> list[dict]:
    """The dialogue stack, top (the flow that runs now) first."""
    frames = []
    for frame in reversed(_sequence(_mapping(tracker).get("stack"))):
        if not isinstance(frame, dict):
            continue
        flow = frame.get("flow_id") or frame.get("type") or "?"
        detail = ""
        if frame.get("collect"):
            detail = f"asking for {frame['collect']}"
        frames.append(
            {
                "flow": flow,
                "step": frame.get("step_id") or "",
                "is_pattern": str(flow).startswith("pattern_"),
                "detail": detail,
            }
        )
    return frames


def active_form(tracker: dict) -> dict | None:
    """The form that runs now (the tracker's ``active_loop``) and the slot it asks for
    (``requested_slot``); None when no form is active."""
    tracker = _mapping(tracker)
    name = _mapping(tracker.get("active_loop")).get("name")
    if not name:
        return None
    requested = _mapping(tracker.get("slots")).get(REQUESTED_SLOT)
    return {"name": str(name), "requested_slot": requested if isinstance(requested, str) else ""}
