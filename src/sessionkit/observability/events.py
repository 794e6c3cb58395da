"""Every event sessionkit reports, how it is logged, and the observer hook for metrics.

One module for the whole library (stores, resilience wrappers, namespaces, the sweeper):
the stable event names, one `Observer` protocol, one notify loop, and
`EventLogger`, which sends events through the standard library's `logging`
under the ``sessionkit`` logger hierarchy with their fields as ``extra``. sessionkit
configures nothing (the package logger only has a `logging.NullHandler`), so an
application that sets up no logging sees nothing; one that does (plain ``logging`` or
structlog routed through it) gets structured records. See docs/operations.md.

Session ids are secrets (whoever holds one *is* the user), so keys, session ids and tenant
ids are never logged in clear: `key_digest` gives a short keyed hash, stable within
a process, that correlates events about the same key without revealing it.

```pycon
>>> digest = key_digest("templates:4f1c")
>>> len(digest), digest == key_digest("templates:4f1c"), "4f1c" in digest
(16, True, False)

```
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from ..keys import split_key

__all__ = [
    "Event",
    "EventLogger",
    "Observer",
    "ResilienceEvent",
    "StoreEvent",
    "SweeperEvent",
    "key_digest",
    "notify_all",
    "split_key",
]

_DIGEST_KEY = os.urandom(16)  # per process: digests cannot be matched across processes


def key_digest(key: str) -> str:
    """A 16-hex-digit keyed BLAKE2b digest of ``key``, for logs (never the key itself)."""
    return hashlib.blake2b(key.encode(), key=_DIGEST_KEY, digest_size=8).hexdigest()


class StoreEvent:
    """The events of an `Observed` store (logger
    ``sessionkit.store``) and of namespaces. Dashboards and alerts may rely on them."""

    #: debug: a read found the key (``get``, ``get_entry``, ``exists``).
    HIT = "sessionkit.store.hit"
    #: debug: a read found nothing (absent or expired).
    MISS = "sessionkit.store.miss"
    #: warning: the backend could not be reached or did not answer in time.
    UNAVAILABLE = "sessionkit.store.unavailable"
    #: warning: an atomic update kept losing to concurrent writers and gave up.
    CONFLICT = "sessionkit.store.conflict"
    #: error: a stored value cannot be decoded; only that key's operation fails.
    CORRUPT_VALUE = "sessionkit.store.corrupt_value"
    #: info (debug when nothing expired): a sweep reclaimed expired entries.
    SWEPT = "sessionkit.store.swept"
    #: info: entries were deleted in bulk by ``purge``.
    PURGED = "sessionkit.store.purged"
    #: error (logger ``sessionkit.namespace``): a stored session does not fit its
    #: namespace's class (`CorruptSession`); fields namespace, key, field.
    CORRUPT_SESSION = "sessionkit.namespace.corrupt_session"
    #: error: an observer raised; it is logged and the store call goes on.
    OBSERVER_FAILED = "sessionkit.observer_failed"


class ResilienceEvent:
    """The events of the resilience wrappers (logger ``sessionkit.resilience``)."""

    RETRY_SCHEDULED = "sessionkit.retry.scheduled"
    RETRY_EXHAUSTED = "sessionkit.retry.exhausted"
    BREAKER_STATE_CHANGED = "sessionkit.breaker.state_changed"
    BREAKER_REJECTED = "sessionkit.breaker.rejected"
    FALLBACK_ENGAGED = "sessionkit.fallback.engaged"
    FALLBACK_JOURNALED = "sessionkit.fallback.journaled"
    FALLBACK_RECOVERED = "sessionkit.fallback.recovered"
    REPLAY_INTERRUPTED = "sessionkit.fallback.replay_interrupted"
    REPLAY_CONFLICT = "sessionkit.fallback.replay_conflict"
    REPLAY_REJECTED = "sessionkit.fallback.replay_rejected"
    #: info: a replayed record was older than the primary's write or delete of its key.
    REPLAY_SUPERSEDED = "sessionkit.fallback.replay_superseded"
    JOURNAL_TORN_RECORD = "sessionkit.fallback.torn_record"
    JOURNAL_DEAD_LETTER = "sessionkit.fallback.dead_letter"
    JOURNAL_FULL = "sessionkit.fallback.journal_full"
    JOURNAL_CURSOR_DAMAGED = "sessionkit.fallback.cursor_damaged"
    #: error: an observer of a resilience wrapper raised; the store call goes on.
    OBSERVER_FAILED = "sessionkit.resilience.observer_failed"


#: The resilience events under their historical name (``sessionkit.resilience.Event``).
Event = ResilienceEvent


class SweeperEvent:
    """The events of the background sweeper (logger ``sessionkit.sweeper``)."""

    #: warning: a sweep raised; the sweeper retries at the next interval. Fields: error,
    #: retry_in (seconds).
    FAILED = "sessionkit.sweep.failed"
    #: warning: stopping the thread sweeper gave up waiting for a sweep still running (the
    #: daemon thread ends when that sweep returns). Field: timeout (seconds).
    STOP_TIMED_OUT = "sessionkit.sweep.stop_timed_out"


# Names a LogRecord already uses: a field under one of them would make logging raise.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class EventLogger:
    """Logs structured events through stdlib `logging`: the event name is the message,
    the fields go in ``extra`` (a field whose name a log record reserves gets a ``_``
    suffix). The level check comes first, so a disabled event costs one call."""

    __slots__ = ("_logger",)

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    @property
    def name(self) -> str:
        return self._logger.name

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if not self._logger.isEnabledFor(level):
            return
        if not _RESERVED.isdisjoint(fields):
            fields = {(f"{k}_" if k in _RESERVED else k): v for k, v in fields.items()}
        self._logger.log(level, event, extra=fields, exc_info=exc_info, stacklevel=3)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """An error with the exception being handled attached."""
        self._log(logging.ERROR, event, fields, exc_info=True)


@runtime_checkable
class Observer(Protocol):
    """Receives events by name with their fields; must be fast and must not raise.

    Every wrapper's ``observers=`` (``Observed``, ``resilient()``, the retrying, breaking
    and fallback stores) takes this protocol, so one object (such as
    `SessionMetrics`) can watch a whole stack.
    """

    def notify(self, event: str, fields: dict[str, Any]) -> None:
        """Called once per event, with the same fields as the log record."""
        ...


def notify_all(
    observers: Iterable[Observer],
    event: str,
    fields: dict[str, Any],
    log: Any,
    failed_event: str = StoreEvent.OBSERVER_FAILED,
) -> None:
    """Hand ``event`` to every observer; a failing observer is logged, never raised."""
    for observer in observers:
        try:
            observer.notify(event, fields)
        except Exception:  # a broken metrics hook must not break a store call
            log.exception(failed_event, observed_event=event)
