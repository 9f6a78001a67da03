"""Reading one Rasa event-broker message (no Django here beyond nothing: pure Python).

A message is ``json.dumps({"sender_id": ..., **event.as_dict()})`` in UTF-8, as Rasa Open Source
and Rasa Pro (classic engines) publish it; Pro adds ``user_id`` and ``metadata.rasa_environment``.
Every event carries ``metadata.assistant_id`` and ``metadata.model_id``. Event types Studio does
not know are kept as they are (only the columns for filters stay empty).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_ID_LENGTH = 255
_FLOW_EVENTS = {
    "flow_started",
    "flow_interrupted",
    "flow_resumed",
    "flow_completed",
    "flow_cancelled",
}
SESSION_START_TEXT = "/session_start"


class ParseError(ValueError):
    """The message is not a Rasa event; the message says why (it becomes a DeadLetter)."""


@dataclass
class ParsedEvent:
    sender_id: str
    assistant_name: str
    type: str
    timestamp: datetime
    fingerprint: str
    data: dict[str, Any]
    json_text: str  # `data` as canonical JSON, ready for the database
    user_id: str = ""
    text: str = ""
    intent: str = ""
    confidence: float | None = None
    action_name: str = ""
    flow_id: str = ""
    slot_name: str = ""
    slot_value: str = ""
    channel: str = ""
    model_id: str = ""
    language: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_session_marker(self) -> bool:
        """`session_started`, or the `action_session_start` that Rasa logs just before it;
        both open a session (see services._SessionRouter)."""
        return self.type == "session_started" or (
            self.type == "action" and self.action_name == "action_session_start"
        )

    @property
    def is_user_message(self) -> bool:
        return self.type == "user" and self.text.strip() != SESSION_START_TEXT


def _reject_constant(name: str) -> Any:
    raise ParseError(f"not strict JSON: {name} is not allowed")


def _strip_nul(value: Any) -> Any:
    # PostgreSQL's text and jsonb cannot hold U+0000.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(json_text: str) -> str:
    """The identity of an event: a hash of its canonical JSON (sender, type, timestamp to the
    microsecond, metadata and content). The same event delivered twice has the same
    fingerprint; two different events practically never do."""
    return hashlib.blake2b(json_text.encode("utf-8"), digest_size=16).hexdigest()


def _short(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise ParseError(f"{what} must be a string, not {type(value).__name__}")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise ParseError(f"{what} is longer than {MAX_ID_LENGTH} characters")
    return text


def _clip(value: Any, limit: int = 255) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:limit]


def parse_message(raw: bytes | str) -> ParsedEvent:
    """Parse one message. Raises ParseError with a reason a person can act on."""
    if isinstance(raw, bytes | bytearray | memoryview):
        raw = bytes(raw)
        if len(raw) > MAX_MESSAGE_BYTES:
            raise ParseError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"not UTF-8: {exc}") from None
    elif len(raw) > MAX_MESSAGE_BYTES:
        raise ParseError(f"message larger than {MAX_MESSAGE_BYTES} characters")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except ParseError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ParseError(f"not a JSON object but {type(body).__name__}")
    if "\\u0000" in raw or "\x00" in raw:
        body = _strip_nul(body)

    kind = body.get("event")
    if not isinstance(kind, str) or not kind:
        raise ParseError("no 'event' (the event type)")
    if len(kind) > 64:
        raise ParseError("'event' is longer than 64 characters")
    sender_id = _short(body.get("sender_id"), "sender_id")
    if not sender_id:
        raise ParseError("no 'sender_id'")
    stamp = body.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not math.isfinite(stamp):
        raise ParseError("no numeric 'timestamp' (epoch seconds)")
    try:
        timestamp = datetime.fromtimestamp(stamp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"timestamp {stamp} is out of range") from None
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ParseError("'metadata' is not an object")

    json_text = canonical_json(body)
    event = ParsedEvent(
        sender_id=sender_id,
        assistant_name=_short(metadata.get("assistant_id"), "metadata.assistant_id"),
        type=kind,
        timestamp=timestamp,
        fingerprint=fingerprint(json_text),
        data=body,
        json_text=json_text,
        user_id=_clip(body.get("user_id")),
        model_id=_clip(metadata.get("model_id"), 128),
    )
    _columns(event, body, metadata)
    return event


def _columns(event: ParsedEvent, body: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Fill the filter columns from the event's type-specific fields (best effort: an odd
    field leaves its column empty rather than rejecting the event)."""
    kind = event.type
    if kind == "user":
        event.text = body.get("text") if isinstance(body.get("text"), str) else ""
        parse_data = body.get("parse_data") if isinstance(body.get("parse_data"), dict) else {}
        intent = parse_data.get("intent") if isinstance(parse_data.get("intent"), dict) else {}
        event.intent = _clip(intent.get("name"))
        confidence = intent.get("confidence")
        if isinstance(confidence, int | float) and not isinstance(confidence, bool):
            event.confidence = float(confidence)
        event.channel = _clip(body.get("input_channel"), 64)
        event.language = _clip(metadata.get("language") or parse_data.get("language") or "", 16)
    elif kind == "bot":
        event.text = body.get("text") if isinstance(body.get("text"), str) else ""
        event.action_name = _clip(metadata.get("utter_action"))
    elif kind in ("action", "action_execution_rejected", "followup", "active_loop"):
        event.action_name = _clip(body.get("name"))
    elif kind == "slot":
        event.slot_name = _clip(body.get("name"))
        value = body.get("value")
        event.slot_value = "" if value is None else _clip(value, 1000)
        if event.slot_name == "language" and isinstance(value, str):
            event.language = value[:16]
    elif kind in _FLOW_EVENTS:
        event.flow_id = _clip(body.get("flow_id"))
    elif kind == "agent":
        event.text = body.get("text") if isinstance(body.get("text"), str) else ""
