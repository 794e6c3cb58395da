"""Bursts on a default-configured Redis store: callers wait for a pooled connection
instead of failing, on every flavour; a pool that stays full past the deadline is
`StoreUnavailable` (a fault waiting can fix: retried and journaled by `resilient()`).

The standalone tests use the shared server on 127.0.0.1:6379 under their own prefix; the
Sentinel set and the cluster are the session's own (tests/redis_servers.py).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from time import monotonic
from typing import Any

import pytest
from redis import BlockingConnectionPool as SyncBlockingPool
from redis.asyncio import BlockingConnectionPool

from sessionkit import StoreUnavailable, open_async_store, open_store
from sessionkit.resilience import RetryPolicy, resilient
from sessionkit.stores.redis import AsyncRedisStore, RedisStore
from tests import redis_servers
from tests.servers import require_server

pytestmark = pytest.mark.server

STANDALONE = "redis://127.0.0.1:6379/0"
TASKS = 1000
THREADS = 300
SLACK = 0.75


def _url(flavour: str) -> str:
    if flavour == "standalone":
        require_server("Redis", "127.0.0.1", 6379)
        return STANDALONE
    redis_servers.redis_server_binary()
    if flavour == "sentinel":
        return redis_servers.sentinel_set().url
    return redis_servers.cluster().url


def _prefix() -> str:
    return f"sktest:pools:{uuid.uuid4().hex[:10]}:"


async def _burst(store: Any, tasks: int) -> list[BaseException]:
    async def one(i: int) -> None:
        key = f"k{i}"
        await store.set(key, {"i": i})
        assert await store.merge(key, {"j": i}) == {"i": i, "j": i}
        assert await store.get(key) == {"i": i, "j": i}

    outcomes = await asyncio.gather(*(one(i) for i in range(tasks)), return_exceptions=True)
    return [outcome for outcome in outcomes if isinstance(outcome, BaseException)]


def _threads(store: Any, threads: int) -> list[BaseException]:
    start = threading.Barrier(threads, timeout=30)  # all of them in flight at once

    def one(i: int) -> None:
        start.wait()
        key = f"k{i}"
        store.set(key, {"i": i})
        assert store.merge(key, {"j": i}) == {"i": i, "j": i}
        assert store.get(key) == {"i": i, "j": i}

    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(one, i) for i in range(threads)]:
            error = future.exception(timeout=60)
            if error is not None:
                errors.append(error)
    return errors


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "resilient"])
async def test_1000_concurrent_async_calls_on_a_default_store(
    wrapped: bool, tmp_path: Path
) -> None:
    bare = open_async_store(_url("standalone"), prefix=_prefix())
    assert isinstance(bare, AsyncRedisStore)
    pool = bare.client.connection_pool
    assert isinstance(pool, BlockingConnectionPool)
    assert pool.max_connections == 50  # the documented default
    store: Any = resilient(bare, tmp_path / "journal.jsonl", fsync=False) if wrapped else bare
    try:
        assert await _burst(store, TASKS) == []
        assert await bare.count("") == TASKS
        if wrapped:
            assert not store.journal.pending()  # served by Redis, none of it journaled
    finally:
        await bare.purge("")
        await store.close()


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "resilient"])
def test_300_threads_on_a_default_store(wrapped: bool, tmp_path: Path) -> None:
    bare = open_store(_url("standalone"), prefix=_prefix())
    assert isinstance(bare, RedisStore)
    assert isinstance(bare.client.connection_pool, SyncBlockingPool)
    store: Any = resilient(bare, tmp_path / "journal.jsonl", fsync=False) if wrapped else bare
    try:
        assert _threads(store, THREADS) == []
        assert bare.count("") == THREADS
        if wrapped:
            assert not store.journal.pending()
    finally:
        bare.purge("")
        store.close()


@pytest.mark.parametrize("flavour", ["sentinel", "cluster"])
async def test_300_concurrent_async_calls_on_sentinel_and_cluster(flavour: str) -> None:
    store = open_async_store(_url(flavour), prefix=_prefix())
    try:
        assert await _burst(store, THREADS) == []
        assert await store.count("") == THREADS
    finally:
        await store.purge("")
        await store.close()


@pytest.mark.parametrize("flavour", ["sentinel", "cluster"])
def test_300_threads_on_sentinel_and_cluster(flavour: str) -> None:
    store = open_store(_url(flavour), prefix=_prefix())
    try:
        assert _threads(store, THREADS) == []
        assert store.count("") == THREADS
    finally:
        store.purge("")
        store.close()


async def test_a_pool_full_past_the_deadline_is_store_unavailable(tmp_path: Path) -> None:
    bare = AsyncRedisStore.from_url(
        f"{_url('standalone')}?max_connections=1&timeout=0.5", prefix=_prefix()
    )
    store = resilient(
        bare, tmp_path / "journal.jsonl", fsync=False, fail_max=1, reset_timeout=0.1,
        retry=RetryPolicy(attempts=2, initial_wait=0.05, max_wait=0.05, jitter=0.0),
    )
    pool = bare.client.connection_pool
    held = await pool.get_connection()  # the pool's only connection, busy elsewhere
    try:
        started = monotonic()
        with pytest.raises(StoreUnavailable, match="max_connections"):
            await bare.get("k")
        assert 0.5 - 0.05 <= monotonic() - started <= 0.5 + SLACK  # it waited, then gave up
        await store.set("k", {"a": 1})  # through resilient(): journaled, not lost
        assert store.journal.pending()
    finally:
        await pool.release(held)
    for _ in range(100):
        if (await store.replay()).completed:
            break
        await asyncio.sleep(0.05)
    assert await bare.get("k") == {"a": 1}
    await bare.purge("")
    await store.close()


def test_a_sync_pool_full_past_the_deadline_is_store_unavailable() -> None:
    store = RedisStore.from_url(_url("standalone"), prefix=_prefix(), max_connections=1,
                                timeout=0.5)
    pool = store.client.connection_pool
    held = pool.get_connection()
    try:
        started = monotonic()
        with pytest.raises(StoreUnavailable, match="max_connections"):
            store.get("k")
        assert 0.5 - 0.05 <= monotonic() - started <= 0.5 + SLACK
    finally:
        pool.release(held)
    store.set("k", {"a": 1})  # the connection is back: calls work again
    assert store.get("k") == {"a": 1}
    store.purge("")
    store.close()


async def test_the_async_cluster_makes_callers_wait_for_its_nodes_connections() -> None:
    # redis.asyncio's cluster nodes cannot wait for a free connection (they raise
    # MaxConnectionsError); the store makes callers wait instead. Two connections, 300 calls.
    store = open_async_store(_url("cluster"), prefix=_prefix(), max_connections=2)
    try:
        assert await _burst(store, THREADS) == []
    finally:
        await store.purge("")
        await store.close()




@pytest.mark.parametrize("flavour", ["sentinel", "cluster"])
def test_sync_sentinel_and_cluster_pools_make_threads_wait(flavour: str) -> None:
    store = open_store(_url(flavour), prefix=_prefix(), max_connections=2)
    try:
        assert _threads(store, 100) == []
    finally:
        store.purge("")
        store.close()
