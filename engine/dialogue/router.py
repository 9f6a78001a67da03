"""Coexistence: a router sends each session to CALM (flows) or to the NLU-based policies.

As Rasa Pro's routers (config.yml ``pipeline``), the decision lives in the slot
``route_session_to_calm``: ``None`` means the session is not routed yet and the router
decides on this message; ``True`` keeps it on CALM and ``False`` on the policies (sticky)
until the routing is reset: by ``action_reset_routing`` (a flow step, e.g. in
``pattern_completed``, or an action in a story or rule), by a restart, or by a new session.

* `IntentBasedRouter` reads the message's intent: one of ``nlu_entry.sticky`` routes the
  session to the policies for good, one of ``nlu_entry.non_sticky`` to the policies for this
  message only, one of ``calm_entry.sticky`` or an intent that is a flow's ``nlu_trigger`` to
  CALM; any other intent (or none) goes to the policies, sticky.
* `LLMBasedRouter` asks the LLM which of three assistants should answer (A: CALM, described
  by ``calm_entry.sticky``; B: ``nlu_entry.non_sticky``; C: ``nlu_entry.sticky``), with Rasa's
  prompt. An answer that is not A, B or C, or a failed call, routes to the policies (sticky),
  as Rasa does. Without an LLM configured the built-in engine routes by the intents' NLU
  triggers instead (a flow's ``nlu_trigger`` to CALM, anything else to the policies, sticky),
  and says so in the decision's reason, which the inspector shows.

Each decision is recorded in the user event's ``parse_data["routing"]``:
``{"router": <name>, "route": "calm" | "nlu", "reason": str}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.dialogue.conditions import Conditions
from engine.dialogue.model import DialogueModel
from engine.dialogue.tracker import Tracker
from engine.dialogue.understand import NLUCommandAdapter

__all__ = [
    "CALM",
    "NLU",
    "ROUTE_SLOT",
    "IntentBasedRouter",
    "LLMBasedRouter",
    "Route",
    "Router",
    "RouterConfigError",
    "build_router",
]

log = logging.getLogger(__name__)

ROUTE_SLOT = "route_session_to_calm"
CALM = "calm"
NLU = "nlu"
#: `Route.slot` when the router leaves the slot as it is.
KEEP = "keep"

PROMPT_TEMPLATE = """You have to forward the user message to the right assistant.

The following assistants are available:

Assistant A: {calm_entry_sticky}
Assistant B: {nlu_entry_non_sticky}
Assistant C: {nlu_entry_sticky}

The user said: \"\"\"{user_message}\"\"\"

Answer which assistant needs to get this message.
Respond with exactly one character: A, B, or C.
Do not output any other words, punctuation, or explanation."""


class RouterConfigError(ValueError):
    """The router's config.yml entry cannot be used; the message names the key."""


@dataclass
class Route:
    """Where one message goes, why, and what the routing slot becomes (`KEEP`: unchanged)."""

    route: str
    reason: str
    slot: bool | str | None = KEEP

    def as_parse_data(self, router: str) -> dict[str, Any]:
        return {"router": router, "route": self.route, "reason": self.reason}


class Router(Protocol):
    name: str
    #: The prompt the last decision sent to an LLM, with its answer (None: no LLM asked).
    last_prompt: dict[str, Any] | None

    def route(self, tracker: Tracker, parse: dict[str, Any]) -> Route: ...


def _sticky_route(tracker: Tracker) -> Route | None:
    value = tracker.slots.get(ROUTE_SLOT)
    if value is True:
        return Route(CALM, f"the session is routed to CALM ({ROUTE_SLOT} is true)")
    if value is False:
        return Route(NLU, f"the session is routed to the policies ({ROUTE_SLOT} is false)")
    return None


def _intents(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {str(v) for v in value}
    return set()


class IntentBasedRouter:
    """Rasa's ``IntentBasedRouter`` (see the module docstring)."""

    name = "IntentBasedRouter"

    def __init__(self, config: dict[str, Any], model: DialogueModel) -> None:
        nlu_entry = config.get("nlu_entry")
        calm_entry = config.get("calm_entry")
        where = "config.yml pipeline (IntentBasedRouter)"
        if not isinstance(nlu_entry, dict) or any(
            nlu_entry.get(key) is None for key in ("sticky", "non_sticky")
        ):
            raise RouterConfigError(
                f"{where}.nlu_entry needs the intents 'sticky' and 'non_sticky' that the "
                "NLU-based part of the assistant handles"
            )
        if not isinstance(calm_entry, dict) or calm_entry.get("sticky") is None:
            raise RouterConfigError(
                f"{where}.calm_entry needs 'sticky': the intents that start CALM flows"
            )
        self.nlu_sticky = _intents(nlu_entry.get("sticky"))
        self.nlu_non_sticky = _intents(nlu_entry.get("non_sticky"))
        self.calm_sticky = _intents(calm_entry.get("sticky"))
        self.triggers = NLUCommandAdapter(model, Conditions())
        self.last_prompt: dict[str, Any] | None = None

    def route(self, tracker: Tracker, parse: dict[str, Any]) -> Route:
        sticky = _sticky_route(tracker)
        if sticky is not None:
            return sticky
        intent = (parse.get("intent") or {}).get("name")
        if not intent:
            return Route(NLU, "no intent was recognised: the policies answer (sticky)", False)
        if intent in self.nlu_sticky:
            return Route(NLU, f"intent '{intent}' is in nlu_entry.sticky", False)
        if intent in self.nlu_non_sticky:
            return Route(NLU, f"intent '{intent}' is in nlu_entry.non_sticky (this message only)")
        if intent in self.calm_sticky:
            return Route(CALM, f"intent '{intent}' is in calm_entry.sticky", True)
        flow = self.triggers.triggered_flow(tracker, parse)
        if flow is not None:
            return Route(CALM, f"intent '{intent}' is an nlu_trigger of flow '{flow}'", True)
        return Route(
            NLU, f"intent '{intent}' is listed nowhere: the policies answer (sticky)", False
        )


class LLMBasedRouter:
    """Rasa's ``LLMBasedRouter`` (see the module docstring); `complete` sends a prompt to
    the LLM and returns its answer (None: no LLM is configured)."""

    name = "LLMBasedRouter"

    def __init__(
        self,
        config: dict[str, Any],
        model: DialogueModel,
        complete: Callable[[str], str] | None = None,
    ) -> None:
        calm_entry = config.get("calm_entry")
        if not isinstance(calm_entry, dict) or not calm_entry.get("sticky"):
            raise RouterConfigError(
                "config.yml pipeline (LLMBasedRouter).calm_entry.sticky must describe what "
                "the CALM part of the assistant handles"
            )
        raw_nlu_entry = config.get("nlu_entry")
        nlu_entry: dict[str, Any] = raw_nlu_entry if isinstance(raw_nlu_entry, dict) else {}
        self.descriptions = {
            "calm_entry_sticky": str(calm_entry["sticky"]),
            "nlu_entry_non_sticky": str(nlu_entry.get("non_sticky") or "handles chitchat"),
            "nlu_entry_sticky": str(nlu_entry.get("sticky") or "handles everything else"),
        }
        self.complete = complete
        self.triggers = NLUCommandAdapter(model, Conditions())
        #: The last prompt sent and the answer (the inspector shows them).
        self.last_prompt: dict[str, Any] | None = None

    def prompt(self, text: str) -> str:
        return PROMPT_TEMPLATE.format(user_message=text, **self.descriptions)

    def route(self, tracker: Tracker, parse: dict[str, Any]) -> Route:
        sticky = _sticky_route(tracker)
        if sticky is not None:
            return sticky
        if self.complete is None:
            return self._without_llm(tracker, parse)
        prompt = self.prompt(str(parse.get("text") or ""))
        try:
            answer: str | None = self.complete(prompt)
        except Exception as exc:  # the user's LLM: any failure routes as Rasa's does
            log.warning("LLMBasedRouter: the LLM call failed: %s", exc)
            answer = None
        self.last_prompt = {"user_prompt": prompt, "llm_output": answer}
        return self.parse_answer(answer)

    @staticmethod
    def parse_answer(answer: str | None) -> Route:
        token = (answer or "").strip()
        if token == "A":
            return Route(CALM, "the LLM chose the CALM assistant (A)", True)
        if token == "B":
            return Route(NLU, "the LLM chose nlu_entry.non_sticky (B): this message only")
        if token == "C":
            return Route(NLU, "the LLM chose nlu_entry.sticky (C)", False)
        said = "no answer" if answer is None else f"the answer {answer!r}"
        return Route(NLU, f"the LLM gave {said}, not A, B or C: the policies answer", False)

    def _without_llm(self, tracker: Tracker, parse: dict[str, Any]) -> Route:
        note = "no LLM is configured for the LLMBasedRouter, so it routes by NLU triggers: "
        intent = (parse.get("intent") or {}).get("name")
        flow = self.triggers.triggered_flow(tracker, parse)
        if flow is not None:
            return Route(CALM, f"{note}intent '{intent}' is an nlu_trigger of flow '{flow}'", True)
        return Route(NLU, f"{note}intent '{intent}' starts no flow (sticky)", False)


def build_router(
    model: DialogueModel, complete: Callable[[str], str] | None = None
) -> Router | None:
    """The router config.yml's pipeline lists (None without one); raises
    `RouterConfigError` for a config Rasa refuses."""
    config = model.router
    if not config:
        return None
    if config.get("name") == "LLMBasedRouter":
        return LLMBasedRouter(config, model, complete)
    return IntentBasedRouter(config, model)
