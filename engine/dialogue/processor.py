"""The dialogue processor: one user message in, Rasa events and bot messages out.

A turn runs in three stages, as Rasa Pro's CALM does (one module each; `Processor` here is the
façade that wires them and records the session):

1. **Understand**: command generators turn the message into Rasa's commands. Payload
   commands (``/SetSlots(...)``, ``/StartFlow(...)``) are taken as they are; then the
   generator config.yml chooses (`engine.llm.setup`): with an LLM command generator whose LLM
   is configured, the NLU commands (when the pipeline lists ``NLUCommandAdapter``) come first
   and the LLM generator (`engine.llm.generator`) adds its own; otherwise the offline generator
   (`understand`) reads the message: triggers, slot values by type, corrections, cancellations,
   flow retrieval, chitchat, knowledge questions, and ``cannot handle`` when nothing fits.
   Every command names its ``generator``; the turn's commands are recorded in the user event's
   ``parse_data["commands"]`` (an LLM's prompt and completion in ``parse_data["prompts"]``),
   as Rasa Pro records them.
2. **Apply commands** (`commands`): Rasa's clean-up (commands for unknown slots or flows, a
   set slot its mappings don't allow, a second cancel... are dropped or become ``cannot
   handle``; a changed answer becomes a correction), then each command runs on the dialogue
   stack: flows start (interrupting an active one) or are cancelled, slots are set, and
   patterns are pushed (correction, clarification, chitchat, search, human handoff, skip
   question, repeat, internal error, cannot handle...).
3. **Advance** (`executor`, with `builtin_actions`) the flow on top of the stack step by step
   until the bot has to listen. With a rephraser (``nlg: {type: rephrase}``), responses marked
   ``rephrase: true`` are rephrased by the LLM before they are sent; with the
   EnterpriseSearchPolicy's ``llm``, knowledge questions are answered by it.

Classic assistants (config.yml lists a classic policy: RulePolicy, MemoizationPolicy,
TEDPolicy...) run a different turn (`engine.dialogue.classic`): ``action_extract_slots``, then
the policies choose each next action until the bot listens. With a coexistence router in the
pipeline (`engine.dialogue.router`), each session goes to the CALM stages above or to the
policies; `Processor.dialogue_mode` says which of ``"calm"``, ``"classic"`` and
``"coexistence"`` the assistant runs. A message after the domain's
``session_config.session_expiration_time`` (minutes; 0 never) starts a new session first,
its slots carried over when ``carry_over_slots_to_new_session`` is true.

Deviations from Rasa that are deliberate:

* An NLU value or a command payload may set a slot that no flow collects.
* A value that cannot be coerced to the slot's type is dropped; if it answered the question
  being asked, the question is asked again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.dialogue.action_client import ActionClient, NullActionClient
from engine.dialogue.classic import ROUTE_SLOT, ClassicDialogue
from engine.dialogue.commands import CommandApplier, FlowStack
from engine.dialogue.conditions import Conditions
from engine.dialogue.copying import json_copy, json_plain
from engine.dialogue.executor import Executor
from engine.dialogue.flow_classifier import FlowClassifier
from engine.dialogue.model import DialogueModel
from engine.dialogue.router import CALM, KEEP, NLU, Router, build_router
from engine.dialogue.tracker import Tracker, now
from engine.dialogue.turn import Command, Recorder, Turn, action_fields, stamped
from engine.dialogue.understand import NLUCommandAdapter, Understanding

if TYPE_CHECKING:
    from engine.llm.setup import LlmSetup

__all__ = ["CALM_MODE", "CLASSIC_MODE", "COEXISTENCE_MODE", "Processor", "UserMessage"]

CALM_MODE = "calm"
CLASSIC_MODE = "classic"
COEXISTENCE_MODE = "coexistence"
#: The text of an external event's user message (Rasa's ``EXTERNAL_MESSAGE_PREFIX``).
EXTERNAL_PREFIX = "EXTERNAL: "


@dataclass
class UserMessage:
    text: str
    sender_id: str
    input_channel: str = "rest"
    metadata: dict[str, Any] | None = None
    message_id: str | None = None


class Processor:
    def __init__(
        self,
        model: DialogueModel,
        nlu: Any,
        flow_classifier: FlowClassifier | None = None,
        *,
        action_client: ActionClient | None = None,
        seed: int | None = None,
        model_id: str = "",
        assistant_id: str = "",
        llm: LlmSetup | None = None,
        policies: Any = None,
    ) -> None:
        self.model = model
        #: The classic policies (`engine.policies.PolicyEnsemble`), or None.
        self.policies = policies
        self.llm = llm
        self.nlu = nlu
        self.flow_classifier = flow_classifier
        self.action_client: ActionClient = action_client or NullActionClient()
        self.model_id = model_id
        self.assistant_id = assistant_id or model.assistant_id
        self.settings = model.settings
        self.recorder = Recorder(self.model_id, self.assistant_id, seed)
        conditions = Conditions()
        self.stack = FlowStack(model, self.recorder)
        self.understanding = Understanding(model, flow_classifier, conditions)
        self.commands = CommandApplier(model, self.stack, self.recorder)
        executor = _RephrasingExecutor if llm is not None and llm.rephraser else Executor
        self.executor = executor(
            model, self.recorder, self.stack, conditions, self.action_client, random.Random(seed)
        )
        if isinstance(self.executor, _RephrasingExecutor) and llm is not None:
            self.executor.rephraser = llm.rephraser
        if llm is not None:
            self.executor.search_llm = llm.search
        self.router: Router | None = build_router(model, _router_llm(llm))
        self.classic = ClassicDialogue(
            model,
            self.recorder,
            self.executor,
            self.action_client,
            policies,
            calm_slots=set(model.collecting_flows) if self.router is not None else None,
        )

    @property
    def dialogue_mode(self) -> str:
        """``"coexistence"`` with a router, ``"classic"`` when config.yml lists a classic
        policy, else ``"calm"``."""
        if self.router is not None:
            return COEXISTENCE_MODE
        if self.policies is not None and getattr(self.policies, "active", False):
            return CLASSIC_MODE
        return CALM_MODE

    def new_tracker(self, sender_id: str) -> Tracker:
        return Tracker(sender_id, self.model.frozen_initial_slots(), self.model.shared_slots())

    def handle_message(self, tracker: Tracker, message: UserMessage) -> list[dict[str, Any]]:
        """One user turn: parse, update slots, run flows until the bot listens.

        Appends Rasa events to the tracker (every event's metadata carries ``model_id`` and
        ``assistant_id``) and returns the bot messages as Rasa's REST channel returns them:
        ``[{"recipient_id", "text"?, "buttons"?, "image"?, "custom"?, ...}]``.
        """
        turn = Turn(tracker.sender_id, message.input_channel)
        self._ensure_session(tracker, turn, message.metadata)
        parse = self.parse(message.text)
        parse["message_id"] = message.message_id
        user_event = {
            "event": "user",
            "timestamp": now(),
            "text": message.text,
            "parse_data": parse,
            "input_channel": message.input_channel,
            "message_id": message.message_id,
            "metadata": dict(message.metadata or {}),
        }
        self._run_user_turn(tracker, user_event, turn)
        return turn.messages

    def trigger_intent(
        self,
        tracker: Tracker,
        intent: str,
        entities: list[dict[str, Any]] | dict[str, Any] | None = None,
        input_channel: str | None = None,
    ) -> list[dict[str, Any]]:
        """An external event (Rasa's ``trigger_intent`` endpoint, or a reminder): a user
        message ``EXTERNAL: <intent>`` with that intent and `entities` (a list of entity
        dicts, or the shorthand ``{entity: value}``), then the turn runs as for a message."""
        channel = input_channel or tracker.latest_input_channel
        turn = Turn(tracker.sender_id, channel)
        self._ensure_session(tracker, turn, None)
        if isinstance(entities, dict):
            entity_list = [{"entity": k, "value": v} for k, v in entities.items()]
        else:
            entity_list = [dict(e) for e in entities or [] if isinstance(e, dict)]
        text = f"{EXTERNAL_PREFIX}{intent}"
        parse: dict[str, Any] = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entity_list,
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "message_id": None,
        }
        user_event = {
            "event": "user",
            "timestamp": now(),
            "text": text,
            "parse_data": parse,
            "input_channel": channel,
            "message_id": None,
            "metadata": {"is_external": True},
        }
        self._run_user_turn(tracker, user_event, turn)
        return turn.messages

    def _run_user_turn(self, tracker: Tracker, user_event: dict[str, Any], turn: Turn) -> None:
        """Record the user event and run the turn the assistant's mode runs."""
        parse = user_event["parse_data"]
        route, slot = self._route(tracker, parse)
        self.recorder.append(tracker, user_event)
        if slot != KEEP:
            self.recorder.set_slot(tracker, ROUTE_SLOT, slot)
        if route == CALM:
            commands = self.understand(tracker, parse)
            # Rasa Pro's place for the turn's commands (the inspector shows them).
            parse["commands"] = json_plain(commands)
            self.commands.apply(tracker, commands)
            self.executor.advance(tracker, turn)
            return
        self.classic.after_user_message(tracker, turn)
        self.classic.run(tracker, turn)

    def _route(self, tracker: Tracker, parse: dict[str, Any]) -> tuple[str, Any]:
        """Where the message goes (``calm`` or ``nlu``) and the routing slot's new value
        (`KEEP`: unchanged); with a router, its decision goes into ``parse["routing"]``."""
        if self.router is None:
            return (CALM if self.dialogue_mode == CALM_MODE else NLU), KEEP
        decision = self.router.route(tracker, parse)
        parse["routing"] = decision.as_parse_data(self.router.name)
        if self.router.last_prompt:  # the LLMBasedRouter's prompt and answer
            parse.setdefault("prompts", []).append(
                {
                    "component_name": self.router.name,
                    "prompt_name": "router_prompt",
                    **self.router.last_prompt,
                }
            )
            self.router.last_prompt = None
        return decision.route, decision.slot

    def _ensure_session(
        self, tracker: Tracker, turn: Turn, metadata: dict[str, Any] | None
    ) -> None:
        """Start a session when none is started or the last one expired."""
        if not tracker.has_session() or self._session_expired(tracker):
            self._start_session(tracker, turn, metadata)

    def _session_expired(self, tracker: Tracker) -> bool:
        config = self.model.domain.session_config or {}
        minutes = config.get("session_expiration_time", 60)
        if isinstance(minutes, bool) or not isinstance(minutes, int | float):
            return False
        return tracker.is_session_expired(float(minutes))

    def parse(self, text: str) -> dict[str, Any]:
        parse: dict[str, Any] = self.nlu.parse(text) if self.nlu is not None else {"text": text}
        parse.setdefault("intent", {"name": None, "confidence": 0.0})
        parse.setdefault("entities", [])
        parse.setdefault("intent_ranking", [])
        parse["text"] = text
        return parse

    def understand(self, tracker: Tracker, parse: dict[str, Any]) -> list[Command]:
        """The commands for one parsed message, each naming its ``generator`` (see the module
        docstring). The LLM generators' prompts go into ``parse["prompts"]``."""
        offline = self.understanding.commands(tracker, parse)
        if self.llm is None or not self.llm.generators:
            return offline
        generators = self.llm.generators
        # Payload commands always count; NLU commands when the pipeline lists the adapter.
        kept = {"payload", NLUCommandAdapter.name} if self.llm.nlu_adapter else {"payload"}
        commands = [c for c in offline if c["generator"] in kept]
        prompts = []
        for generator in generators:
            commands = generator.commands(tracker, parse, commands)
            if generator.last_prompt is not None:
                prompts.append(
                    {
                        "component_name": generator.name,
                        "prompt_name": "command_generator_prompt",
                        **generator.last_prompt,
                    }
                )
        if prompts:
            parse.setdefault("prompts", []).extend(prompts)
        return commands

    def apply_events(
        self, tracker: Tracker, events: list[dict[str, Any]], *, run: bool = True
    ) -> list[dict[str, Any]]:
        """Append `events` (as ``POST /conversations/{id}/tracker/events`` does).

        Slot events preset slots; ``stack`` events or ``flow_started`` events (which push the
        flow when it is not on the stack yet) start at a flow. With `run`, flows then advance
        until the bot listens; the bot messages produced are returned.
        """
        turn = Turn(tracker.sender_id, tracker.latest_input_channel)
        if not tracker.has_session():
            self._start_session(tracker, turn, None)
        started = False
        for event in events:
            event = stamped(json_copy(event))
            if event.get("event") == "flow_started":
                flow_id = event.get("flow_id")
                if flow_id in self.model.flows and flow_id not in tracker.active_flow_ids():
                    self.stack.push_flow(tracker, flow_id, "regular", emit_started=False)
                    started = True
            elif event.get("event") == "stack":
                started = True
            self.recorder.append(tracker, event)
        if run and started:
            self.executor.advance(tracker, turn)
        self.recorder.flush_stack(tracker)
        return turn.messages

    def start_flow(
        self, tracker: Tracker, flow_id: str, slots: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Start a session (if needed) at `flow_id` with preset `slots`; run until listen."""
        if flow_id not in self.model.flows:
            raise KeyError(f"unknown flow '{flow_id}'")
        turn = Turn(tracker.sender_id, tracker.latest_input_channel)
        if not tracker.has_session():
            self._start_session(tracker, turn, None)
        for name, value in (slots or {}).items():
            self.recorder.set_slot(tracker, name, value)
        if self.dialogue_mode == COEXISTENCE_MODE and tracker.slots.get(ROUTE_SLOT) is not True:
            self.recorder.set_slot(tracker, ROUTE_SLOT, True)
        if flow_id.startswith("pattern_"):
            self.stack.push_pattern(tracker, flow_id, {})
        else:
            self.stack.start_user_flow(tracker, flow_id)
        self.executor.advance(tracker, turn)
        return turn.messages

    def restart(self, tracker: Tracker) -> None:
        """Restart the conversation: a ``restart`` event clears slots and the stack."""
        self.recorder.append(
            tracker, {"event": "action", "timestamp": now(), **action_fields("action_restart")}
        )
        self.recorder.append(tracker, {"event": "restart", "timestamp": now()})

    def _start_session(self, tracker: Tracker, turn: Turn, metadata: dict[str, Any] | None) -> None:
        carried = {}
        if tracker.events and self._carry_over_slots():
            # A new session is routed anew (coexistence).
            carried = {
                k: v
                for k, v in tracker.slots.items()
                if v != self.model.initial_slots().get(k) and k != ROUTE_SLOT
            }
        classic = self.dialogue_mode == CLASSIC_MODE
        if classic:  # not a policy's prediction (Rasa records no policy for it)
            self.recorder.predicted = _unpredicted("action_session_start")
        self.recorder.action(tracker, "action_session_start")
        started: dict[str, Any] = {"event": "session_started", "timestamp": now()}
        if metadata:
            started["metadata"] = dict(metadata)
        self.recorder.append(tracker, started)
        for name, value in carried.items():
            self.recorder.set_slot(tracker, name, value)
        if not classic and any(f.id == "pattern_session_start" for f in self.model.user_flows):
            self.stack.push_pattern(tracker, "pattern_session_start", {})
            self.executor.advance(tracker, turn)
        else:
            if classic:
                self.recorder.predicted = _unpredicted("action_listen")
            self.recorder.listen(tracker)

    def _carry_over_slots(self) -> bool:
        config = self.model.domain.session_config or {}
        return bool(config.get("carry_over_slots_to_new_session", True))


def _unpredicted(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "policy": None,
        "confidence": 1.0,
        "action_text": None,
        "hide_rule_turn": False,
    }


def _router_llm(llm: LlmSetup | None) -> Any:
    """The LLMBasedRouter's LLM: the command generator's client when an LLM is configured."""
    if llm is None or not llm.generators:
        return None
    client = llm.generators[0].client
    return lambda prompt: client.complete(prompt).text


class _RephrasingExecutor(Executor):
    """The executor whose bot messages go through the rephraser first."""

    rephraser: Any = None

    def bot(self, tracker: Tracker, message: dict[str, Any], turn: Turn) -> None:
        if self.rephraser is not None:
            message = self.rephraser.rephrase(message, tracker)
        super().bot(tracker, message, turn)
