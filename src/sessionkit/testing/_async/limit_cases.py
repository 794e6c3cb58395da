"""The store contract, part two: expiry, batches, bad input and the store's lifecycle.

Bad input must raise its typed error before anything is written, so those tests also check
that the stored entry is exactly as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from ...entry import MAX_TTL, InvalidTTL
from ...errors import (
    InvalidKey,
    PayloadTooLarge,
    SerializationError,
    SessionNotFound,
    StoreClosed,
)
from ..cases import (
    BAD_ITEM_COLLECTIONS,
    BAD_KEY_COLLECTIONS,
    BAD_KEYS,
    BAD_TTLS,
    BAD_VALUES,
    ORIGINAL,
    PAST_SHORT,
    SHORT,
)
from .harness import AsyncContractHarness, assert_unchanged


class AsyncLimitCases:
    """TTLs (absolute and sliding), batches and prefixes, typed errors, close()."""

    #: True if ``sweep()`` reclaims expired entries and returns their number; False if the
    #: backend expires entries itself and ``sweep()`` always returns 0.
    sweeps: bool = True

    # -- expiry -------------------------------------------------------------------------------

    async def test_ttl_of_missing_and_of_never_expiring(
        self, harness: AsyncContractHarness
    ) -> None:
        assert await harness.store.ttl("missing") is None
        await harness.store.set("k", {})
        assert await harness.store.ttl("k") == math.inf

    async def test_ttl_accepts_timedelta(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("k", {}, ttl=timedelta(minutes=10))
        remaining = await harness.store.ttl("k")
        assert remaining is not None
        assert 590 < remaining <= 600

    async def test_expired_entries_are_invisible_at_once(
        self, harness: AsyncContractHarness
    ) -> None:
        store = harness.store
        await store.set("p:short", {"v": 1}, ttl=SHORT)
        await store.set("p:long", {"v": 2}, ttl=3600)
        await harness.advance(PAST_SHORT)
        assert await store.get("p:short") is None
        assert await store.get_entry("p:short") is None
        assert await store.exists("p:short") is False
        assert await store.ttl("p:short") is None
        assert await store.touch("p:short", 60) is False
        assert await store.get_many(["p:short", "p:long"]) == {"p:long": {"v": 2}}
        assert await store.count("p:") == 1
        assert [key async for key in store.scan("p:")] == ["p:long"]
        with pytest.raises(SessionNotFound):
            await store.update("p:short", lambda v: v)

    async def test_touch_slides_the_expiry(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("k", {"v": 1}, ttl=SHORT)
        await harness.advance(SHORT * 0.6)
        assert await harness.store.touch("k", SHORT) is True
        await harness.advance(SHORT * 0.6)  # past the first expiry, within the renewed one
        assert await harness.store.get("k") == {"v": 1}
        assert await harness.store.touch("missing", SHORT) is False

    async def test_default_ttl_applies_when_no_ttl_is_given(
        self,
        harness: AsyncContractHarness,
    ) -> None:
        h = await harness.reopen(default_ttl=SHORT)
        try:
            await h.store.set("set", {})
            await h.store.create("create", {})
            await h.store.merge("merge", {})
            await h.store.set_many({"many": {}})
            await h.store.set("long", {}, ttl=3600)
            await h.advance(PAST_SHORT)
            assert await h.store.get_many(["set", "create", "merge", "many", "long"]) == {
                "long": {}
            }
        finally:
            await h.close()

    @pytest.mark.parametrize("ttl", BAD_TTLS)
    async def test_a_bad_ttl_writes_nothing(self, harness: AsyncContractHarness, ttl: Any) -> None:
        store = harness.store
        await store.set("k", ORIGINAL)
        with pytest.raises(InvalidTTL):
            await store.set("k", {"new": 1}, ttl=ttl)
        with pytest.raises(InvalidTTL):
            await store.create("other", {"new": 1}, ttl=ttl)
        with pytest.raises(InvalidTTL):  # the key exists: no write, but still no False
            await store.create("k", {"new": 1}, ttl=ttl)
        with pytest.raises(InvalidTTL):
            await store.update("k", lambda v: {"new": 1}, ttl=ttl)
        with pytest.raises(InvalidTTL):
            await store.merge("k", {"new": 1}, ttl=ttl)
        with pytest.raises(InvalidTTL):
            await store.set_many({"k": {"new": 1}}, ttl=ttl)
        with pytest.raises(InvalidTTL):
            await store.touch("k", ttl)
        with pytest.raises(InvalidTTL):  # nothing to touch: the TTL is still checked
            await store.touch("other", ttl)
        with pytest.raises(InvalidTTL):
            await store.update("other", lambda v: {"new": 1}, ttl=ttl, default={})
        await assert_unchanged(harness, "k", version=1)
        assert await store.ttl("k") == math.inf
        assert await store.exists("other") is False

    async def test_the_longest_ttl_is_kept(self, harness: AsyncContractHarness) -> None:
        # MAX_TTL (ten years) is the one range every backend keeps; one past it is refused
        # (test_a_bad_ttl_writes_nothing). Each write path stores it as given.
        store = harness.store
        await store.set("set", {}, ttl=MAX_TTL)
        await store.create("create", {}, ttl=timedelta(seconds=MAX_TTL))
        await store.merge("merge", {}, ttl=MAX_TTL)
        await store.update("update", lambda v: v, ttl=MAX_TTL, default={})
        await store.set_many({"many": {}}, ttl=MAX_TTL)
        await store.set("touched", {})
        assert await store.touch("touched", MAX_TTL) is True
        for key in ("set", "create", "merge", "update", "many", "touched"):
            remaining = await store.ttl(key)
            assert remaining is not None, key
            assert MAX_TTL - 60 < remaining <= MAX_TTL, key

    # -- batches --------------------------------------------------------------------------------

    async def test_get_many_returns_only_live_keys(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("a", {"v": "a"})
        await harness.store.set("b", {"v": "b"})
        assert await harness.store.get_many(["a", "missing", "b", "a"]) == {
            "a": {"v": "a"},
            "b": {"v": "b"},
        }
        assert await harness.store.get_many([]) == {}

    async def test_set_many_writes_all_with_one_ttl(self, harness: AsyncContractHarness) -> None:
        items = {f"k{i}": {"i": i} for i in range(20)}
        await harness.store.set_many(items, ttl=SHORT)
        assert await harness.store.get_many(items) == items
        await harness.advance(PAST_SHORT)
        assert await harness.store.get_many(items) == {}

    async def test_set_many_with_one_bad_value_writes_none(
        self, harness: AsyncContractHarness
    ) -> None:
        await harness.store.set("k", ORIGINAL)
        with pytest.raises(SerializationError):
            await harness.store.set_many({"k": {"new": 1}, "fresh": {"ok": 1}, "bad": {"x": {1}}})
        await assert_unchanged(harness, "k", version=1)
        assert await harness.store.get_many(["fresh", "bad"]) == {}

    async def test_set_many_with_one_bad_key_writes_none(
        self, harness: AsyncContractHarness
    ) -> None:
        await harness.store.set("k", ORIGINAL)
        with pytest.raises(InvalidKey):
            await harness.store.set_many({"k": {"new": 1}, "bad key": {"ok": 1}})
        await assert_unchanged(harness, "k", version=1)

    @pytest.mark.parametrize("keys", BAD_KEY_COLLECTIONS)
    async def test_get_many_refuses_what_is_not_a_collection_of_keys(
        self, harness: AsyncContractHarness, keys: Any
    ) -> None:
        # Tried: None, a str and bytes (which iterate as one-character keys: "abc" would
        # read the keys "a", "b" and "c") and an int. Each is InvalidKey, before any read.
        await harness.store.set("a", ORIGINAL)
        with pytest.raises(InvalidKey):
            await harness.store.get_many(keys)
        await assert_unchanged(harness, "a", version=1)

    @pytest.mark.parametrize("items", BAD_ITEM_COLLECTIONS)
    async def test_set_many_refuses_what_is_not_a_mapping(
        self, harness: AsyncContractHarness, items: Any
    ) -> None:
        # Tried: None, a list of (key, value) pairs, a list of values, a str and an int.
        # Each is SerializationError (a TypeError) before anything is written.
        await harness.store.set("k", ORIGINAL)
        with pytest.raises(SerializationError):
            await harness.store.set_many(items)
        with pytest.raises(SerializationError):
            await harness.store.set_many(items, ttl=60)
        await assert_unchanged(harness, "k", version=1)
        assert await harness.store.count() == 1

    async def test_scan_count_and_purge_by_prefix(self, harness: AsyncContractHarness) -> None:
        store = harness.store
        wanted = {f"tpl:{i:02d}" for i in range(7)}
        await store.set_many({key: {} for key in wanted})
        await store.set_many({"doc:1": {}, "tpl": {}, "tplx:1": {}})
        assert {key async for key in store.scan("tpl:", batch_size=2)} == wanted
        assert len([key async for key in store.scan("tpl:", batch_size=2)]) == 7  # each once
        assert await store.count("tpl:") == 7
        assert await store.count("") == 10
        assert await store.purge("tpl:") == 7
        assert await store.count("tpl:") == 0
        assert {key async for key in store.scan()} == {"doc:1", "tpl", "tplx:1"}

    async def test_scan_treats_prefix_characters_literally(
        self, harness: AsyncContractHarness
    ) -> None:
        # SQL LIKE and glob patterns give these characters meaning; a prefix must not.
        store = harness.store
        keys = ["a%b:1", "axb:1", "a_b:1", "a*b:1", "a?b:1", "a[b]:1", "a\\b:1", "aXb:1"]
        await store.set_many({key: {} for key in keys})
        for key in keys:
            prefix = key[:-1]
            assert [k async for k in store.scan(prefix)] == [key], prefix
            assert await store.count(prefix) == 1, prefix
        assert await store.purge("a%") == 1
        assert await store.count("a") == len(keys) - 1

    async def test_keys_are_case_sensitive(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("Key", {"v": "upper"})
        await harness.store.set("key", {"v": "lower"})
        assert await harness.store.get("Key") == {"v": "upper"}
        assert await harness.store.get("key") == {"v": "lower"}
        assert await harness.store.count("K") == 1

    async def test_sweep_reclaims_expired_and_keeps_live_entries(
        self, harness: AsyncContractHarness
    ) -> None:
        store = harness.store
        await store.set_many({f"old:{i}": {} for i in range(5)}, ttl=SHORT)
        await store.set_many({f"new:{i}": {} for i in range(3)}, ttl=3600)
        await store.set("forever", {})
        await harness.advance(PAST_SHORT)
        # Exactly the 5 expired entries where sweep reclaims them; 0 where the backend
        # expires them itself (sweeps = False). Then nothing is left to reclaim.
        assert await store.sweep() == (5 if self.sweeps else 0)
        assert await store.count() == 4
        assert await store.sweep() == 0
        assert sorted([key async for key in store.scan()]) == [
            "forever",
            "new:0",
            "new:1",
            "new:2",
        ]

    async def test_sweep_keeps_entries_renewed_before_they_were_due(
        self, harness: AsyncContractHarness
    ) -> None:
        # Each entry is due at SHORT, then renewed (touch, set, merge, update with a TTL)
        # before it is; sweeping after SHORT must reclaim only the one left alone.
        store = harness.store
        renewed = ["touched", "set", "merged", "updated"]
        await store.set_many({key: {"n": 0} for key in [*renewed, "due"]}, ttl=SHORT)
        await harness.advance(SHORT * 0.5)
        assert await store.touch("touched", 3600) is True
        await store.set("set", {"n": 1}, ttl=3600)
        await store.merge("merged", {"n": 1}, ttl=3600)
        await store.update("updated", lambda v: {"n": 1}, ttl=3600)
        await harness.advance(PAST_SHORT - SHORT * 0.5)  # past the first expiry
        assert await store.sweep() == (1 if self.sweeps else 0)
        assert await store.get_many([*renewed, "due"]) == {
            "touched": {"n": 0},
            "set": {"n": 1},
            "merged": {"n": 1},
            "updated": {"n": 1},
        }
        assert await store.sweep() == 0

    # -- bad input ----------------------------------------------------------------------------

    @pytest.mark.parametrize("key", BAD_KEYS)
    async def test_a_bad_key_is_rejected_by_every_operation(
        self, harness: AsyncContractHarness, key: Any
    ) -> None:
        store = harness.store
        await store.set("k", ORIGINAL)
        # thunks, so that the sync twin also calls each inside pytest.raises
        calls: list[Callable[[], Any]] = [
            lambda: store.get(key),
            lambda: store.get_entry(key),
            lambda: store.set(key, {}),
            lambda: store.create(key, {}),
            lambda: store.update(key, lambda v: v, default={}),
            lambda: store.merge(key, {}),
            lambda: store.delete(key),
            lambda: store.exists(key),
            lambda: store.touch(key, 10),
            lambda: store.ttl(key),
            lambda: store.get_many(["k", key]),
            lambda: store.set_many({"k": {"new": 1}, key: {}}),
        ]
        for call in calls:
            with pytest.raises(InvalidKey):
                await call()
        await assert_unchanged(harness, "k", version=1)
        assert await store.count() == 1

    @pytest.mark.parametrize("prefix", [" ", "tab\t", "é", 7])
    async def test_a_bad_prefix_is_rejected(
        self, harness: AsyncContractHarness, prefix: Any
    ) -> None:
        await harness.store.set("k", ORIGINAL)
        with pytest.raises(InvalidKey):
            await harness.store.count(prefix)
        with pytest.raises(InvalidKey):
            await harness.store.purge(prefix)
        with pytest.raises(InvalidKey):
            [key async for key in harness.store.scan(prefix)]
        await assert_unchanged(harness, "k", version=1)

    async def test_the_longest_key_is_accepted(self, harness: AsyncContractHarness) -> None:
        key = "k" * 256
        await harness.store.set(key, {"ok": True})
        assert await harness.store.get(key) == {"ok": True}

    @pytest.mark.parametrize("value", BAD_VALUES)
    async def test_a_non_json_value_is_rejected_and_writes_nothing(
        self, harness: AsyncContractHarness, value: Any
    ) -> None:
        store = harness.store
        await store.set("k", ORIGINAL)
        with pytest.raises(SerializationError):
            await store.set("k", value)
        with pytest.raises(SerializationError):
            await store.create("new", value)
        with pytest.raises(SerializationError):
            await store.update("k", lambda v: value)
        await assert_unchanged(harness, "k", version=1)
        assert await store.exists("new") is False

    async def test_a_payload_over_the_limit_is_rejected_and_writes_nothing(
        self,
        harness: AsyncContractHarness,
    ) -> None:
        store = harness.store
        await store.set("k", ORIGINAL)
        huge = {"blob": "x" * (1024 * 1024)}  # encodes to just over the 1 MiB default
        with pytest.raises(PayloadTooLarge):
            await store.set("k", huge)
        with pytest.raises(PayloadTooLarge):
            await store.merge("k", huge)
        with pytest.raises(PayloadTooLarge):
            await store.update("k", lambda v: huge)
        with pytest.raises(PayloadTooLarge):
            await store.set_many({"other": huge})
        await assert_unchanged(harness, "k", version=1)
        assert await store.exists("other") is False

    # -- lifecycle ------------------------------------------------------------------------------

    async def test_a_closed_store_refuses_calls(self, harness: AsyncContractHarness) -> None:
        h = await harness.reopen()
        async with h.store as store:
            await store.set("k", {})
        await h.store.close()  # idempotent
        with pytest.raises(StoreClosed):
            await h.store.get("k")
        with pytest.raises(StoreClosed):
            await h.store.set("k", {})
