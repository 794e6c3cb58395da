"""Write stamps and tombstones: what lets a journal replay go forward in time, never back.

Every store write stamps its key with the instant it was made (``now`` of the store's
clock, in whole microseconds since the epoch); a ``delete`` leaves a *tombstone* with its
stamp for `DEFAULT_TOMBSTONE_TTL` (the store's ``tombstone_ttl``). A fallback journal
replays its records through `apply_if_newer`: a record lands only if it is newer than
the stamp the store holds for its key (the live entry's, else the tombstone's), so a
late replay never overwrites a newer write, undoes a newer delete or resurrects a key
deleted after it. The rule, the clock assumptions and its limits are in
docs/resilience.md ("Replay order").

```pycon
>>> write = StampedWrite("set", "wizard:42", at=1_700_000_000.25, value={"step": "confirm"})
>>> write.stamp
1700000000250000
>>> ReplayOutcome.SUPERSEDED.value
'superseded'

```
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import attrs

from .codec import JSONCodec, check_value
from .entry import to_seconds
from .keys import validate_key

__all__ = [
    "DEFAULT_TOMBSTONE_TTL",
    "CheckedWrite",
    "ReplayOutcome",
    "StampedOp",
    "StampedWrite",
    "stamp_of",
]

#: How long a store remembers a delete, in seconds (one day). A journal record older than
#: this is not replayed automatically (see ``max_replay_age``): the tombstone that would
#: stop it from resurrecting a deleted key may be gone.
DEFAULT_TOMBSTONE_TTL = 86_400.0

#: The writes a journal replays (``set_many`` is replayed key by key, ``update`` was
#: journaled as the ``set`` of its result).
StampedOp = Literal["set", "merge", "delete", "touch", "create"]


def stamp_of(seconds: float) -> int:
    """An instant (seconds since the epoch) as a stamp: whole microseconds."""
    return round(seconds * 1_000_000)


class ReplayOutcome(enum.Enum):
    """What `apply_if_newer` did with a write."""

    #: Written (or, for a ``touch`` of an absent key or a ``create`` of an equal value,
    #: nothing was left to do).
    APPLIED = "applied"
    #: Not written: the store holds a newer write or delete of the key.
    SUPERSEDED = "superseded"
    #: A ``create`` whose key holds another value: first writer wins.
    LOST = "lost"


@attrs.frozen
class StampedWrite:
    """One journaled write, with the instant it was acknowledged.

    ``value`` is the value (``set``, ``create``) or the patch (``merge``). ``ttl`` is the
    entry's lifetime in seconds from now, ``None`` for no expiry (never the store's
    default: the journal resolved it). ``keep_expiry`` makes a ``merge`` of a live entry
    keep that entry's expiry (``ttl`` is then used only if the key is absent).
    """

    op: StampedOp
    key: str
    at: float
    value: dict[str, Any] | None = None
    ttl: float | None = None
    keep_expiry: bool = False

    @property
    def stamp(self) -> int:
        """``at`` as a stamp (whole microseconds)."""
        return stamp_of(self.at)


@attrs.frozen
class CheckedWrite:
    """A `StampedWrite`'s parts, checked as ``set``/``merge`` check theirs, before any I/O:
    the valid key, the TTL in seconds (None: no expiry), the encoded value (``set``,
    ``create``; else empty) and the checked patch (``merge``; else empty)."""

    key: str
    ttl: float | None
    data: bytes
    patch: dict[str, Any]

    @classmethod
    def of(cls, write: StampedWrite, codec: JSONCodec) -> CheckedWrite:
        """InvalidKey, InvalidTTL or SerializationError for bad input, as the store's own
        writes raise them."""
        key = validate_key(write.key)
        ttl = None if write.ttl is None else to_seconds(write.ttl)
        data = codec.encode(write.value or {}) if write.op in ("set", "create") else b""
        patch = check_value(write.value or {}) if write.op == "merge" else {}
        return cls(key, ttl, data, patch)
