"""A Redis server that refuses, freezes, drops a reply, answers slowly or is SIGSTOPped:
the store raises `StoreUnavailable` within its deadline, and through `resilient()` the
write is journaled within the documented bound (attempts x deadline + backoff).

The faults come from tests/faults/redis_faults.py (the fault proxy, or SIGSTOP).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from time import monotonic

import pytest

from sessionkit import StoreUnavailable
from sessionkit.resilience import RetryPolicy, resilient
from sessionkit.stores.redis import AsyncRedisStore
from tests import redis_servers
from tests.faultproxy import Fault, FaultProxy
from tests.faults.redis_faults import SLACK, TIMEOUT, Injector, injector

__all__ = ["injector"]  # the fixture, imported for pytest

pytestmark = pytest.mark.server

# resilient() in these tests: 2 attempts 0.1 s apart, and a breaker that opens when they
# fail (it counts calls, after their retries).
RETRY = RetryPolicy(attempts=2, initial_wait=0.1, max_wait=0.1, jitter=0.0)
RESILIENT_BOUND = RETRY.attempts * TIMEOUT + RETRY.initial_wait


def _prefix() -> str:
    return f"sktest:faults:{uuid.uuid4().hex[:10]}:"


async def test_a_fault_is_store_unavailable_within_the_deadline(injector: Injector) -> None:
    # One pooled connection, so that the next call would get the failed one back if the
    # store returned it to the pool half-read: it would read the stale reply.
    store = AsyncRedisStore.from_url(
        f"{injector.url}?timeout={TIMEOUT:g}&max_connections=1", prefix=_prefix()
    )
    try:
        await store.set("k", {"a": 1})
        await store.set("other", {"b": 2})
        injector.inject()
        started = monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get("k")
        assert monotonic() - started <= TIMEOUT + SLACK
        injector.lift()
        assert await store.get("other") == {"b": 2}  # a fresh connection, not the stale one
    finally:
        injector.lift()
        await store.purge("")
        await store.close()


async def test_through_resilient_a_write_is_journaled_within_the_bound(
    injector: Injector, tmp_path: Path
) -> None:
    bare = AsyncRedisStore.from_url(injector.url, prefix=_prefix(), timeout=TIMEOUT)
    store = resilient(
        bare, tmp_path / "journal.jsonl", retry=RETRY, fail_max=1,
        reset_timeout=0.2, fsync=False,
    )
    try:
        await store.set("k", {"a": 1})
        injector.inject()
        started = monotonic()
        await store.set("k", {"a": 2})  # journaled, not raised
        assert monotonic() - started <= RESILIENT_BOUND + SLACK
        assert store.journal.pending()
        started = monotonic()
        assert await store.get("k") == {"a": 2}  # from the journal: the breaker is open
        assert monotonic() - started <= SLACK
        injector.lift()
        for _ in range(100):
            if (await store.replay()).completed:
                break
            await asyncio.sleep(0.05)  # the breaker lets a probe through after its reset_timeout
        assert await bare.get("k") == {"a": 2}
    finally:
        injector.lift()
        await bare.purge("")
        await store.close()


@pytest.mark.parametrize("fault", ["blackhole", "sigstop"])
async def test_connecting_to_a_frozen_server_is_store_unavailable_within_the_deadline(
    fault: str, tmp_path: Path
) -> None:
    # The kernel completes the TCP handshake for a frozen server: the deadline must also
    # bound the first reply on a new connection.
    frozen = Injector(fault, tmp_path)
    store = AsyncRedisStore.from_url(frozen.url, prefix=_prefix(), timeout=TIMEOUT)
    try:
        frozen.inject()
        started = monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get("k")
        assert monotonic() - started <= TIMEOUT + SLACK
    finally:
        frozen.close()
        await store.close()


async def test_the_default_deadline_is_five_seconds() -> None:
    server = redis_servers.standalone()
    with FaultProxy(("127.0.0.1", server.port)) as proxy:
        store = AsyncRedisStore.from_url(f"redis://127.0.0.1:{proxy.port}/0", prefix=_prefix())
        try:
            await store.set("k", {"a": 1})
            proxy.set(Fault.BLACKHOLE)
            started = monotonic()
            with pytest.raises(StoreUnavailable, match="Timeout"):
                await store.get("k")
            assert 5.0 - 0.1 <= monotonic() - started <= 5.0 + SLACK
        finally:
            proxy.set(Fault.FORWARD)
            await store.purge("")
            await store.close()
