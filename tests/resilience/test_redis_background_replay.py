"""With Redis back and no call on the journaling instance, its records reach Redis within
seconds: the background replayer (a thread in sync code, a task in async code) does it.

Tried: 200 sets journaled while a fault proxy refuses connections to a private
redis-server, then the proxy forwards again and the instance is left alone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sessionkit import open_async_store, open_store
from sessionkit.resilience import RetryPolicy, resilient
from tests.faultproxy import Fault, FaultProxy
from tests.redis_servers import RedisProcess

pytestmark = pytest.mark.server

RECORDS = 200
WITHIN = 10.0  # seconds: a few replay intervals (1 s by default) and a breaker reset
FAST = RetryPolicy(attempts=1, initial_wait=0.0, max_wait=0.0, jitter=0.0)
OPTIONS = {"prefix": "bg:", "socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def _count_on_redis(port: int) -> int:
    with open_store(f"redis://127.0.0.1:{port}/0", prefix="bg:") as direct:
        return direct.count("")


def test_a_sync_instance_left_alone_replays_when_redis_returns(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    with FaultProxy(("127.0.0.1", redis_server.port)) as proxy:
        proxy.set(Fault.REFUSE)
        store = resilient(
            open_store(f"redis://127.0.0.1:{proxy.port}/0", **OPTIONS),
            tmp_path / "journal.jsonl",
            retry=FAST,
            reset_timeout=1.0,
        )
        try:
            for n in range(RECORDS):
                store.set(f"s{n}", {"n": n})
            assert store.journal.pending()
            proxy.set(Fault.FORWARD)
            deadline = time.monotonic() + WITHIN
            while _count_on_redis(redis_server.port) < RECORDS:
                assert time.monotonic() < deadline, "the journal did not reach Redis"
                time.sleep(0.1)
        finally:
            store.close()
    assert not store.journal.pending()


async def test_an_async_instance_left_alone_replays_when_redis_returns(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    with FaultProxy(("127.0.0.1", redis_server.port)) as proxy:
        proxy.set(Fault.REFUSE)
        store = resilient(
            open_async_store(f"redis://127.0.0.1:{proxy.port}/0", **OPTIONS),
            tmp_path / "journal.jsonl",
            retry=FAST,
            reset_timeout=1.0,
        )
        try:
            for n in range(RECORDS):
                await store.set(f"s{n}", {"n": n})
            assert store.journal.pending()
            proxy.set(Fault.FORWARD)
            deadline = time.monotonic() + WITHIN
            while _count_on_redis(redis_server.port) < RECORDS:
                assert time.monotonic() < deadline, "the journal did not reach Redis"
                await asyncio.sleep(0.1)  # the loop runs; no call on the store
        finally:
            await store.close()
    assert not store.journal.pending()
