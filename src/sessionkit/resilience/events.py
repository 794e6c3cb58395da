"""How the resilience wrappers report: an `Emitter` over the one events module.

The event names, the observer protocol and the logger live in
`sessionkit.observability.events`; this module keeps the resilience wrappers' level
choice per event and their historical names (``Event``, ``ResilienceObserver``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..observability.events import (
    Event,
    EventLogger,
    Observer,
    ResilienceEvent,
    key_digest,
    notify_all,
)

__all__ = ["Emitter", "Event", "ResilienceEvent", "ResilienceObserver", "key_digest"]

#: The observer protocol the resilience wrappers take: the library's one `Observer`.
ResilienceObserver = Observer

_WARNING_EVENTS = frozenset(
    {
        Event.RETRY_EXHAUSTED,
        Event.BREAKER_STATE_CHANGED,
        Event.FALLBACK_ENGAGED,
        Event.REPLAY_INTERRUPTED,
        Event.REPLAY_CONFLICT,
        Event.REPLAY_REJECTED,
        Event.JOURNAL_TORN_RECORD,
        Event.JOURNAL_DEAD_LETTER,
        Event.JOURNAL_FULL,
        Event.JOURNAL_CURSOR_DAMAGED,
    }
)
# Per record or per call: at info they would flood a log after a long outage (the
# recovered event carries the counts).
_DEBUG_EVENTS = frozenset(
    {Event.BREAKER_REJECTED, Event.FALLBACK_JOURNALED, Event.REPLAY_SUPERSEDED}
)


class Emitter:
    """Logs an event (logger ``sessionkit.resilience``) and hands it to the observers.
    Shared by the sync and async wrappers."""

    __slots__ = ("_logger", "_observers")

    def __init__(self, observers: Iterable[Observer] = ()) -> None:
        self._observers = tuple(observers)
        self._logger = EventLogger("sessionkit.resilience")

    def emit(self, event: str, **fields: Any) -> None:
        if event in _WARNING_EVENTS:
            self._logger.warning(event, **fields)
        elif event in _DEBUG_EVENTS:
            self._logger.debug(event, **fields)
        else:
            self._logger.info(event, **fields)
        notify_all(self._observers, event, fields, self._logger, Event.OBSERVER_FAILED)
