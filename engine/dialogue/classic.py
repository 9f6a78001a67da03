"""Classic assistants: the policies choose each next action, as Rasa's ``MessageProcessor``.

After a user message, ``action_extract_slots`` fills slots from it through the slot mappings
(Rasa 3's classic semantics, `engine.dialogue.slots.extract_classic_slot_values`; with
``action_validate_slot_mappings`` among the domain's actions, that action validates them); it
records no ``action`` event, as in Rasa. Then the loop asks the policies
(`engine.policies.PolicyEnsemble.predict`) for the next action, runs it and records it, until
the action is ``action_listen``, or the number of actions since the user message reaches
``max_number_of_predictions`` (Rasa's circuit breaker: the loop stops without listening), or
``max_steps_per_turn``. A ``followup`` event names the next action instead of the policies
(policy ``followup_action``).

Each action chosen by the policies is recorded as::

    {"event": "action", "name": ..., "policy": ..., "confidence": ..., "action_text": None,
     "hide_rule_turn": ..., "metadata": {"prediction": <Prediction.as_metadata()>, ...}}

after the events the prediction asks for (e.g. ``loop_interrupted``); an action that rejects
its execution (a form whose question went unanswered, a custom action answering 400) is
recorded as ``action_execution_rejected`` instead, and the policies predict again.

The actions: responses (``utter_*``, through the executor, so retrieval intents' responses are
answered there too), custom actions (the action server; their ``followup``, ``reminder``,
``cancel_reminder`` and other events are recorded as they come, bot messages sent), forms and
the two-stage fallback (`engine.dialogue.forms`), and Rasa's default actions:
``action_listen``, ``action_restart`` (``utter_restart`` when the domain has it),
``action_session_start``,
``action_default_fallback`` (``utter_default``, then ``rewind``), ``action_deactivate_loop``,
``action_revert_fallback_events``, ``action_default_ask_affirmation``,
``action_default_ask_rephrase`` (``utter_ask_rephrase``), ``action_two_stage_fallback``,
``action_back`` (``utter_back``, then two ``rewind`` events), ``action_extract_slots``,
``action_unlikely_intent`` and ``action_reset_routing``. A custom action that fails otherwise
(server down, bad answer) is logged and recorded without its events; the bot goes on, as Rasa's.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.dialogue.action_client import ActionClient, ActionError
from engine.dialogue.forms import (
    ACTION_TWO_STAGE_FALLBACK,
    FormRunner,
    LoopRejected,
    TwoStageFallback,
    active_loop_event,
    slot_event,
)
from engine.dialogue.model import DialogueModel
from engine.dialogue.responses import render_response
from engine.dialogue.slots import (
    INVALID,
    LoopState,
    coerce,
    extract_classic_slot_values,
    mapping_key,
)
from engine.dialogue.tracker import ACTION_LISTEN, REQUESTED_SLOT, Tracker, now
from engine.dialogue.turn import Recorder, Turn

if TYPE_CHECKING:
    from engine.dialogue.executor import Executor

__all__ = ["DEFAULT_ACTIONS", "FOLLOWUP_POLICY", "ROUTE_SLOT", "Choice", "ClassicDialogue"]

log = logging.getLogger(__name__)

Event = dict[str, Any]

#: The policy name of an action that a ``followup`` event named.
FOLLOWUP_POLICY = "followup_action"
#: Rasa's slot that holds a coexistence session's route (True: CALM, False: NLU-based).
ROUTE_SLOT = "route_session_to_calm"
#: The key under which a buffered ``bot`` event keeps its message until it is sent.
_MESSAGE = "_message"
#: Rasa's default actions that classic assistants run.
DEFAULT_ACTIONS = frozenset(
    {
        ACTION_LISTEN,
        "action_restart",
        "action_session_start",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        ACTION_TWO_STAGE_FALLBACK,
        "action_back",
        "action_extract_slots",
        "action_unlikely_intent",
        "action_reset_routing",
    }
)
_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"
_NOT_USER_SLOTS = frozenset({REQUESTED_SLOT, ROUTE_SLOT, "session_started_metadata"})


@dataclass
class Choice:
    """The next action and why: a policy prediction, or a ``followup`` event."""

    action: str
    policy: str | None
    confidence: float
    hide_rule_turn: bool = False
    events: list[Event] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_prediction(cls, prediction: Any) -> Choice:
        """From an `engine.policies.Prediction`."""
        return cls(
            action=str(prediction.action),
            policy=prediction.policy,
            confidence=float(prediction.confidence),
            hide_rule_turn=bool(prediction.hide_rule_turn),
            events=copy.deepcopy(list(prediction.events or [])),
            metadata=prediction.as_metadata(),
        )

    @classmethod
    def followup(cls, action: str) -> Choice:
        return cls(
            action=action,
            policy=FOLLOWUP_POLICY,
            confidence=1.0,
            metadata={
                "policy": FOLLOWUP_POLICY,
                "confidence": 1.0,
                "ranking": [{"action": action, "confidence": 1.0}],
                "policies": [],
            },
        )

    @classmethod
    def listen_after_revert(cls, predicted: str) -> Choice:
        """``action_listen`` instead of `predicted`, which just took back the user message
        (see `_message_taken_back`); the metadata says why."""
        return cls(
            action=ACTION_LISTEN,
            policy=None,
            confidence=1.0,
            metadata={
                "policy": None,
                "confidence": 1.0,
                "ranking": [{"action": ACTION_LISTEN, "confidence": 1.0}],
                "policies": [],
                "reason": f"'{predicted}' took the user message back; the bot listens",
            },
        )

    def action_fields(self) -> dict[str, Any]:
        """The fields of the ``action`` event that records this choice."""
        return {
            "name": self.action,
            "policy": self.policy,
            "confidence": self.confidence,
            "action_text": None,
            "hide_rule_turn": self.hide_rule_turn,
            "metadata": {"prediction": copy.deepcopy(self.metadata)},
        }


class ClassicDialogue:
    """Runs a classic assistant's turns on a tracker (see the module docstring)."""

    def __init__(
        self,
        model: DialogueModel,
        recorder: Recorder,
        executor: Executor,
        action_client: ActionClient,
        policies: Any,
        *,
        calm_slots: set[str] | None = None,
    ) -> None:
        self.model = model
        self.recorder = recorder
        self.executor = executor
        self.action_client = action_client
        self.policies = policies
        self.forms = FormRunner(self, model.forms)
        self.fallback = TwoStageFallback(self)
        #: Slots only CALM fills (coexistence): classic slot filling leaves them alone.
        self.calm_slots = calm_slots or set()
        self._names: set[str] | None = None
        self._unique: dict[str, set[str]] = {}
        self._defaults: dict[str, Callable[[Tracker], list[Event]]] = {
            ACTION_LISTEN: lambda t: [],
            "action_unlikely_intent": lambda t: [],
            "action_restart": self._restart,
            "action_session_start": self._session_start,
            "action_default_fallback": self._default_fallback,
            "action_deactivate_loop": lambda t: [
                active_loop_event(None),
                slot_event(REQUESTED_SLOT, None),
            ],
            "action_revert_fallback_events": self._revert_fallback_events,
            "action_default_ask_affirmation": self._ask_affirmation,
            "action_default_ask_rephrase": lambda t: self._utter_events(t, "utter_ask_rephrase"),
            ACTION_TWO_STAGE_FALLBACK: self.fallback.run,
            "action_back": lambda t: [*self._utter_events(t, "utter_back"), _rewind(), _rewind()],
            "action_extract_slots": lambda t: self.extract_slots(t, activating=False),
            "action_reset_routing": lambda t: [
                {"event": "routing_session_ended", "timestamp": now()},
                slot_event(ROUTE_SLOT, None),
            ],
        }

    # -- the turn -----------------------------------------------------------------------------

    def after_user_message(self, tracker: Tracker, turn: Turn) -> None:
        """Run ``action_extract_slots`` for the latest user message (no ``action`` event)."""
        events = self.extract_slots(tracker, activating=False)
        if events and _VALIDATE_SLOT_MAPPINGS in self.model.custom_actions:
            events = self._validate_slot_mappings(tracker, events)
        self.commit(tracker, events, turn)

    def run(self, tracker: Tracker, turn: Turn) -> None:
        """Predict and run actions until the bot listens (or a limit is reached)."""
        settings = self.model.settings
        limit = min(
            int(settings.get("max_number_of_predictions", 10)),
            int(settings.get("max_steps_per_turn", 250)),
        )
        another = True
        while another and self._should_handle(tracker):
            if _actions_since_listen(tracker) >= limit:
                log.warning(
                    "conversation %s: %d actions predicted since the user message; the "
                    "bot stops predicting (max_number_of_predictions)",
                    tracker.sender_id,
                    limit,
                )
                return
            another = self.run_action(tracker, self.next_action(tracker), turn)

    def next_action(self, tracker: Tracker) -> Choice:
        """The followup action a ``followup`` event named, else the policies' prediction."""
        followup = tracker.followup_action
        if followup:
            tracker.followup_action = None
            if followup in self.action_names():
                return Choice.followup(followup)
            log.error("unknown follow-up action '%s': predicting the next action", followup)
        if self.policies is None:
            return Choice.followup(ACTION_LISTEN)
        choice = Choice.from_prediction(self.policies.predict(tracker))
        if choice.action != ACTION_LISTEN and _message_taken_back(tracker):
            return Choice.listen_after_revert(choice.action)
        return choice

    @staticmethod
    def _should_handle(tracker: Tracker) -> bool:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return not tracker.paused or intent == "restart"

    # -- running one action ---------------------------------------------------------------------

    def run_action(self, tracker: Tracker, choice: Choice, turn: Turn) -> bool:
        """Run the chosen action and record it; whether another action is to be predicted."""
        name = choice.action
        if self._runs_in_executor(name):
            self.commit(tracker, choice.events, turn)
            self.recorder.predicted = choice.action_fields()
            self.executor.run_action(tracker, name, turn)
            if self.recorder.predicted is not None:  # the response had nothing to say
                self.recorder.predicted = None
                self.recorder.append(
                    tracker, {"event": "action", "timestamp": now(), **choice.action_fields()}
                )
            return True
        trial = tracker.copy()
        for event in choice.events:
            trial.append(copy.deepcopy(event))
        try:
            events = self.run_named(trial, name)
        except LoopRejected as exc:
            log.debug("action '%s' rejected its execution: %s", name, exc)
            self.recorder.append(tracker, _rejected(choice))
            return True
        except ActionError as exc:
            log.error("action '%s' failed; the bot goes on without its events: %s", name, exc)
            events = []
        self.commit(tracker, choice.events, turn)
        self.recorder.append(
            tracker, {"event": "action", "timestamp": now(), **choice.action_fields()}
        )
        self.commit(tracker, events, turn)
        if any(e.get("event") == "user" for e in events):
            self.after_user_message(tracker, turn)
        return name not in (ACTION_LISTEN, "action_session_start")

    def _runs_in_executor(self, name: str) -> bool:
        """Responses run in the executor (which also answers retrieval intents)."""
        return (
            name.startswith("utter_")
            and name not in self.model.custom_actions
            and name not in self.model.forms
        )

    def run_named(self, tracker: Tracker, name: str) -> list[Event]:
        """The events of running `name` on `tracker` (which is not changed): a form, a
        default action, a custom action or a response. Raises `LoopRejected` when the action
        rejects its execution and `ActionError` when a custom action fails."""
        if name in self.model.forms:
            return self.forms.run(tracker, name)
        default = self._defaults.get(name)
        if default is not None:
            return default(tracker)
        if name in self.model.custom_actions or not name.startswith("utter_"):
            return self._remote_events(tracker, name)
        return self._utter_events(tracker, name)

    def commit(self, tracker: Tracker, events: list[Event], turn: Turn) -> None:
        """Append `events` to the tracker, sending the bot messages among them.

        Each event is stamped when it is appended: an action's events were made while it ran,
        before its ``action`` event, and stamped then they would sort before it by time."""
        for event in events:
            message = event.pop(_MESSAGE, None)
            if message is not None:
                self.executor.bot(tracker, message, turn)
                continue
            event["timestamp"] = now()
            self.recorder.append(tracker, event)
            if event.get("event") == "restart":
                self.recorder.update_stack(tracker, [])

    def action_names(self) -> set[str]:
        if self._names is None:
            self._names = (
                set(self.model.custom_actions)
                | set(self.model.responses)
                | set(self.model.forms)
                | DEFAULT_ACTIONS
            )
        return self._names

    # -- slot filling ---------------------------------------------------------------------------

    def extract_slots(self, tracker: Tracker, *, activating: bool) -> list[Event]:
        """``action_extract_slots``: the slot events for the latest user message."""
        form = tracker.active_loop_name
        spec = self.model.forms.get(form or "") or {}
        ignored = spec.get("ignored_intents") or []
        loop = LoopState(
            name=form,
            requested_slot=tracker.requested_slot() if form else None,
            rejected=tracker.is_active_loop_rejected,
            required_slots=tuple(self.model.required_slots(form)) if form else (),
            ignored_intents=tuple([ignored] if isinstance(ignored, str) else ignored),
            activating=activating,
        )
        slots = [
            s
            for s in self.model.domain.slots
            if s.name not in _NOT_USER_SLOTS
            and (s.name not in self.calm_slots or s.extra.get("shared_for_coexistence"))
        ]
        found = extract_classic_slot_values(
            slots,
            tracker.latest_message,
            loop,
            tracker.slots,
            unique_entity_mappings=self._unique_mappings(form) if form else None,
        )
        events = []
        for name, value in found:
            coerced = coerce(self.model.slots.get(name), value)
            events.append(slot_event(name, value if coerced is INVALID else coerced))
        return events

    def _unique_mappings(self, form: str) -> set[str]:
        """The ``from_entity`` mappings that fill only one of `form`'s required slots."""
        if form not in self._unique:
            counts: dict[str, int] = {}
            for name in self.model.required_slots(form):
                slot = self.model.slots.get(name)
                for mapping in (slot.mappings or []) if slot is not None else []:
                    if mapping.type == "from_entity":
                        key = mapping_key(mapping)
                        counts[key] = counts.get(key, 0) + 1
            self._unique[form] = {k for k, n in counts.items() if n == 1}
        return self._unique[form]

    def _validate_slot_mappings(self, tracker: Tracker, events: list[Event]) -> list[Event]:
        """Rasa's global slot validation: the action sees the extracted slots as the last
        events; a candidate it returns nothing for is kept."""
        trial = tracker.copy()
        for event in events:
            trial.append(copy.deepcopy(event))
        try:
            validated = self._remote_events(trial, _VALIDATE_SLOT_MAPPINGS)
        except (ActionError, LoopRejected) as exc:
            log.warning("%s failed; the extracted slots are kept: %s", _VALIDATE_SLOT_MAPPINGS, exc)
            return events
        kept = [e for e in validated if e.get("event") in ("slot", "bot")]
        names = {e.get("name") for e in kept if e.get("event") == "slot"}
        return kept + [e for e in events if e.get("name") not in names]

    # -- action parts -----------------------------------------------------------------------------

    def _utter_events(
        self, tracker: Tracker, name: str, extra: dict[str, Any] | None = None
    ) -> list[Event]:
        """The ``bot`` event of the response `name` (none when the domain has none)."""
        response = self.model.responses.get(name)
        if response is None:
            return []
        message = render_response(
            response, tracker.slots, tracker.latest_input_channel, self.executor.rng, {}, extra
        )
        if message is None:
            return []
        message["metadata"] = {"utter_action": name, **message["metadata"]}
        return [_bot_event(message)]

    def _remote_events(self, tracker: Tracker, name: str) -> list[Event]:
        """The events of the custom action `name`: its responses as ``bot`` events first."""
        try:
            result = self.action_client.run(name, tracker.to_dict(), self.model.domain_dict())
        except ActionError as exc:
            if getattr(exc, "action_name", None) is not None:  # the server answered 400
                raise LoopRejected(str(exc)) from exc
            raise
        events: list[Event] = []
        for response in result.responses or []:
            message = self.executor.response_message(
                tracker, response, tracker.latest_input_channel
            )
            if message is not None:
                events.append(_bot_event(message))
        for raw in result.events or []:
            event = self._received(raw)
            if event is not None:
                events.append(event)
        return events

    def _received(self, raw: Any) -> Event | None:
        """An event a custom action returned, stamped, its slot value coerced, a ``bot``
        event holding its message."""
        if not isinstance(raw, dict) or not isinstance(raw.get("event"), str):
            return None
        event = copy.deepcopy(raw)
        if not isinstance(event.get("timestamp"), int | float) or isinstance(
            event.get("timestamp"), bool
        ):
            event["timestamp"] = now()
        if event["event"] == "slot" and event.get("name") in self.model.slots:
            value = coerce(self.model.slots[event["name"]], event.get("value"))
            if value is not INVALID:
                event["value"] = value
        if event["event"] == "bot":
            message = {**(event.get("data") or {}), "text": event.get("text")}
            message["metadata"] = dict(event.get("metadata") or {})
            return _bot_event(message)
        return event

    # -- default actions ---------------------------------------------------------------------------

    def _restart(self, tracker: Tracker) -> list[Event]:
        restart = {"event": "restart", "timestamp": now()}
        return [*self._utter_events(tracker, "utter_restart"), restart]

    def _session_start(self, tracker: Tracker) -> list[Event]:
        events: list[Event] = [{"event": "session_started", "timestamp": now()}]
        config = self.model.domain.session_config or {}
        if config.get("carry_over_slots_to_new_session", True):
            events += [
                slot_event(str(e.get("name")), copy.deepcopy(e.get("value")))
                for e in tracker.applied_events()
                if e.get("event") == "slot"
            ]
        events.append(_listen())
        return events

    def _default_fallback(self, tracker: Tracker) -> list[Event]:
        return [*self._utter_events(tracker, "utter_default"), _rewind()]

    def _ask_affirmation(self, tracker: Tracker) -> list[Event]:
        """Rasa's ``action_default_ask_affirmation``: "Did you mean '<intent>'?"."""
        parse = tracker.latest_message
        intent = (parse.get("intent") or {}).get("name")
        ranking = parse.get("intent_ranking") or []
        if intent == "nlu_fallback" and len(ranking) > 1:
            intent = (ranking[1] or {}).get("name")
        message = {
            "text": f"Did you mean '{intent}'?",
            "buttons": [
                {"title": "Yes", "payload": f"/{intent}"},
                {"title": "No", "payload": "/out_of_scope"},
            ],
            "metadata": {"utter_action": "action_default_ask_affirmation"},
        }
        return [_bot_event(message)]

    def _revert_fallback_events(self, tracker: Tracker) -> list[Event]:
        """Rasa's ``action_revert_fallback_events``: after a successful rephrasing or
        affirmation in the two-stage fallback, the fallback turns are taken back and the
        user's clarified message stays."""
        last = tracker.last_user_event()
        if last is None:
            return []
        listen = _listen()
        if _last_action_was(tracker, "action_default_ask_rephrase"):
            return [_rewind(), _rewind(), _rewind(), listen, _stamped_copy(last)]
        if _last_action_was(tracker, "action_default_ask_affirmation"):
            events = [_rewind(), _rewind(), dict(listen)]
            if _last_action_was(tracker, "action_default_ask_rephrase", skip=1):
                events += [_rewind(), _rewind(), _rewind(), dict(listen)]
            clarified = _stamped_copy(last)
            parse = clarified.setdefault("parse_data", {})
            parse["intent"] = {**(parse.get("intent") or {}), "confidence": 1.0}
            return [*events, clarified]
        return []


def _bot_event(message: dict[str, Any]) -> Event:
    """A buffered ``bot`` event: `ClassicDialogue.commit` sends its message."""
    return {
        "event": "bot",
        "timestamp": now(),
        "text": message.get("text"),
        "data": {
            key: message.get(key)
            for key in ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
        },
        "metadata": dict(message.get("metadata") or {}),
        _MESSAGE: message,
    }


def _listen() -> Event:
    return {"event": "action", "timestamp": now(), "name": ACTION_LISTEN, "policy": None}


def _rewind() -> Event:
    return {"event": "rewind", "timestamp": now()}


def _rejected(choice: Choice) -> Event:
    return {
        "event": "action_execution_rejected",
        "timestamp": now(),
        "name": choice.action,
        "policy": choice.policy,
        "confidence": choice.confidence,
    }


def _stamped_copy(event: Event) -> Event:
    copied = copy.deepcopy(event)
    copied["timestamp"] = now()
    return copied


def _message_taken_back(tracker: Tracker) -> bool:
    """Whether the last action took back the user message it answered (a ``rewind``, as
    ``action_default_fallback`` and the two-stage fallback's give-up end with): the policies
    then see the states before that message, and whatever they predict would answer it again
    (the fallback's message said twice)."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "rewind":
            return True
        if kind not in ("bot", "slot", "active_loop", "stack"):
            return False
    return False


def _actions_since_listen(tracker: Tracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "action":
            if event.get("event") == "user":
                break
            continue
        if event.get("name") in (ACTION_LISTEN, "action_session_start"):
            break
        count += 1
    return count


def _last_action_was(tracker: Tracker, name: str, skip: int = 0) -> bool:
    """Whether the last executed action (skipping `skip` and ``action_listen``) is `name`."""
    seen = 0
    for event in reversed(tracker.applied_events()):
        if event.get("event") != "action" or event.get("name") == ACTION_LISTEN:
            continue
        if seen == skip:
            return bool(event.get("name") == name)
        seen += 1
    return False
