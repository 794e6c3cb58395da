"""What the resilience wrappers report: structlog events and a hook for metrics.

Every retry, breaker state change, journaled write and replay emits one structlog event
(logger ``sessionkit.resilience``) with a stable name from :class:`Event`, and calls every
registered :class:`ResilienceObserver` with the same name and fields, so a metrics exporter
(Prometheus, say) can count them without parsing logs. sessionkit never configures
structlog: the application's configuration decides where the events go.

Session ids are secrets (whoever holds one *is* the user), so keys are never logged in
clear: :func:`key_digest` gives a short keyed hash, stable within a process, that lets
one correlate events about the same key without revealing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import structlog

# One digest for the whole library (stores, resilience, CLI), re-exported here.
from ..observability.events import key_digest

__all__ = ["Emitter", "Event", "ResilienceObserver", "key_digest"]


class Event:
    """The stable event names. Metrics and alerts may rely on them."""

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
    JOURNAL_TORN_RECORD = "sessionkit.fallback.torn_record"


@runtime_checkable
class ResilienceObserver(Protocol):
    """Receives every resilience event; implementations must be fast and must not raise."""

    def notify(self, event: str, fields: dict[str, Any]) -> None:
        """Called once per event, with the same fields as the log line."""
        ...


_WARNING_EVENTS = frozenset(
    {
        Event.RETRY_EXHAUSTED,
        Event.BREAKER_STATE_CHANGED,
        Event.FALLBACK_ENGAGED,
        Event.REPLAY_INTERRUPTED,
        Event.REPLAY_CONFLICT,
        Event.REPLAY_REJECTED,
        Event.JOURNAL_TORN_RECORD,
    }
)
_DEBUG_EVENTS = frozenset({Event.BREAKER_REJECTED, Event.FALLBACK_JOURNALED})


class Emitter:
    """Logs an event and hands it to the observers. Shared by the sync and async wrappers."""

    __slots__ = ("_logger", "_observers")

    def __init__(self, observers: Iterable[ResilienceObserver] = ()) -> None:
        self._observers = tuple(observers)
        self._logger = structlog.get_logger("sessionkit.resilience")

    def emit(self, event: str, **fields: Any) -> None:
        if event in _WARNING_EVENTS:
            self._logger.warning(event, **fields)
        elif event in _DEBUG_EVENTS:
            self._logger.debug(event, **fields)
        else:
            self._logger.info(event, **fields)
        for observer in self._observers:
            try:
                observer.notify(event, fields)
            except Exception:  # a broken metrics hook must not break a store call
                self._logger.exception(
                    "sessionkit.resilience.observer_failed", observed_event=event
                )
