"""The store contract, part three: a journal replay's conditional write (`apply_if_newer`).

A store stamps every write with its time and remembers deletes (tombstones), so that a
journaled write lands only if it is newer than what the key holds. These cases stamp
journaled writes an hour before or after "now" (the harness's fake clock, or real time),
far beyond any clock skew.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from ...errors import InvalidKey, InvalidTTL, SerializationError
from ...stamped import ReplayOutcome, StampedWrite
from ..cases import ORIGINAL
from .harness import AsyncContractHarness, assert_unchanged

APPLIED, SUPERSEDED, LOST = ReplayOutcome.APPLIED, ReplayOutcome.SUPERSEDED, ReplayOutcome.LOST
HOUR = 3600.0


def _now(h: AsyncContractHarness) -> float:
    return h.clock.now() if h.clock is not None else time.time()


def _before(h: AsyncContractHarness) -> float:
    return _now(h) - HOUR


def _after(h: AsyncContractHarness) -> float:
    return _now(h) + HOUR


def _store(h: AsyncContractHarness) -> Any:
    """The store, if it can apply journaled writes in order (else the test is skipped)."""
    if not hasattr(h.store, "apply_if_newer"):
        pytest.skip("the store has no apply_if_newer: a journal replays over it unordered")
    return h.store


class AsyncReplayCases:
    """What ``apply_if_newer`` writes, and what it leaves alone."""

    async def test_an_older_set_does_not_overwrite_a_newer_write(
        self, harness: AsyncContractHarness
    ) -> None:
        store = _store(harness)
        await store.set("k", ORIGINAL)
        old = StampedWrite("set", "k", at=_before(harness), value={"stale": True})
        assert await store.apply_if_newer(old) is SUPERSEDED
        await assert_unchanged(harness, "k", version=1)

    @pytest.mark.parametrize("kind", ["merge", "update", "create", "set_many"])
    async def test_every_kind_of_write_stamps_its_key(
        self, harness: AsyncContractHarness, kind: str
    ) -> None:
        store = _store(harness)
        if kind == "merge":
            await store.merge("k", ORIGINAL)
        elif kind == "update":
            await store.update("k", lambda current: {**current, **ORIGINAL}, default={})
        elif kind == "create":
            assert await store.create("k", ORIGINAL)
        else:
            await store.set_many({"k": ORIGINAL})
        for op in ("set", "merge", "delete", "touch"):
            old = StampedWrite(op, "k", at=_before(harness), value={"stale": True}, ttl=60)
            assert await store.apply_if_newer(old) is SUPERSEDED, op
        entry = await store.get_entry("k")
        assert entry is not None
        assert entry.value == ORIGINAL
        assert entry.expires_at is None

    async def test_a_newer_set_replaces_the_value_and_counts_as_a_write(
        self, harness: AsyncContractHarness
    ) -> None:
        store = _store(harness)
        await store.set("k", ORIGINAL)
        new = StampedWrite("set", "k", at=_after(harness), value={"fresh": 1}, ttl=600)
        assert await store.apply_if_newer(new) is APPLIED
        entry = await store.get_entry("k")
        assert entry is not None
        assert entry.value == {"fresh": 1}
        assert entry.version == 2
        assert entry.expires_at is not None
        assert 590 < entry.expires_at - _now(harness) <= 600.5
        # Applying it again (a replay restarted after a lost reply) changes nothing.
        assert await store.apply_if_newer(new) is SUPERSEDED
        entry = await store.get_entry("k")
        assert entry is not None
        assert entry.version == 2

    async def test_replayed_writes_are_ordered_by_their_stamps_not_by_arrival(
        self, harness: AsyncContractHarness
    ) -> None:
        # Two journals replayed in the "wrong" order: the later acknowledgement wins.
        store, now = _store(harness), _now(harness)
        later = StampedWrite("set", "k", at=now + 2 * HOUR, value={"from": "later"})
        earlier = StampedWrite("set", "k", at=now + HOUR, value={"from": "earlier"})
        assert await store.apply_if_newer(later) is APPLIED
        assert await store.apply_if_newer(earlier) is SUPERSEDED
        assert await store.get("k") == {"from": "later"}
        # ttl=None is no expiry (the journal resolved any default), not the store's default.
        assert await store.ttl("k") == math.inf

    async def test_a_delete_is_not_undone_by_an_older_journaled_write(
        self, harness: AsyncContractHarness
    ) -> None:
        store = _store(harness)
        await store.set("k", ORIGINAL)
        assert await store.delete("k")
        assert await store.delete("never-written") is False  # remembered all the same
        for key in ("k", "never-written"):
            for op in ("set", "merge", "create"):
                old = StampedWrite(op, key, at=_before(harness), value={"stale": True})
                assert await store.apply_if_newer(old) is SUPERSEDED, (key, op)
            assert await store.get(key) is None
            assert await store.exists(key) is False
        # Tombstones are invisible: nothing to list, count or purge.
        assert [key async for key in store.scan("")] == []
        assert await store.count("") == 0

    async def test_a_write_newer_than_the_delete_lands(self, harness: AsyncContractHarness) -> None:
        store = _store(harness)
        assert await store.delete("k") is False
        new = StampedWrite("set", "k", at=_after(harness), value={"fresh": 1})
        assert await store.apply_if_newer(new) is APPLIED
        assert await store.get("k") == {"fresh": 1}
        assert await store.count("") == 1

    async def test_a_newer_delete_removes_and_is_remembered(
        self, harness: AsyncContractHarness
    ) -> None:
        store, now = _store(harness), _now(harness)
        await store.set("k", ORIGINAL)
        gone = StampedWrite("delete", "k", at=now + 2 * HOUR)
        assert await store.apply_if_newer(gone) is APPLIED
        assert await store.get("k") is None
        # A journaled write between the store's set and the journaled delete stays dead.
        between = StampedWrite("set", "k", at=now + HOUR, value={"between": 1})
        assert await store.apply_if_newer(between) is SUPERSEDED
        assert await store.get("k") is None
        older_delete = StampedWrite("delete", "k", at=now + HOUR)
        assert await store.apply_if_newer(older_delete) is SUPERSEDED

    async def test_an_older_delete_leaves_a_newer_value(
        self, harness: AsyncContractHarness
    ) -> None:
        store = _store(harness)
        await store.set("k", ORIGINAL)
        old = StampedWrite("delete", "k", at=_before(harness))
        assert await store.apply_if_newer(old) is SUPERSEDED
        await assert_unchanged(harness, "k", version=1)

    async def test_a_newer_merge_patches_the_fields_and_can_keep_the_expiry(
        self, harness: AsyncContractHarness
    ) -> None:
        store, now = _store(harness), _now(harness)
        await store.set("k", {"a": 1, "b": 2}, ttl=600)
        keep = StampedWrite(
            "merge", "k", at=now + HOUR, value={"b": 3, "c": 4}, ttl=60, keep_expiry=True
        )
        assert await store.apply_if_newer(keep) is APPLIED
        entry = await store.get_entry("k")
        assert entry is not None
        assert entry.value == {"a": 1, "b": 3, "c": 4}
        assert entry.version == 2
        assert entry.expires_at is not None
        assert 590 < entry.expires_at - now <= 600.5
        restart = StampedWrite("merge", "k", at=now + 2 * HOUR, value={"d": 5}, ttl=60)
        assert await store.apply_if_newer(restart) is APPLIED
        remaining = await store.ttl("k")
        assert remaining is not None
        assert 50 < remaining <= 60
        fresh = StampedWrite("merge", "new", at=now + HOUR, value={"x": 1}, keep_expiry=True)
        assert await store.apply_if_newer(fresh) is APPLIED
        assert await store.get("new") == {"x": 1}

    async def test_a_replayed_create_is_first_writer_wins(
        self, harness: AsyncContractHarness
    ) -> None:
        store, now = _store(harness), _now(harness)
        mine = StampedWrite("create", "k", at=now - HOUR, value={"who": "journal"})
        assert await store.apply_if_newer(mine) is APPLIED
        assert await store.get("k") == {"who": "journal"}
        # The same create again (a replay restarted): its own entry, nothing to do.
        assert await store.apply_if_newer(mine) is APPLIED
        entry = await store.get_entry("k")
        assert entry is not None
        assert entry.version == 1
        # Another journal's create of the same key, whatever its stamp, loses.
        for at in (now - 2 * HOUR, now + HOUR):
            theirs = StampedWrite("create", "k", at=at, value={"who": "other"})
            assert await store.apply_if_newer(theirs) is LOST
        assert await store.get("k") == {"who": "journal"}

    async def test_a_replayed_touch_moves_the_expiry_only_if_newer(
        self, harness: AsyncContractHarness
    ) -> None:
        store = _store(harness)
        await store.set("k", ORIGINAL, ttl=600)
        old = StampedWrite("touch", "k", at=_before(harness), ttl=30)
        assert await store.apply_if_newer(old) is SUPERSEDED
        new = StampedWrite("touch", "k", at=_after(harness), ttl=30)
        assert await store.apply_if_newer(new) is APPLIED
        remaining = await store.ttl("k")
        assert remaining is not None
        assert 20 < remaining <= 30
        entry = await store.get_entry("k")
        assert entry is not None
        assert (entry.value, entry.version) == (ORIGINAL, 1)  # a touch is not a write
        absent = StampedWrite("touch", "missing", at=_after(harness), ttl=30)
        assert await store.apply_if_newer(absent) is APPLIED
        assert await store.exists("missing") is False

    async def test_bad_journaled_writes_are_refused_before_anything_is_written(
        self, harness: AsyncContractHarness
    ) -> None:
        # Tried: a key with a space, a TTL of 1e13 s, a value with a set in it.
        store = _store(harness)
        await store.set("k", ORIGINAL)
        at = _after(harness)
        with pytest.raises(InvalidKey):
            await store.apply_if_newer(StampedWrite("set", "has space", at=at, value={}))
        with pytest.raises(InvalidTTL):
            await store.apply_if_newer(StampedWrite("set", "k", at=at, value={}, ttl=1e13))
        with pytest.raises(SerializationError):
            await store.apply_if_newer(StampedWrite("set", "k", at=at, value={"a": {1, 2}}))
        with pytest.raises(SerializationError):
            await store.apply_if_newer(StampedWrite("merge", "k", at=at, value={"a": {1}}))
        await assert_unchanged(harness, "k", version=1)
