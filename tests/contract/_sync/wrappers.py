# Generated from tests/contract/_async/wrappers.py by scripts/unasync.py: edit that file, not this one.
"""The wrappers (resilience, observability) as the contract suite opens them around a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from sessionkit import SessionStore, FakeClock
from sessionkit.clock import system_clock
from sessionkit.metrics import SessionMetrics
from sessionkit.observability import Observed
from sessionkit.resilience import (
    CircuitBreaking,
    RetryingStore,
    WithFallback,
    RetryPolicy,
    resilient,
)

# The contract never makes a backend fail, so no test waits; keep retries instant anyway.
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.0, max_wait=0.0, jitter=0.0)


def no_sleep(seconds: float) -> None:
    return None


def wrap_store(
    kind: str,
    store: SessionStore,
    journal: Path,
    clock: FakeClock | None,
    default_ttl: Any,
) -> SessionStore:
    """``store`` inside the wrapper named ``kind``."""
    now = system_clock if clock is None else clock
    if kind == "retrying":
        return RetryingStore(store, policy=FAST_RETRY, sleep=no_sleep)
    if kind == "breaker":
        return CircuitBreaking(store)
    if kind == "fallback":
        return WithFallback(store, journal, default_ttl=default_ttl, clock=now)
    if kind == "resilient":
        return resilient(
            store, journal, retry=FAST_RETRY, sleep=no_sleep, default_ttl=default_ttl, clock=now
        )
    if kind == "observed":  # with metrics on a registry of its own: the whole reporting path
        return Observed(store, metrics=SessionMetrics(CollectorRegistry()))
    raise ValueError(f"no wrapper named {kind!r}")
