"""The codec accepts exactly JSON-compatible mappings, the same with json and orjson."""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Any

import pytest

from sessionkit import (
    CorruptValue,
    PayloadTooLarge,
    SerializationError,
)
from sessionkit.codec import JSONCodec, check_value

try:
    import orjson  # noqa: F401

    ENCODERS = [False, True]
except ImportError:  # pragma: no cover
    ENCODERS = [False]


@pytest.fixture(params=ENCODERS, ids=lambda o: "orjson" if o else "json")
def codec(request: pytest.FixtureRequest) -> JSONCodec:
    return JSONCodec(use_orjson=request.param)


GOOD = {
    "s": "ünïcode ✓ \u2028 \x00 control chars in values are fine",
    "i": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1],
    "f": [0.1, -2.5e-300, 1e300],
    "b": [True, False],
    "n": None,
    "nested": {"a": [{"b": []}, {}]},
}


def test_round_trip(codec: JSONCodec) -> None:
    assert codec.decode(codec.encode(GOOD), key="k") == GOOD


def test_both_encoders_decode_each_other(codec: JSONCodec) -> None:
    other = JSONCodec(use_orjson=not codec.uses_orjson) if len(ENCODERS) == 2 else codec
    assert other.decode(codec.encode(GOOD), key="k") == GOOD


def test_mappings_other_than_dict_are_accepted_at_top_level(codec: JSONCodec) -> None:
    assert codec.decode(codec.encode(OrderedDict(a=1)), key="k") == {"a": 1}


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"a": {1: "x"}}, "value['a']: key 1 is a int"),
        ({"a": [1, float("nan")]}, "value['a'][1]: nan"),
        ({"a": [1, float("-inf")]}, "value['a'][1]: -inf"),
        ({"a": {"b": {2, 3}}}, "value['a']['b']: set"),
        ({"a": 2**64}, "value['a']: 18446744073709551616 is outside"),
        ({"a": -(2**63) - 1}, "outside the 64-bit"),
        ({"a": b"bytes"}, "value['a']: bytes"),
        ({True: 1}, "key True is a bool"),
        ([("a", 1)], "a session value is a mapping"),
        ({"a": "lone surrogate \ud800"}, "cannot be encoded as UTF-8"),
        ({"a": __import__("uuid").UUID(int=1)}, "UUID"),
        ({"a": __import__("datetime").date(2026, 1, 1)}, "date"),
        ({"a": (1, float("nan"))}, "value['a'][1]: nan"),
    ],
)
def test_bad_values_name_the_place(codec: JSONCodec, value: Any, where: str) -> None:
    with pytest.raises(SerializationError, match=None) as raised:
        codec.encode(value)
    assert where in str(raised.value)


def test_nesting_is_bounded(codec: JSONCodec) -> None:
    value: dict[str, Any] = {}
    inner = value
    for _ in range(253):  # 254 nested mappings: the most either encoder takes
        inner["x"] = {}
        inner = inner["x"]
    assert codec.decode(codec.encode(value), key="k") == value
    inner["x"] = {}  # one more
    with pytest.raises(SerializationError, match="deeper than 254"):
        codec.encode(value)


def test_payload_limit_counts_encoded_bytes() -> None:
    codec = JSONCodec(max_payload_bytes=20)
    assert codec.encode({"a": "x" * 12}) == b'{"a":"' + b"x" * 12 + b'"}'  # exactly 20 bytes
    with pytest.raises(PayloadTooLarge) as raised:
        codec.encode({"a": "x" * 13})
    assert (raised.value.size, raised.value.limit) == (21, 20)
    assert JSONCodec(max_payload_bytes=None).encode({"a": "x" * 10_000_000})


def test_payload_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        JSONCodec(max_payload_bytes=0)


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'"str"', b"\xff\xfe", b""])
def test_undecodable_stored_bytes_are_corrupt_value(codec: JSONCodec, data: bytes) -> None:
    with pytest.raises(CorruptValue) as raised:
        codec.decode(data, key="the-key")
    assert raised.value.key == "the-key"


def test_check_value_returns_a_dict() -> None:
    assert check_value(OrderedDict(a=1)) == {"a": 1}
    assert type(check_value(OrderedDict(a=1))) is dict


def test_encode_and_copy_gives_the_bytes_and_a_private_copy(codec: JSONCodec) -> None:
    value = {"t": (1, 2), "nested": {"a": [1]}}
    data, copy = codec.encode_and_copy(value)
    assert data == codec.encode(value)
    assert copy == codec.decode(data, key="k") == {"t": [1, 2], "nested": {"a": [1]}}
    copy["nested"]["a"].append(2)
    assert value["nested"]["a"] == [1]


def test_encode_and_copy_checks_like_encode(codec: JSONCodec) -> None:
    with pytest.raises(SerializationError):
        codec.encode_and_copy({"bad": float("nan")})
    with pytest.raises(PayloadTooLarge):
        JSONCodec(max_payload_bytes=10, use_orjson=codec.uses_orjson).encode_and_copy(
            {"long": "x" * 20}
        )


def test_subclasses_of_json_types_are_accepted_by_both_encoders(codec: JSONCodec) -> None:
    # Tried: enums built on int and str, and nested dict/list subclasses. Both encoders
    # write them as their base type, so both accept them, and they read back as that type.
    class Level(enum.IntEnum):
        HIGH = 3

    class Colour(str, enum.Enum):
        RED = "red"

    class Tags(list):  # type: ignore[type-arg]
        pass

    value = {"level": Level.HIGH, "colour": Colour.RED, "nested": OrderedDict(t=Tags(["a"]))}
    assert codec.decode(codec.encode(value), key="k") == {
        "level": 3,
        "colour": "red",
        "nested": {"t": ["a"]},
    }
    with pytest.raises(SerializationError):
        codec.encode({"level": enum.Enum("Plain", "A").A})  # a plain Enum is not JSON
