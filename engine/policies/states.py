"""Dialogue states: a conversation's Rasa events turned into the per-turn states the policies
read, as Rasa's ``Domain.states_for_tracker_history`` makes them.

A state is taken before every ``action`` event and once more at the end. It is a mapping of up
to four sub-states, each present only when not empty::

    {"user": {"intent": "inform", "entities": ("city",)},      # or {"text": ...} (e2e)
     "prev_action": {"action_name": "utter_ask_city"},          # or {"action_text": ...}
     "active_loop": {"name": "booking_form"},
     "slots": {"outdoor": (1.0, 1.0)}}                          # only influencing slots

Slots are featurised as Rasa's slot types do (text: set or not; bool: set and value; float:
set and the value scaled to ``min_value``..``max_value``; categorical: one-hot over the values
and ``__other__``; list: non-empty or not; ``any`` and ``influence_conversation: false``
slots not at all). Entities are those the intent uses (``use_entities`` / ``ignore_entities``,
entity-level ``influence_conversation: false``), with ``entity#role`` and ``entity#group``.

The events are first reduced to the applied ones as Rasa's tracker does: a ``restart`` or
``session_started`` starts over, ``undo`` and ``rewind`` revert, and a loop's happy path
(the loop predicted again after each user message) collapses into its first execution.

Stories (through `engine.policies.training`) and live trackers go through the same code, so
the same events give identical states.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.formats import Domain, Slot

__all__ = [
    "ACTION_LISTEN",
    "RULE_SNIPPET_ACTION",
    "SHOULD_NOT_BE_SET",
    "Replay",
    "SlotSpec",
    "State",
    "StateSpec",
    "applied_events",
    "freeze_states",
    "past_states",
    "prediction_states",
    "state_key",
    "states_key",
]

ACTION_LISTEN = "action_listen"
#: The action a rule's ``...`` stands for: any conversation may come before (or after) it.
RULE_SNIPPET_ACTION = "..."
#: What a rule's ``active_loop: null`` or ``slot: null`` becomes: "must not be set".
SHOULD_NOT_BE_SET = "should_not_be_set"
ENTITY_LABEL_SEPARATOR = "#"
DEFAULT_CATEGORICAL_VALUE = "__other__"
#: The coexistence routing slot (`engine.dialogue`'s router sets it).
ROUTE_TO_CALM_SLOT = "route_session_to_calm"

USER = "user"
PREVIOUS_ACTION = "prev_action"
ACTIVE_LOOP = "active_loop"
SLOTS = "slots"
INTENT = "intent"
ENTITIES = "entities"
TEXT = "text"
ACTION_NAME = "action_name"
ACTION_TEXT = "action_text"
LOOP_NAME = "name"

State = dict[str, dict[str, Any]]

#: Slot types Rasa featurises, with how many features each value has (categorical: one per
#: value).
_FEATURISED_TYPES = ("text", "bool", "float", "list", "categorical")


# --------------------------------------------------------------------------------------------
# The domain, as far as states need it


@dataclass
class SlotSpec:
    """One slot's featurisation, and its entity mappings (stories set slots from entities)."""

    name: str
    type: str
    influences: bool
    initial_value: Any = None
    values: list[str] = field(default_factory=list)
    min_value: float | None = None
    max_value: float | None = None
    #: ``(entity, role, group)`` of each ``from_entity`` mapping without an active loop
    #: condition: a story's entities set the slot through them, as Rasa's
    #: ``Domain.slots_for_entities``.
    entity_mappings: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    shared_for_coexistence: bool = False

    @classmethod
    def from_slot(cls, slot: Slot) -> SlotSpec:
        kind = slot.type
        influences = kind in _FEATURISED_TYPES and slot.influence_conversation is not False
        values = [str(v).lower() for v in slot.values or []]
        if kind == "categorical" and DEFAULT_CATEGORICAL_VALUE not in values:
            values.append(DEFAULT_CATEGORICAL_VALUE)
        mappings = []
        for mapping in slot.mappings or []:
            if mapping.type != "from_entity" or not mapping.entity:
                continue
            conditions = mapping.conditions or []
            if conditions and conditions[0].active_loop is not None:
                continue
            mappings.append((mapping.entity, mapping.role, mapping.group))
        return cls(
            name=slot.name,
            type=kind,
            influences=influences,
            initial_value=copy.deepcopy(slot.initial_value),
            values=values,
            min_value=slot.min_value,
            max_value=slot.max_value,
            entity_mappings=mappings,
            shared_for_coexistence=bool(slot.extra.get("shared_for_coexistence")),
        )

    def features(self, value: Any) -> tuple[float, ...]:
        """The slot's features for `value` (empty when the slot does not influence)."""
        if not self.influences:
            return ()
        return _FEATURISERS[self.type](self, value)


def _text_features(_spec: SlotSpec, value: Any) -> tuple[float, ...]:
    return (1.0 if value is not None else 0.0,)


def bool_from_any(value: Any) -> bool:
    """Rasa's reading of a bool slot's value; raises ValueError/TypeError when it is none."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1.0
    if isinstance(value, str):
        if value.isnumeric():
            return float(value) == 1.0
        word = value.strip().lower()
        if word in ("true", "yes"):
            return True
        if word in ("false", "no"):
            return False
        raise ValueError(f"cannot read {value!r} as a bool")
    raise TypeError(f"cannot read {type(value).__name__} as a bool")


def _bool_features(_spec: SlotSpec, value: Any) -> tuple[float, ...]:
    if value is None:
        return (0.0, 0.0)
    try:
        return (1.0, float(bool_from_any(value)))
    except (TypeError, ValueError):
        return (0.0, 0.0)


def _float_features(spec: SlotSpec, value: Any) -> tuple[float, ...]:
    low = spec.min_value or 0.0
    high = spec.max_value or 1.0
    try:
        capped = max(low, min(high, float(value)))
    except (TypeError, ValueError):
        return (0.0, 0.0)
    covered = abs(high - low) or 1.0
    return (1.0, (capped - low) / covered)


def _list_features(_spec: SlotSpec, value: Any) -> tuple[float, ...]:
    try:
        return (1.0 if value is not None and len(value) > 0 else 0.0,)
    except TypeError:
        return (0.0,)


def _categorical_features(spec: SlotSpec, value: Any) -> tuple[float, ...]:
    out = [0.0] * len(spec.values)
    if value is None:
        return tuple(out)
    wanted = str(value).lower()
    if wanted in spec.values:
        out[spec.values.index(wanted)] = 1.0
    elif DEFAULT_CATEGORICAL_VALUE in spec.values:
        out[spec.values.index(DEFAULT_CATEGORICAL_VALUE)] = 1.0
    return tuple(out)


_FEATURISERS = {
    "text": _text_features,
    "bool": _bool_features,
    "float": _float_features,
    "list": _list_features,
    "categorical": _categorical_features,
}


@dataclass
class StateSpec:
    """What of the domain the states depend on; saved with the trained policies."""

    intents: list[str] = field(default_factory=list)
    #: Entity labels: names, then ``entity#role`` and ``entity#group``.
    entities: list[str] = field(default_factory=list)
    #: Per intent of the domain, the entity labels it uses (other intents use all).
    intent_entities: dict[str, list[str]] = field(default_factory=dict)
    slots: list[SlotSpec] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    #: The domain's own actions: custom actions, responses, forms (default actions apart).
    actions: list[str] = field(default_factory=list)
    store_entities_as_slots: bool = True

    @classmethod
    def from_domain(cls, domain: Domain) -> StateSpec:
        entity_labels = [e.name for e in domain.entities]
        for entity in domain.entities:
            for sub in [*(entity.roles or []), *(entity.groups or [])]:
                entity_labels.append(f"{entity.name}{ENTITY_LABEL_SEPARATOR}{sub}")
        ignored_everywhere = {e.name for e in domain.entities if e.influence_conversation is False}
        intent_entities = {}
        for intent in domain.intents:
            intent_entities[intent.name] = _used_entities(
                intent.use_entities, intent.ignore_entities, entity_labels, ignored_everywhere
            )
        forms = list((domain.forms or {}).keys())
        actions = _unique(
            [a.name for a in domain.actions] + [r.name for r in domain.responses] + forms
        )
        config = domain.config or {}
        return cls(
            intents=[i.name for i in domain.intents],
            entities=entity_labels,
            intent_entities=intent_entities,
            slots=[SlotSpec.from_slot(s) for s in domain.slots],
            forms=forms,
            actions=actions,
            store_entities_as_slots=config.get("store_entities_as_slots", True) is not False,
        )

    def slot(self, name: str) -> SlotSpec | None:
        return next((s for s in self.slots if s.name == name), None)

    def initial_slots(self) -> dict[str, Any]:
        return {s.name: copy.deepcopy(s.initial_value) for s in self.slots}

    def wanted_entities(self, intent: str | None) -> set[str] | None:
        """The entity labels `intent` uses, or None for all of them."""
        if intent is None or intent not in self.intent_entities:
            return None
        return set(self.intent_entities[intent])

    def to_dict(self) -> dict[str, Any]:
        return {
            "intents": self.intents,
            "entities": self.entities,
            "intent_entities": self.intent_entities,
            "slots": [
                {**s.__dict__, "entity_mappings": [list(m) for m in s.entity_mappings]}
                for s in self.slots
            ],
            "forms": self.forms,
            "actions": self.actions,
            "store_entities_as_slots": self.store_entities_as_slots,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateSpec:
        slots = []
        for raw in data.get("slots", []):
            item = dict(raw)
            item["entity_mappings"] = [tuple(m) for m in item.get("entity_mappings", [])]
            slots.append(SlotSpec(**item))
        return cls(
            intents=list(data.get("intents", [])),
            entities=list(data.get("entities", [])),
            intent_entities={k: list(v) for k, v in data.get("intent_entities", {}).items()},
            slots=slots,
            forms=list(data.get("forms", [])),
            actions=list(data.get("actions", [])),
            store_entities_as_slots=bool(data.get("store_entities_as_slots", True)),
        )


def _used_entities(
    use: bool | list[str] | None,
    ignore: list[str] | None,
    labels: list[str],
    ignored_everywhere: set[str],
) -> list[str]:
    """Rasa's ``used_entities`` of an intent: `use` (all when True or unset), minus `ignore`
    and the entities that do not influence the conversation, with their role/group labels."""
    if use is False:
        names: set[str] = set()
    elif isinstance(use, list):
        names = set(use)
    else:
        names = {label.split(ENTITY_LABEL_SEPARATOR)[0] for label in labels}
    names -= set(ignore or [])
    names -= ignored_everywhere
    return [label for label in labels if label.split(ENTITY_LABEL_SEPARATOR)[0] in names]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------------------------
# Replaying events


def _base_intent(name: Any) -> str | None:
    """A retrieval intent's base name (``chitchat/ask_name`` -> ``chitchat``)."""
    if not isinstance(name, str) or not name:
        return None
    return name.split("/", 1)[0]


def user_sub_state(event: dict[str, Any], spec: StateSpec) -> dict[str, Any]:
    """The ``user`` sub-state of a ``user`` event: intent and/or text, and the featurised
    entities of the intent (sorted), as Rasa's ``Domain._get_user_sub_state``."""
    parse = event.get("parse_data") or {}
    intent_data = parse.get("intent") or {}
    intent = _base_intent(intent_data.get("name") if isinstance(intent_data, dict) else None)
    text = event.get("text")
    use_text = event.get("use_text_for_featurization")
    out: dict[str, Any] = {}
    if text and (use_text or use_text is None):
        out[TEXT] = text
    if intent and not use_text:
        out[INTENT] = intent
    entities = _entity_labels(parse.get("entities") or [])
    wanted = spec.wanted_entities(intent)
    if wanted is not None:
        entities &= wanted
    if entities and not use_text:
        out[ENTITIES] = tuple(sorted(entities))
    return out


def _entity_labels(entities: Iterable[Any]) -> set[str]:
    labels: set[str] = set()
    for entity in entities:
        if not isinstance(entity, dict) or not entity.get("entity"):
            continue
        name = str(entity["entity"])
        labels.add(name)
        for key in ("role", "group"):
            if entity.get(key):
                labels.add(f"{name}{ENTITY_LABEL_SEPARATOR}{entity[key]}")
    return labels


class Replay:
    """The part of a tracker's state that dialogue states depend on, updated event by event
    as Rasa's ``DialogueStateTracker`` updates itself."""

    def __init__(self, spec: StateSpec) -> None:
        self.spec = spec
        self.slots: dict[str, Any] = spec.initial_slots()
        self.set_slots: set[str] = set()
        self.user: dict[str, Any] = {}
        self.latest_intent: str | None = None
        self.user_confidence: float | None = None
        self.user_text: str | None = None
        self.latest_action: dict[str, Any] = {}
        self.active_loop: str | None = None
        self.loop_rejected = False
        self.loop_interrupted = False
        self.followup_action: str | None = None

    def copy(self) -> Replay:
        other = Replay.__new__(Replay)
        other.__dict__.update(self.__dict__)
        other.slots = dict(self.slots)
        other.set_slots = set(self.set_slots)
        return other

    def reset(self) -> None:
        self.__init__(self.spec)  # type: ignore[misc]

    @property
    def latest_action_name(self) -> str | None:
        return self.latest_action.get(ACTION_NAME)

    def apply(self, event: dict[str, Any]) -> None:
        handler = _APPLY.get(str(event.get("event")))
        if handler is not None:
            handler(self, event)

    def _slot(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        if isinstance(name, str):
            self.slots[name] = copy.deepcopy(event.get("value"))
            self.set_slots.add(name)

    def _user(self, event: dict[str, Any]) -> None:
        self.user = user_sub_state(event, self.spec)
        intent = (event.get("parse_data") or {}).get("intent") or {}
        name = intent.get("name") if isinstance(intent, dict) else None
        confidence = intent.get("confidence") if isinstance(intent, dict) else None
        self.latest_intent = name if isinstance(name, str) else None
        self.user_text = event.get("text") if isinstance(event.get("text"), str) else None
        self.user_confidence = float(confidence) if isinstance(confidence, (int, float)) else None
        self.followup_action = None

    def _action(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        if name:
            self.latest_action = {ACTION_NAME: name}
        else:
            self.latest_action = {ACTION_TEXT: event.get("action_text") or ""}
        if self.active_loop is not None:
            self.loop_interrupted = False
            if name == self.active_loop:
                self.loop_rejected = False
        self.followup_action = None

    def _active_loop(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        self.active_loop = name if isinstance(name, str) and name else None
        self.loop_rejected = False
        self.loop_interrupted = False

    def _rejected(self, event: dict[str, Any]) -> None:
        if self.active_loop is not None and event.get("name") == self.active_loop:
            self.loop_rejected = True

    def _interrupted(self, event: dict[str, Any]) -> None:
        if self.active_loop is not None:
            self.loop_interrupted = bool(event.get("is_interrupted", True))

    def _reset_slots(self, _event: dict[str, Any]) -> None:
        self.slots = self.spec.initial_slots()
        self.set_slots = set()

    def _featurization(self, event: dict[str, Any]) -> None:
        """``user_featurization``: says whether the latest user turn was read by text."""
        if not self.user:
            return
        if event.get("use_text_for_featurization"):
            self.user.pop(INTENT, None)
            self.user.pop(ENTITIES, None)
        elif INTENT in self.user:
            self.user.pop(TEXT, None)

    def _followup(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        self.followup_action = name if isinstance(name, str) else None

    # -- states -------------------------------------------------------------------------

    def state(self, omit_unset_slots: bool = False) -> State:
        """The current state (Rasa's ``Domain.get_active_state``)."""
        state: State = {}
        if self.user:
            state[USER] = dict(self.user)
        slots = self.slot_sub_state(omit_unset_slots)
        if slots:
            state[SLOTS] = slots
        if self.latest_action:
            state[PREVIOUS_ACTION] = dict(self.latest_action)
        if self.active_loop:
            state[ACTIVE_LOOP] = {LOOP_NAME: self.active_loop}
        return state

    def slot_sub_state(self, omit_unset_slots: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in self.spec.slots:
            if not spec.influences or spec.name not in self.slots:
                continue
            if omit_unset_slots and spec.name not in self.set_slots:
                continue
            value = self.slots[spec.name]
            if value == SHOULD_NOT_BE_SET:
                out[spec.name] = SHOULD_NOT_BE_SET
                continue
            features = spec.features(value)
            if any(features):
                out[spec.name] = features
        return out


_APPLY = {
    "slot": Replay._slot,
    "user": Replay._user,
    "action": Replay._action,
    "active_loop": Replay._active_loop,
    "action_execution_rejected": Replay._rejected,
    "loop_interrupted": Replay._interrupted,
    "reset_slots": Replay._reset_slots,
    "user_featurization": Replay._featurization,
    "followup": Replay._followup,
}


# --------------------------------------------------------------------------------------------
# Applied events (Rasa's ``DialogueStateTracker.applied_events``)


def _kind(event: dict[str, Any]) -> str:
    return str(event.get("event"))


def _is_action(event: dict[str, Any]) -> bool:
    return _kind(event) == "action"


def applied_events(
    events: Sequence[dict[str, Any]], spec: StateSpec | None = None
) -> list[dict[str, Any]]:
    """The events that still count: what came before the latest ``restart`` or
    ``session_started`` is dropped, ``undo`` removes back to the previous action, ``rewind``
    back to the previous user message and the action before it, a ``routing_session_ended``
    keeps only the slots shared for coexistence, and a loop's repeated happy-path execution
    is folded into its previous execution."""
    loops = {e.get("name") for e in events if _kind(e) == "active_loop" and e.get("name")}
    shared = shared_slots(spec)
    done: list[dict[str, Any]] = []
    for event in events:
        done = fold_event(done, event, loops, shared)
    return done


def shared_slots(spec: StateSpec | None) -> set[str]:
    """The slots a ``routing_session_ended`` keeps."""
    return {s.name for s in spec.slots if s.shared_for_coexistence} if spec else set()


def fold_event(
    done: list[dict[str, Any]], event: dict[str, Any], loops: set[Any], shared: set[str]
) -> list[dict[str, Any]]:
    """`done` (the applied events so far, changed in place) after `event`, or a new list when
    the event starts over; `loops` are the names of every loop the events activate."""
    kind = _kind(event)
    if kind in ("restart", "session_started"):
        return []
    if kind == "routing_session_ended":
        return [e for e in done if _kind(e) == "slot" and e.get("name") in shared]
    if kind == "undo":
        _undo_till(done, "action")
    elif kind == "rewind":
        _undo_till(done, "user")
        _undo_till(done, "action")
    elif (
        kind == "action"
        and event.get("name") in loops
        and not _first_loop_execution_or_unhappy_path(str(event.get("name")), done)
    ):
        _undo_till_previous_loop_execution(str(event.get("name")), done)
    else:
        done.append(event)
    return done


def _undo_till(done: list[dict[str, Any]], kind: str) -> None:
    while done:
        event = done.pop()
        if _kind(event) == kind:
            return


def _first_loop_execution_or_unhappy_path(loop: str, done: list[dict[str, Any]]) -> bool:
    next_action: str | None = None
    for event in reversed(done):
        kind = _kind(event)
        if kind == "active_loop" and not event.get("name"):
            return True
        if kind == "action_execution_rejected" and event.get("name") == loop:
            return True
        if kind == "user" and next_action is not None and next_action != loop:
            return True
        if kind == "action":
            if event.get("name") == loop:
                return False
            next_action = event.get("name")
    return True


def _undo_till_previous_loop_execution(loop: str, done: list[dict[str, Any]]) -> None:
    offset = 0
    for event in reversed(done[:]):
        kind = _kind(event)
        if kind == "action" and event.get("name") == loop:
            break
        if kind in ("action", "user", "user_featurization"):
            del done[len(done) - 1 - offset]
        else:
            offset += 1


# --------------------------------------------------------------------------------------------
# States


@dataclass
class Turn:
    """The replayed tracker just before one action (or at the end: `action` is None)."""

    replay: Replay
    action: dict[str, Any] | None
    hide_rule_turn: bool


def prior_trackers(
    events: Sequence[dict[str, Any]], spec: StateSpec, *, already_applied: bool = False
) -> Iterator[Turn]:
    """The tracker before each action of the applied events, then the tracker at the end
    (Rasa's ``generate_all_prior_trackers``)."""
    replay = Replay(spec)
    for event in events if already_applied else applied_events(events, spec):
        if _is_action(event):
            yield Turn(replay.copy(), event, bool(event.get("hide_rule_turn")))
        replay.apply(event)
    yield Turn(replay, None, False)


def past_states(
    events: Sequence[dict[str, Any]],
    spec: StateSpec,
    *,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, list[str]] | None = None,
    already_applied: bool = False,
) -> list[State]:
    """The states of the conversation, one before each action and one at the end.

    With `ignore_rule_only_turns` (the machine-learned policies), turns predicted by rules
    that no story has (``hide_rule_turn``) are left out and what only rules use
    (`rule_only_data`: ``slots`` and ``loops``) is removed, as Rasa does.
    """
    states: list[State] = []
    last_ml_action: dict[str, Any] | None = None
    hidden = False
    replay = Replay(spec)
    for event in [*(events if already_applied else applied_events(events, spec)), None]:
        if event is not None and not _is_action(event):
            replay.apply(event)
            continue
        if ignore_rule_only_turns:
            if not hidden:
                last_ml_action = dict(replay.latest_action) or None
            if not replay.followup_action and replay.latest_action_name != replay.active_loop:
                hidden = bool(event and event.get("hide_rule_turn"))
        if not (ignore_rule_only_turns and hidden):
            states.append(
                _ml_state(replay, states, last_ml_action, rule_only_data)
                if ignore_rule_only_turns
                else replay.state(omit_unset_slots)
            )
        if event is not None:
            replay.apply(event)
    return states


def _ml_state(
    replay: Replay,
    states: list[State],
    last_ml_action: dict[str, Any] | None,
    rule_only_data: dict[str, list[str]] | None,
) -> State:
    state = replay.state()
    _remove_rule_only_features(state, rule_only_data)
    if states:
        _substitute_rule_only_user_input(state, states[-1])
    if last_ml_action:
        state[PREVIOUS_ACTION] = dict(last_ml_action)
    return {k: v for k, v in state.items() if v}


def _remove_rule_only_features(state: State, rule_only: dict[str, list[str]] | None) -> None:
    if not rule_only:
        return
    for slot in rule_only.get("slots", []):
        state.get(SLOTS, {}).pop(slot, None)
    loop = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
    if loop is not None and loop in rule_only.get("loops", []):
        del state[ACTIVE_LOOP]


def _substitute_rule_only_user_input(state: State, previous: State) -> None:
    if is_prev_action_listen(state):
        return
    if not previous.get(USER) and state.get(USER):
        del state[USER]
    elif previous.get(USER):
        state[USER] = previous[USER]


def is_prev_action_listen(state: State) -> bool:
    return state.get(PREVIOUS_ACTION, {}).get(ACTION_NAME) == ACTION_LISTEN


def active_loop_name(state: State) -> str | None:
    name = state.get(ACTIVE_LOOP, {}).get(LOOP_NAME)
    return None if not name or name == SHOULD_NOT_BE_SET else str(name)


def remove_user_text_if_intent(states: Iterable[State]) -> None:
    """Only the intent is featurised when a user sub-state has both intent and text."""
    for state in states:
        user = state.get(USER)
        if user and user.get(INTENT) and user.get(TEXT):
            del user[TEXT]


def prediction_states(
    states: list[State], max_history: int | None, *, use_text: bool = False
) -> list[State]:
    """The last `max_history` states (all when None) for a prediction, with the latest user
    message read by its text (`use_text`) or by its intent, and every other user turn by its
    intent when it has one (Rasa's ``prediction_states``)."""
    # Only the user sub-states change below: copying those is enough (states are shared).
    sliced = [
        {**state, USER: dict(state[USER])} if USER in state else dict(state)
        for state in (states[-max_history:] if max_history else states)
    ]
    if sliced and is_prev_action_listen(sliced[-1]) and USER in sliced[-1]:
        user = sliced[-1][USER]
        if use_text:
            user.pop(INTENT, None)
            user.pop(ENTITIES, None)
        else:
            user.pop(TEXT, None)
        if not user:
            del sliced[-1][USER]
    remove_user_text_if_intent(sliced)
    return sliced


def state_key(state: State) -> str:
    """A canonical text for one state (JSON writes the tuples of entities and slot features
    as lists)."""
    return json.dumps(state, sort_keys=True, ensure_ascii=False)


def states_key(states: Sequence[State], keys: Sequence[str] | None = None) -> str:
    """A canonical text for a list of states (the memoization lookup key); `keys` are the
    states' `state_key` when already known."""
    parts = keys if keys is not None else [state_key(s) for s in states]
    return "[" + ", ".join(parts) + "]"


def freeze_states(states: Sequence[State]) -> tuple[str, ...]:
    """A hashable form of `states`."""
    return tuple(state_key(s) for s in states)
