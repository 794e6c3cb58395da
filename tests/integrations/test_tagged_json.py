"""TaggedJSON: exact round trips through real JSON, refusals that name the path."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import uuid
import zoneinfo
from typing import Any

import attrs
import pytest

from sessionkit import CorruptValue, SerializationError
from sessionkit.integrations.tagged_json import TAG, TaggedJSON, TaggedJSONError


class Step(enum.Enum):
    NAME = "name"
    AGE = 2


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass(frozen=True)
class Choice:
    item: str
    qty: int = 1
    extra: tuple[Any, ...] = ()
    seen: int = dataclasses.field(default=0, init=False)


@attrs.define(slots=True)
class Order:
    number: int
    placed: datetime.datetime
    lines: list[Choice] = attrs.field(factory=list)


class Plain:
    pass


CODEC = TaggedJSON(types=[Step, Choice, Order])

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
VALUES: list[Any] = [
    (1, "a", (2.5, None)),
    {3, "x", (1, 2)},
    frozenset({1, 2}),
    b"\x00\xffbytes",
    datetime.datetime(2024, 5, 1, 12, 30, 1, 5),
    datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc),
    datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-3), "BRT")),
    datetime.datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN, fold=1),
    datetime.date(2024, 2, 29),
    datetime.time(23, 59, 59, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=5))),
    datetime.timedelta(days=-2, seconds=7, microseconds=3),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    decimal.Decimal("10.50"),
    decimal.Decimal("NaN"),
    {7: "int key", (1, "a"): "tuple key", None: 0, "s": 1},
    {TAG: "a user key that looks like the tag"},
    Step.AGE,
    Choice("tea", 2, (Step.NAME,)),
    Order(1, datetime.datetime(2024, 1, 1), [Choice("cake")]),
    2**100,
    -(2**70),
    float("inf"),
    [1.5, True, None, "x", [], {}],
]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_round_trips_exactly_through_json(value: Any) -> None:
    stored = json.loads(json.dumps(CODEC.encode(value), allow_nan=False))
    back = CODEC.decode(stored)
    if isinstance(value, decimal.Decimal) and value.is_nan():
        assert back.is_nan()
    else:
        assert back == value
    assert type(back) is type(value)
    if not isinstance(value, (set, frozenset)):  # (a set's repr follows its insertion order)
        assert repr(back) == repr(value)  # the same types all the way down


def test_nan_float_round_trips() -> None:
    back = CODEC.decode(json.loads(json.dumps(CODEC.encode(float("nan")))))
    assert back != back


def test_fields_set_outside_init_and_fold_are_kept() -> None:
    choice = Choice("tea")
    object.__setattr__(choice, "seen", 5)
    assert CODEC.decode(CODEC.encode(choice)).seen == 5
    moment = datetime.datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN, fold=1)
    back = CODEC.decode(CODEC.encode(moment))
    assert back.fold == 1
    assert back.utcoffset() == moment.utcoffset()


def test_equal_sets_encode_identically() -> None:
    assert CODEC.encode({3, 1, 2}) == CODEC.encode({2, 3, 1})


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"a": [1, {"b": Plain()}]}, "user_data[7]['a'][1]['b']", "Plain"),
        ({"a": collections.OrderedDict()}, "user_data[7]['a']", "OrderedDict"),
        ({"lvl": Level.LOW}, "user_data[7]['lvl']", "Level is not a registered type"),
        ({"c": {Plain(): 1}}, "user_data[7]['c']<key", "Plain"),
        ({"s": {1, Plain()}}, "user_data[7]['s']<set item>", "Plain"),
        ({"o": Order(1, datetime.datetime(2024, 1, 1), [Plain()])}, "['o'].lines[0]", "Plain"),
    ],
)
def test_refuses_the_rest_naming_the_path(value: Any, path: str, reason: str) -> None:
    with pytest.raises(TaggedJSONError, match=reason) as caught:
        CODEC.encode(value, where="user_data[7]")
    assert path in caught.value.path
    assert isinstance(caught.value, SerializationError)


def test_time_zones_it_cannot_rebuild_are_refused() -> None:
    class Odd(datetime.tzinfo):
        def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
            return datetime.timedelta(0)

    with pytest.raises(TaggedJSONError, match="time zone"):
        CODEC.encode(datetime.datetime(2024, 1, 1, tzinfo=Odd()))


def test_allowed_paths_import_classes_on_decode() -> None:
    by_path = TaggedJSON(allowed_paths=[__name__])
    encoded = json.loads(json.dumps(by_path.encode({"step": Step.NAME, "level": Level.LOW})))
    assert encoded["step"]["type"] == f"{__name__}.Step"
    assert TaggedJSON(allowed_paths=[f"{__name__}.Step", f"{__name__}.Level"]).decode(encoded) == {
        "step": Step.NAME,
        "level": Level.LOW,
    }
    with pytest.raises(TaggedJSONError, match="not a registered type"):
        TaggedJSON(allowed_paths=[f"{__name__}.Step"]).encode(Level.LOW)


def test_local_classes_need_registering() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(TaggedJSONError, match="registered"):
        TaggedJSON(allowed_paths=[__name__]).encode(Local(1))
    assert TaggedJSON(types=[Local]).decode(TaggedJSON(types=[Local]).encode(Local(1))) == Local(1)


@pytest.mark.parametrize(
    "stored",
    [
        {TAG: "nope"},
        {TAG: "tuple"},
        {TAG: "enum", "type": "os.system", "v": "x"},  # never imported: not allowed
        {TAG: "dataclass", "type": f"{__name__}.Step", "fields": {}},  # not a dataclass
        {TAG: "set", "items": [[1]]},  # a list cannot be a set member
        {TAG: "enum", "type": f"{__name__}.Step", "v": "MISSING"},
    ],
)
def test_decode_refuses_what_encode_never_writes(stored: Any) -> None:
    with pytest.raises(CorruptValue, match="k1"):
        TaggedJSON(types=[Step]).decode(stored, key="k1")


def test_types_must_be_enum_dataclass_or_attrs() -> None:
    with pytest.raises(TypeError, match="types="):
        TaggedJSON(types=[Plain])
