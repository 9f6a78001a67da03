"""Advancing flows: the flow on top of the stack runs step by step until the bot listens.

`Executor.advance` picks each next step (following branches), runs it (collect, action,
set_slots, link, call), and runs actions: built-in ones (see `builtin_actions`), responses
(``utter_*``), and custom actions through the action client. As in Rasa's flow executor, an
action step whose action is none of these (nor one of Rasa's default actions) is skipped.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from engine.dialogue.action_client import ActionClient, ActionError
from engine.dialogue.builtin_actions import BUILTINS
from engine.dialogue.commands import FlowStack
from engine.dialogue.conditions import Conditions, frame_context, render_context
from engine.dialogue.copying import json_copy
from engine.dialogue.model import START, CompiledFlow, DialogueModel
from engine.dialogue.responses import render_response
from engine.dialogue.retrieval import is_retrieval_action, retrieve_response
from engine.dialogue.slots import INVALID, coerce
from engine.dialogue.tracker import ACTION_LISTEN, Tracker, now
from engine.dialogue.turn import Listen, Recorder, Turn, stamped
from engine.formats import END, StepView
from engine.formats.defaults import DEFAULT_ACTIONS

__all__ = ["RASA_PRO_NEEDED", "Executor", "call_needs_rasa_pro", "rest_messages"]

log = logging.getLogger(__name__)

#: The ``error_type`` of pattern_internal_error when a step needs what only Rasa Pro runs.
RASA_PRO_NEEDED = "rasa_pro_required"

#: Keys of a custom action's response that are not values for the response template.
_RESPONSE_KEYS = {
    "text",
    "buttons",
    "image",
    "custom",
    "attachment",
    "elements",
    "quick_replies",
    "response",
    "template",
    "json_message",
}


class Executor:
    """Runs the steps of the flows on a tracker's stack."""

    def __init__(
        self,
        model: DialogueModel,
        recorder: Recorder,
        stack: FlowStack,
        conditions: Conditions,
        action_client: ActionClient,
        rng: random.Random,
    ) -> None:
        self.model = model
        self.recorder = recorder
        self.stack = stack
        self.conditions = conditions
        self.action_client = action_client
        self.rng = rng
        #: Answers knowledge questions through an LLM (prompt in, answer out) when set;
        #: otherwise ``action_trigger_search`` answers with the best passage.
        self.search_llm: Callable[[str], str] | None = None

    # -- steps ---------------------------------------------------------------------------------

    def advance(self, tracker: Tracker, turn: Turn) -> None:
        """Run steps until the bot listens (an ``action_listen`` event ends the turn)."""
        limit = int(self.model.settings.get("max_steps_per_turn", 250))
        try:
            for _ in range(limit):
                if not tracker.stack:
                    break
                frame = tracker.stack[-1]
                compiled = self.model.flow(frame["flow_id"])
                if compiled is None:
                    self.recorder.update_stack(tracker, tracker.stack[:-1])
                    continue
                step_id = self.next_step_id(compiled, frame, tracker)
                view = compiled.steps.get(step_id) if step_id != END else None
                if view is None:
                    self.stack.end_top_frame(tracker)
                    continue
                self._set_step(tracker, step_id)
                self.run_step(tracker, view, turn)
            else:
                # A flow that loops without listening: stop it rather than spin forever.
                self.recorder.update_stack(tracker, [])
                self.stack.push_pattern(
                    tracker,
                    "pattern_internal_error",
                    {"error_type": "rasa_internal_error_default", "reason": "step_limit"},
                )
                self._run_error_pattern(tracker, turn)
        except Listen:
            return
        self.recorder.listen(tracker)

    def _run_error_pattern(self, tracker: Tracker, turn: Turn) -> None:
        """Run the internal error pattern pushed after the step limit (a bounded run: the
        pattern only talks)."""
        for _ in range(20):
            if not tracker.stack:
                return
            frame = tracker.stack[-1]
            compiled = self.model.flow(frame["flow_id"])
            step_id = self.next_step_id(compiled, frame, tracker) if compiled else END
            view = compiled.steps.get(step_id) if compiled and step_id != END else None
            if view is None or view.kind == "collect" or view.kind == "call":
                self.recorder.update_stack(tracker, tracker.stack[:-1])
                self.recorder.flow_event(tracker, "flow_completed", frame)
                return
            self._set_step(tracker, step_id)
            self.run_step(tracker, view, turn)
        self.recorder.update_stack(tracker, [])

    def next_step_id(self, compiled: CompiledFlow, frame: dict[str, Any], tracker: Tracker) -> str:
        """The step after the frame's current one (``END`` when the flow is done)."""
        step_id = frame.get("step_id") or START
        if step_id == START:
            return compiled.first
        if step_id == END:
            return END
        view = compiled.steps.get(step_id)
        if view is None:
            return END
        if view.kind == "link":
            return END
        if view.next is not None:
            return view.next
        if view.branches:
            top = bool(tracker.stack) and frame is tracker.stack[-1]
            context = frame_context(tracker.stack) if top else frame
            for branch in view.branches:
                if branch.condition is None or self.conditions.holds(
                    branch.condition, tracker.slots, context
                ):
                    if branch.target is not None:
                        return branch.target
                    return branch.steps[0].id if branch.steps else END
        return compiled.following.get(view.id, END)

    def _set_step(self, tracker: Tracker, step_id: str) -> None:
        # Frames are never changed in place (a change makes a new stack), so the new stack
        # shares the frames below the top one with the old.
        stack = [*tracker.stack[:-1], {**tracker.stack[-1], "step_id": step_id}]
        self.recorder.update_stack(tracker, stack)

    def run_step(self, tracker: Tracker, view: StepView, turn: Turn) -> None:
        if view.kind == "action":
            name = render_context(str(view.target), frame_context(tracker.stack))
            if name == ACTION_LISTEN:
                self.recorder.listen(tracker)
                raise Listen
            if not self.knows_action(tracker, name):
                # Rasa's flow executor skips an action it does not know and goes on: the
                # collect pattern's `{{context.utter}}` without a response, its
                # `{{context.collect_action}}` without a custom action, a missing validator.
                if not name.startswith("validate_"):
                    log.info("flow step %s: action %r is not in the domain, skipped", view.id, name)
                return
            self.run_action(tracker, name, turn)
        elif view.kind == "collect":
            self.run_collect(tracker, view)
        elif view.kind == "set_slots":
            for name, value in view.set_slots:
                self.recorder.set_slot(tracker, name, json_copy(value))
        elif view.kind == "link":
            target = str(view.target)
            self.stack.end_top_frame(
                tracker, link_to=target if target in self.model.flows else None
            )
        elif view.kind == "call":
            self.run_call(tracker, view)

    def run_call(self, tracker: Tracker, view: StepView) -> None:
        """Call a flow; a call of a sub-agent or an MCP tool needs Rasa Pro: the flow stops
        with ``pattern_internal_error`` saying so."""
        target = str(view.target)
        if "mcp_server" not in view.data and target in self.model.flows:
            self.stack.push_flow(tracker, target, "call")
            return
        self.stack.stop_for_error(tracker, call_needs_rasa_pro(self.model, view), RASA_PRO_NEEDED)

    def knows_action(self, tracker: Tracker, name: str) -> bool:
        """Whether `name` is an action Rasa would find: a response (the default patterns'
        included), a custom action of the domain, a retrieval action or a default action."""
        return (
            name in BUILTINS
            or name in DEFAULT_ACTIONS
            or name in self.model.responses
            or name in self.model.custom_actions
            or is_retrieval_action(self.model, tracker, name)
        )

    def run_collect(self, tracker: Tracker, view: StepView) -> None:
        """Ask for the slot through pattern_collect_information, with the context Rasa gives
        it: ``utter`` (the step's, else ``utter_ask_<slot>``), ``collect_action``
        (``action_ask_<slot>``) and the step's rejections.

        The pattern runs for a slot that is filled already as well (unless
        ``ask_before_filling`` empties it first): its rejections and its ``validate_<slot>``
        action check the value, and only a rejected value is asked for. A collect step with
        neither its response nor its action, for a slot without an initial value, cannot ask:
        the flow is cancelled and pattern_internal_error runs, as in Rasa."""
        slot = str(view.target)
        utter = str(view.data.get("utter") or f"utter_ask_{slot}")
        collect_action = f"action_ask_{slot}"
        definition = self.model.slots.get(slot)
        has_initial = definition is not None and definition.initial_value is not None
        if not (
            has_initial
            or self.knows_action(tracker, utter)
            or self.knows_action(tracker, collect_action)
        ):
            reason = (
                f"the collect step of slot '{slot}' has neither the response '{utter}' nor "
                f"the action '{collect_action}' to ask for it"
            )
            self.stack.stop_for_error(tracker, reason, "rasa_internal_error_default")
            return
        if tracker.slots.get(slot) is not None and view.data.get("ask_before_filling", False):
            self.recorder.set_slot(tracker, slot, None)
        self.stack.push_pattern(
            tracker,
            "pattern_collect_information",
            {
                "collect": slot,
                "utter": utter,
                "collect_action": collect_action,
                "rejections": json_copy(view.data.get("rejections") or []),
            },
        )

    # -- actions -------------------------------------------------------------------------------

    def run_action(self, tracker: Tracker, name: str, turn: Turn) -> None:
        builtin = BUILTINS.get(name)
        if builtin is not None:
            builtin(self, tracker, turn)
        elif is_retrieval_action(self.model, tracker, name):
            retrieve_response(self, tracker, name, turn)
        elif name in self.model.custom_actions:
            self.run_custom_action(tracker, name, turn)
        elif name.startswith("utter_") or name in self.model.responses:
            self.utter_action(tracker, name, turn)
        elif name.startswith("validate_"):
            return  # no validation action defined for this slot
        else:
            self.run_custom_action(tracker, name, turn)

    def utter_action(self, tracker: Tracker, name: str, turn: Turn) -> None:
        self.recorder.action(tracker, name)
        self.utter(tracker, name, turn)

    def utter(
        self,
        tracker: Tracker,
        name: str,
        turn: Turn,
        extra_values: dict[str, Any] | None = None,
    ) -> None:
        """Send the response `name` (nothing when the domain has none)."""
        response = self.model.responses.get(name)
        if response is None:
            return
        frame = frame_context(tracker.stack)
        message = render_response(
            response, tracker.slots, turn.channel, self.rng, frame, extra_values
        )
        if message is None:
            return
        message["metadata"] = {"utter_action": name, **message["metadata"]}
        self.bot(tracker, message, turn)

    def bot(self, tracker: Tracker, message: dict[str, Any], turn: Turn) -> None:
        """Record a ``bot`` event for `message` and add it to the turn's messages."""
        data = {
            key: message.get(key)
            for key in ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
        }
        self.recorder.append(
            tracker,
            {
                "event": "bot",
                "timestamp": now(),
                "text": message.get("text"),
                "data": data,
                "metadata": dict(message.get("metadata") or {}),
            },
        )
        turn.messages.extend(rest_messages(turn.sender_id, message))

    def run_custom_action(self, tracker: Tracker, name: str, turn: Turn) -> None:
        """Run `name` on the action server; its responses are sent and its events applied."""
        client = self.action_client
        try:
            if getattr(client, "reads_state", True):
                result = client.run(name, tracker.to_dict(), self.model.domain_dict())
            else:  # a client whose actions do nothing: no tracker and domain to build
                result = client.run(name, {}, {})
        except ActionError:
            self.stack.push_pattern(tracker, "pattern_internal_error", {"reason": "action_failed"})
            return
        self.recorder.action(tracker, name)
        for response in result.responses or []:
            self._custom_response(tracker, response, turn)
        for event in result.events or []:
            if not isinstance(event, dict) or not event.get("event"):
                continue
            event = stamped(json_copy(event))
            if event["event"] == "slot" and event.get("name") in self.model.slots:
                value = coerce(self.model.slots[event["name"]], event.get("value"))
                if value is not INVALID:
                    event["value"] = value
            if event["event"] == "bot":
                self.bot(tracker, {**(event.get("data") or {}), "text": event.get("text")}, turn)
                continue
            self.recorder.append(tracker, event)
            if event["event"] == "restart":
                self.recorder.update_stack(tracker, [])

    def _custom_response(self, tracker: Tracker, response: Any, turn: Turn) -> None:
        message = self.response_message(tracker, response, turn.channel)
        if message is not None:
            self.bot(tracker, message, turn)

    def response_message(
        self, tracker: Tracker, response: Any, channel: str | None
    ) -> dict[str, Any] | None:
        """The bot message for one of a custom action's responses (a template it names is
        rendered with the response's other keys as values), or None when it says nothing."""
        if not isinstance(response, dict):
            return None
        template = response.get("response") or response.get("template")
        if template:
            domain_response = self.model.responses.get(template)
            if domain_response is None:
                return None
            extra = {k: v for k, v in response.items() if k not in _RESPONSE_KEYS and v is not None}
            frame = frame_context(tracker.stack)
            rendered = render_response(
                domain_response, tracker.slots, channel, self.rng, frame, extra
            )
            if rendered is None:
                return None
            rendered["metadata"] = {"utter_action": template, **rendered["metadata"]}
            return rendered
        message: dict[str, Any] = {
            "text": response.get("text"),
            "buttons": response.get("buttons") or None,
            "image": response.get("image"),
            "custom": response.get("custom") or response.get("json_message") or None,
            "attachment": response.get("attachment"),
            "elements": response.get("elements") or None,
            "quick_replies": response.get("quick_replies") or None,
            "metadata": {},
        }
        if any(v for k, v in message.items() if k != "metadata"):
            return message
        return None


def call_needs_rasa_pro(model: DialogueModel, view: StepView) -> str:
    """Why the built-in engine cannot run the call step `view` (not a call of a flow)."""
    target = str(view.target)
    if "mcp_server" in view.data:
        return (
            f"MCP tool '{target}' of server '{view.data['mcp_server']}' needs Rasa Pro; "
            "the built-in engine does not call MCP tools"
        )
    if target in model.sub_agents:
        return f"sub-agent '{target}' needs Rasa Pro; the built-in engine does not run sub-agents"
    return f"call target '{target}' is neither a flow nor a sub-agent of the assistant"


def rest_messages(recipient: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages as Rasa's REST channel (CollectingOutputChannel) sends them."""
    out: list[dict[str, Any]] = []
    text = message.get("text")
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons:
        out.append({"recipient_id": recipient, "text": text or "", "buttons": buttons})
    elif text:
        for part in str(text).strip().split("\n\n"):
            out.append({"recipient_id": recipient, "text": part})
    if message.get("elements"):
        for element in message["elements"]:
            if not isinstance(element, dict):
                continue
            item = {
                "recipient_id": recipient,
                "text": f"{element.get('title', '')} : {element.get('subtitle', '')}",
            }
            if element.get("buttons"):
                item["buttons"] = element["buttons"]
            out.append(item)
    if message.get("custom"):
        out.append({"recipient_id": recipient, "custom": message["custom"]})
    if message.get("image"):
        out.append({"recipient_id": recipient, "image": message["image"]})
    if message.get("attachment"):
        out.append({"recipient_id": recipient, "attachment": message["attachment"]})
    return out
