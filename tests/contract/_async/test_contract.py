"""The store contract: every backend (and every wrapper) must pass this file unchanged.

Each test names what it tries. Bad input must raise its typed error before anything is
written, so those tests also check that the stored entry is exactly as it was.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sessionkit import (
    ConflictError,
    InvalidKey,
    InvalidTTL,
    PayloadTooLarge,
    SerializationError,
    SessionNotFound,
    StoreClosed,
)
from tests.contract._async.harness import AsyncHarness, close_harness, open_harness

# TTLs are fractions of a second so that backends whose server keeps time (Redis) pass
# the same tests by really waiting; fake-clock backends just move the clock.
SHORT = 0.4
PAST_SHORT = SHORT + 0.35

BAD_KEYS: list[Any] = [
    "",
    "x" * 257,
    "has space",
    "tab\tkey",
    "nul\x00",
    "ünïcode",
    "new\nline",
    42,
]
BAD_VALUES: list[Any] = [
    {"a": {1, 2}},  # a set
    {"a": float("nan")},
    {"a": float("inf")},
    {1: "int key"},
    {"nested": {2: "int key"}},
    {"a": object()},
    {"a": 2**64},  # beyond 64 bits
    ["not", "a", "mapping"],
    "a string",
    None,
]
BAD_TTLS: list[Any] = [0, -1, float("nan"), float("inf"), "10", True, timedelta(0)]
ORIGINAL = {"keep": "me", "n": 1}


async def assert_unchanged(h: AsyncHarness, key: str, version: int) -> None:
    entry = await h.store.get_entry(key)
    assert entry is not None
    assert entry.value == ORIGINAL
    assert entry.version == version


# -- get / set ----------------------------------------------------------------------------


async def test_get_of_a_missing_key_is_none(harness: AsyncHarness) -> None:
    assert await harness.store.get("missing") is None
    assert await harness.store.get_entry("missing") is None


async def test_set_then_get_round_trips_json_values(harness: AsyncHarness) -> None:
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


async def test_values_are_copies_not_shared(harness: AsyncHarness) -> None:
    value = {"items": [1]}
    await harness.store.set("k", value)
    value["items"].append(2)  # mutate what was passed in
    got = await harness.store.get("k")
    assert got == {"items": [1]}
    assert got is not None
    got["items"].append(3)  # mutate what came out
    assert await harness.store.get("k") == {"items": [1]}


async def test_set_replaces_the_whole_value(harness: AsyncHarness) -> None:
    await harness.store.set("k", {"a": 1, "b": 2})
    await harness.store.set("k", {"c": 3})
    assert await harness.store.get("k") == {"c": 3}


async def test_versions_start_at_one_and_grow_with_each_write(harness: AsyncHarness) -> None:
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


async def test_a_deleted_key_starts_again_at_version_one(harness: AsyncHarness) -> None:
    await harness.store.set("k", {})
    await harness.store.set("k", {})
    await harness.store.delete("k")
    await harness.store.set("k", {})
    entry = await harness.store.get_entry("k")
    assert entry is not None
    assert entry.version == 1


# -- create -------------------------------------------------------------------------------


async def test_create_writes_only_when_absent(harness: AsyncHarness) -> None:
    assert await harness.store.create("k", {"first": True}) is True
    assert await harness.store.create("k", {"second": True}) is False
    assert await harness.store.get("k") == {"first": True}


async def test_create_over_an_expired_entry_writes(harness: AsyncHarness) -> None:
    await harness.store.set("k", {"old": True}, ttl=SHORT)
    await harness.advance(PAST_SHORT)
    assert await harness.store.create("k", {"new": True}) is True
    assert await harness.store.get("k") == {"new": True}


# -- update -------------------------------------------------------------------------------


async def test_update_applies_the_function_and_returns_the_new_value(
    harness: AsyncHarness,
) -> None:
    await harness.store.set("k", {"n": 1, "other": "x"})
    result = await harness.store.update("k", lambda v: {**v, "n": v["n"] + 1})
    assert result == {"n": 2, "other": "x"}
    assert await harness.store.get("k") == result


async def test_update_of_a_missing_key_without_default_raises(harness: AsyncHarness) -> None:
    with pytest.raises(SessionNotFound):
        await harness.store.update("missing", lambda v: v)
    assert await harness.store.exists("missing") is False


async def test_update_of_a_missing_key_starts_from_a_copy_of_default(
    harness: AsyncHarness,
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
    harness: AsyncHarness,
) -> None:
    await harness.store.set("k", ORIGINAL)

    class Boom(Exception):
        pass

    def explode(v: dict[str, Any]) -> dict[str, Any]:
        raise Boom("the app's own error")

    with pytest.raises(Boom):
        await harness.store.update("k", explode)
    await assert_unchanged(harness, "k", version=1)


@pytest.mark.parametrize("result", [None, ["list"], "str", {"bad": {1, 2}}, {"n": float("nan")}])
async def test_update_whose_function_returns_a_bad_value_writes_nothing(
    harness: AsyncHarness, result: Any
) -> None:
    await harness.store.set("k", ORIGINAL)
    with pytest.raises(SerializationError):
        await harness.store.update("k", lambda v: result)
    await assert_unchanged(harness, "k", version=1)


async def test_update_keeps_the_expiry_unless_given_a_ttl(harness: AsyncHarness) -> None:
    await harness.store.set("k", {"n": 0}, ttl=SHORT)
    await harness.store.update("k", lambda v: {"n": 1})
    remaining = await harness.store.ttl("k")
    assert remaining is not None
    assert 0 < remaining <= SHORT
    await harness.store.update("k", lambda v: {"n": 2}, ttl=3600)
    remaining = await harness.store.ttl("k")
    assert remaining is not None
    assert 3000 < remaining <= 3600


async def test_update_conflict_error_is_a_session_kit_error(harness: AsyncHarness) -> None:
    # Retries are exhausted only under contention (see the concurrency tests); here we
    # pin the type users catch.
    assert issubclass(ConflictError, Exception)
    await harness.store.set("k", {"n": 0})
    assert await harness.store.update("k", lambda v: {"n": v["n"] + 1}) == {"n": 1}


# -- merge --------------------------------------------------------------------------------


async def test_merge_sets_top_level_fields(harness: AsyncHarness) -> None:
    await harness.store.set("k", {"a": 1, "nested": {"x": 1, "y": 2}})
    result = await harness.store.merge("k", {"b": 2, "nested": {"z": 3}})
    # Top level only: a nested mapping in the patch replaces the stored one whole.
    assert result == {"a": 1, "b": 2, "nested": {"z": 3}}
    assert await harness.store.get("k") == result


async def test_merge_creates_a_missing_entry(harness: AsyncHarness) -> None:
    assert await harness.store.merge("k", {"a": 1}) == {"a": 1}
    entry = await harness.store.get_entry("k")
    assert entry is not None
    assert (entry.value, entry.version) == ({"a": 1}, 1)


async def test_merge_round_trips_every_json_type(harness: AsyncHarness) -> None:
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


async def test_merge_keeps_the_expiry_unless_given_a_ttl(harness: AsyncHarness) -> None:
    await harness.store.set("k", {"n": 0}, ttl=SHORT)
    await harness.store.merge("k", {"m": 1})
    remaining = await harness.store.ttl("k")
    assert remaining is not None
    assert 0 < remaining <= SHORT
    await harness.advance(PAST_SHORT)
    assert await harness.store.get("k") is None


@pytest.mark.parametrize("patch", BAD_VALUES)
async def test_merge_of_a_bad_patch_writes_nothing(harness: AsyncHarness, patch: Any) -> None:
    await harness.store.set("k", ORIGINAL)
    with pytest.raises(SerializationError):
        await harness.store.merge("k", patch)
    await assert_unchanged(harness, "k", version=1)


# -- delete / exists ------------------------------------------------------------------------


async def test_delete_and_exists(harness: AsyncHarness) -> None:
    await harness.store.set("k", {})
    assert await harness.store.exists("k") is True
    assert await harness.store.delete("k") is True
    assert await harness.store.exists("k") is False
    assert await harness.store.delete("k") is False
    assert await harness.store.get("k") is None


# -- expiry -------------------------------------------------------------------------------


async def test_ttl_of_missing_and_of_never_expiring(harness: AsyncHarness) -> None:
    assert await harness.store.ttl("missing") is None
    await harness.store.set("k", {})
    assert await harness.store.ttl("k") == math.inf


async def test_ttl_accepts_timedelta(harness: AsyncHarness) -> None:
    await harness.store.set("k", {}, ttl=timedelta(minutes=10))
    remaining = await harness.store.ttl("k")
    assert remaining is not None
    assert 590 < remaining <= 600


async def test_expired_entries_are_invisible_at_once(harness: AsyncHarness) -> None:
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


async def test_touch_slides_the_expiry(harness: AsyncHarness) -> None:
    await harness.store.set("k", {"v": 1}, ttl=SHORT)
    await harness.advance(SHORT * 0.6)
    assert await harness.store.touch("k", SHORT) is True
    await harness.advance(SHORT * 0.6)  # past the first expiry, within the renewed one
    assert await harness.store.get("k") == {"v": 1}
    assert await harness.store.touch("missing", SHORT) is False


async def test_default_ttl_applies_when_no_ttl_is_given(
    harness: AsyncHarness, tmp_path: Path
) -> None:
    h = await open_harness(harness.spec, tmp_path / "default_ttl", default_ttl=SHORT)
    try:
        await h.store.set("set", {})
        await h.store.create("create", {})
        await h.store.merge("merge", {})
        await h.store.set_many({"many": {}})
        await h.store.set("long", {}, ttl=3600)
        await h.advance(PAST_SHORT)
        assert await h.store.get_many(["set", "create", "merge", "many", "long"]) == {"long": {}}
    finally:
        await close_harness(h)


@pytest.mark.parametrize("ttl", BAD_TTLS)
async def test_a_bad_ttl_writes_nothing(harness: AsyncHarness, ttl: Any) -> None:
    store = harness.store
    await store.set("k", ORIGINAL)
    with pytest.raises(InvalidTTL):
        await store.set("k", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        await store.create("other", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        await store.update("k", lambda v: {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        await store.merge("k", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        await store.set_many({"k": {"new": 1}}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        await store.touch("k", ttl)
    await assert_unchanged(harness, "k", version=1)
    assert await store.ttl("k") == math.inf
    assert await store.exists("other") is False


# -- batches --------------------------------------------------------------------------------


async def test_get_many_returns_only_live_keys(harness: AsyncHarness) -> None:
    await harness.store.set("a", {"v": "a"})
    await harness.store.set("b", {"v": "b"})
    assert await harness.store.get_many(["a", "missing", "b", "a"]) == {
        "a": {"v": "a"},
        "b": {"v": "b"},
    }
    assert await harness.store.get_many([]) == {}


async def test_set_many_writes_all_with_one_ttl(harness: AsyncHarness) -> None:
    items = {f"k{i}": {"i": i} for i in range(20)}
    await harness.store.set_many(items, ttl=SHORT)
    assert await harness.store.get_many(items) == items
    await harness.advance(PAST_SHORT)
    assert await harness.store.get_many(items) == {}


async def test_set_many_with_one_bad_value_writes_none(harness: AsyncHarness) -> None:
    await harness.store.set("k", ORIGINAL)
    with pytest.raises(SerializationError):
        await harness.store.set_many({"k": {"new": 1}, "fresh": {"ok": 1}, "bad": {"x": {1}}})
    await assert_unchanged(harness, "k", version=1)
    assert await harness.store.get_many(["fresh", "bad"]) == {}


async def test_set_many_with_one_bad_key_writes_none(harness: AsyncHarness) -> None:
    await harness.store.set("k", ORIGINAL)
    with pytest.raises(InvalidKey):
        await harness.store.set_many({"k": {"new": 1}, "bad key": {"ok": 1}})
    await assert_unchanged(harness, "k", version=1)


async def test_scan_count_and_purge_by_prefix(harness: AsyncHarness) -> None:
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


async def test_scan_treats_prefix_characters_literally(harness: AsyncHarness) -> None:
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


async def test_keys_are_case_sensitive(harness: AsyncHarness) -> None:
    await harness.store.set("Key", {"v": "upper"})
    await harness.store.set("key", {"v": "lower"})
    assert await harness.store.get("Key") == {"v": "upper"}
    assert await harness.store.get("key") == {"v": "lower"}
    assert await harness.store.count("K") == 1


async def test_sweep_reclaims_expired_and_keeps_live_entries(harness: AsyncHarness) -> None:
    store = harness.store
    await store.set_many({f"old:{i}": {} for i in range(5)}, ttl=SHORT)
    await store.set_many({f"new:{i}": {} for i in range(3)}, ttl=3600)
    await store.set("forever", {})
    await harness.advance(PAST_SHORT)
    swept = await store.sweep()
    assert swept in (0, 5)  # 0 where the backend expires natively
    assert await store.count() == 4
    assert await store.sweep() == 0


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_a_bad_key_is_rejected_by_every_operation(harness: AsyncHarness, key: Any) -> None:
    store = harness.store
    await store.set("k", ORIGINAL)
    calls = [  # thunks, so that the sync twin also calls each inside pytest.raises
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
async def test_a_bad_prefix_is_rejected(harness: AsyncHarness, prefix: Any) -> None:
    await harness.store.set("k", ORIGINAL)
    with pytest.raises(InvalidKey):
        await harness.store.count(prefix)
    with pytest.raises(InvalidKey):
        await harness.store.purge(prefix)
    with pytest.raises(InvalidKey):
        [key async for key in harness.store.scan(prefix)]
    await assert_unchanged(harness, "k", version=1)


async def test_the_longest_key_is_accepted(harness: AsyncHarness) -> None:
    key = "k" * 256
    await harness.store.set(key, {"ok": True})
    assert await harness.store.get(key) == {"ok": True}


@pytest.mark.parametrize("value", BAD_VALUES)
async def test_a_non_json_value_is_rejected_and_writes_nothing(
    harness: AsyncHarness, value: Any
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
    harness: AsyncHarness,
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


async def test_a_closed_store_refuses_calls(harness: AsyncHarness, tmp_path: Path) -> None:
    h = await open_harness(harness.spec, tmp_path / "closed")
    async with h.store as store:
        await store.set("k", {})
    await h.store.close()  # idempotent
    with pytest.raises(StoreClosed):
        await h.store.get("k")
    with pytest.raises(StoreClosed):
        await h.store.set("k", {})
