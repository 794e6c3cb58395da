"""Time, injectable: TTL behaviour is tested by moving a fake clock, never by sleeping.

Stores read the time through a `Clock`: anything with a ``now()`` method returning
seconds since the Unix epoch (wall time, because expiry instants are stored and shared
between processes).

```pycon
>>> clock = FakeClock(1_000.0)
>>> clock.advance(30)
>>> clock.now()
1030.0

```
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock", "system_clock"]


@runtime_checkable
class Clock(Protocol):
    """The source of "now" for expiry decisions."""

    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    """The real wall clock (`time.time`)."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


#: The clock every store uses unless it is given another.
system_clock = SystemClock()


class FakeClock:
    """A clock that moves only when told to. Thread-safe.

    ``start`` defaults to a fixed instant so tests are reproducible.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a FakeClock only moves forward")
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"
