# Generated from tests/stores/redis/_async/test_store.py by scripts/unasync.py: edit that file, not this one.
"""What the Redis store promises beyond the contract suite: scripts that survive SCRIPT
FLUSH, values that are not ours, bounded retries, connection faults, failover, URLs.

Most tests run on a private redis-server the session starts (tests/redis_servers.py), so
that SCRIPT FLUSH and foreign values never touch anyone else's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis import ConnectionPool, Redis

import sessionkit
from sessionkit import (
    BackendError,
    ConfigurationError,
    ConflictError,
    CorruptValue,
    InvalidTTL,
    PayloadTooLarge,
    SerializationError,
    StoreUnavailable,
    open_store,
)
from sessionkit.codec import JSONCodec
from sessionkit.stores.redis import RedisStore
from tests import redis_servers
from tests.servers import IN_CI
from tests.stores.redis import unstamped


@pytest.fixture
def store(server: redis_servers.Standalone, prefix: str) -> Iterator[RedisStore]:
    opened = RedisStore.from_url(server.url, prefix=prefix)
    yield opened
    opened.purge("")
    opened.close()


@pytest.fixture
def raw(server: redis_servers.Standalone) -> Iterator[Redis]:
    """A plain client on the same server: another writer, or a look at the bytes."""
    client = Redis.from_url(server.url)
    yield client
    client.close()


# -- scripts --------------------------------------------------------------------------------


def test_every_script_survives_script_flush_between_calls(
    store: RedisStore, raw: Redis
) -> None:
    raw.script_flush()
    store.set("k", {"n": 1})  # the set script, after a flush
    raw.script_flush()
    assert store.merge("k", {"m": 2}) == {"n": 1, "m": 2}
    raw.script_flush()
    assert store.update("k", lambda v: {**v, "n": v["n"] + 1}) == {"n": 2, "m": 2}
    raw.script_flush()
    entry = store.get_entry("k")
    assert entry is not None
    assert (entry.value, entry.version) == ({"n": 2, "m": 2}, 3)
    raw.script_flush()
    store.set_many({"a": {"i": 1}, "b": {"i": 2}})
    raw.script_flush()
    assert store.touch("a") is True  # no TTL: the persist script
    assert store.get_many(["k", "a", "b"]) == {
        "k": {"n": 2, "m": 2},
        "a": {"i": 1},
        "b": {"i": 2},
    }


# -- values that are not ours -----------------------------------------------------------------


def test_a_foreign_string_under_our_key_is_corrupt_for_that_key_only(
    store: RedisStore, raw: Redis, prefix: str
) -> None:
    foreign = b'{"written": "by another app"}'
    raw.set(prefix + "k", foreign)
    store.set("mine", {"ok": True})
    with pytest.raises(CorruptValue, match="'k'"):
        store.get("k")
    with pytest.raises(CorruptValue, match="'k'"):
        store.get_entry("k")
    with pytest.raises(CorruptValue, match="'k'"):
        store.update("k", lambda v: v)
    with pytest.raises(CorruptValue, match="'k'"):
        store.merge("k", {"a": 1})
    with pytest.raises(CorruptValue, match="'k'"):
        store.get_many(["mine", "k"])
    assert raw.get(prefix + "k") == foreign  # left exactly as it was
    assert store.get("mine") == {"ok": True}
    assert store.exists("k") is True
    store.set("k", {"now": "ours"})  # set replaces it and starts a version history
    entry = store.get_entry("k")
    assert entry is not None
    assert (entry.value, entry.version) == ({"now": "ours"}, 1)


def test_a_value_of_another_redis_type_is_corrupt_for_that_key_only(
    store: RedisStore, raw: Redis, prefix: str
) -> None:
    raw.hset(prefix + "h", "field", "value")
    store.set("mine", {"ok": True})
    with pytest.raises(CorruptValue, match="another type"):
        store.get("h")
    with pytest.raises(CorruptValue, match="another type"):
        store.get_entry("h")
    with pytest.raises(CorruptValue, match="another type"):
        store.update("h", lambda v: v, default={})
    with pytest.raises(CorruptValue, match="another type"):
        store.merge("h", {"a": 1})
    assert raw.hgetall(prefix + "h") == {b"field": b"value"}
    assert store.get("mine") == {"ok": True}
    store.set("h", {"replaced": True})
    assert store.get("h") == {"replaced": True}


def test_a_damaged_envelope_is_corrupt_and_left_alone(
    store: RedisStore, raw: Redis, prefix: str
) -> None:
    damaged = b"sk1:3:{not json"
    raw.set(prefix + "k", damaged)
    with pytest.raises(CorruptValue):
        store.get("k")
    with pytest.raises(CorruptValue):
        store.merge("k", {"a": 1})
    assert raw.get(prefix + "k") == damaged
    wrong_lengths = b'sk1:3:4,9:{"a":1,"b":2}'  # field lengths that do not fit the JSON
    raw.set(prefix + "k", wrong_lengths)
    with pytest.raises(CorruptValue, match="malformed"):
        store.merge("k", {"a": 2})
    assert raw.get(prefix + "k") == wrong_lengths


def test_keys_live_under_the_prefix_as_a_versioned_envelope(
    store: RedisStore, raw: Redis, prefix: str
) -> None:
    store.set("k", {"a": 1})
    assert unstamped(raw.get(prefix + "k")) == b'sk1:1:{"a":1}'
    store.merge("k", {"b": [], "c": "x/y"})
    # The JSON is the codec's, byte for byte: no cjson re-encoding ('[]' stays, '/' bare).
    # A merge also writes each top-level field's length, for the next merge to slice by.
    assert unstamped(raw.get(prefix + "k")) == b'sk1:2:5,6,9:{"a":1,"b":[],"c":"x/y"}'
    assert store.merge("k", {"b": {"n": 1}}) == {"a": 1, "b": {"n": 1}, "c": "x/y"}
    assert unstamped(raw.get(prefix + "k")) == b'sk1:3:5,11,9:{"a":1,"b":{"n":1},"c":"x/y"}'


# -- merge ------------------------------------------------------------------------------------


def test_merge_matches_field_names_by_their_text_not_their_escapes(
    server: redis_servers.Standalone, prefix: str
) -> None:
    names = ['quo"te', "back\\slash", "tab\tname", "é", "中", "{[", "a:b,c"]
    plain = RedisStore.from_url(server.url, prefix=prefix, codec=JSONCodec(use_orjson=False))
    fast = RedisStore.from_url(server.url, prefix=prefix, codec=JSONCodec(use_orjson=True))
    try:
        plain.set("k", dict.fromkeys(names, 1) | {"keep": "}{]["})
        merged = fast.merge("k", dict.fromkeys(names, 2))
        assert merged == dict.fromkeys(names, 2) | {"keep": "}{]["}
        assert plain.get("k") == merged
    finally:
        plain.purge("")
        plain.close()
        fast.close()


def test_a_merge_that_outgrows_the_payload_limit_writes_nothing(
    server: redis_servers.Standalone, prefix: str
) -> None:
    small = RedisStore.from_url(
        server.url, prefix=prefix, codec=JSONCodec(max_payload_bytes=200)
    )
    try:
        small.set("k", {"a": "x" * 150})
        with pytest.raises(PayloadTooLarge):
            small.merge("k", {"b": "y" * 100})  # each fits, together they do not
        entry = small.get_entry("k")
        assert entry is not None
        assert (entry.value, entry.version) == ({"a": "x" * 150}, 1)
    finally:
        small.purge("")
        small.close()


# -- update -----------------------------------------------------------------------------------


def test_update_gives_up_with_conflict_error_after_its_attempts(
    server: redis_servers.Standalone, prefix: str
) -> None:
    store = RedisStore.from_url(server.url, prefix=prefix, update_attempts=3)
    # A sync store in both twins: it writes between the update's read and its CAS.
    rival = sessionkit.open_store(server.url, prefix=prefix)
    calls = 0

    def contested(value: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        rival.set("k", {"rival": calls})
        return {**value, "mine": True}

    try:
        store.set("k", {"n": 0})
        with pytest.raises(ConflictError) as caught:
            store.update("k", contested)
        assert (caught.value.key, caught.value.attempts, calls) == ("k", 3, 3)
        assert store.get("k") == {"rival": 3}  # the rival's writes all stand
    finally:
        rival.close()
        store.purge("")
        store.close()


def test_update_does_not_overwrite_an_entry_deleted_and_recreated_meanwhile(
    server: redis_servers.Standalone, prefix: str
) -> None:
    # The CAS compares the whole stored string, not just the version, so a key deleted and
    # recreated at version 1 between read and write is a conflict, not a lost update.
    store = RedisStore.from_url(server.url, prefix=prefix)
    rival = sessionkit.open_store(server.url, prefix=prefix)
    first = True

    def recreate_once(value: dict[str, Any]) -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            rival.delete("k")
            rival.set("k", {"n": 100})
        return {"n": value["n"] + 1}

    try:
        store.set("k", {"n": 0})
        assert store.update("k", recreate_once) == {"n": 101}
    finally:
        rival.close()
        store.purge("")
        store.close()


# -- TTL ----------------------------------------------------------------------------------------


def test_a_ttl_redis_cannot_keep_is_rejected_and_writes_nothing(
    store: RedisStore,
) -> None:
    with pytest.raises(InvalidTTL):
        store.set("k", {}, ttl=1e13)  # ~300,000 years
    assert store.exists("k") is False


def test_get_entry_gives_the_expiry_by_the_server_clock(
    store: RedisStore, raw: Redis
) -> None:
    store.set("k", {}, ttl=100)
    entry = store.get_entry("k")
    seconds, microseconds = raw.time()
    assert entry is not None
    assert entry.expires_at is not None
    assert 95 < entry.expires_at - (seconds + microseconds / 1e6) <= 100


# -- connections --------------------------------------------------------------------------------


def test_an_unreachable_server_is_store_unavailable() -> None:
    port = redis_servers.free_port()  # nobody listens there
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=2)
    try:
        with pytest.raises(StoreUnavailable, match="unavailable"):
            store.get("k")
        with pytest.raises(StoreUnavailable):
            store.set("k", {})
    finally:
        store.close()


def test_a_hung_server_is_store_unavailable_after_one_attempt() -> None:
    # One retry layer: the store's redis-py client does not retry underneath the
    # resilience wrappers, so a timed-out call connected exactly once.
    hung = redis_servers.SilentServer()
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{hung.port}/0", socket_timeout=0.2, socket_connect_timeout=0.2
    )
    try:
        with pytest.raises(StoreUnavailable, match="Timeout"):
            store.get("k")
        # The listener thread counts a connection only once it accepts it, which may be
        # after the client timed out: wait (bounded) for the first, then check there is one.
        redis_servers.wait_until("the hung server to accept", lambda: hung.accepted >= 1)
        assert hung.accepted == 1
    finally:
        store.close()
        hung.close()


def test_an_existing_client_is_used_and_left_open(
    raw: Redis, prefix: str
) -> None:
    store = RedisStore(raw, prefix=prefix)
    store.set("k", {"a": 1})
    assert unstamped(raw.get(prefix + "k")) == b'sk1:1:{"a":1}'
    store.purge("")
    store.close()
    assert raw.ping() is True  # still the caller's to use and close


def test_a_unix_socket_url(server: redis_servers.Standalone, prefix: str) -> None:
    store = open_store(f"unix://{server.socket_path}?db=0", prefix=prefix)
    try:
        store.set("k", {"via": "unix"})
        assert store.get("k") == {"via": "unix"}
    finally:
        store.purge("")
        store.close()


def test_a_tls_url(server: redis_servers.Standalone, prefix: str) -> None:
    if server.tls_port is None:
        reason = "openssl is not installed, so the test server has no TLS port"
        if IN_CI:
            pytest.fail(f"{reason}, and CI=true: the TLS test must not skip", pytrace=False)
        pytest.skip(reason)
    store = open_store(
        f"rediss://127.0.0.1:{server.tls_port}/0",
        prefix=prefix,
        client_options={"ssl_ca_certs": str(server.ca_file)},
    )
    try:
        store.set("k", {"via": "tls"})
        assert store.merge("k", {"ok": True}) == {"via": "tls", "ok": True}
    finally:
        store.purge("")
        store.close()


def test_options_that_make_no_sense_are_configuration_errors(
    server: redis_servers.Standalone, raw: Redis
) -> None:
    with pytest.raises(ConfigurationError, match="exactly one"):
        RedisStore(raw, url=server.url)
    with pytest.raises(ConfigurationError, match="prefix"):
        RedisStore.from_url(server.url, prefix="has space")
    with pytest.raises(ConfigurationError, match="update_attempts"):
        RedisStore.from_url(server.url, update_attempts=0)
    with pytest.raises(ConfigurationError, match="unknown option"):
        open_store(server.url, pool_size=3)


# -- sentinel -----------------------------------------------------------------------------------


def test_the_store_keeps_working_across_a_sentinel_failover(prefix: str) -> None:
    redis_servers.redis_server_binary()
    sentinels = redis_servers.sentinel_set()
    store = open_store(sentinels.url, prefix=prefix)
    try:
        store.set("k", {"n": 0})
        assert store.update("k", lambda v: {"n": v["n"] + 1}) == {"n": 1}
        old_master = sentinels.master_port()
        with redis.Redis(port=old_master) as master:
            master.wait(1, 5000)  # the replica has every write before it is promoted
        new_master = sentinels.failover()
        assert new_master != old_master
        # The sentinel closed every client connection to both servers. The store's pool
        # holds one connection (the calls above ran one at a time); if redis-py has not yet
        # noticed it closed, the first call on it fails with StoreUnavailable (which
        # sessionkit.resilience's Retrying retries) and the pool drops it. At most once.
        unavailable = 0
        for _ in range(2):
            try:
                value = store.get("k")
                break
            except StoreUnavailable:
                unavailable += 1
        assert unavailable <= 1
        # The same store, not reopened: it finds the new master through the sentinel.
        assert value == {"n": 1}
        assert store.update("k", lambda v: {"n": v["n"] + 1}) == {"n": 2}
        assert store.merge("k", {"after": "failover"}) == {"n": 2, "after": "failover"}
        with redis.Redis(port=new_master) as master:
            assert master.get(prefix + "k") is not None  # written to the promoted master
    finally:
        store.purge("")
        store.close()


def test_close_closes_every_client_even_when_one_fails(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_servers.redis_server_binary()
    store = open_store(redis_servers.sentinel_set().url, prefix=prefix)
    store.set("k", {})
    store.delete("k")
    clients = list(store._owned)  # the master's client and the sentinels'
    assert len(clients) >= 2
    closed: list[Any] = []
    for client in clients:
        original = client.close

        def record(original: Any = original, client: Any = client) -> None:
            original()
            closed.append(client)
            if client is clients[0]:
                raise redis.ConnectionError("closing failed")

        monkeypatch.setattr(client, "close", record)
    with pytest.raises(StoreUnavailable, match="closing failed"):
        store.close()
    assert closed == clients  # the first failed, the others were closed all the same
    store.close()  # idempotent: nothing is closed twice
    assert closed == clients


# -- errors that retrying will not fix ------------------------------------------------------


def test_an_error_reply_is_backend_error_not_store_unavailable(prefix: str) -> None:
    # A sentinel answers 'ERR unknown command' to GET: the server is up, and retrying,
    # counting it towards a circuit breaker or journaling the write would not help.
    redis_servers.redis_server_binary()
    sentinel_port = redis_servers.sentinel_set().ports["sentinel"]
    store = RedisStore.from_url(f"redis://127.0.0.1:{sentinel_port}/0", prefix=prefix)
    try:
        with pytest.raises(BackendError, match="unknown command") as caught:
            store.get("k")
        assert not isinstance(caught.value, StoreUnavailable)
        with pytest.raises(BackendError):
            store.set("k", {"a": 1})
    finally:
        store.close()


def test_a_transient_error_reply_is_store_unavailable(
    server: redis_servers.Standalone, raw: Redis, prefix: str
) -> None:
    # OOM (maxmemory reached with noeviction) goes away when memory is freed: retry it.
    store = RedisStore.from_url(server.url, prefix=prefix)
    raw.config_set("maxmemory-policy", "noeviction")
    raw.config_set("maxmemory", 1)
    try:
        with pytest.raises(StoreUnavailable, match="OutOfMemoryError"):
            store.set("k", {"a": 1})
    finally:
        raw.config_set("maxmemory", 0)
        store.close()
    assert raw.exists(prefix + "k") == 0


# -- bad input writes nothing -----------------------------------------------------------------


def test_merge_with_a_name_that_is_not_utf8_is_serialization_error(
    store: RedisStore, raw: Redis, prefix: str
) -> None:
    with pytest.raises(SerializationError):
        store.merge("k", {"\ud800": 1})
    assert raw.exists(prefix + "k") == 0
    store.set("k", {"a": 1})
    with pytest.raises(SerializationError):
        store.merge("k", {"b": 2, "\ud800": 1})
    assert unstamped(raw.get(prefix + "k")) == b'sk1:1:{"a":1}'


# -- keys another program wrote under our prefix ------------------------------------------------


def test_scan_count_and_purge_skip_names_that_are_not_store_keys(
    store: RedisStore, raw: Redis, prefix: str
) -> None:
    foreign = [
        prefix.encode() + "é".encode(),  # not ASCII
        (prefix + "a b").encode(),  # a space
        (prefix + "x" * 257).encode(),  # longer than a key may be
    ]
    for name in foreign:
        raw.set(name, b"theirs")
    try:
        store.set("mine", {})
        assert [key for key in store.scan()] == ["mine"]
        assert store.count() == 1
        assert store.purge("") == 1  # only the store's keys
        for name in foreign:
            assert raw.get(name) == b"theirs"  # left alone
    finally:
        raw.delete(*foreign)


# -- set_many ---------------------------------------------------------------------------------


class CountingPool(ConnectionPool):
    """A pool that counts how often a connection is taken: once per round trip."""

    taken = 0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        self.taken += 1
        return super().get_connection(*args, **kwargs)


def test_set_many_of_more_than_one_chunk_is_one_round_trip(
    server: redis_servers.Standalone, prefix: str
) -> None:
    pool = CountingPool.from_url(server.url)
    store = RedisStore(Redis(connection_pool=pool), prefix=prefix)
    items = {f"k{i}": {"i": i} for i in range(1201)}  # three script calls of 500 at most
    try:
        store.set("k0", {"old": True})
        before = pool.taken
        store.set_many(items)
        assert pool.taken == before + 1
        assert store.get_many(list(items)) == items
        entry = store.get_entry("k0")
        assert entry is not None
        assert entry.version == 2
        assert store.count() == 1201
    finally:
        store.purge("")
        store.close()
        pool.close()


def test_set_many_after_script_flush_in_one_round_trip(
    store: RedisStore, raw: Redis
) -> None:
    raw.script_flush()
    items = {f"k{i}": {"i": i} for i in range(501)}
    store.set_many(items)
    assert store.get_many(list(items)) == items
