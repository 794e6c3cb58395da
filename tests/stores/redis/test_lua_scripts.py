"""The Lua scripts on their own: each ships as a .lua file, loads, and runs on a real Redis
(the session's private server, where SCRIPT FLUSH touches no one else's data)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from importlib.resources import files

import pytest
import redis

from sessionkit.stores._redis.scripts import (
    APPLY_IF_NEWER,
    CAS,
    GET_ENTRY,
    MERGE,
    PERSIST_IF_EXISTS,
    SCRIPTS,
    SET,
)
from tests import redis_servers


@pytest.fixture(scope="module")
def raw() -> Iterator[redis.Redis]:
    redis_servers.redis_server_binary()
    client = redis.Redis.from_url(redis_servers.standalone().url)
    yield client
    client.close()


@pytest.fixture
def key(raw: redis.Redis) -> Iterator[str]:
    name = f"sktest:lua:{uuid.uuid4().hex[:12]}"
    yield name
    raw.delete(name)


def test_every_script_is_a_lua_file_of_the_package() -> None:
    shipped = {
        entry.name.removesuffix(".lua")
        for entry in files("sessionkit.stores._redis").joinpath("lua").iterdir()
        if entry.name.endswith(".lua")
    }
    assert shipped == {*SCRIPTS, "envelope", "merge_fields"}
    envelope = files("sessionkit.stores._redis").joinpath("lua", "envelope.lua").read_text()
    for script in SCRIPTS.values():
        assert script.sha == hashlib.sha1(script.source.encode()).hexdigest()
        assert script.source.startswith(envelope) == (script in (SET, CAS, MERGE, APPLY_IF_NEWER))


def test_set_writes_an_envelope_and_counts_versions(raw: redis.Redis, key: str) -> None:
    run = raw.register_script(SET.source)
    assert run([key], [0, 7, b'{"a":1}']) == 1  # ARGV: PX, stamp, JSON
    assert raw.get(key) == b'sk1:1:s7:{"a":1}'
    assert run([key], [60_000, 8, b'{"a":2}']) == 1
    assert raw.get(key) == b'sk1:2:s8:{"a":2}'
    assert 0 < raw.pttl(key) <= 60_000


def test_cas_writes_only_over_what_it_read(raw: redis.Redis, key: str) -> None:
    run = raw.register_script(CAS.source)
    assert run([key], [b"", b'{"n":1}', 0, 0, 5]) == 1  # absent, as read
    assert run([key], [b"", b'{"n":9}', 0, 0, 6]) == 0  # no longer absent
    assert run([key], [b'sk1:1:s5:{"n":1}', b'{"n":2}', 0, 0, 7]) == 1
    assert raw.get(key) == b'sk1:2:s7:{"n":2}'


def test_merge_splices_fields_and_records_their_lengths(raw: redis.Redis, key: str) -> None:
    raw.set(key, b'sk1:4:{"a":1,"b":[1,2]}')
    run = raw.register_script(MERGE.source)
    # An envelope from before stamps merges like any other; the result is stamped.
    merged = run([key], [0, 0, 0, 9, b"b", b'"b":{}', b"c", b'"c":"x"'])
    assert merged == b'{"a":1,"b":{},"c":"x"}'
    assert raw.get(key) == b'sk1:5:s9:5,6,7:{"a":1,"b":{},"c":"x"}'
    assert run([key], [0, 0, 0, 10, b"a", b'"a":2']) == b'{"a":2,"b":{},"c":"x"}'
    assert raw.get(key) == b'sk1:6:s10:5,6,7:{"a":2,"b":{},"c":"x"}'
    with pytest.raises(redis.ResponseError, match="SKTOOLARGE"):
        run([key], [0, 0, 10, 11, b"d", b'"d":1'])


def test_get_entry_and_persist_if_exists(raw: redis.Redis, key: str) -> None:
    get_entry = raw.register_script(GET_ENTRY.source)
    persist = raw.register_script(PERSIST_IF_EXISTS.source)
    assert get_entry([key]) is None
    assert persist([key]) == 0
    raw.set(key, b"sk1:1:{}", px=50_000)
    stored, pttl, seconds, microseconds = get_entry([key])
    assert (stored, 0 < pttl <= 50_000) == (b"sk1:1:{}", True)
    assert int(seconds) > 0
    assert 0 <= int(microseconds) < 1_000_000
    assert persist([key]) == 1
    assert raw.pttl(key) == -1


def test_a_registered_script_recovers_from_script_flush(raw: redis.Redis, key: str) -> None:
    run = raw.register_script(SET.source)
    assert run([key], [0, 1, b"{}"]) == 1
    raw.script_flush()  # NOSCRIPT next: redis-py loads it again
    assert run([key], [0, 2, b"{}"]) == 1
    assert raw.get(key) == b"sk1:2:s2:{}"
