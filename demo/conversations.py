"""Realistic Rasa Pro tracker events, for tests, benchmarks and `generate_conversations`.

The shapes follow what Rasa Pro 3.x publishes to its event broker (see
../shared/reference/rasa-formats.md section 2.2): ``{"sender_id", "user_id", **event}``,
``metadata`` with ``assistant_id``, ``model_id`` and ``rasa_environment`` on every event.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator

INTENTS = [
    ("transfer_money", "I want to send [50](amount) dollars to [Joe](recipient)", "transfer_money"),
    ("check_balance", "what's my balance", "check_balance"),
    ("greet", "hi there", None),
    ("add_contact", "add [Sarah](name) to my contacts", "add_contact"),
    ("goodbye", "bye", None),
    ("book_flight", "book a flight to [Berlin](city)", "book_flight"),
]


#: An entity annotation of Rasa's NLU markup: ``[value](entity)``.
_ANNOTATION = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def _plain(text: str) -> tuple[str, list[dict]]:
    """The plain text of an annotated message and its entities. Only the ``[value](entity)``
    form, the one these samples use (`engine.formats.parse_example` reads all of Rasa's)."""
    plain: list[str] = []
    entities = []
    length = last = 0
    for match in _ANNOTATION.finditer(text):
        before = text[last : match.start()]
        plain.append(before)
        length += len(before)
        value, entity = match.group(1), match.group(2)
        entities.append(
            {
                "entity": entity,
                "start": length,
                "end": length + len(value),
                "value": value,
                "confidence_entity": 0.97,
            }
        )
        plain.append(value)
        length += len(value)
        last = match.end()
    plain.append(text[last:])
    return "".join(plain), entities


class Conversation:
    """Builds the event stream of one sender; `events` is the list of message bodies."""

    def __init__(
        self,
        sender_id: str,
        *,
        assistant_id: str = "alpha",
        start: float = 1_700_000_000.0,
        model_id: str = "5b7e1c0f",
        channel: str = "rest",
        user_id: str | None = None,
        rng: random.Random | None = None,
    ):
        self.sender_id = sender_id
        self.assistant_id = assistant_id
        self.clock = start
        self.model_id = model_id
        self.channel = channel
        self.user_id = user_id
        self.rng = rng or random.Random(0)
        self.events: list[dict] = []

    def _add(self, event: str, step: float = 0.01, **fields) -> dict:
        self.clock += step
        body = {
            "sender_id": self.sender_id,
            "user_id": self.user_id,
            "event": event,
            "timestamp": round(self.clock, 6),
            "metadata": {
                "assistant_id": self.assistant_id,
                "model_id": self.model_id,
                "rasa_environment": None,
            },
            **fields,
        }
        self.events.append(body)
        return body

    def session_start(self, gap: float = 0.0) -> Conversation:
        self.clock += gap
        self._add("action", name="action_session_start", policy=None, confidence=1.0)
        self._add("session_started")
        self._add("action", name="action_listen", policy=None, confidence=None)
        return self

    def user(self, text: str, intent: str, *, confidence: float = 0.93, flow: str | None = None):
        plain, entities = _plain(text)
        ranking = [
            {"name": intent, "confidence": confidence},
            {"name": "chitchat", "confidence": round(1 - confidence, 4)},
        ]
        self._add(
            "user",
            step=2.0,
            text=plain,
            parse_data={
                "text": plain,
                "intent": {"name": intent, "confidence": confidence},
                "entities": entities,
                "intent_ranking": ranking,
                "commands": [{"command": "start flow", "flow": flow}] if flow else [],
            },
            input_channel=self.channel,
            message_id=f"m{len(self.events)}",
        )
        for entity in entities:
            self.slot(entity["entity"], entity["value"])
        if flow:
            self._add(
                "stack",
                update=json.dumps(
                    [{"op": "add", "path": "/0", "value": {"type": "flow", "flow_id": flow}}]
                ),
            )
            self._add("flow_started", flow_id=flow)
        return self

    def slot(self, name: str, value) -> Conversation:
        self._add("slot", name=name, value=value, filled_by="NLUCommandAdapter")
        return self

    def bot(self, utter: str, text: str) -> Conversation:
        self._add("action", name=utter, policy="FlowPolicy", confidence=1.0)
        self._add("bot", text=text, data={"buttons": None})
        self.events[-1]["metadata"]["utter_action"] = utter
        return self

    def flow(self, kind: str, flow_id: str, step_id: str = "END") -> Conversation:
        self._add(f"flow_{kind}", flow_id=flow_id, step_id=step_id)
        return self

    def listen(self) -> Conversation:
        self._add("action", name="action_listen", policy="FlowPolicy", confidence=1.0)
        return self

    def messages(self) -> list[bytes]:
        return [json.dumps(event).encode() for event in self.events]


def transfer_conversation(sender_id: str, **kwargs) -> Conversation:
    """A two-session conversation: a money transfer, then (an hour later) a balance check
    interrupted by a greeting."""
    c = Conversation(sender_id, **kwargs)
    c.session_start()
    c.user("send [50](amount) to [Joe](recipient)", "transfer_money", flow="transfer_money")
    c.bot("utter_ask_confirm", "Send 50 to Joe?").listen()
    c.user("yes", "affirm", confidence=0.88)
    c.slot("transfer_confirmed", True).bot("utter_transfer_done", "Done!")
    c.flow("completed", "transfer_money").listen()
    c.session_start(gap=3600)
    c.user("what's my balance", "check_balance", flow="check_balance")
    c.user("hello", "greet")
    c.flow("interrupted", "check_balance", "ask_account").flow("started", "pattern_chitchat")
    c.bot("utter_greet", "Hi!").flow("completed", "pattern_chitchat")
    c.flow("resumed", "check_balance", "ask_account")
    c.bot("utter_balance", "You have 100.").flow("completed", "check_balance").listen()
    return c


def random_conversations(
    count: int, *, assistant_id: str, start: float, seed: int = 0, senders: int | None = None
) -> Iterator[Conversation]:
    """`count` single-session conversations of 1-6 turns over the days after `start`."""
    rng = random.Random(seed)
    for index in range(count):
        sender = f"user-{index % senders if senders else index:07d}"
        c = Conversation(
            sender,
            assistant_id=assistant_id,
            start=start + index * 37.0 + rng.random(),
            channel=rng.choice(["rest", "socketio", "slack"]),
            rng=rng,
        )
        c.session_start()
        for _ in range(rng.randint(1, 6)):
            intent, text, flow = rng.choice(INTENTS)
            c.user(text, intent, confidence=round(rng.uniform(0.4, 0.99), 3), flow=flow)
            c.bot(f"utter_{intent}", f"Answer to {intent}.")
            if flow and rng.random() < 0.7:
                c.flow("completed", flow)
            c.listen()
        yield c
