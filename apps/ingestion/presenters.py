"""How each kind of event shows in the conversation view (plain data for the template)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from apps.projects.quick_replies import shown_user_text
from engine import formats

FLOW_VERBS = {
    "flow_started": "started",
    "flow_interrupted": "interrupted",
    "flow_resumed": "resumed",
    "flow_completed": "completed",
    "flow_cancelled": "cancelled",
}
# Shown only when "all events" is on: bookkeeping a reader rarely needs.
QUIET_TYPES = {"stack", "user_featurization", "bot_turn_ended"}
#: The intent Rasa's FallbackClassifier predicts when the NLU is not confident enough.
NLU_FALLBACK = "nlu_fallback"
#: Events that take back what came before them (Rasa's UserUtteranceReverted and
#: ActionReverted): the type of event they revert back to, inclusive.
REVERTS = {"rewind": "user", "undo": "action"}


@dataclass
class Item:
    kind: str  # user, bot, slot, flow, action, session, other
    event: Any
    text: str = ""
    intent: str = ""
    confidence: float | None = None
    ranking: list[dict] = field(default_factory=list)
    entities: list[dict] = field(default_factory=list)
    buttons: list[dict] = field(default_factory=list)
    name: str = ""
    value: str = ""
    verb: str = ""
    quiet: bool = False
    payload: str = ""  # what a quick-reply click sent, when `text` shows the button's title
    policy: str = ""  # the policy that predicted an action (or a rejected one)
    fallback: bool = False  # the message's intent is nlu_fallback
    selections: list[dict] = field(default_factory=list)  # the response selector's choices
    routing: dict = field(default_factory=dict)  # the coexistence router's decision
    reverted: bool = False  # a later rewind or undo took it back

    @property
    def raw(self) -> str:
        return json.dumps(self.event.data, indent=2, ensure_ascii=False, sort_keys=True)


class ShownInUtc(datetime):
    """A moment so close to the calendar's ends (0001-01-01, 9999-12-31) that it has no local
    time in the current zone: templates show it in UTC instead of failing to convert it."""

    convert_to_local_time = False


def displayable(value):
    """`value` if it converts to local time, else the same moment in UTC as a ShownInUtc.
    Rows stored before ingestion refused such timestamps still show."""
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return value
    try:
        timezone.localtime(value)
    except OverflowError:
        utc = value.astimezone(UTC)
        return ShownInUtc(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)
    return value


def displayable_conversation(conversation):
    """The conversation, its times made displayable (for the list and the detail page)."""
    for name in ("started_at", "last_event_at", "reviewed_at"):
        setattr(conversation, name, displayable(getattr(conversation, name)))
    return conversation


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _selections(parse: dict) -> list[dict]:
    """The response the selector chose for the message's retrieval intent
    (``parse_data.response_selector`` in Rasa's shape): its ``intent_response_key`` and
    confidence. Rasa runs every selector on every message; only the one that answers the
    intent (its own key, or ``default`` with a response of that intent) is shown."""
    intent = _dict(parse.get("intent")).get("name")
    shown = []
    for key, value in _dict(parse.get("response_selector")).items():
        response = _dict(_dict(value).get("response"))
        if key == "all_retrieval_intents" or not response or not isinstance(intent, str):
            continue
        chosen = str(response.get("intent_response_key") or "")
        if key != intent and not (key == "default" and chosen.startswith(intent + "/")):
            continue
        shown.append(
            {
                "key": str(response.get("intent_response_key") or key),
                "confidence": _number(response.get("confidence")),
            }
        )
    return shown


def _routing(parse: dict) -> dict:
    routing = _dict(parse.get("routing"))
    if not routing:
        return {}
    route = routing.get("route")
    return {
        "router": str(routing.get("router") or "router"),
        "route": {"calm": "CALM", "nlu": "NLU"}.get(str(route), str(route or "?")),
        "reason": str(routing.get("reason") or ""),
    }


def _present_user(event, data: dict) -> Item:
    parse = _dict(data.get("parse_data"))
    ranking = [
        {"name": str(_dict(r).get("name", "")), "confidence": _dict(r).get("confidence")}
        for r in _list(parse.get("intent_ranking"))[:5]
    ]
    entities = [
        {
            "entity": str(_dict(e).get("entity", "")),
            "value": _dict(e).get("value"),
            "role": _dict(e).get("role"),
        }
        for e in _list(parse.get("entities"))
    ]
    return Item(
        "user",
        event,
        text=event.text,
        intent=event.intent,
        confidence=event.confidence,
        ranking=ranking,
        entities=entities,
        fallback=event.intent == NLU_FALLBACK,
        selections=_selections(parse),
        routing=_routing(parse),
    )


def _present_predicted(kind: str, event, data: dict) -> Item:
    """An action, or an action that refused to run, with the policy that predicted it."""
    return Item(
        kind,
        event,
        name=event.action_name,
        policy=_text(data.get("policy")),
        confidence=_number(data.get("confidence")),
        quiet=kind == "action" and event.action_name == "action_listen",
    )


def _present_loop(event, data: dict) -> Item:
    """A form (an active loop) starting, or the active one ending (``name`` null)."""
    name = data.get("name")
    if name:
        return Item("loop", event, name=str(name), verb="started")
    return Item("loop", event, verb="ended")


def _present_reminder(event, data: dict) -> Item:
    if event.type == "cancel_reminder":
        keys = ("name", "intent", "entities")
        what = [f"{key} {_shown(data[key])}" for key in keys if data.get(key)]
        return Item("reminder", event, verb="cancelled", value=", ".join(what) or "all")
    text = f"intent {_shown(data.get('intent'))} at {_shown(data.get('date_time'))}"
    return Item("reminder", event, name=_shown(data.get("name") or ""), verb="set", value=text)


def _shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _present_classic(event, data: dict) -> Item | None:
    """The events of conversations run by policies (forms, rejections, reverts, reminders)."""
    kind = event.type
    if kind in ("active_loop", "form"):
        return _present_loop(event, data)
    if kind == "action_execution_rejected":
        return _present_predicted("rejected", event, data)
    if kind in ("loop_interrupted", "form_validation"):
        interrupted = bool(data.get("is_interrupted", not data.get("validate", True)))
        return Item("interrupted", event, verb="interrupted", quiet=not interrupted)
    if kind in REVERTS:
        return Item("revert", event, name=kind)
    if kind == "followup":
        return Item("followup", event, name=event.action_name)
    if kind in ("reminder", "cancel_reminder"):
        return _present_reminder(event, data)
    return None


def present(event) -> Item:
    event.timestamp = displayable(event.timestamp)
    data = _dict(event.data)
    kind = event.type
    if kind == "user":
        return _present_user(event, data)
    if kind == "bot":
        payload = _dict(data.get("data"))
        buttons = [
            {"title": str(_dict(b).get("title", "")), "payload": str(_dict(b).get("payload", ""))}
            for b in _list(payload.get("buttons"))
        ]
        return Item("bot", event, text=event.text, name=event.action_name, buttons=buttons)
    if kind == "slot":
        value = data.get("value")
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return Item("slot", event, name=event.slot_name, value=shown)
    if kind in FLOW_VERBS:
        return Item("flow", event, name=event.flow_id, verb=FLOW_VERBS[kind])
    if kind == "action":
        return _present_predicted("action", event, data)
    if kind in ("session_started", "restart"):
        return Item("session", event, name=kind.replace("_", " "))
    classic = _present_classic(event, data)
    if classic is not None:
        return classic
    return Item("other", event, name=kind, quiet=kind in QUIET_TYPES)


def with_forms_and_reverts(items: list[Item]) -> list[Item]:
    """Name the form that ends (Rasa's deactivating ``active_loop`` event has no name: it is
    the one that started last), and mark what a ``rewind`` (back to the latest user message)
    or an ``undo`` (back to the latest action) took back."""
    form = ""
    for index, item in enumerate(items):
        if item.kind == "loop":
            if item.verb == "started":
                form = item.name
            else:
                item.name, form = form, ""
        elif item.kind == "revert":
            _mark_reverted(items[:index], REVERTS[item.name])
    return items


def _mark_reverted(before: list[Item], back_to: str) -> None:
    for item in reversed(before):
        if item.reverted or item.kind == "revert":
            continue
        item.reverted = True
        if item.kind == back_to:
            return


def with_button_titles(items: list[Item]) -> list[Item]:
    """A user message that was a quick-reply click shows the button's title (its metadata's
    ``button_title``, or the title of the button just offered with that payload); the payload
    it sent stays in `payload`."""
    offered: list[dict] = []
    for item in items:
        if item.kind == "bot":
            offered.append({"data": {"buttons": item.buttons}})
        elif item.kind == "user":
            shown = shown_user_text(
                {"text": item.text, "metadata": _dict(item.event.data).get("metadata")}, offered
            )
            if shown != item.text:
                item.payload, item.text = item.text, shown
            offered = []
    return items


def annotated_text(event) -> str:
    """The user message in Rasa's annotation syntax, with the entities the model found."""
    text = event.text
    entities = []
    for entity in _list(_dict(_dict(event.data).get("parse_data")).get("entities")):
        entity = _dict(entity)
        start, end = entity.get("start"), entity.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            continue
        if not isinstance(entity.get("entity"), str):
            continue
        value = entity.get("value", text[start:end])
        entities.append(
            formats.EntityAnnotation(
                start,
                end,
                value if isinstance(value, str) else text[start:end],
                entity["entity"],
                entity.get("role") if isinstance(entity.get("role"), str) else None,
                entity.get("group") if isinstance(entity.get("group"), str) else None,
            )
        )
    try:
        return formats.example_to_text(formats.Example(text=text, entities=entities))
    except ValueError:  # overlapping spans: offer the plain text
        return text
