"""The client-side cache on its own (sessionkit.stores._redis.client_cache), with a real
tracking connection and a controlled clock: expiry deadlines, the max_ttl cap, raced fills,
a silent connection. The stores' behaviour is in _async/test_client_cache.py."""

from __future__ import annotations

import time

import redis

from sessionkit.stores._redis.client_cache import ClientCache, tracking_connector
from tests.stores.redis._async.test_client_cache import PREFIX, raw, server

__all__ = ["raw", "server"]  # the fixtures


def test_the_entry_keeps_the_expiry_deadline_even_without_an_invalidation(
    server: str, raw: redis.Redis
) -> None:
    """The cache alone (a controlled clock): the deadline from PTTL, and the max_ttl cap."""
    now = [1000.0]
    connect, release = tracking_connector("redis", server, {})
    cache = ClientCache(
        connect, PREFIX, max_ttl=5.0, heartbeat=100, clock=lambda: now[0], release=release
    )
    try:
        cache.connect()
        for name, pttl in ((b"a", 200), (b"b", -1)):
            token = cache.begin(name)
            assert token is not None
            cache.finish(name, token, b"{}", pttl)
        assert cache.lookup(b"a") == b"{}"
        assert cache.lookup(b"b") == b"{}"
        now[0] += 0.199
        assert cache.lookup(b"a") == b"{}"
        now[0] += 0.002
        assert cache.lookup(b"a") is None  # past its TTL
        assert cache.lookup(b"b") == b"{}"
        now[0] = 1004.99
        assert cache.lookup(b"b") == b"{}"
        now[0] = 1005.01
        assert cache.lookup(b"b") is None  # past max_ttl
    finally:
        cache.close()


def test_a_fill_that_raced_an_invalidation_is_not_kept(server: str, raw: redis.Redis) -> None:
    connect, release = tracking_connector("redis", server, {})
    cache = ClientCache(connect, PREFIX, release=release)
    try:
        cache.connect()
        token = cache.begin(b"sktest:cache:k")
        assert token is not None
        raw.set("sktest:cache:k", "sk1:1:{}")  # the write lands after our read was answered
        time.sleep(0.05)
        cache.finish(b"sktest:cache:k", token, b"{}", -1)
        assert cache.lookup(b"sktest:cache:k") is None
        token = cache.begin(b"sktest:cache:k")
        assert token is not None
        cache.finish(b"sktest:cache:k", token, b"{}", -1)
        assert cache.lookup(b"sktest:cache:k") == b"{}"
    finally:
        cache.close()


def test_a_silent_tracking_connection_is_not_trusted(server: str, raw: redis.Redis) -> None:
    now = [1000.0]
    connect, release = tracking_connector("redis", server, {})
    cache = ClientCache(connect, PREFIX, clock=lambda: now[0], release=release)
    try:
        cache.connect()
        token = cache.begin(b"k")
        assert token is not None
        cache.finish(b"k", token, b"{}", -1)
        raw.client_pause(1500, all=True)  # the PING goes unanswered
        now[0] += 0.6
        assert cache.lookup(b"k") == b"{}"  # PING sent, still within the heartbeat
        now[0] += 0.5
        assert cache.lookup(b"k") is None  # silent for longer than the heartbeat
        assert cache.drops == 0
        now[0] += 0.6
        assert cache.lookup(b"k") is None  # the PING unanswered for too long: dropped
        assert cache.drops == 1
        assert len(cache) == 0
    finally:
        raw.client_unpause()
        cache.close()
