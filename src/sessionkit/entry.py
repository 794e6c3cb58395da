"""What a store holds under one key, and the TTL arithmetic every backend shares."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeAlias

import attrs

from .errors import InvalidTTL

__all__ = [
    "MAX_TTL",
    "TTL",
    "Entry",
    "InvalidTTL",
    "UpdateFunction",
    "expiry_instant",
    "remaining_ttl",
    "to_seconds",
]

#: A time-to-live: seconds (int or float) or a `timedelta`.
TTL: TypeAlias = float | timedelta

#: The longest TTL any store accepts, in seconds: ten years of 365 days (315,360,000 s).
#: A longer one (``ttl=1e13``, ``timedelta.max``) is `InvalidTTL` on every store, wrapper
#: and the fallback journal, before anything is written. It fits every backend with room
#: to spare: the SQL ``expires_at`` column (64-bit microseconds since the epoch) and
#: Redis's ``PX`` (64-bit milliseconds). Values that must never expire use ``ttl=None``
#: on a store without a default TTL.
MAX_TTL: float = 10 * 365 * 24 * 3600.0

#: The function ``update`` applies: current value in, new value out. It must be pure: a
#: store that retries on conflict calls it again with the fresh value.
UpdateFunction: TypeAlias = Callable[[dict[str, Any]], Mapping[str, Any]]


@attrs.frozen
class Entry:
    """One stored session: its value, its version and when it expires.

    ``version`` starts at 1 and grows by one on every write, on every backend; optimistic
    updates compare it. ``expires_at`` is seconds since the epoch, or ``None`` for never.
    """

    value: dict[str, Any]
    version: int
    expires_at: float | None


def to_seconds(ttl: object) -> float:
    """Normalise a TTL to positive, finite seconds, at most `MAX_TTL`.

    ```pycon
    >>> to_seconds(timedelta(minutes=10))
    600.0
    >>> to_seconds(0)
    Traceback (most recent call last):
    ...
    sessionkit.errors.InvalidTTL: a TTL must be positive and finite, got 0
    >>> to_seconds(1e13)
    Traceback (most recent call last):
    ...
    sessionkit.errors.InvalidTTL: a TTL is at most 315360000 seconds (10 years), got 1e+13

    ```
    """
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, int) and not isinstance(ttl, bool):
        # Compared as an int first: float() of a huge int raises OverflowError.
        seconds = float(min(ttl, _MAX_TTL_INT + 1))
    elif isinstance(ttl, float):
        seconds = ttl
    else:
        raise InvalidTTL(f"a TTL is seconds or a timedelta, not {type(ttl).__name__}: {ttl!r}")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise InvalidTTL(f"a TTL must be positive and finite, got {ttl!r}")
    if seconds > MAX_TTL:
        raise InvalidTTL(f"a TTL is at most {_MAX_TTL_INT} seconds (10 years), got {seconds:.6g}")
    return seconds


_MAX_TTL_INT = int(MAX_TTL)


def expiry_instant(now: float, ttl: TTL | None, default: float | None) -> float | None:
    """The instant a write expires: ``ttl`` if given, else the store's default, else never."""
    seconds = to_seconds(ttl) if ttl is not None else default
    return None if seconds is None else now + seconds


def remaining_ttl(expires_at: float | None, now: float) -> float:
    """Seconds left before ``expires_at`` (``math.inf`` for never), to the microsecond.

    Rounding hides float noise: epoch seconds near 1.7e9 carry only ~0.2 µs of precision.
    """
    return math.inf if expires_at is None else max(round(expires_at - now, 6), 0.0)
