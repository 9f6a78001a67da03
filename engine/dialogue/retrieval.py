"""Retrieval actions: ``utter_chitchat`` answers with the response the response selector chose.

An ``utter_`` action named after a retrieval intent (``utter_chitchat`` for the intent
``chitchat`` of the examples ``chitchat/ask_name``, ``chitchat/ask_weather``...) is Rasa's
``ActionRetrieveResponse``. It reads the latest user message's
``parse_data["response_selector"]`` (`engine.nlu.selector`): the prediction under the retrieval
intent's own key, else under ``default`` (a ResponseSelector that names no retrieval intent),
and sends the domain's response ``utter_action`` names there (``utter_chitchat/ask_name``),
with its variations chosen and filled as every response is (conditions, channel, slots:
`engine.dialogue.responses`). The ``action`` event names ``utter_chitchat``; the ``bot``
event's metadata names the full response, ``"utter_action": "utter_chitchat/ask_name"``, as
Rasa writes them.

When the message has no prediction for the intent, or the domain has no such response, the
action runs and sends nothing (Rasa logs an error and does the same).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engine.dialogue.tracker import Tracker
from engine.dialogue.turn import Turn

if TYPE_CHECKING:
    from engine.dialogue.executor import Executor
    from engine.dialogue.model import DialogueModel

__all__ = ["is_retrieval_action", "retrieve_response", "selected_response"]

log = logging.getLogger(__name__)

UTTER_PREFIX = "utter_"
RESPONSE_DELIMITER = "/"
DEFAULT_KEY = "default"


def _retrieval_intent(name: str) -> str | None:
    if not name.startswith(UTTER_PREFIX):
        return None
    intent = name[len(UTTER_PREFIX) :]
    return intent if intent and RESPONSE_DELIMITER not in intent else None


def is_retrieval_action(model: DialogueModel, tracker: Tracker, name: str) -> bool:
    """Whether `name` is ``utter_<retrieval intent>``: the domain has responses
    ``<name>/<key>``, or the latest message's response selector lists the intent."""
    intent = _retrieval_intent(name)
    if intent is None:
        return False
    selector = tracker.latest_message.get("response_selector")
    if isinstance(selector, dict) and intent in (selector.get("all_retrieval_intents") or []):
        return True
    return name in model.retrieval_actions()


def selected_response(tracker: Tracker, name: str) -> str | None:
    """The full response name (``utter_chitchat/ask_name``) the latest message's response
    selector chose for the retrieval action `name`, or None."""
    intent = _retrieval_intent(name)
    selector = tracker.latest_message.get("response_selector")
    if intent is None or not isinstance(selector, dict):
        return None
    key = intent if intent in selector else DEFAULT_KEY if DEFAULT_KEY in selector else None
    if key is None:
        return None
    prediction: Any = selector[key]
    response = prediction.get("response") if isinstance(prediction, dict) else None
    utter_action = response.get("utter_action") if isinstance(response, dict) else None
    return utter_action if isinstance(utter_action, str) and utter_action else None


def retrieve_response(executor: Executor, tracker: Tracker, name: str, turn: Turn) -> None:
    """Run the retrieval action `name`: record it, then send the selected response."""
    executor.recorder.action(tracker, name)
    full_name = selected_response(tracker, name)
    if full_name is None:
        log.error(
            "Couldn't create message for response action '%s': the latest message has no "
            "response selector prediction for it",
            name,
        )
        return
    if full_name not in executor.model.responses:
        log.error("Couldn't create message for '%s': the domain has no '%s'", name, full_name)
        return
    executor.utter(tracker, full_name, turn)
