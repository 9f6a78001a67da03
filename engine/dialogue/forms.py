"""Forms and the two-stage fallback: Rasa's loop actions, for classic assistants.

A loop action runs like Rasa's ``LoopAction.run``: when its loop is not active yet it activates
it (an ``active_loop`` event), then, unless it is already done, does its work, and when done
deactivates it (``active_loop: null``). Every run computes its events first, on a copy of the
tracker, and the caller records them after the action's own ``action`` event; a rejected run
raises `LoopRejected` instead (the caller records ``action_execution_rejected``).

A form (domain ``forms:``, with ``required_slots``):

* **activation** fills the slots the triggering message gives (``action_extract_slots`` with the
  form active, so mappings with ``conditions`` on it and ``from_trigger_intent`` apply) and
  validates the prefilled required slots;
* **validation**, after the user answered (the latest action is ``action_listen`` and the loop
  was not interrupted): the slots ``action_extract_slots`` set since the user message are the
  candidates; ``validate_<form>`` (a custom action, when the domain lists it) gets a tracker
  that ends with them as slot events (the Rasa SDK's ``FormValidationAction`` protocol) and
  returns the validated values. When the requested slot got no value and nothing was
  validated, the form rejects its execution, so rules and stories handle the interruption;
* **the next question**: the first required slot without a value becomes ``requested_slot``
  and is asked by ``action_ask_<form>_<slot>``, ``utter_ask_<form>_<slot>``,
  ``action_ask_<slot>`` or ``utter_ask_<slot>`` (the first the domain has); with none left,
  ``requested_slot`` is reset and the form deactivates.

``action_two_stage_fallback`` asks the user to affirm the intent it guessed, then to
rephrase, and gives up with ``action_default_fallback`` after two failures, as Rasa's
``TwoStageFallbackAction``. When the user clarified, the fallback turns are taken back
(``rewind``) and the clarified message is recorded again, its intent certain. One deliberate
deviation: then the loop's deactivation (``active_loop: null``) comes after the ``rewind``,
not before it as in Rasa, where the rewind takes the deactivation back and the fallback loop
stays active. When it gives up, the events are Rasa's (the deactivation, then
``action_default_fallback``'s message and ``rewind``).
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from engine.dialogue.tracker import ACTION_LISTEN, REQUESTED_SLOT, Tracker, now

__all__ = [
    "ACTION_TWO_STAGE_FALLBACK",
    "FormRunner",
    "LoopContext",
    "LoopRejected",
    "TwoStageFallback",
    "active_loop_event",
    "slot_event",
]

Event = dict[str, Any]

ACTION_TWO_STAGE_FALLBACK = "action_two_stage_fallback"
NLU_FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"


class LoopRejected(Exception):
    """The loop action rejected its execution (Rasa's ``ActionExecutionRejection``)."""


class LoopContext(Protocol):
    """What the loop actions need from the classic dialogue."""

    def action_names(self) -> set[str]:
        """The actions the domain knows: custom actions, responses, forms, default actions."""
        ...

    def extract_slots(self, tracker: Tracker, *, activating: bool) -> list[Event]:
        """The slot events ``action_extract_slots`` gives for the latest user message."""
        ...

    def run_named(self, tracker: Tracker, name: str) -> list[Event]:
        """The events of running the response, custom or default action `name` on
        `tracker` (bot messages as ``bot`` events); raises `LoopRejected` when a custom
        action rejects its execution."""
        ...


def slot_event(name: str, value: Any) -> Event:
    return {"event": "slot", "timestamp": now(), "name": name, "value": value}


def active_loop_event(name: str | None) -> Event:
    return {"event": "active_loop", "timestamp": now(), "name": name}


def _tried(tracker: Tracker, events: list[Event]) -> Tracker:
    trial = tracker.copy()
    for event in events:
        trial.append(event)
    return trial


def _rejected_manually(events: list[Event]) -> bool:
    return any(e.get("event") == "action_execution_rejected" for e in events)


class FormRunner:
    """Runs the domain's forms (see the module docstring)."""

    def __init__(self, context: LoopContext, forms: dict[str, dict[str, Any]]) -> None:
        self.context = context
        self.forms = forms

    def required_slots(self, form: str) -> list[str]:
        spec = self.forms.get(form) or {}
        slots = spec.get("required_slots") or []
        if isinstance(slots, dict):
            return [str(name) for name in slots]
        return [str(name) for name in slots if isinstance(name, str)]

    def run(self, tracker: Tracker, form: str) -> list[Event]:
        """The events of one run of `form` (raises `LoopRejected`)."""
        events: list[Event] = []
        if tracker.active_loop_name != form:
            events.append(active_loop_event(form))
            events += self._activate(_tried(tracker, events), form)
        if not self._is_done(events):
            events += self._do(tracker, form, events)
        if self._is_done(events):
            events.append(active_loop_event(None))
        return events

    # -- the steps of a run -----------------------------------------------------------------

    def _activate(self, trial: Tracker, form: str) -> list[Event]:
        """Slots the triggering message fills, validated when the form has a validation
        action (the events of both, validated values first)."""
        extracted = []
        if not trial.has_bot_message_after_latest_user_message():
            extracted = self.context.extract_slots(trial, activating=True)
        for event in extracted:
            trial.append(event)
        prefilled = {
            name: trial.slots.get(name)
            for name in self.required_slots(form)
            if trial.slots.get(name) is not None
        }
        if f"validate_{form}" not in self.context.action_names():
            return [e for e in extracted if e.get("event") == "slot"]
        validated = self._validate_slots(trial, form, prefilled)
        names = {e.get("name") for e in validated if e.get("event") == "slot"}
        return validated + [
            e for e in extracted if e.get("event") == "slot" and e.get("name") not in names
        ]

    def _do(self, tracker: Tracker, form: str, so_far: list[Event]) -> list[Event]:
        events: list[Event] = []
        if not [e for e in so_far if e.get("event") != "active_loop"]:
            events = self._validate_if_required(tracker, form)
        if not _rejected_manually(events):
            events += self._request_next_slot(tracker, form, so_far + events)
        return events

    def _validate_if_required(self, tracker: Tracker, form: str) -> list[Event]:
        needs_validation = not tracker.active_loop or (
            tracker.latest_action_name == ACTION_LISTEN and not tracker.is_active_loop_interrupted
        )
        if not needs_validation:
            return self._validate_slots(tracker, form, {})
        extracted = self._extractions_since_user_message(tracker, form)
        events = self._validate_slots(tracker, form, extracted)
        validated = any(
            e.get("event") == "slot" and e.get("name") != REQUESTED_SLOT for e in events
        )
        slot_to_fill = self._slot_to_fill(tracker, form)
        if slot_to_fill and not extracted and not validated and not _rejected_manually(events):
            raise LoopRejected(f"Failed to extract slot {slot_to_fill} with action {form}")
        return events

    def _extractions_since_user_message(self, tracker: Tracker, form: str) -> dict[str, Any]:
        wanted = set(self.required_slots(form))
        requested = self._slot_to_fill(tracker, form)
        if requested:
            wanted.add(requested)
        values: dict[str, Any] = {}
        for event in reversed(tracker.events):
            kind = event.get("event")
            if kind in ("user", "restart"):
                break
            if kind == "slot" and event.get("name") in wanted and event.get("name") not in values:
                values[str(event.get("name"))] = event.get("value")
        return dict(reversed(list(values.items())))

    @staticmethod
    def _slot_to_fill(tracker: Tracker, form: str) -> str | None:
        if tracker.active_loop_name != form:
            return None
        value = tracker.slots.get(REQUESTED_SLOT)
        return value if isinstance(value, str) else None

    def _validate_slots(
        self, tracker: Tracker, form: str, candidates: dict[str, Any]
    ) -> list[Event]:
        """The events of ``validate_<form>`` for `candidates` (none without that action):
        it sees the tracker ending with the candidates as slot events."""
        name = f"validate_{form}"
        if name not in self.context.action_names():
            return []
        trial = _tried(
            tracker,
            [
                slot_event(REQUESTED_SLOT, self._slot_to_fill(tracker, form)),
                {"event": "action", "timestamp": now(), "name": form, "policy": None},
                *[slot_event(slot, value) for slot, value in candidates.items()],
            ],
        )
        return self.context.run_named(trial, name)

    def _request_next_slot(self, tracker: Tracker, form: str, so_far: list[Event]) -> list[Event]:
        if self._is_done(so_far):
            return [slot_event(REQUESTED_SLOT, None)]
        to_request = next(
            (
                e.get("value")
                for e in so_far
                if e.get("event") == "slot" and e.get("name") == REQUESTED_SLOT
            ),
            None,
        )
        trial = _tried(tracker, so_far)
        events: list[Event] = []
        if not to_request:
            to_request = next(
                (s for s in self.required_slots(form) if trial.slots.get(s) is None), None
            )
            events.append(slot_event(REQUESTED_SLOT, to_request))
        if not to_request:
            return [slot_event(REQUESTED_SLOT, None)]
        return events + self._ask(trial, form, str(to_request))

    def _ask(self, trial: Tracker, form: str, slot: str) -> list[Event]:
        known = self.context.action_names()
        for name in (
            f"action_ask_{form}_{slot}",
            f"utter_ask_{form}_{slot}",
            f"action_ask_{slot}",
            f"utter_ask_{slot}",
        ):
            if name in known:
                return self.context.run_named(trial, name)
        return []

    @staticmethod
    def _is_done(events: list[Event]) -> bool:
        if _rejected_manually(events):
            return False
        for event in reversed(events):
            if event.get("event") == "slot" and event.get("name") == REQUESTED_SLOT:
                if event.get("value") is None:
                    return True
                break
        for event in reversed(events):
            if event.get("event") == "active_loop":
                return event.get("name") is None
        return False


class TwoStageFallback:
    """Rasa's ``action_two_stage_fallback``: affirm the guessed intent, then rephrase."""

    def __init__(self, context: LoopContext) -> None:
        self.context = context

    def run(self, tracker: Tracker) -> list[Event]:
        events: list[Event] = []
        if tracker.active_loop_name != ACTION_TWO_STAGE_FALLBACK:
            events.append(active_loop_event(ACTION_TWO_STAGE_FALLBACK))
        if not self._is_done(tracker):
            just_activated = bool(events)
            if just_activated or _intent(tracker.latest_message) == NLU_FALLBACK_INTENT:
                events += self.context.run_named(tracker, "action_default_ask_affirmation")
            else:
                events += self.context.run_named(tracker, "action_default_ask_rephrase")
        if self._is_done(tracker):
            events += self._deactivate(tracker)
        return events

    def _is_done(self, tracker: Tracker) -> bool:
        clarified = _intent(tracker.latest_message) not in (
            NLU_FALLBACK_INTENT,
            OUT_OF_SCOPE_INTENT,
        )
        return clarified or _two_fallbacks(tracker) or _second_affirmation_failed(tracker)

    def _deactivate(self, tracker: Tracker) -> list[Event]:
        """The loop ends after what its last turn takes back (see the module docstring)."""
        if _two_fallbacks(tracker) or _second_affirmation_failed(tracker):
            return [
                active_loop_event(None),
                *self.context.run_named(tracker, "action_default_fallback"),
            ]
        clarification = _clarified_message(tracker)
        return [
            {"event": "rewind", "timestamp": now()},
            active_loop_event(None),
            {"event": "action", "timestamp": now(), "name": ACTION_LISTEN, "policy": None},
            clarification,
        ]


def _intent(parse: dict[str, Any] | None) -> str | None:
    return ((parse or {}).get("intent") or {}).get("name")


def _last_intents(tracker: Tracker, count: int) -> list[str | None]:
    """The intents of the last `count` user messages, a ``rewind`` counting as a message
    without one (Rasa's ``_last_n_intent_names``)."""
    found: list[str | None] = []
    seen = 0
    for event in reversed(tracker.events_after_restart()):
        kind = event.get("event")
        if kind not in ("user", "rewind"):
            continue
        seen += 1
        if kind == "user":
            found.append(_intent(event.get("parse_data")))
        if seen >= count:
            break
    return found


def _two_fallbacks(tracker: Tracker) -> bool:
    return _last_intents(tracker, 2) == [NLU_FALLBACK_INTENT, NLU_FALLBACK_INTENT]


def _second_affirmation_failed(tracker: Tracker) -> bool:
    return _last_intents(tracker, 3) == [
        OUT_OF_SCOPE_INTENT,
        NLU_FALLBACK_INTENT,
        OUT_OF_SCOPE_INTENT,
    ]


def _clarified_message(tracker: Tracker) -> Event:
    """The latest user message again, its intent now certain (Rasa's clarification)."""

    last = tracker.last_user_event() or {"event": "user", "text": None, "parse_data": {}}
    event = copy.deepcopy(last)
    event["timestamp"] = now()
    parse = event.setdefault("parse_data", {})
    intent = parse.get("intent") or {}
    parse["intent"] = {**intent, "confidence": 1.0}
    return event
