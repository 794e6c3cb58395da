"""The Redis store's write stamps and tombstones, beyond the contract's replay cases: where
a tombstone lives (same hash slot, outside every prefix), that nothing lists it, how long
it lives, and envelopes written before stamps."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from sessionkit import ConfigurationError, open_store
from sessionkit.stamped import DEFAULT_TOMBSTONE_TTL, ReplayOutcome, StampedWrite
from sessionkit.stores._redis.envelope import envelope_stamp
from sessionkit.stores._redis.keyspace import tombstone_name
from sessionkit.stores.redis import RedisStore
from tests import redis_servers

APPLIED, SUPERSEDED = ReplayOutcome.APPLIED, ReplayOutcome.SUPERSEDED
HOUR = 3600.0


@pytest.fixture
def raw(server: redis_servers.Standalone) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


@pytest.fixture
def store(server: redis_servers.Standalone, prefix: str) -> Iterator[RedisStore]:
    opened = RedisStore.from_url(server.url, prefix=prefix)
    yield opened
    opened.purge("")
    opened.close()


def test_a_delete_leaves_a_tombstone_that_scan_count_and_purge_never_see(
    store: RedisStore, raw: redis.Redis, prefix: str
) -> None:
    # Tried: a deleted key, a never-written deleted key and a live key; then scan, count,
    # purge, and a prefix-"" store's full scan of the server.
    store.set("gone", {"a": 1})
    store.set("live", {"b": 2})
    assert store.delete("gone") is True
    assert store.delete("never") is False
    for key in ("gone", "never"):
        tombstone = tombstone_name(prefix + key)
        assert raw.exists(tombstone) == 1
        assert 0 < raw.pttl(tombstone) <= DEFAULT_TOMBSTONE_TTL * 1000
        assert int(raw.get(tombstone) or b"0") > 0  # the delete's stamp
        assert store.get(key) is None
        assert store.exists(key) is False
        assert store.ttl(key) is None
        assert store.get_entry(key) is None
    assert store.get_many(["gone", "never", "live"]) == {"live": {"b": 2}}
    assert list(store.scan("")) == ["live"]
    assert store.count("") == 1
    everything = RedisStore(raw, prefix="")
    assert not [key for key in everything.scan("") if "sk-tomb" in key]
    assert store.purge("") == 1  # the live key only
    assert raw.exists(tombstone_name(prefix + "gone")) == 1  # purge leaves tombstones
    raw.delete(tombstone_name(prefix + "gone"), tombstone_name(prefix + "never"))


def test_a_later_write_of_the_key_overrides_its_tombstone(store: RedisStore) -> None:
    # Tried: delete, then set; a journaled write between the two, and one before the delete.
    before_delete = time.time() - HOUR
    store.delete("k")
    between = time.time()
    time.sleep(0.002)
    store.set("k", {"fresh": 1})
    for at in (before_delete, between):
        old = StampedWrite("set", "k", at=at, value={"stale": True})
        assert store.apply_if_newer(old) is SUPERSEDED
    assert store.get("k") == {"fresh": 1}


def test_tombstone_ttl_zero_leaves_no_tombstone(
    server: redis_servers.Standalone, raw: redis.Redis, prefix: str
) -> None:
    # Tried: tombstone_ttl=0, a set and a delete, then a journaled set older than the delete.
    with RedisStore.from_url(server.url, prefix=prefix, tombstone_ttl=0) as store:
        assert store.tombstone_ttl == 0
        store.set("k", {"a": 1})
        assert store.delete("k") is True
        assert raw.exists(tombstone_name(prefix + "k")) == 0
        old = StampedWrite("set", "k", at=time.time() - HOUR, value={"old": 1})
        assert store.apply_if_newer(old) is APPLIED  # nothing remembers the delete
        gone = StampedWrite("delete", "k", at=time.time() + HOUR)
        assert store.apply_if_newer(gone) is APPLIED
        assert raw.exists(tombstone_name(prefix + "k")) == 0
        assert store.get("k") is None


def test_tombstone_ttl_from_the_keyword_or_the_url(
    server: redis_servers.Standalone, raw: redis.Redis, prefix: str
) -> None:
    # Tried: the default, ?tombstone_ttl=30, the keyword, both agreeing, both differing,
    # and a value that is no number.
    with RedisStore.from_url(server.url, prefix=prefix) as store:
        assert store.tombstone_ttl == DEFAULT_TOMBSTONE_TTL
    with open_store(f"{server.url}?tombstone_ttl=30", prefix=prefix) as store:
        assert isinstance(store, RedisStore)
        assert store.tombstone_ttl == 30
        store.delete("k")
        assert 0 < raw.pttl(tombstone_name(prefix + "k")) <= 30_000
        raw.delete(tombstone_name(prefix + "k"))
    with RedisStore.from_url(server.url, prefix=prefix, tombstone_ttl=5) as store:
        assert store.tombstone_ttl == 5
    with RedisStore.from_url(f"{server.url}?tombstone_ttl=5", tombstone_ttl=5) as store:
        assert store.tombstone_ttl == 5
    with pytest.raises(ConfigurationError, match="tombstone_ttl given twice"):
        RedisStore.from_url(f"{server.url}?tombstone_ttl=5", tombstone_ttl=6)
    with pytest.raises(ConfigurationError, match="tombstone_ttl must be seconds"):
        RedisStore.from_url(f"{server.url}?tombstone_ttl=soon")


def test_every_write_stores_the_clients_stamp_and_touch_keeps_it(
    store: RedisStore, raw: redis.Redis, prefix: str
) -> None:
    # Tried: set, merge, update, create, set_many, then touch.
    start = time.time()
    store.set("a", {"n": 1})
    store.merge("b", {"n": 1})
    store.update("c", lambda value: {"n": 1}, default={})
    assert store.create("d", {"n": 1})
    store.set_many({"e": {"n": 1}})
    for key in "abcde":
        stamp = envelope_stamp(raw.get(prefix + key) or b"")
        assert stamp is not None
        assert start * 1e6 - 1 <= stamp <= time.time() * 1e6 + 1, key
    before = raw.get(prefix + "a")
    assert store.touch("a", 60)
    assert raw.get(prefix + "a") == before


def test_an_envelope_from_before_stamps_reads_and_anything_newer_replaces_it(
    store: RedisStore, raw: redis.Redis, prefix: str
) -> None:
    # Tried: 'sk1:3:{...}' and a merged 'sk1:3:5:{...}' written as before stamps; get,
    # get_entry, merge, and a journaled write stamped at the epoch's first microsecond.
    raw.set(prefix + "old", b'sk1:3:{"a":1}')
    raw.set(prefix + "merged", b'sk1:3:5:{"a":1}')
    for key in ("old", "merged"):
        assert store.get(key) == {"a": 1}
        entry = store.get_entry(key)
        assert entry is not None
        assert entry.version == 3
    assert store.merge("merged", {"b": 2}) == {"a": 1, "b": 2}
    assert envelope_stamp(raw.get(prefix + "merged") or b"") is not None
    ancient = StampedWrite("set", "old", at=0.000001, value={"new": 1})
    assert store.apply_if_newer(ancient) is APPLIED
    entry = store.get_entry("old")
    assert entry is not None
    assert (entry.value, entry.version) == ({"new": 1}, 4)
    assert store.apply_if_newer(ancient) is SUPERSEDED


def test_an_apply_invalidates_the_client_cache(
    server: redis_servers.Standalone, prefix: str
) -> None:
    # Tried: a cached read, then a journaled set and a journaled delete by another store.
    with (
        RedisStore.from_url(server.url, prefix=prefix, client_cache=True) as cached,
        RedisStore.from_url(server.url, prefix=prefix) as other,
    ):
        cached.set("k", {"v": 1})
        assert cached.get("k") == {"v": 1}
        assert cached.get("k") == {"v": 1}  # from the cache now
        newer = StampedWrite("set", "k", at=time.time() + HOUR, value={"v": 2})
        assert other.apply_if_newer(newer) is APPLIED
        deadline = time.monotonic() + 2
        while cached.get("k") != {"v": 2} and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cached.get("k") == {"v": 2}
        gone = StampedWrite("delete", "k", at=time.time() + 2 * HOUR)
        assert cached.apply_if_newer(gone) is APPLIED
        assert cached.get("k") is None
        other.purge("")
        other.client.delete(tombstone_name(prefix + "k"))


def test_a_tombstone_shares_its_keys_hash_slot_in_a_cluster() -> None:
    # Tried: keys with no braces, a valid {tag}, an empty {} first, a '}' before any '{',
    # an unclosed '{': each deleted (one script on two keys, which a cluster refuses across
    # slots), then an older journaled write refused by the tombstone.
    redis_servers.redis_server_binary()
    url = redis_servers.cluster().url
    prefix = f"sktest:{uuid.uuid4().hex[:12]}:"
    keys = ["plain", "{user1}:wizard", "{}x", "a}b{c", "open{"]
    with RedisStore.from_url(url, prefix=prefix) as store:
        client = store.client
        assert isinstance(client, RedisCluster)
        for key in keys:
            name = prefix + key
            assert client.keyslot(tombstone_name(name)) == client.keyslot(name), key
            store.set(key, {"a": 1})
            assert store.delete(key) is True
            old = StampedWrite("set", key, at=time.time() - HOUR, value={"stale": 1})
            assert store.apply_if_newer(old) is SUPERSEDED, key
            assert store.get(key) is None
        assert store.count("") == 0
        for key in keys:
            client.delete(tombstone_name(prefix + key))
