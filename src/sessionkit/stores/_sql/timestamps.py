"""Times in the table: integer microseconds since the Unix epoch, and the expiry rules.

An integer has no time zone to lose: SQLite drops offsets, MySQL/MariaDB ``DATETIME`` has
none and ``TIMESTAMP`` converts through the session time zone (and ends in 2038), and
PostgreSQL mixes naive and aware values. Every "now" comes from the store's clock, never
from the database's ``NOW()``, so expiry means the same on every database and in every
time zone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...entry import Entry

if TYPE_CHECKING:
    from .statements import Row

__all__ = ["entry_from", "expiry_from_now", "from_micros", "new_expiry", "to_micros"]

_MICROS = 1_000_000


def to_micros(seconds: float) -> int:
    """Epoch seconds (the clock's unit) to the integer microseconds stored in the table."""
    return round(seconds * _MICROS)


def from_micros(micros: int | None) -> float | None:
    return None if micros is None else micros / _MICROS


def entry_from(value: dict[str, Any], version: int, expires_at: int | None) -> Entry:
    return Entry(value, int(version), from_micros(expires_at))


def new_expiry(
    current: Row | None, now: int, ttl_seconds: float | None, default: float | None
) -> int | None:
    """Expiry after update/merge: a given TTL restarts it; else an existing entry keeps its
    own and a new one gets the default."""
    if ttl_seconds is not None:
        return now + to_micros(ttl_seconds)
    if current is not None:
        return current.expires_at
    return None if default is None else now + to_micros(default)


def expiry_from_now(now: int, seconds: float | None) -> int | None:
    return None if seconds is None else now + to_micros(seconds)
