"""Resilience wrappers: stores that wrap a store, so they compose and pass the same contract.

* `RetryingStore` / `AsyncRetryingStore`: retries idempotent calls that failed with
  `StoreUnavailable` (tenacity; exponential backoff, jitter).
* `CircuitBreaking` / `AsyncCircuitBreaking`: fails fast with
  `CircuitOpen` after repeated outages (pybreaker's state).
* `WithFallback` / `AsyncWithFallback`: journals writes to a local JSONL file
  while the primary is down and replays them when it answers again.
* `resilient`: all three, ``WithFallback(CircuitBreaking(RetryingStore(store)))``.

```pycon
>>> import sessionkit, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "sessions.journal")
>>> store = resilient(sessionkit.MemoryStore(), path)
>>> store.set("wizard:1", {"step": "price"})
>>> store.get("wizard:1")
{'step': 'price'}
>>> store.close()

```

See docs/resilience.md for what each wrapper promises and the journal's format.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, overload

from .._async.protocol import AsyncSessionStore
from .._sync.protocol import SessionStore
from ..errors import CircuitOpen
from ._async.breaker import AsyncCircuitBreaking
from ._async.compose import build_stack as _build_async_stack
from ._async.fallback import AsyncWithFallback
from ._async.retrying import AsyncRetryingStore
from ._sync.breaker import CircuitBreaking
from ._sync.compose import build_stack as _build_sync_stack
from ._sync.fallback import WithFallback
from ._sync.retrying import RetryingStore
from .breaker_state import BreakerState, State
from .events import Event, ResilienceObserver, key_digest
from .journal_format import Damage, ReplayReport
from .retry_policy import IDEMPOTENT_OPERATIONS, RetryPolicy

__all__ = [
    "IDEMPOTENT_OPERATIONS",
    "AsyncCircuitBreaking",
    "AsyncRetryingStore",
    "AsyncWithFallback",
    "BreakerState",
    "CircuitBreaking",
    "CircuitOpen",
    "Damage",
    "Event",
    "ReplayReport",
    "ResilienceObserver",
    "RetryPolicy",
    "RetryingStore",
    "State",
    "WithFallback",
    "key_digest",
    "resilient",
]


@overload
def resilient(
    store: AsyncSessionStore, journal_path: str | os.PathLike[str], **options: Any
) -> AsyncWithFallback: ...


@overload
def resilient(
    store: SessionStore, journal_path: str | os.PathLike[str], **options: Any
) -> WithFallback: ...


def resilient(
    store: AsyncSessionStore | SessionStore,
    journal_path: str | os.PathLike[str],
    **options: Any,
) -> AsyncWithFallback | WithFallback:
    """Wrap ``store`` in fallback(breaker(retry(store))), sync or async like ``store``.

    Defaults: 3 attempts backing off 1 s, 2 s (capped
    at 4 s) with jitter; a breaker opening after 5 consecutive outages for 30 s; a JSONL
    journal at ``journal_path``, fsynced per write. ``options``: ``retry``
    (`RetryPolicy`), ``fail_max``, ``reset_timeout``, ``fsync``, ``default_ttl``
    (read from the store when it exposes one, as the memory, Redis and SQL stores do;
    otherwise pass the store's), ``clock``, ``codec``, ``breaker_clock``, ``sleep``,
    ``name``, ``observers``, ``max_records``, ``max_bytes``, ``journal_key`` (see
    docs/resilience.md, "The journal file"), ``max_replay_age`` (seconds, default one
    day = ``DEFAULT_TOMBSTONE_TTL``; None: no limit; older records are set aside, not
    replayed: "Replay order") and ``replay_interval`` (seconds between background replay
    attempts while the journal holds records, default 1.0; 0 or None: off; "Background
    replay").
    """
    if inspect.iscoroutinefunction(getattr(type(store), "get", None)):
        return _build_async_stack(store, journal_path, **options)  # type: ignore[arg-type]
    return _build_sync_stack(store, journal_path, **options)  # type: ignore[arg-type]


def __getattr__(name: str) -> Any:
    """``Retrying`` / ``AsyncRetrying``, renamed (they clashed with tenacity's classes), at
    their old names for one release (deprecated)."""
    if name in ("Retrying", "AsyncRetrying"):
        import warnings  # noqa: PLC0415 - only on the deprecated path

        new = f"{name}Store"
        warnings.warn(
            f"sessionkit.resilience.{name} is now {new}", DeprecationWarning, stacklevel=2
        )
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
