# Generated from tests/stores/redis/_async/test_client_cache.py by scripts/unasync.py: edit that file, not this one.
"""The Redis store's client-side cache (``client_cache=True``): no stale read after another
client's acknowledged write of any kind, the whole cache dropped on a lost tracking
connection, entries never outliving their TTL, Cluster refused.

The tests run on a redis-server of their own (FLUSHDB is one of the writes).
"""

from __future__ import annotations

import time
import random
import tempfile
from collections.abc import Iterator, Generator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis import Redis as Client

from sessionkit import ConfigurationError, open_store
from sessionkit.codec import default_codec
from sessionkit.stores._redis.client_cache import ClientCache
from sessionkit.stores._redis.envelope import decode_value
from sessionkit.stores.redis import RedisStore
from tests import redis_servers

PREFIX = "sktest:cache:"


@pytest.fixture(scope="module")
def server() -> Generator[str, None, None]:
    """A private server's URL."""
    redis_servers.redis_server_binary()
    group = redis_servers.ServerGroup(Path(tempfile.mkdtemp(prefix="sk-cache-")))
    port = redis_servers.free_port()
    group.start("cache", *redis_servers._server_arguments(port), port=port)
    yield f"redis://127.0.0.1:{port}/0"
    group.stop()


@pytest.fixture
def raw(server: str) -> Generator[redis.Redis, None, None]:
    """Another client, plain redis-py: Lua, EXPIRE, FLUSHDB, and the truth."""
    client = redis.Redis.from_url(server)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def cached(server: str, raw: redis.Redis) -> Iterator[RedisStore]:
    store = open_store(f"{server}?client_cache=true", prefix=PREFIX)
    assert isinstance(store, RedisStore)
    yield store
    store.close()


@pytest.fixture
def writer(server: str, raw: redis.Redis) -> Iterator[RedisStore]:
    store = open_store(server, prefix=PREFIX)
    assert isinstance(store, RedisStore)
    yield store
    store.close()


def truth(raw: redis.Redis, key: str) -> dict[str, Any] | None:
    stored = raw.get(PREFIX + key)
    return None if stored is None else decode_value(default_codec, stored, key)


def cache_of(store: RedisStore) -> ClientCache:
    cache = store._client_cache
    assert cache is not None
    return cache


def test_no_stale_read_over_interleaved_writes_of_every_kind(
    cached: RedisStore, writer: RedisStore, raw: redis.Redis
) -> None:
    rng = random.Random(17)
    keys = [f"k{i}" for i in range(4)]
    lua_set = "redis.call('SET', KEYS[1], 'sk1:' .. ARGV[1] .. ':{\"lua\":' .. ARGV[1] .. '}')"
    stale = 0
    kinds: set[str] = set()
    for step in range(400):
        key = rng.choice(keys)
        # Warm the cache so that most writes hit a cached entry.
        cached.get(key)
        kind = rng.choice(
            ["set", "merge", "update", "delete", "create", "set_many", "lua", "expire",
             "touch", "flushdb", "none", "none"]
        )
        kinds.add(kind)
        if kind == "set":
            writer.set(key, {"step": step})
        elif kind == "merge":
            writer.merge(key, {"merged": step})
        elif kind == "update":
            writer.update(key, lambda v, step=step: {**v, "updated": step}, default={})
        elif kind == "delete":
            writer.delete(key)
        elif kind == "create":
            writer.create(key, {"created": step})
        elif kind == "set_many":
            writer.set_many({k: {"many": step} for k in keys})
        elif kind == "lua":
            raw.eval(lua_set, 1, PREFIX + key, step + 1)
        elif kind == "expire":
            raw.pexpire(PREFIX + key, 1)
            time.sleep(0.003)  # the key is gone on the server (lazily, or actively)
        elif kind == "touch":
            writer.touch(key, 30)
        elif kind == "flushdb":
            raw.flushdb()
            # Redis sends the flush's invalidation while running the command, so it can
            # reach us a few microseconds after the flusher's reply (key invalidations in
            # broadcast mode are written before the writer's reply): the one documented
            # exception (docs/backends/redis.md), waited out here.
            time.sleep(0.005)
        for k in keys:  # every read right after the acknowledged write
            if cached.get(k) != truth(raw, k):
                stale += 1
        many = cached.get_many(keys)
        if many != {k: v for k in keys if (v := truth(raw, k)) is not None}:
            stale += 1
    assert stale == 0
    assert kinds >= {"set", "merge", "update", "delete", "create", "lua", "expire", "flushdb"}
    cache = cache_of(cached)
    assert cache.hits > 400  # the cache did answer, so the check above meant something
    assert cache.drops == 0


def test_own_writes_are_read_back(cached: RedisStore) -> None:
    for step in range(50):
        cached.set("mine", {"step": step})
        assert cached.get("mine") == {"step": step}
        assert cached.get("mine") == {"step": step}
        assert cached.merge("mine", {"more": 1}) == {"step": step, "more": 1}
        assert cached.get("mine") == {"step": step, "more": 1}
    assert cache_of(cached).hits >= 50


def test_a_cached_value_is_a_fresh_copy(cached: RedisStore) -> None:
    cached.set("k", {"items": [1]})
    first = cached.get("k")
    assert first is not None
    first["items"].append(2)
    assert cached.get("k") == {"items": [1]}
    assert cache_of(cached).hits >= 1


def _kill_tracking_connections(raw: redis.Redis) -> int:
    killed = 0
    for entry in raw.client_list():
        if "t" in entry["flags"] and entry["resp"] == "3":
            raw.client_kill_filter(_id=entry["id"])
            killed += 1
    return killed


def test_a_lost_tracking_connection_drops_the_cache(
    cached: RedisStore, writer: RedisStore, raw: redis.Redis
) -> None:
    writer.set("k", {"v": 1})
    assert cached.get("k") == {"v": 1}
    assert cached.get("k") == {"v": 1}
    cache = cache_of(cached)
    assert cache.hits == 1
    assert len(cache) == 1
    assert _kill_tracking_connections(raw) == 1
    # This write's invalidation has nowhere to go: the cache must not answer from memory.
    writer.set("k", {"v": 2})
    assert cached.get("k") == {"v": 2}
    assert cache.drops == 1
    # A fresh tracking connection is opened later, and the cache works again.
    time.sleep(0.6)
    assert cached.get("k") == {"v": 2}
    assert cached.get("k") == {"v": 2}
    writer.set("k", {"v": 3})
    assert cached.get("k") == {"v": 3}
    assert cache.hits >= 1
    assert cache.drops == 1


def test_entries_never_outlive_their_ttl(
    cached: RedisStore, raw: redis.Redis
) -> None:
    cached.set("short", {"v": 1}, ttl=0.25)
    assert cached.get("short") == {"v": 1}
    assert cached.get("short") == {"v": 1}
    time.sleep(0.3)
    assert cached.get("short") is None


def test_options_and_refusals(server: str) -> None:
    store = RedisStore(
        url=f"{server}?client_cache=1&client_cache_size=2&client_cache_max_ttl=9",
        prefix=PREFIX,
    )
    cache = cache_of(store)
    assert cache._size == 2
    assert cache._max_ttl == 9.0
    for key in ("a", "b", "c"):
        store.set(key, {})
        store.get(key)
    assert len(cache) == 2  # bounded, least recently used out
    store.close()
    plain = RedisStore(url=f"{server}?client_cache=true", prefix=PREFIX, client_cache=False)
    assert plain._client_cache is None
    plain.close()
    with pytest.raises(ConfigurationError, match="cluster"):
        RedisStore(url="redis+cluster://127.0.0.1:7000", client_cache=True)
    with pytest.raises(ConfigurationError, match="url="):
        RedisStore(Client(), client_cache=True)
    with pytest.raises(ConfigurationError, match="client_cache_size"):
        RedisStore(url=server, client_cache=True, client_cache_size=0)
    with pytest.raises(ConfigurationError, match="true or false"):
        RedisStore(url=f"{server}?client_cache=maybe")


def test_sentinel(raw: redis.Redis) -> None:
    url = redis_servers.sentinel_set().url
    prefix = f"sktest:cache:{random.randrange(10**9)}:"
    cached = open_store(url, prefix=prefix, client_cache=True)
    writer = open_store(url, prefix=prefix)
    try:
        for step in range(30):
            writer.set("k", {"step": step})
            assert cached.get("k") == {"step": step}
            assert cached.get("k") == {"step": step}
        assert isinstance(cached, RedisStore)
        assert cache_of(cached).hits >= 30
    finally:
        writer.purge()
        writer.close()
        cached.close()
