"""A running bot: one loaded model, its conversations, and where their events go.

`Bot` is what the HTTP layer (and the benchmark) calls. Every method that changes a
conversation runs one *turn*: it remembers how many events the tracker had, lets the dialogue
work, publishes the new events to the event broker in order, and, if the dialogue crashed,
puts the tracker back as it was before the turn (nothing is published then). Callers must hold
the conversation's lock (`engine.server.store.ConversationLocks`) around a turn.

A turn's side effects are then carried out as Rasa does: its ``reminder`` events are scheduled
and its ``cancel_reminder`` events cancel (`engine.server.reminders`; a user message drops the
reminders that ``kill_on_user_msg``, a restart or a new session drops them all). When one is
due, the app calls `Bot.fire_reminder` under the conversation's lock, which triggers the
reminder's intent (`Bot.trigger_intent`, Rasa's external event).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from engine.archive import LoadedModel
from engine.brokers import EventBroker, publish_events
from engine.dialogue import ActionClient, NullActionClient, Processor, Tracker, UserMessage
from engine.server.reminders import ReminderError, ReminderScheduler, prepare_reminder
from engine.server.store import DEFAULT_MAX_CONVERSATIONS, InMemoryTrackerStore

if TYPE_CHECKING:
    from engine.llm import LlmSetup

T = TypeVar("T")

__all__ = ["STUDIO_START_FLOW", "Bot", "EventsError"]

logger = logging.getLogger(__name__)

#: Studio's convenience event for ``POST /conversations/{id}/tracker/events``:
#: ``{"event": "studio_start_flow", "flow": "<flow id>", "slots": {...}}`` starts the flow (with
#: the slots preset) and runs the bot until it listens.
STUDIO_START_FLOW = "studio_start_flow"

#: Rasa event types accepted on ``POST .../tracker/events`` (Rasa's and Rasa Pro's).
KNOWN_EVENTS = frozenset(
    {
        "user", "bot", "action", "slot", "session_started", "restart", "rewind", "reset_slots",
        "undo", "pause", "resume", "export", "user_featurization", "entities", "active_loop",
        "form", "loop_interrupted", "form_validation", "action_execution_rejected", "followup",
        "reminder", "cancel_reminder", "agent", "stack", "flow_started", "flow_interrupted",
        "flow_resumed", "flow_completed", "flow_cancelled", "session_ended", "error",
        "bot_turn_ended",
    }
)  # fmt: skip
_REQUIRED_KEYS = {
    "slot": ("name",),
    "action": ("name",),
    "followup": ("name",),
    "stack": ("update",),
}


class EventsError(ValueError):
    """Posted events that cannot be applied; the message says which and why."""


def validate_events(raw: Any) -> list[dict[str, Any]]:
    """One event or a list of events, checked; raises `EventsError`."""
    events = raw if isinstance(raw, list) else [raw]
    if not events:
        raise EventsError("the request body holds no events")
    checked: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        where = f"event {index}" if isinstance(raw, list) else "the event"
        if not isinstance(event, dict):
            raise EventsError(f"{where} must be an object, not {type(event).__name__}")
        kind = event.get("event")
        if not isinstance(kind, str):
            raise EventsError(f"{where} has no 'event' type")
        if kind not in KNOWN_EVENTS:
            raise EventsError(f"{where} has the unknown type '{kind}'")
        for key in _REQUIRED_KEYS.get(kind, ()):
            if not isinstance(event.get(key), str):
                raise EventsError(f"{where} ('{kind}') needs a string '{key}'")
        if kind == "reminder":
            try:
                prepare_reminder(dict(event))
            except ReminderError as exc:
                raise EventsError(f"{where} ('reminder'): {exc}") from None
        # A null timestamp is stamped on receipt, as Rasa does (the Rasa SDK sends null).
        if event.get("timestamp") is not None and not isinstance(event["timestamp"], (int, float)):
            raise EventsError(f"{where} has a timestamp that is not a number")
        if "metadata" in event and not isinstance(event["metadata"], (dict, type(None))):
            raise EventsError(f"{where} has metadata that is not an object")
        normalised = dict(event)
        # Rasa's legacy names, as Rasa itself emits them.
        if kind == "form":
            normalised["event"] = "active_loop"
        elif kind == "form_validation":
            normalised["event"] = "loop_interrupted"
            normalised.setdefault("is_interrupted", not event.get("validate", True))
        if normalised.get("timestamp") is None:
            normalised["timestamp"] = time.time()
        checked.append(normalised)
    return checked


class Bot:
    """Serves one `LoadedModel`: conversations in memory, events to `broker`.

    The bot builds its `Processor` from the model, the `action_client` and the `seed`; to serve
    a processor built elsewhere (another NLU, a test double for the action server...), use
    `Bot.from_processor`.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        broker: EventBroker | None = None,
        action_client: ActionClient | None = None,
        seed: int | None = None,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
        processor: Processor | None = None,
        llm: LlmSetup | None = None,
    ) -> None:
        if processor is None:
            processor = Processor(
                model.dialogue_model,
                model.nlu,
                model.flow_classifier,
                action_client=action_client,
                seed=seed,
                model_id=model.model_id,
                assistant_id=model.assistant_id,
                llm=llm,
                policies=model.policies,
            )
        elif action_client is not None or seed is not None or llm is not None:
            raise ValueError(
                "pass the action client, the seed and the LLM setup to the processor, not the bot"
            )
        else:
            action_client = processor.action_client
        self.model = model
        self.broker = broker
        self.action_client = action_client
        self.processor = processor
        self.store = InMemoryTrackerStore(self.new_tracker, max_conversations)
        self.published = 0
        #: The conversations' pending reminders (they fire once the HTTP app started it).
        self.reminders = ReminderScheduler()
        #: Whether a turn only computes: no action server, no LLM, no event broker and no
        #: sentence embedding (native code that leaves the interpreter), so nothing it does
        #: waits or could run beside the server's loop. The app then runs such a turn on its
        #: loop: handing it to a worker thread costs more than it saves.
        self.turns_only_compute = _only_computes(self)

    @classmethod
    def from_processor(
        cls,
        processor: Processor,
        *,
        metadata: dict[str, Any] | None = None,
        broker: EventBroker | None = None,
        max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
    ) -> Bot:
        """Serve an already built `processor` (its model, NLU, action client and seed).

        `metadata` is what ``/status`` reports (an archive's ``metadata.json``); by default the
        processor's model id and assistant id.
        """
        if metadata is None:
            metadata = {"model_id": processor.model_id, "assistant_id": processor.assistant_id}
        model = LoadedModel(
            metadata=metadata,
            dialogue_model=processor.model,
            nlu=processor.nlu,
            flow_classifier=processor.flow_classifier,
            policies=processor.policies,
        )
        return cls(model, broker=broker, max_conversations=max_conversations, processor=processor)

    # -- conversations ------------------------------------------------------------------------

    def new_tracker(self, sender_id: str, events: list[dict[str, Any]] | None = None) -> Tracker:
        return Tracker.from_events(sender_id, events or [], self.model.dialogue_model)

    def tracker(self, sender_id: str) -> Tracker | None:
        return self.store.get(sender_id)

    def delete(self, sender_id: str) -> bool:
        self.reminders.cancel_all(sender_id)
        return self.store.delete(sender_id)

    def _turn(
        self, sender_id: str, work: Callable[[Tracker], T], *, side_effects: bool = True
    ) -> tuple[Tracker, T]:
        tracker = self.store.get_or_create(sender_id)
        before = len(tracker.events)
        try:
            result = work(tracker)
        except BaseException:
            # Half a turn must not stay in the conversation: rebuild it as it was.
            self.store.save(self.new_tracker(sender_id, tracker.events[:before]))
            raise
        new_events = tracker.events[before:]
        if side_effects:
            self._schedule_reminders(sender_id, new_events)
        self.published += publish_events(
            self.broker,
            sender_id,
            new_events,
            model_id=self.model.model_id,
            assistant_id=self.model.assistant_id,
        )
        return tracker, result

    # -- turns (hold the conversation's lock) -------------------------------------------------

    def handle_message(
        self,
        sender_id: str,
        text: str,
        *,
        metadata: dict[str, Any] | None = None,
        input_channel: str = "rest",
        message_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The bot's messages in answer to one user message (REST channel shape)."""
        message = UserMessage(
            text,
            sender_id,
            input_channel=input_channel,
            metadata=metadata,
            message_id=message_id,
        )
        _, messages = self._turn(
            sender_id, lambda tracker: self.processor.handle_message(tracker, message)
        )
        return messages

    def append_events(
        self, sender_id: str, events: list[dict[str, Any]], *, execute_side_effects: bool = False
    ) -> tuple[Tracker, list[dict[str, Any]]]:
        """Append events (validated by `validate_events`); with `execute_side_effects`, the bot
        then runs until it listens. Returns the tracker and the bot messages of the run."""

        def work(tracker: Tracker) -> list[dict[str, Any]]:
            return self.processor.apply_events(tracker, events, run=execute_side_effects)

        # As Rasa: posted reminders are scheduled only with execute_side_effects.
        return self._turn(sender_id, work, side_effects=execute_side_effects)

    def start_flow(
        self, sender_id: str, flow_id: str, slots: dict[str, Any] | None = None
    ) -> tuple[Tracker, list[dict[str, Any]]]:
        """Start `flow_id` with `slots` preset and run until the bot listens."""
        if self.model.dialogue_model.flow(flow_id) is None:
            raise EventsError(f"the model has no flow '{flow_id}'")
        return self._turn(
            sender_id, lambda tracker: self.processor.start_flow(tracker, flow_id, slots=slots)
        )

    def trigger_intent(
        self,
        sender_id: str,
        intent: str,
        entities: list[dict[str, Any]] | dict[str, Any] | None = None,
    ) -> tuple[Tracker, list[dict[str, Any]]]:
        """Rasa's external event: a ``user`` event with `intent` (text ``EXTERNAL: <intent>``)
        and `entities` (a list of entities, or ``{entity: value}``), then the bot's turn."""
        return self._turn(
            sender_id,
            lambda tracker: self.processor.trigger_intent(tracker, intent, _entities(entities)),
        )

    def fire_reminder(self, sender_id: str, event: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Trigger a due reminder's intent in its conversation, unless the conversation moved
        on (Rasa's checks: a user message after a ``kill_on_user_msg`` reminder, a restart or
        a new session since it was set, or the conversation is gone). Returns the bot's
        messages, or None when the reminder was dropped."""
        tracker = self.store.get(sender_id)
        reason = _stale_reminder(tracker, event)
        if reason is not None:
            logger.info("reminder %r of %r dropped: %s", event.get("name"), sender_id, reason)
            return None
        _, messages = self.trigger_intent(
            sender_id, str(event.get("intent")), event.get("entities") or []
        )
        return messages

    def _schedule_reminders(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Carry out the reminder side effects of a turn's `events`, in order."""
        for event in events:
            kind = event.get("event")
            if kind == "reminder":
                try:
                    prepare_reminder(event)  # names an unnamed reminder before it is published
                except ReminderError as exc:
                    logger.warning("reminder of %r not scheduled: %s", sender_id, exc)
                    continue
                self.reminders.schedule(sender_id, event)
            elif kind == "cancel_reminder":
                self.reminders.cancel(sender_id, event)
            elif kind == "user" and event.get("text"):
                self.reminders.user_message(sender_id)
            elif kind in ("restart", "session_started"):
                self.reminders.cancel_all(sender_id)

    def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> Tracker:
        """Replace the conversation's events (``PUT .../tracker/events``); nothing is published."""
        tracker = self.new_tracker(sender_id, events)
        self.store.save(tracker)
        return tracker

    # -- stateless ----------------------------------------------------------------------------

    def parse(self, text: str) -> dict[str, Any]:
        parse = getattr(self.processor, "parse", None)
        parsed: dict[str, Any] = parse(text) if callable(parse) else self.model.nlu.parse(text)
        return parsed

    def close(self, timeout: float = 10.0) -> None:
        self.reminders.stop()
        if self.broker is not None:
            self.broker.close(timeout)
        close = getattr(self.action_client, "close", None)
        if callable(close):
            close()
        if self.processor.llm is not None:
            self.processor.llm.close()


def _only_computes(bot: Bot) -> bool:
    from engine.actions import NoActionServer

    if bot.broker is not None or type(bot.action_client) not in (NoActionServer, NullActionClient):
        return False
    llm = bot.processor.llm
    if llm is not None and (llm.generators or llm.rephraser or llm.search_client):
        return False
    settings = getattr(bot.processor.nlu, "settings", None)
    return settings is not None and getattr(settings, "embedding", None) is None


def _entities(entities: list[dict[str, Any]] | dict[str, Any] | None) -> list[dict[str, Any]]:
    """Entities as a list: Rasa's short-hand ``{"entity": "value", ...}`` is expanded."""
    if isinstance(entities, dict):
        return [{"entity": name, "value": value} for name, value in entities.items()]
    return [dict(e) for e in entities or [] if isinstance(e, dict)]


def _stale_reminder(tracker: Tracker | None, reminder: dict[str, Any]) -> str | None:
    """Why a due `reminder` must not fire in `tracker` (None: it fires)."""
    if tracker is None:
        return "the conversation no longer exists"
    kill = bool(reminder.get("kill_on_user_msg", True))
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "reminder" and event.get("name") == reminder.get("name"):
            return None
        if kind in ("restart", "session_started"):
            return "the conversation restarted since it was set"
        if kind == "user" and event.get("text") and kill:
            return "a user message came after it"
    return "the conversation does not hold it"
