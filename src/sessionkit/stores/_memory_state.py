"""The memory store's data and logic, once, for the sync and the async store.

No I/O happens here, so both stores are thin layers over one `MemoryState`: every
operation takes one lock for its whole read-modify-write, which makes ``update`` and
``merge`` atomic without retries, for threads and tasks alike.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .._update import apply_update, merge_values, starting_value
from ..clock import Clock, system_clock
from ..codec import JSONCodec, check_items, check_value, default_codec
from ..entry import TTL, Entry, UpdateFunction, expiry_instant, remaining_ttl, to_seconds
from ..keys import validate_key, validate_keys, validate_prefix
from ..stamped import (
    DEFAULT_TOMBSTONE_TTL,
    CheckedWrite,
    ReplayOutcome,
    StampedWrite,
    stamp_of,
)

__all__ = ["MemoryState"]


class _Slot(NamedTuple):
    data: bytes  # encoded: callers never share a mutable object with the store
    version: int
    expires_at: float | None
    stamp: int  # when the value was last written (see sessionkit.stamped)


class MemoryState:
    """Encoded entries, an expiry heap and a lock. Shared by sync and async stores."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        codec: JSONCodec = default_codec,
        default_ttl: TTL | None = None,
        tombstone_ttl: TTL = DEFAULT_TOMBSTONE_TTL,
    ) -> None:
        self.clock = clock
        self.codec = codec
        self.default_ttl = None if default_ttl is None else to_seconds(default_ttl)
        self.tombstone_ttl = 0.0 if tombstone_ttl == 0 else to_seconds(tombstone_ttl)
        # key -> (stamp, expires_at) of its last delete. Every tombstone lives tombstone_ttl,
        # so insertion order is expiry order (a re-delete moves its key to the end).
        self._tombstones: dict[str, tuple[int, float]] = {}
        self._slots: dict[str, _Slot] = {}
        # (expires_at, key) for every write that set an expiry. Entries go stale when a key
        # is rewritten or deleted; sweep skips those and compaction bounds their number.
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.RLock()

    # -- helpers (call with the lock held) ---------------------------------------------

    def _live(self, key: str, now: float) -> _Slot | None:
        slot = self._slots.get(key)
        if slot is not None and slot.expires_at is not None and slot.expires_at <= now:
            del self._slots[key]  # expiry is visible at once, whether or not sweep ran
            return None
        return slot

    def _write(
        self, key: str, data: bytes, version: int, expires_at: float | None, stamp: int
    ) -> None:
        self._slots[key] = _Slot(data, version, expires_at, stamp)
        if expires_at is not None:
            heapq.heappush(self._expiries, (expires_at, key))
            if len(self._expiries) > 2 * len(self._slots) + 1024:
                self._compact()

    def _compact(self) -> None:
        self._expiries = [
            (slot.expires_at, key)
            for key, slot in self._slots.items()
            if slot.expires_at is not None
        ]
        heapq.heapify(self._expiries)

    def _decode(self, key: str, slot: _Slot) -> dict[str, Any]:
        return self.codec.decode(slot.data, key=key)

    def _bury(self, key: str, stamp: int, now: float) -> None:
        """Remember a delete for tombstone_ttl; forget tombstones past theirs."""
        if not self.tombstone_ttl:
            return
        tombstones = self._tombstones
        tombstones.pop(key, None)
        tombstones[key] = (stamp, now + self.tombstone_ttl)
        self._forget_tombstones(now)

    def _forget_tombstones(self, now: float) -> None:
        tombstones = self._tombstones
        for key, (_, expires_at) in list(tombstones.items())[:64]:  # amortised, from the front
            if expires_at > now:
                break
            del tombstones[key]

    def _held_stamp(self, key: str, slot: _Slot | None, now: float) -> int | None:
        """The stamp a replayed write must beat: the live entry's, else its tombstone's."""
        if slot is not None:
            return slot.stamp
        tombstone = self._tombstones.get(key)
        return None if tombstone is None or tombstone[1] <= now else tombstone[0]

    # -- operations ----------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        validate_key(key)
        with self._lock:
            slot = self._live(key, self.clock.now())
        return None if slot is None else self._decode(key, slot)

    def get_entry(self, key: str) -> Entry | None:
        validate_key(key)
        with self._lock:
            slot = self._live(key, self.clock.now())
        if slot is None:
            return None
        return Entry(self._decode(key, slot), slot.version, slot.expires_at)

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None) -> None:
        validate_key(key)
        data = self.codec.encode(value)
        with self._lock:
            now = self.clock.now()
            slot = self._live(key, now)
            version = 1 if slot is None else slot.version + 1
            expires_at = expiry_instant(now, ttl, self.default_ttl)
            self._write(key, data, version, expires_at, stamp_of(now))

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None) -> bool:
        validate_key(key)
        data = self.codec.encode(value)
        if ttl is not None:
            to_seconds(ttl)  # a bad TTL fails even when the key exists and nothing is written
        with self._lock:
            now = self.clock.now()
            if self._live(key, now) is not None:
                return False
            expires_at = expiry_instant(now, ttl, self.default_ttl)
            self._write(key, data, 1, expires_at, stamp_of(now))
            return True

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None,
        default: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        validate_key(key)
        if ttl is not None:
            to_seconds(ttl)  # a bad TTL fails before fn runs
        with self._lock:  # held across fn: the read-modify-write is atomic, no retries
            now = self.clock.now()
            slot = self._live(key, now)
            current = None if slot is None else self._decode(key, slot)
            value, data = apply_update(self.codec, key, fn, starting_value(key, current, default))
            self._write_modified(key, data, slot, now, ttl)
            return value

    def merge(self, key: str, patch: Mapping[str, Any], ttl: TTL | None) -> dict[str, Any]:
        validate_key(key)
        patch = check_value(patch)
        if ttl is not None:
            to_seconds(ttl)
        with self._lock:
            now = self.clock.now()
            slot = self._live(key, now)
            value = merge_values(None if slot is None else self._decode(key, slot), patch)
            data, merged = self.codec.encode_and_copy(value)
            self._write_modified(key, data, slot, now, ttl)
            return merged

    def _write_modified(
        self, key: str, data: bytes, slot: _Slot | None, now: float, ttl: TTL | None
    ) -> None:
        if slot is None:
            expires_at = expiry_instant(now, ttl, self.default_ttl)
            self._write(key, data, 1, expires_at, stamp_of(now))
        else:
            expires_at = slot.expires_at if ttl is None else now + to_seconds(ttl)
            self._write(key, data, slot.version + 1, expires_at, stamp_of(now))

    def delete(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            now = self.clock.now()
            slot = self._live(key, now)
            if slot is not None:
                del self._slots[key]
            # Also for an absent key: another instance's journal may still hold a write of it.
            self._bury(key, stamp_of(now), now)
            return slot is not None

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return self._live(key, self.clock.now()) is not None

    def touch(self, key: str, ttl: TTL | None) -> bool:
        validate_key(key)
        if ttl is not None:
            to_seconds(ttl)  # a bad TTL fails even when the key is missing
        with self._lock:
            now = self.clock.now()
            slot = self._live(key, now)
            if slot is None:
                return False
            # A touch is not a write of the value: the version stays.
            expires_at = expiry_instant(now, ttl, self.default_ttl)
            self._write(key, slot.data, slot.version, expires_at, slot.stamp)
            return True

    def ttl(self, key: str) -> float | None:
        validate_key(key)
        with self._lock:
            now = self.clock.now()
            slot = self._live(key, now)
        return None if slot is None else remaining_ttl(slot.expires_at, now)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = validate_keys(keys)
        with self._lock:
            now = self.clock.now()
            slots = [(key, self._live(key, now)) for key in keys]
        return {key: self._decode(key, slot) for key, slot in slots if slot is not None}

    def set_many(self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None) -> None:
        items = check_items(items)
        encoded = [(validate_key(key), self.codec.encode(value)) for key, value in items.items()]
        if ttl is not None:
            to_seconds(ttl)
        with self._lock:
            now = self.clock.now()
            expires_at = expiry_instant(now, ttl, self.default_ttl)
            stamp = stamp_of(now)
            for key, data in encoded:
                slot = self._live(key, now)
                version = 1 if slot is None else slot.version + 1
                self._write(key, data, version, expires_at, stamp)

    def keys(self, prefix: str) -> list[str]:
        """A snapshot of the live keys with ``prefix``.

        Like Redis SCAN: a key present for the whole scan is seen once; one added or
        removed meanwhile may or may not be.
        """
        validate_prefix(prefix)
        with self._lock:
            now = self.clock.now()
            return [
                key
                for key, slot in self._slots.items()
                if key.startswith(prefix) and (slot.expires_at is None or slot.expires_at > now)
            ]

    def count(self, prefix: str) -> int:
        return len(self.keys(prefix))

    def purge(self, prefix: str) -> int:
        validate_prefix(prefix)
        with self._lock:
            now = self.clock.now()
            doomed = [key for key in self._slots if key.startswith(prefix)]
            live = 0
            for key in doomed:
                live += self._live(key, now) is not None
                self._slots.pop(key, None)
            return live

    def sweep(self) -> int:
        """Drop expired entries. Cost grows with the expired (and stale) heap entries only."""
        swept = 0
        with self._lock:
            now = self.clock.now()
            heap = self._expiries
            while heap and heap[0][0] <= now:
                expires_at, key = heapq.heappop(heap)
                slot = self._slots.get(key)
                if slot is not None and slot.expires_at == expires_at:
                    del self._slots[key]
                    swept += 1
            self._forget_tombstones(now)
        return swept

    def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        """A journaled write, applied only if newer than what the key holds (see
        `sessionkit.stamped`)."""
        checked = CheckedWrite.of(write, self.codec)
        key, ttl, data, patch = checked.key, checked.ttl, checked.data, checked.patch
        stamp = write.stamp
        with self._lock:
            now = self.clock.now()
            slot = self._live(key, now)
            if write.op == "create" and slot is not None:
                same = self._decode(key, slot) == write.value
                return ReplayOutcome.APPLIED if same else ReplayOutcome.LOST
            held = self._held_stamp(key, slot, now)
            if held is not None and held >= stamp:
                return ReplayOutcome.SUPERSEDED
            expires_at = None if ttl is None else now + ttl
            version = 1 if slot is None else slot.version + 1
            if write.op in ("set", "create"):
                self._write(key, data, version, expires_at, stamp)
            elif write.op == "merge":
                value = merge_values(None if slot is None else self._decode(key, slot), patch)
                if write.keep_expiry and slot is not None:
                    expires_at = slot.expires_at
                self._write(key, self.codec.encode(value), version, expires_at, stamp)
            elif write.op == "delete":
                if slot is not None:
                    del self._slots[key]
                self._bury(key, stamp, now)
            elif slot is not None:  # touch: the expiry only; the value's stamp stays
                self._write(key, slot.data, slot.version, expires_at, slot.stamp)
            return ReplayOutcome.APPLIED
