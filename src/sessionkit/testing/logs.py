"""Capture sessionkit's log events in a test, as dicts (what ``structlog.testing`` gives)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["capture_events"]

_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class _Collector(logging.Handler):
    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__(logging.DEBUG)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}
        self.events.append(
            {
                "event": record.getMessage(),
                "log_level": record.levelname.lower(),
                "logger": record.name,
                **fields,
            }
        )


@contextmanager
def capture_events(level: int = logging.DEBUG) -> Iterator[list[dict[str, Any]]]:
    """Collect every event logged under ``sessionkit`` at ``level`` or above while the block
    runs: ``{"event": name, "log_level": "debug", "logger": "sessionkit.store", **fields}``.

    ```pycon
    >>> import sessionkit
    >>> from sessionkit.observability import observed
    >>> store = observed(sessionkit.MemoryStore())
    >>> with capture_events() as events:
    ...     _ = store.get("templates:4f1c")
    >>> [(e["event"], e["namespace"]) for e in events]
    [('sessionkit.store.miss', 'templates')]

    ```
    """
    events: list[dict[str, Any]] = []
    logger = logging.getLogger("sessionkit")
    handler = _Collector(events)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield events
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
