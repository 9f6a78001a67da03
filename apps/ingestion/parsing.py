"""Reading one Rasa event-broker message (pure Python, no Django).

A message is ``json.dumps({"sender_id": ..., **event.as_dict()})`` in UTF-8, as Rasa Open Source
and Rasa Pro (classic engines) publish it; Pro adds ``user_id`` and ``metadata.rasa_environment``.
Every event carries ``metadata.assistant_id`` and ``metadata.model_id``. Event types Studio does
not know are kept as they are (only the columns for filters stay empty).

This runs once per event at tens of thousands of events per second, so it does the least it
can: one parse (orjson), one hash of the bytes as received, and the message's own bytes go to
the database as they came (see `fingerprint` for why the bytes, not a canonical form, are hashed).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

_blake2b = hashlib.blake2b
_fromtimestamp = datetime.fromtimestamp
_time = time.time

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_ID_LENGTH = 255
_FLOW_EVENTS = frozenset(
    {"flow_started", "flow_interrupted", "flow_resumed", "flow_completed", "flow_cancelled"}
)
_ACTION_EVENTS = frozenset({"action", "action_execution_rejected", "followup", "active_loop"})
SESSION_START_TEXT = "/session_start"

#: The window of event timestamps accepted: from EARLIEST_TIMESTAMP to MAX_FUTURE_SECONDS after
#: the ingester's clock. An event stamped outside it is a dead letter ("timestamp ... is outside
#: the accepted window"): no assistant logged it at that time, and dates at the ends of what a
#: datetime can hold break session arithmetic, time-zone conversion on pages and retention.
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
#: How far ahead of the ingester's clock an event may be stamped (clock skew between hosts).
MAX_FUTURE_SECONDS = 24 * 60 * 60
_EARLIEST = EARLIEST_TIMESTAMP.timestamp()


class ParseError(ValueError):
    """The message is not a Rasa event; the message says why (it becomes a DeadLetter)."""


@dataclass(slots=True)
class ParsedEvent:
    sender_id: str
    assistant_name: str
    type: str
    timestamp: datetime
    fingerprint: bytes  # 16 bytes (see `fingerprint`)
    data: dict[str, Any]
    json: bytes  # `data` as UTF-8 JSON text, ready for the database
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

    @property
    def is_session_marker(self) -> bool:
        """`session_started`, or the `action_session_start` that Rasa logs just before it;
        both open a session (see store._plan_sender)."""
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


def fingerprint(raw: bytes, timestamp: float) -> bytes:
    """The identity of a message: 16 bytes (stored as a UUID). The first 6 are the event's
    time in milliseconds, the other 10 a hash of the message's bytes as received.

    Hashing the bytes rather than a canonical form of the parsed JSON is sound because every
    way the same event reaches ingestion twice carries the same bytes: a Kafka consumer
    re-reads the very record the broker stored (after a crash before the offset commit, a
    rebalance, a reset offset), a producer retry re-sends the buffer it already serialised,
    a rotated or copied spool file holds the lines as the bot wrote them, and rerouting an
    unrouted event keeps the fingerprint it was stored with (`RawMessage.fingerprint`). Two
    different events never have the same bytes (sender, type and timestamp to the microsecond
    are in them). What the hash does not treat as equal are two separate serialisations of one
    event that differ in key order or spacing; no transport produces those.

    The time prefix (as in UUIDv7) is a function of the bytes too, so it changes nothing about
    identity; it makes the unique index grow at its end, as events arrive roughly in time
    order, instead of at a random page per row: in a table of millions of events that keeps
    the index's working set small and the insert rate close to an empty table's (issue 6).
    """
    return (int(timestamp * 1000) & 0xFFFF_FFFF_FFFF).to_bytes(6, "big") + _blake2b(
        raw, digest_size=10
    ).digest()


def _short(value: Any, what: str) -> str:
    if value.__class__ is str and len(value) <= MAX_ID_LENGTH:
        return value
    if value is None:
        return ""
    if value.__class__ is not str:
        if not isinstance(value, int):
            raise ParseError(f"{what} must be a string, not {type(value).__name__}")
        value = str(value)
    if len(value) > MAX_ID_LENGTH:
        raise ParseError(f"{what} is longer than {MAX_ID_LENGTH} characters")
    return value


def _clip(value: Any, limit: int = 255) -> str:
    if value.__class__ is str:
        return value if len(value) <= limit else value[:limit]
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)[:limit]


def _not_json(raw: bytes, error: Exception) -> ParseError:
    """The reason for a message orjson rejected, as precise as the standard parser words it
    (this path only runs for dead letters)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ParseError(f"not UTF-8: {exc}")
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ParseError as exc:
        return exc
    except (ValueError, RecursionError) as exc:
        return ParseError(f"not JSON: {exc}")
    return ParseError(f"not JSON: {error}")


def _outside_window(stamp: float) -> ParseError:
    # orjson reads no NaN or infinity, but a huge integer becomes an infinite float.
    if stamp.__class__ is float and not math.isfinite(stamp):
        return ParseError("no numeric 'timestamp' (epoch seconds)")
    try:
        moment = _fromtimestamp(stamp, UTC)
        when = f" ({moment.year:04d}-{moment:%m-%d %H:%M:%S} UTC)"
    except (OverflowError, OSError, ValueError):
        when = ""
    return ParseError(
        f"timestamp {stamp}{when} is outside the accepted window: from "
        f"{EARLIEST_TIMESTAMP:%Y-%m-%d} to {MAX_FUTURE_SECONDS // 3600} hours after now"
    )


def parse_message(raw: bytes | str, fingerprint_: bytes | None = None) -> ParsedEvent:
    """Parse one message. Raises ParseError with a reason a person can act on.
    `fingerprint_` keeps the identity of an event that was stored before (rerouting)."""
    if raw.__class__ is not bytes:
        if isinstance(raw, str):
            if len(raw) > MAX_MESSAGE_BYTES:
                raise ParseError(f"message larger than {MAX_MESSAGE_BYTES} characters")
            try:
                raw = raw.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ParseError(f"not UTF-8: {exc}") from None
        else:
            raw = bytes(raw)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ParseError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _not_json(raw, exc) from None
    if body.__class__ is not dict:
        raise ParseError(f"not a JSON object but {type(body).__name__}")
    if b"\\u0000" in raw:
        body = _strip_nul(body)
        text = orjson.dumps(body)
    else:
        text = raw  # orjson has checked it is UTF-8 JSON

    kind = body.get("event")
    if kind.__class__ is not str or not kind:
        raise ParseError("no 'event' (the event type)")
    if len(kind) > 64:
        raise ParseError("'event' is longer than 64 characters")
    sender_id = _short(body.get("sender_id"), "sender_id")
    if not sender_id:
        raise ParseError("no 'sender_id'")
    stamp = body.get("timestamp")
    if stamp.__class__ is not float and (
        isinstance(stamp, bool) or not isinstance(stamp, int | float)
    ):
        raise ParseError("no numeric 'timestamp' (epoch seconds)")
    if not _EARLIEST <= stamp <= _time() + MAX_FUTURE_SECONDS:
        raise _outside_window(stamp)
    try:
        timestamp = _fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        raise _outside_window(stamp) from None
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    elif metadata.__class__ is not dict:
        if metadata:
            raise ParseError("'metadata' is not an object")
        metadata = {}

    event = ParsedEvent(
        sender_id,
        _short(metadata.get("assistant_id"), "metadata.assistant_id"),
        kind,
        timestamp,
        fingerprint_ or fingerprint(raw, stamp),
        body,
        text,
        _clip(body.get("user_id")),
    )
    model_id = metadata.get("model_id")
    if model_id is not None:
        event.model_id = _clip(model_id, 128)
    _columns(event, body, metadata)
    return event


def _text(body: dict[str, Any]) -> str:
    text = body.get("text")
    return text if text.__class__ is str else ""


def _columns(event: ParsedEvent, body: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Fill the filter columns from the event's type-specific fields (best effort: an odd
    field leaves its column empty rather than rejecting the event)."""
    kind = event.type
    if kind == "user":
        event.text = _text(body)
        parse_data = body.get("parse_data")
        if parse_data.__class__ is not dict:
            parse_data = {}
        intent = parse_data.get("intent")
        if intent.__class__ is not dict:
            intent = {}
        event.intent = _clip(intent.get("name"))
        confidence = intent.get("confidence")
        if isinstance(confidence, int | float) and not isinstance(confidence, bool):
            event.confidence = float(confidence)
        event.channel = _clip(body.get("input_channel"), 64)
        event.language = _clip(metadata.get("language") or parse_data.get("language") or "", 16)
    elif kind == "bot":
        event.text = _text(body)
        event.action_name = _clip(metadata.get("utter_action"))
    elif kind in _ACTION_EVENTS:
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
        event.text = _text(body)
