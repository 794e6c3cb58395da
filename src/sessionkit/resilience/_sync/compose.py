# Generated from src/sessionkit/resilience/_async/compose.py by scripts/unasync.py: edit that file, not this one.
"""The whole resilience stack in one call."""

from __future__ import annotations

import time
import os
from collections.abc import Callable, Iterable

from ..._sync.protocol import SessionStore
from ...clock import Clock, system_clock
from ...codec import JSONCodec, default_codec
from ...entry import TTL
from ...stamped import DEFAULT_TOMBSTONE_TTL
from .._types import Sleep
from ..background import DEFAULT_REPLAY_INTERVAL
from ..events import Emitter, ResilienceObserver
from ..journal import DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS
from ..retry_policy import RetryPolicy
from .breaker import CircuitBreaking
from .fallback import WithFallback
from .retrying import RetryingStore

__all__ = ["build_stack"]


def build_stack(
    store: SessionStore,
    journal_path: str | os.PathLike[str],
    *,
    retry: RetryPolicy | None = None,
    fail_max: int = 5,
    reset_timeout: float = 30.0,
    fsync: bool = True,
    default_ttl: TTL | None = None,
    clock: Clock = system_clock,
    codec: JSONCodec = default_codec,
    breaker_clock: Callable[[], float] | None = None,
    sleep: Sleep = time.sleep,
    name: str = "sessionkit",
    observers: Iterable[ResilienceObserver] = (),
    max_records: int = DEFAULT_MAX_RECORDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    journal_key: bytes | str | None = None,
    max_replay_age: float | None = DEFAULT_TOMBSTONE_TTL,
    replay_interval: float | None = DEFAULT_REPLAY_INTERVAL,
) -> WithFallback:
    """``WithFallback(CircuitBreaking(RetryingStore(store)))``, one emitter."""
    emitter = Emitter(observers)
    retrying = RetryingStore(store, policy=retry, sleep=sleep, emitter=emitter)
    breaking = CircuitBreaking(
        retrying,
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        name=name,
        clock=breaker_clock,
        emitter=emitter,
    )
    return WithFallback(
        breaking,
        journal_path,
        fsync=fsync,
        default_ttl=default_ttl,
        clock=clock,
        codec=codec,
        emitter=emitter,
        max_records=max_records,
        max_bytes=max_bytes,
        journal_key=journal_key,
        max_replay_age=max_replay_age,
        replay_interval=replay_interval,
    )
