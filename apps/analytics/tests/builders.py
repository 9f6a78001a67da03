"""Real-shaped Rasa Pro events for the analytics tests, with latencies set to the millisecond."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from apps.ingestion import store
from apps.ingestion.store import RawMessage


class Chat:
    """One session of one sender. Events follow each other 1 ms apart, except bot messages,
    which come `after_ms` after the last user message."""

    def __init__(
        self,
        sender,
        when: datetime,
        *,
        channel="rest",
        model="v1",
        assistant="alpha",
        language=None,
    ):
        self.sender = sender
        self.language = language  # sent in the user messages' metadata
        self.clock = when.replace(tzinfo=UTC).timestamp()
        self.channel = channel
        self.model = model
        self.assistant = assistant
        self.last_user = self.clock
        self.events: list[dict] = []

    def add(self, event: str, at: float | None = None, **fields) -> Chat:
        self.clock = at if at is not None else self.clock + 0.001
        metadata = {"assistant_id": self.assistant, "rasa_environment": None}
        if self.model is not None:
            metadata["model_id"] = self.model
        if event == "user" and self.language is not None:
            metadata["language"] = self.language
        self.events.append(
            {
                "sender_id": self.sender,
                "event": event,
                "timestamp": round(self.clock, 6),
                "metadata": metadata,
                **fields,
            }
        )
        return self

    def start(self) -> Chat:
        self.add("action", name="action_session_start", policy=None, confidence=1.0)
        self.add("session_started")
        return self.action("action_listen")

    def user(self, text: str, intent: str) -> Chat:
        self.clock += 5.0
        fields = {"input_channel": self.channel} if self.channel is not None else {}
        self.add(
            "user",
            at=self.clock,
            text=text,
            parse_data={"text": text, "intent": {"name": intent, "confidence": 0.9}},
            message_id=f"m{len(self.events)}",
            **fields,
        )
        self.last_user = self.clock
        return self

    def bot(self, text: str, after_ms: int) -> Chat:
        return self.add("bot", at=self.last_user + after_ms / 1000, text=text, data={})

    def action(self, name: str) -> Chat:
        return self.add("action", name=name, policy="FlowPolicy", confidence=1.0)

    def flow(self, kind: str, flow_id: str) -> Chat:
        return self.add(f"flow_{kind}", flow_id=flow_id, step_id="START")

    def slot(self, name: str, value) -> Chat:
        return self.add("slot", name=name, value=value)


def ingest(*chats: Chat) -> None:
    bodies = [event for chat in chats for event in chat.events]
    report = store.ingest([RawMessage(json.dumps(body)) for body in bodies])
    assert report.dead == 0, report


DAY1 = datetime(2026, 3, 2)
DAY2 = datetime(2026, 3, 3)


def day1_sessions() -> list[Chat]:
    """Five sessions on DAY1 (the figures they give are worked out in test_rollups.py)."""
    s1 = Chat("s1", DAY1.replace(hour=9)).start()
    s1.user("send 50 to Joe", "transfer_money").flow("started", "transfer_money")
    s1.bot("Send 50 to Joe?", 400)
    s1.user("yes", "affirm").bot("Done!", 800).flow("completed", "transfer_money")
    s1.flow("started", "pattern_customer_satisfaction").add("bot", text="How did I do, 1-5?")
    s1.user("5", "inform").slot("csat_score", 5).bot("Thank you!", 300)
    s1.flow("completed", "pattern_customer_satisfaction")

    s2 = Chat("s2", DAY1.replace(hour=11)).start()
    s2.user("send money", "transfer_money").flow("started", "transfer_money")
    s2.bot("How much?", 1200)
    s2.user("I want a human", "human_handoff").flow("started", "pattern_human_handoff")
    s2.bot("Connecting you to an agent.", 2000).flow("completed", "pattern_human_handoff")

    s3 = Chat("s3", DAY1.replace(hour=13), channel="socketio").start()
    s3.user("blah", "nlu_fallback").flow("started", "pattern_cannot_handle")
    s3.bot("Sorry, could you rephrase?", 150).flow("completed", "pattern_cannot_handle")
    s3.user("my balance", "check_balance").flow("started", "check_balance")
    s3.bot("Which account?", 250).flow("cancelled", "check_balance")
    s3.flow("started", "pattern_customer_satisfaction").add("bot", text="How did I do, 1-5?")
    s3.user("2", "inform").slot("csat_score", "2").bot("Thanks, we will improve.", 100)
    s3.flow("completed", "pattern_customer_satisfaction")

    s4 = Chat("s4", DAY1.replace(hour=15), model="v2").start()
    s4.user("hi", "greet").action("action_default_fallback").action("action_human_handoff")
    s4.bot("An agent will be with you.", 500)
    s4.user("hello?", "greet")  # never answered: no latency

    s5 = Chat("s5", DAY1.replace(hour=16), channel=None, model=None).start()
    s5.user("hi", "greet").bot("Hello!", 50)
    return [s1, s2, s3, s4, s5]


def day2_sessions() -> list[Chat]:
    s6 = Chat("s6", DAY2.replace(hour=10)).start()
    s6.user("balance", "check_balance").flow("started", "check_balance")
    s6.bot("You have 100.", 600).flow("completed", "check_balance")
    return [s6]
