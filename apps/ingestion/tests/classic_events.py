"""Event streams of classic (policy-run) Rasa 3 sessions, each event exactly as Rasa's event
broker publishes it: ``{"sender_id", "user_id", **event.as_dict()}`` with ``metadata`` holding
the event's own metadata (``assistant_id`` and ``model_id``, added by the processor) and
``rasa_environment`` (added by the tracker store). The keys of each type are those of its
``as_dict`` in Rasa 3: `cancel_reminder`, `rewind`, `undo`, `restart` and `session_started`
carry no fields of their own."""

from __future__ import annotations

import json
import time
from typing import Any

from apps.ingestion import store
from apps.ingestion.store import RawMessage


class ClassicStream:
    """The events one sender's classic bot publishes; `events` are the message bodies."""

    def __init__(self, sender_id: str, *, assistant_id: str = "alpha", start: float | None = None):
        self.sender_id = sender_id
        self.assistant_id = assistant_id
        # An hour ago by default: inside the review list's default period.
        self.clock = time.time() - 3600 if start is None else start
        self.events: list[dict[str, Any]] = []

    def _add(self, event: str, metadata: dict | None = None, **fields: Any) -> ClassicStream:
        self.clock += 0.5
        self.events.append(
            {
                "sender_id": self.sender_id,
                "user_id": None,
                "event": event,
                "timestamp": self.clock,
                **fields,
                "metadata": {
                    "assistant_id": self.assistant_id,
                    "model_id": "c1a55ic0",
                    **(metadata or {}),
                    "rasa_environment": None,
                },
            }
        )
        return self

    def action(
        self,
        name: str,
        policy: str | None = None,
        confidence: float | None = None,
        *,
        hide_rule_turn: bool = False,
    ) -> ClassicStream:
        return self._add(
            "action",
            name=name,
            policy=policy,
            confidence=confidence,
            action_text=None,
            hide_rule_turn=hide_rule_turn,
        )

    def session_start(self) -> ClassicStream:
        self.action("action_session_start")
        self._add("session_started")
        return self.action("action_listen")

    def user(
        self,
        text: str,
        intent: str,
        confidence: float = 0.95,
        *,
        ranking: list[dict] | None = None,
        **parse: Any,
    ) -> ClassicStream:
        parse_data = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": parse.pop("entities", []),
            "text": text,
            "message_id": f"m{len(self.events)}",
            "metadata": {},
            "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
            **parse,
        }
        self._add(
            "user",
            text=text,
            parse_data=parse_data,
            input_channel="rest",
            message_id=parse_data["message_id"],
            anonymized_at=None,
        )
        return self._add("user_featurization", use_text_for_featurization=False)

    def bot(self, utter_action: str, text: str) -> ClassicStream:
        data = dict.fromkeys(
            ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
        )
        return self._add(
            "bot",
            metadata={"utter_action": utter_action},
            text=text,
            data=data,
            anonymized_at=None,
        )

    def slot(self, name: str, value: Any) -> ClassicStream:
        return self._add("slot", name=name, value=value, filled_by=None, anonymized_at=None)

    def active_loop(self, name: str | None) -> ClassicStream:
        return self._add("active_loop", name=name)

    def loop_interrupted(self, is_interrupted: bool) -> ClassicStream:
        return self._add("loop_interrupted", is_interrupted=is_interrupted)

    def rejected(self, name: str, policy: str, confidence: float) -> ClassicStream:
        return self._add(
            "action_execution_rejected", name=name, policy=policy, confidence=confidence
        )

    def followup(self, name: str) -> ClassicStream:
        return self._add("followup", name=name)

    def reminder(self, name: str, intent: str, date_time: str) -> ClassicStream:
        return self._add(
            "reminder",
            intent=intent,
            date_time=date_time,
            entities=None,
            name=name,
            kill_on_user_msg=True,
        )

    def bare(self, event: str) -> ClassicStream:
        """`cancel_reminder`, `rewind`, `undo`, `restart`, `reset_slots`: no fields."""
        return self._add(event)

    def ingest(self) -> store.IngestReport:
        return store.ingest([RawMessage(json.dumps(body)) for body in self.events])


SELECTOR = {
    "all_retrieval_intents": ["chitchat", "faq"],
    "default": {
        "response": {
            "responses": [{"text": "I'm the Seaside Inn's assistant."}],
            "confidence": 0.91,
            "intent_response_key": "chitchat/ask_name",
            "utter_action": "utter_chitchat/ask_name",
        },
        "ranking": [
            {"id": 1, "confidence": 0.91, "intent_response_key": "chitchat/ask_name"},
            {"id": 2, "confidence": 0.06, "intent_response_key": "chitchat/ask_weather"},
        ],
    },
}


def booking_session(sender_id: str = "guest-1", **kwargs: Any) -> ClassicStream:
    """A classic session: a rule's greeting, a retrieval intent, a fallback that rewinds, a form
    started, interrupted by a question and rejected, filled, deactivated, a reminder set and
    cancelled, a followup and an undo."""
    stream = ClassicStream(sender_id, **kwargs).session_start()
    stream.user("hello", "greet", 0.98, response_selector=SELECTOR)
    stream.action("utter_greet", "RulePolicy", 1.0)
    stream.bot("utter_greet", "Welcome to the Seaside Inn!").action(
        "action_listen", "RulePolicy", 1.0
    )
    stream.user("tell me your name", "chitchat", 0.94, response_selector=SELECTOR)
    stream.action("utter_chitchat", "RulePolicy", 1.0, hide_rule_turn=True)
    stream.bot("utter_chitchat/ask_name", "I'm the Seaside Inn's assistant.")
    stream.action("action_listen", "RulePolicy", 1.0, hide_rule_turn=True)
    fallback_ranking = [
        {"name": "nlu_fallback", "confidence": 0.3},
        {"name": "greet", "confidence": 0.21},
    ]
    stream.user("blorp", "nlu_fallback", 0.3, ranking=fallback_ranking)
    stream.action("action_default_fallback", "RulePolicy", 1.0)
    stream.bot("utter_default", "Sorry, I didn't get that.").bare("rewind")
    stream.user("book a table", "book_table", 0.97)
    stream.action("table_form", "RulePolicy", 1.0).active_loop("table_form")
    stream.slot("requested_slot", "guests").bot("utter_ask_guests", "For how many guests?")
    stream.action("action_listen", "RulePolicy", 1.0)
    stream.user("do you have parking?", "faq", 0.9, response_selector=SELECTOR)
    stream.rejected("table_form", "RulePolicy", 1.0).loop_interrupted(True)
    stream.action("utter_faq", "RulePolicy", 1.0).bot("utter_faq/parking", "Yes, free parking.")
    stream.action("table_form", "RulePolicy", 1.0).bot("utter_ask_guests", "For how many guests?")
    stream.action("action_listen", "RulePolicy", 1.0)
    stream.user(
        "four of us",
        "inform",
        0.88,
        routing={
            "router": "IntentBasedRouter",
            "route": "nlu",
            "reason": "inform is listed in nlu_entry",
        },
    )
    stream.loop_interrupted(False).action("table_form", "RulePolicy", 1.0)
    stream.slot("guests", 4).slot("requested_slot", None).active_loop(None)
    stream.action("action_book_table", "RulePolicy", 1.0).bot("utter_booked", "Booked for four.")
    stream.reminder("check_in", "EXTERNAL_check_in", "2025-06-15T18:00:00+00:00")
    stream.bare("cancel_reminder").followup("utter_anything_else")
    stream.action("utter_anything_else", "TEDPolicy", 0.64).bot(
        "utter_anything_else", "Anything else?"
    )
    stream.action("action_listen", "MemoizationPolicy", 1.0)
    stream.action("action_bad_guess", "TEDPolicy", 0.41).bare("undo")
    return stream  # fmt: skip
