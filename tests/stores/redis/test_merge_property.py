"""merge splices raw JSON text in Lua; it must agree with a plain dict merge on any value,
and leave a value it cannot read exactly as it was.

Run against the real server (Lua 5.1 with cjson) and fakeredis (lupa's Lua), sync only:
the script is the same for both flavours.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionkit import CorruptValue
from sessionkit.codec import JSONCodec
from sessionkit.stores.redis import RedisStore
from tests.servers import require_server
from tests.stores.redis import unstamped

NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    NAMES,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=8,
)
OBJECTS = st.dictionaries(NAMES, JSON, max_size=6)


@pytest.fixture(params=["redis", "fakeredis"], scope="module")
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one prefix: one encodes with orjson, the other with the json module."""
    prefix = f"sktest:{uuid.uuid4().hex[:12]}:"
    codecs = JSONCodec(use_orjson=True), JSONCodec(use_orjson=False)
    if request.param == "redis":
        require_server("Redis", "127.0.0.1", 6379)
        url = "redis://127.0.0.1:6379/0"
        pair = tuple(RedisStore.from_url(url, prefix=prefix, codec=codec) for codec in codecs)
    else:
        server = fakeredis.FakeServer()
        pair = tuple(
            RedisStore(fakeredis.FakeRedis(server=server), prefix=prefix, codec=codec,
                       close_client=True)
            for codec in codecs
        )
    yield pair[0], pair[1]
    pair[0].purge("")
    for opened in pair:
        opened.close()


@pytest.fixture
def store(stores: tuple[RedisStore, RedisStore]) -> RedisStore:
    return stores[0]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stored=OBJECTS, patch=OBJECTS, second=OBJECTS)
def test_merge_equals_a_dict_merge(
    store: RedisStore, stored: dict[str, Any], patch: dict[str, Any], second: dict[str, Any]
) -> None:
    store.set("k", stored)
    expected = {**stored, **patch}
    assert store.merge("k", patch) == expected  # scans the JSON set wrote
    assert store.get("k") == expected
    expected = {**expected, **second}
    assert store.merge("k", second) == expected  # slices by the lengths merge wrote
    assert store.get_many(["k"]) == {"k": expected}


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=OBJECTS, second=OBJECTS, third=OBJECTS, which=st.integers(0, 1))
def test_merge_on_an_absent_key_after_update_and_across_encoders(
    stores: tuple[RedisStore, RedisStore],
    first: dict[str, Any],
    second: dict[str, Any],
    third: dict[str, Any],
    which: int,
) -> None:
    one, other = stores[which], stores[1 - which]
    one.delete("k")
    assert one.merge("k", first) == first  # absent: the patch is the value
    expected = {**first, **second}
    assert other.merge("k", second) == expected  # slices what the other encoder wrote
    expected = {**expected, "u": 1}
    assert one.update("k", lambda v: {**v, "u": 1}) == expected  # no field lengths now
    expected = {**expected, **third}
    assert other.merge("k", third) == expected  # scans what update wrote
    assert one.get("k") == expected
    entry = other.get_entry("k")
    assert entry is not None
    assert (entry.value, entry.version) == (expected, 4)


# Stored strings that look like ours but are damaged: merge must raise CorruptValue and
# write nothing (it used to splice some of them and write the result).
DAMAGED = [
    b'sk1:1:{"a":tru}',  # a bad literal
    b'sk1:1:{"a":1}xyz',  # bytes after the object
    b'sk1:1:{"a":01}',  # a number JSON does not allow
    b'sk1:1:{"a":0x10}',
    b'sk1:1:{"a":[1,tru]}',  # a bad literal inside an array
    b'sk1:1:{"a":{"b":1]}',  # mismatched brackets
    b'sk1:1:{"a":1,}',  # a trailing comma
    b'sk1:1:{"a":{"b":@}}',  # a stray byte inside an object
    b'sk1:1:{"a":[NaN]}',  # not JSON, though some parsers take it
    b'sk1:1:{"a":"x}',  # an unterminated string
    b'sk1:1:{"a":[1,2}',  # truncated
    b'sk1:2:5,5:{"a":1,"b":x}',  # field lengths fit, a value does not
    b'sk1:2:5,5:{"a":1;"b":1}',  # no comma where the lengths put one
    b'sk1:2:5,6:{"a":1,"b":[1}',  # a value that opens '[' and ends '}'
    b'sk1:2:5,5:{"a":1,"b":1}x',  # bytes after the object
    b'sk1:2:5,5:{"a":1,xb":1}',  # no quote where a field name starts
    b'sk1:2:5,,5:{"a":1,"b":1}',  # field lengths that are not numbers
    b'sk1:2:5x5:{"a":1,"b":1}',
    b'sk1:0x10:{"a":1}',  # a version tonumber() reads, and open_envelope does not
    b'sk1:1e3:{"a":1}',
    b'sk1:123456789012345:{"a":1}',  # more digits than a version has
    b'sk1:1:s:{"a":1}',  # a write stamp with no digits
    b'sk1:1:sx1:{"a":1}',  # a write stamp that is not a number
    b'sk1:1:s-:{"a":1}',
    b'sk1:1:s12{"a":1}',  # a write stamp with no ':' after it
    b'sk1:2:s12:5,5:{"a":1,"b":x}',  # a stamped envelope whose lengths fit, a value not
]


@pytest.mark.parametrize("damaged", DAMAGED)
def test_merge_leaves_a_damaged_value_untouched(store: RedisStore, damaged: bytes) -> None:
    name = store.prefix + "damaged"
    store.client.set(name, damaged)
    with pytest.raises(CorruptValue, match="'damaged'"):
        store.merge("damaged", {"b": 1})
    assert store.client.get(name) == damaged
    with pytest.raises(CorruptValue, match="'damaged'"):
        store.get("damaged")  # get agrees: not a value it can read
    with pytest.raises(CorruptValue, match="'damaged'"):
        store.update("damaged", lambda value: value)
    assert store.client.get(name) == damaged


def test_set_over_a_version_that_is_not_digits_starts_again_at_1(store: RedisStore) -> None:
    # set replaces any value that is not ours at version 1; a hex "version" is not ours
    # (tonumber would have read 0x10 as 16 and written version 17).
    name = store.prefix + "hex"
    for damaged in (b'sk1:0x10:{"a":1}', b'sk1:1e3:{"a":1}', b'sk1:x:{"a":1}'):
        store.client.set(name, damaged)
        store.set("hex", {"a": 2})
        assert unstamped(store.client.get(name)) == b'sk1:1:{"a":2}'
        entry = store.get_entry("hex")
        assert entry is not None
        assert entry.version == 1
