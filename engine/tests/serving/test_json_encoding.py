"""The bot's JSON: orjson writes and reads it, and the bytes are what the standard library's
encoder (``default=str``, NaN as null) and decoder give, for every kind of value a tracker or
a request can hold."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid

import numpy as np
import pytest

from engine.server.app import _finite, dump_json, load_json


def reference_dump(content: object) -> bytes:
    return json.dumps(
        _finite(content), ensure_ascii=False, separators=(",", ":"), default=str
    ).encode("utf-8")


@dataclasses.dataclass
class Point:
    x: int = 1


VALUES = [
    [{"recipient_id": "alice", "text": "Hé, ça va? 🎉", "buttons": [{"title": "Yes"}]}],
    {"slots": {"amount": 12.5, "when": None, "ok": True, "n": 3, "names": ["a", "b"]}},
    {"nan": float("nan"), "inf": [float("inf"), -float("inf")]},
    {"moment": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)},
    {"day": datetime.date(2020, 1, 2), "time": datetime.time(3, 4)},
    {"pair": (1, "two"), "id": uuid.UUID(int=7), "point": Point()},
    {"numpy_float": np.float64(0.25), "numpy_int": np.int64(3), "numpy_nan": np.float64("nan")},
    {"big": 10**30, "small": -(2**63), "max": 2**64 - 1},
    {"keys": {3: "int key", 2.5: "float key", None: "null key", True: "bool key"}},
    {"escapes": 'quote " backslash \\ newline \n tab \t nul \x00 \u2028'},
    {"floats": [0.1, 1e16, 1e-7, -0.0, 123456789.123456789]},
]


@pytest.mark.parametrize("content", VALUES)
def test_written_json_reads_back_as_the_standard_encoders(content: object) -> None:
    # orjson writes some floats in another (equally valid) notation: 1e-7, not 1e-07.
    assert json.loads(dump_json(content)) == json.loads(reference_dump(content))


def test_written_json_is_byte_for_byte_the_same_for_replies_and_trackers() -> None:
    reply = VALUES[0]
    assert dump_json(reply) == reference_dump(reply)
    state = {"sender_id": "s", "events": [{"event": "slot", "value": 3.5, "timestamp": 1.5}]}
    assert dump_json(state) == reference_dump(state)


def test_a_value_neither_encoder_can_write_still_fails() -> None:
    with pytest.raises(UnicodeEncodeError):
        dump_json({"text": "\ud800"})


BODIES = [
    b'{"sender": "alice", "message": "hi \\u00e9 \xc3\xa9"}',
    b'{"a": NaN, "b": Infinity}',
    b'{"card": 1234567890123456789012, "n": -9223372036854775808}',
    b'"\\ud800"',
    b'{"a": 1, "a": 2}',
    b"[1, 2.5, true, null]",
]


@pytest.mark.parametrize("body", BODIES)
def test_read_json_is_the_standard_decoders(body: bytes) -> None:
    got, wanted = load_json(body), json.loads(body.decode("utf-8"))
    assert repr(got) == repr(wanted)  # repr: NaN != NaN


@pytest.mark.parametrize("body", [b"{bad", b"\xff{}", "\ufeff{}".encode(), b"[1,", b""])
def test_bad_json_fails_with_the_standard_decoders_error(body: bytes) -> None:
    with pytest.raises((ValueError, UnicodeDecodeError)) as got:
        load_json(body)
    with pytest.raises((ValueError, UnicodeDecodeError)) as wanted:
        json.loads(body.decode("utf-8"))
    assert type(got.value) is type(wanted.value) and str(got.value) == str(wanted.value)
