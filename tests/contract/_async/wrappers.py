"""The wrappers (resilience, observability) as the contract suite opens them around a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from sessionkit import AsyncSessionStore, FakeClock
from sessionkit.clock import system_clock
from sessionkit.metrics import SessionMetrics
from sessionkit.observability import AsyncObserved
from sessionkit.resilience import (
    AsyncCircuitBreaking,
    AsyncRetryingStore,
    AsyncWithFallback,
    RetryPolicy,
    resilient,
)

# The contract never makes a backend fail, so no test waits; keep retries instant anyway.
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.0, max_wait=0.0, jitter=0.0)


async def no_sleep(seconds: float) -> None:
    return None


def wrap_store(
    kind: str,
    store: AsyncSessionStore,
    journal: Path,
    clock: FakeClock | None,
    default_ttl: Any,
) -> AsyncSessionStore:
    """``store`` inside the wrapper named ``kind``."""
    now = system_clock if clock is None else clock
    if kind == "retrying":
        return AsyncRetryingStore(store, policy=FAST_RETRY, sleep=no_sleep)
    if kind == "breaker":
        return AsyncCircuitBreaking(store)
    if kind == "fallback":
        return AsyncWithFallback(store, journal, default_ttl=default_ttl, clock=now)
    if kind == "resilient":
        return resilient(
            store, journal, retry=FAST_RETRY, sleep=no_sleep, default_ttl=default_ttl, clock=now
        )
    if kind == "observed":  # with metrics on a registry of its own: the whole reporting path
        return AsyncObserved(store, metrics=SessionMetrics(CollectorRegistry()))
    raise ValueError(f"no wrapper named {kind!r}")
