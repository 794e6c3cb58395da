"""The store contract, part one: what a store holds (get/set, create, update, merge, delete)."""

from __future__ import annotations

from typing import Any

import pytest

from ...errors import (
    ConflictError,
    SerializationError,
    SessionNotFound,
)
from ..cases import BAD_VALUES, ORIGINAL, PAST_SHORT, SHORT
from ..writers import AsyncRunWriters, increment
from .harness import AsyncContractHarness, assert_unchanged

# Concurrent writers of one key in the atomicity tests, and the writes each makes.
WRITERS = 4
WRITES = 50


class AsyncDataCases:
    """Reads and writes of whole values and their versions; atomic update and merge."""

    # -- get / set ----------------------------------------------------------------------------

    async def test_get_of_a_missing_key_is_none(self, harness: AsyncContractHarness) -> None:
        assert await harness.store.get("missing") is None
        assert await harness.store.get_entry("missing") is None

    async def test_set_then_get_round_trips_json_values(
        self, harness: AsyncContractHarness
    ) -> None:
        value = {
            "str": "héllo ✓ 中文",
            "int": -(2**63),
            "big": 2**63 - 1,
            "unsigned": 2**64 - 1,
            "float": 1.5,
            "bool": True,
            "none": None,
            "list": [1, "two", [3.0], {"four": 4}],
            "tuple": ("a", "b"),
            "empty": {},
            "empty_list": [],
            "nested": {"deep": {"deeper": [None]}},
        }
        await harness.store.set("k", value)
        expected = {**value, "tuple": ["a", "b"]}  # tuples read back as lists, like JSON
        assert await harness.store.get("k") == expected

    async def test_values_are_copies_not_shared(self, harness: AsyncContractHarness) -> None:
        value = {"items": [1]}
        await harness.store.set("k", value)
        value["items"].append(2)  # mutate what was passed in
        got = await harness.store.get("k")
        assert got == {"items": [1]}
        assert got is not None
        got["items"].append(3)  # mutate what came out
        assert await harness.store.get("k") == {"items": [1]}

    async def test_set_replaces_the_whole_value(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("k", {"a": 1, "b": 2})
        await harness.store.set("k", {"c": 3})
        assert await harness.store.get("k") == {"c": 3}

    async def test_versions_start_at_one_and_grow_with_each_write(
        self, harness: AsyncContractHarness
    ) -> None:
        store = harness.store
        await store.set("k", {"n": 0})
        versions = [(await store.get_entry("k")).version]  # type: ignore[union-attr]
        await store.set("k", {"n": 1})
        versions.append((await store.get_entry("k")).version)  # type: ignore[union-attr]
        await store.merge("k", {"m": 1})
        versions.append((await store.get_entry("k")).version)  # type: ignore[union-attr]
        await store.update("k", lambda v: {**v, "n": 2})
        versions.append((await store.get_entry("k")).version)  # type: ignore[union-attr]
        await store.touch("k", 60)  # not a write of the value
        versions.append((await store.get_entry("k")).version)  # type: ignore[union-attr]
        assert versions == [1, 2, 3, 4, 4]

    async def test_a_deleted_key_starts_again_at_version_one(
        self, harness: AsyncContractHarness
    ) -> None:
        await harness.store.set("k", {})
        await harness.store.set("k", {})
        await harness.store.delete("k")
        await harness.store.set("k", {})
        entry = await harness.store.get_entry("k")
        assert entry is not None
        assert entry.version == 1

    # -- create -------------------------------------------------------------------------------

    async def test_create_writes_only_when_absent(self, harness: AsyncContractHarness) -> None:
        assert await harness.store.create("k", {"first": True}) is True
        assert await harness.store.create("k", {"second": True}) is False
        assert await harness.store.get("k") == {"first": True}

    async def test_create_over_an_expired_entry_writes(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("k", {"old": True}, ttl=SHORT)
        await harness.advance(PAST_SHORT)
        assert await harness.store.create("k", {"new": True}) is True
        assert await harness.store.get("k") == {"new": True}

    # -- update -------------------------------------------------------------------------------

    async def test_update_applies_the_function_and_returns_the_new_value(
        self,
        harness: AsyncContractHarness,
    ) -> None:
        await harness.store.set("k", {"n": 1, "other": "x"})
        result = await harness.store.update("k", lambda v: {**v, "n": v["n"] + 1})
        assert result == {"n": 2, "other": "x"}
        assert await harness.store.get("k") == result

    async def test_update_of_a_missing_key_without_default_raises(
        self, harness: AsyncContractHarness
    ) -> None:
        with pytest.raises(SessionNotFound):
            await harness.store.update("missing", lambda v: v)
        assert await harness.store.exists("missing") is False

    async def test_update_of_a_missing_key_starts_from_a_copy_of_default(
        self,
        harness: AsyncContractHarness,
    ) -> None:
        default = {"n": 0, "log": []}

        def bump(v: dict[str, Any]) -> dict[str, Any]:
            v["log"].append("bumped")  # mutating the argument must not touch `default`
            return {**v, "n": v["n"] + 1}

        assert await harness.store.update("k", bump, default=default) == {"n": 1, "log": ["bumped"]}
        assert default == {"n": 0, "log": []}
        assert await harness.store.update("k", bump, default=default) == {
            "n": 2,
            "log": ["bumped", "bumped"],
        }

    async def test_update_whose_function_raises_propagates_and_writes_nothing(
        self,
        harness: AsyncContractHarness,
    ) -> None:
        await harness.store.set("k", ORIGINAL)

        class Boom(Exception):
            pass

        def explode(v: dict[str, Any]) -> dict[str, Any]:
            raise Boom("the app's own error")

        with pytest.raises(Boom):
            await harness.store.update("k", explode)
        await assert_unchanged(harness, "k", version=1)

    @pytest.mark.parametrize(
        "result", [None, ["list"], "str", {"bad": {1, 2}}, {"n": float("nan")}]
    )
    async def test_update_whose_function_returns_a_bad_value_writes_nothing(
        self, harness: AsyncContractHarness, result: Any
    ) -> None:
        await harness.store.set("k", ORIGINAL)
        with pytest.raises(SerializationError):
            await harness.store.update("k", lambda v: result)
        await assert_unchanged(harness, "k", version=1)

    async def test_update_keeps_the_expiry_unless_given_a_ttl(
        self, harness: AsyncContractHarness
    ) -> None:
        await harness.store.set("k", {"n": 0}, ttl=SHORT)
        await harness.store.update("k", lambda v: {"n": 1})
        remaining = await harness.store.ttl("k")
        assert remaining is not None
        assert 0 < remaining <= SHORT
        await harness.store.update("k", lambda v: {"n": 2}, ttl=3600)
        remaining = await harness.store.ttl("k")
        assert remaining is not None
        assert 3000 < remaining <= 3600

    async def test_update_conflict_error_is_a_session_kit_error(
        self, harness: AsyncContractHarness
    ) -> None:
        # Retries are exhausted only under contention (see the concurrency tests); here we
        # pin the type users catch.
        assert issubclass(ConflictError, Exception)
        await harness.store.set("k", {"n": 0})
        assert await harness.store.update("k", lambda v: {"n": v["n"] + 1}) == {"n": 1}

    async def test_concurrent_updates_of_one_key_lose_nothing(
        self, harness: AsyncContractHarness
    ) -> None:
        # Tried: WRITERS concurrent writers (tasks; threads forced to interleave in the
        # sync contract) each incrementing one counter WRITES times. Any update that read a
        # value another had already replaced and wrote over it would show as a lost count.
        store = harness.store
        await store.set("counter", {"n": 0})

        async def writer() -> None:
            for _ in range(WRITES):
                await store.update("counter", increment)

        await AsyncRunWriters(WRITERS, writer)
        assert await store.get("counter") == {"n": WRITERS * WRITES}
        entry = await store.get_entry("counter")
        assert entry is not None
        assert entry.version == 1 + WRITERS * WRITES

    async def test_concurrent_merges_of_distinct_fields_lose_nothing(
        self, harness: AsyncContractHarness
    ) -> None:
        store = harness.store
        fields = iter(range(WRITERS))

        async def writer() -> None:
            field = f"w{next(fields)}"
            for n in range(WRITES):
                await store.merge("shared", {field: n})

        await AsyncRunWriters(WRITERS, writer)
        assert await store.get("shared") == {f"w{i}": WRITES - 1 for i in range(WRITERS)}

    # -- merge --------------------------------------------------------------------------------

    async def test_merge_sets_top_level_fields(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("k", {"a": 1, "nested": {"x": 1, "y": 2}})
        result = await harness.store.merge("k", {"b": 2, "nested": {"z": 3}})
        # Top level only: a nested mapping in the patch replaces the stored one whole.
        assert result == {"a": 1, "b": 2, "nested": {"z": 3}}
        assert await harness.store.get("k") == result

    async def test_merge_creates_a_missing_entry(self, harness: AsyncContractHarness) -> None:
        assert await harness.store.merge("k", {"a": 1}) == {"a": 1}
        entry = await harness.store.get_entry("k")
        assert entry is not None
        assert (entry.value, entry.version) == ({"a": 1}, 1)

    async def test_merge_round_trips_every_json_type(self, harness: AsyncContractHarness) -> None:
        patch = {
            "big": 2**53 + 1,
            "neg": -(2**62),
            "float": 0.1,
            "str": "ünïcode ✓",
            "empty_list": [],
            "empty_obj": {},
            "null": None,
            "list": [1, [2, {"three": 3}]],
        }
        await harness.store.set("k", {"keep": [], "also": {}})
        assert await harness.store.merge("k", patch) == {"keep": [], "also": {}, **patch}
        assert await harness.store.get("k") == {"keep": [], "also": {}, **patch}

    async def test_merge_keeps_the_expiry_unless_given_a_ttl(
        self, harness: AsyncContractHarness
    ) -> None:
        await harness.store.set("k", {"n": 0}, ttl=SHORT)
        await harness.store.merge("k", {"m": 1})
        remaining = await harness.store.ttl("k")
        assert remaining is not None
        assert 0 < remaining <= SHORT
        await harness.advance(PAST_SHORT)
        assert await harness.store.get("k") is None

    @pytest.mark.parametrize("patch", BAD_VALUES)
    async def test_merge_of_a_bad_patch_writes_nothing(
        self, harness: AsyncContractHarness, patch: Any
    ) -> None:
        await harness.store.set("k", ORIGINAL)
        with pytest.raises(SerializationError):
            await harness.store.merge("k", patch)
        await assert_unchanged(harness, "k", version=1)

    # -- delete / exists ------------------------------------------------------------------------

    async def test_delete_and_exists(self, harness: AsyncContractHarness) -> None:
        await harness.store.set("k", {})
        assert await harness.store.exists("k") is True
        assert await harness.store.delete("k") is True
        assert await harness.store.exists("k") is False
        assert await harness.store.delete("k") is False
        assert await harness.store.get("k") is None
