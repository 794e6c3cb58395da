"""Observability: structured log events, keyed digests and the `Observed` wrapper.

Backends do not log: an `Observed` (or `AsyncObserved`) store wraps any store
(a backend or a resilience stack) and reports each operation as a log event and a metrics
sample, so a store that is not observed pays nothing. Events go through stdlib
`logging` (logger ``sessionkit.store``), with their fields as ``extra``; sessionkit
configures nothing, so the application decides where they go.

```pycon
>>> import sessionkit
>>> from sessionkit.testing import capture_events
>>> store = observed(sessionkit.MemoryStore())
>>> with capture_events() as events:
...     store.set("templates:4f1c", {"filename": "lease.docx"})
...     _ = store.get("templates:4f1c")
...     _ = store.get("templates:gone")
>>> [(e["event"], e["namespace"]) for e in events]
[('sessionkit.store.hit', 'templates'), ('sessionkit.store.miss', 'templates')]
>>> "4f1c" in str(events)
False

```

See docs/operations.md for every event name and field.
"""

from __future__ import annotations

import inspect
from typing import Any, overload

from .._async.protocol import AsyncSessionStore
from .._sync.protocol import SessionStore
from ._async.observed import AsyncObserved
from ._sync.observed import Observed
from .events import (
    Event,
    EventLogger,
    Observer,
    ResilienceEvent,
    StoreEvent,
    SweeperEvent,
    key_digest,
    split_key,
)
from .reporter import OperationRecorder, Outcome, store_label

__all__ = [
    "AsyncObserved",
    "Event",
    "EventLogger",
    "Observed",
    "Observer",
    "OperationRecorder",
    "Outcome",
    "ResilienceEvent",
    "StoreEvent",
    "SweeperEvent",
    "key_digest",
    "observed",
    "split_key",
    "store_label",
]


@overload
def observed(store: AsyncSessionStore, **options: Any) -> AsyncObserved: ...


@overload
def observed(store: SessionStore, **options: Any) -> Observed: ...


def observed(store: AsyncSessionStore | SessionStore, **options: Any) -> AsyncObserved | Observed:
    """Wrap ``store`` in `Observed` or `AsyncObserved`, matching its kind.

    ``options``: ``name``, ``metrics``, ``observers``, ``log_reads``, ``logger``.
    """
    if inspect.iscoroutinefunction(getattr(type(store), "get", None)):
        return AsyncObserved(store, **options)  # type: ignore[arg-type]
    return Observed(store, **options)  # type: ignore[arg-type]
