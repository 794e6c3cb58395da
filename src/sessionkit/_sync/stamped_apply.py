# Generated from src/sessionkit/_async/stamped_apply.py by scripts/unasync.py: edit that file, not this one.
"""Apply one journaled write to a store: conditionally where the store can, else as before."""

from __future__ import annotations

from typing import Any

from ..stamped import ReplayOutcome, StampedWrite
from .protocol import SessionStore

__all__ = ["apply_stamped", "apply_unconditionally"]


def apply_stamped(store: SessionStore, write: StampedWrite) -> ReplayOutcome:
    """``store.apply_if_newer(write)``; a store without it gets `apply_unconditionally`.

    The memory, Redis and SQL stores and every sessionkit wrapper have ``apply_if_newer``;
    a third-party store without it replays in journal order, over whatever it holds.
    """
    conditional: Any = getattr(store, "apply_if_newer", None)
    if conditional is not None:
        outcome: ReplayOutcome = conditional(write)
        return outcome
    return apply_unconditionally(store, write)


def apply_unconditionally(store: SessionStore, write: StampedWrite) -> ReplayOutcome:
    """The write as a plain store call (no stamps): what a store without stamps can do.

    ``ttl=None`` reaches the store as ``None`` (its default TTL): the journal resolved the
    default when it recorded the write, with the primary's default.
    """
    key, value = write.key, write.value
    if write.op == "set":
        assert value is not None
        store.set(key, value, write.ttl)
    elif write.op == "merge":
        assert value is not None
        store.merge(key, value, None if write.keep_expiry else write.ttl)
    elif write.op == "delete":
        store.delete(key)
    elif write.op == "touch":
        store.touch(key, write.ttl)
    else:  # create
        assert value is not None
        # Not created and another value: someone else's entry (ours, written by a replay
        # interrupted before its cursor moved, would be equal).
        if not store.create(key, value, write.ttl) and store.get(key) != value:
            return ReplayOutcome.LOST
    return ReplayOutcome.APPLIED
