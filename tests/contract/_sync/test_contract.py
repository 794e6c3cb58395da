# Generated from tests/contract/_async/test_contract.py by scripts/unasync.py: edit that file, not this one.
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
from tests.contract._sync.harness import Harness, close_harness, open_harness

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


def assert_unchanged(h: Harness, key: str, version: int) -> None:
    entry = h.store.get_entry(key)
    assert entry is not None
    assert entry.value == ORIGINAL
    assert entry.version == version


# -- get / set ----------------------------------------------------------------------------


def test_get_of_a_missing_key_is_none(harness: Harness) -> None:
    assert harness.store.get("missing") is None
    assert harness.store.get_entry("missing") is None


def test_set_then_get_round_trips_json_values(harness: Harness) -> None:
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
    harness.store.set("k", value)
    expected = {**value, "tuple": ["a", "b"]}  # tuples read back as lists, like JSON
    assert harness.store.get("k") == expected


def test_values_are_copies_not_shared(harness: Harness) -> None:
    value = {"items": [1]}
    harness.store.set("k", value)
    value["items"].append(2)  # mutate what was passed in
    got = harness.store.get("k")
    assert got == {"items": [1]}
    assert got is not None
    got["items"].append(3)  # mutate what came out
    assert harness.store.get("k") == {"items": [1]}


def test_set_replaces_the_whole_value(harness: Harness) -> None:
    harness.store.set("k", {"a": 1, "b": 2})
    harness.store.set("k", {"c": 3})
    assert harness.store.get("k") == {"c": 3}


def test_versions_start_at_one_and_grow_with_each_write(harness: Harness) -> None:
    store = harness.store
    store.set("k", {"n": 0})
    versions = [(store.get_entry("k")).version]  # type: ignore[union-attr]
    store.set("k", {"n": 1})
    versions.append((store.get_entry("k")).version)  # type: ignore[union-attr]
    store.merge("k", {"m": 1})
    versions.append((store.get_entry("k")).version)  # type: ignore[union-attr]
    store.update("k", lambda v: {**v, "n": 2})
    versions.append((store.get_entry("k")).version)  # type: ignore[union-attr]
    store.touch("k", 60)  # not a write of the value
    versions.append((store.get_entry("k")).version)  # type: ignore[union-attr]
    assert versions == [1, 2, 3, 4, 4]


def test_a_deleted_key_starts_again_at_version_one(harness: Harness) -> None:
    harness.store.set("k", {})
    harness.store.set("k", {})
    harness.store.delete("k")
    harness.store.set("k", {})
    entry = harness.store.get_entry("k")
    assert entry is not None
    assert entry.version == 1


# -- create -------------------------------------------------------------------------------


def test_create_writes_only_when_absent(harness: Harness) -> None:
    assert harness.store.create("k", {"first": True}) is True
    assert harness.store.create("k", {"second": True}) is False
    assert harness.store.get("k") == {"first": True}


def test_create_over_an_expired_entry_writes(harness: Harness) -> None:
    harness.store.set("k", {"old": True}, ttl=SHORT)
    harness.advance(PAST_SHORT)
    assert harness.store.create("k", {"new": True}) is True
    assert harness.store.get("k") == {"new": True}


# -- update -------------------------------------------------------------------------------


def test_update_applies_the_function_and_returns_the_new_value(
    harness: Harness,
) -> None:
    harness.store.set("k", {"n": 1, "other": "x"})
    result = harness.store.update("k", lambda v: {**v, "n": v["n"] + 1})
    assert result == {"n": 2, "other": "x"}
    assert harness.store.get("k") == result


def test_update_of_a_missing_key_without_default_raises(harness: Harness) -> None:
    with pytest.raises(SessionNotFound):
        harness.store.update("missing", lambda v: v)
    assert harness.store.exists("missing") is False


def test_update_of_a_missing_key_starts_from_a_copy_of_default(
    harness: Harness,
) -> None:
    default = {"n": 0, "log": []}

    def bump(v: dict[str, Any]) -> dict[str, Any]:
        v["log"].append("bumped")  # mutating the argument must not touch `default`
        return {**v, "n": v["n"] + 1}

    assert harness.store.update("k", bump, default=default) == {"n": 1, "log": ["bumped"]}
    assert default == {"n": 0, "log": []}
    assert harness.store.update("k", bump, default=default) == {
        "n": 2,
        "log": ["bumped", "bumped"],
    }


def test_update_whose_function_raises_propagates_and_writes_nothing(
    harness: Harness,
) -> None:
    harness.store.set("k", ORIGINAL)

    class Boom(Exception):
        pass

    def explode(v: dict[str, Any]) -> dict[str, Any]:
        raise Boom("the app's own error")

    with pytest.raises(Boom):
        harness.store.update("k", explode)
    assert_unchanged(harness, "k", version=1)


@pytest.mark.parametrize("result", [None, ["list"], "str", {"bad": {1, 2}}, {"n": float("nan")}])
def test_update_whose_function_returns_a_bad_value_writes_nothing(
    harness: Harness, result: Any
) -> None:
    harness.store.set("k", ORIGINAL)
    with pytest.raises(SerializationError):
        harness.store.update("k", lambda v: result)
    assert_unchanged(harness, "k", version=1)


def test_update_keeps_the_expiry_unless_given_a_ttl(harness: Harness) -> None:
    harness.store.set("k", {"n": 0}, ttl=SHORT)
    harness.store.update("k", lambda v: {"n": 1})
    remaining = harness.store.ttl("k")
    assert remaining is not None
    assert 0 < remaining <= SHORT
    harness.store.update("k", lambda v: {"n": 2}, ttl=3600)
    remaining = harness.store.ttl("k")
    assert remaining is not None
    assert 3000 < remaining <= 3600


def test_update_conflict_error_is_a_session_kit_error(harness: Harness) -> None:
    # Retries are exhausted only under contention (see the concurrency tests); here we
    # pin the type users catch.
    assert issubclass(ConflictError, Exception)
    harness.store.set("k", {"n": 0})
    assert harness.store.update("k", lambda v: {"n": v["n"] + 1}) == {"n": 1}


# -- merge --------------------------------------------------------------------------------


def test_merge_sets_top_level_fields(harness: Harness) -> None:
    harness.store.set("k", {"a": 1, "nested": {"x": 1, "y": 2}})
    result = harness.store.merge("k", {"b": 2, "nested": {"z": 3}})
    # Top level only: a nested mapping in the patch replaces the stored one whole.
    assert result == {"a": 1, "b": 2, "nested": {"z": 3}}
    assert harness.store.get("k") == result


def test_merge_creates_a_missing_entry(harness: Harness) -> None:
    assert harness.store.merge("k", {"a": 1}) == {"a": 1}
    entry = harness.store.get_entry("k")
    assert entry is not None
    assert (entry.value, entry.version) == ({"a": 1}, 1)


def test_merge_round_trips_every_json_type(harness: Harness) -> None:
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
    harness.store.set("k", {"keep": [], "also": {}})
    assert harness.store.merge("k", patch) == {"keep": [], "also": {}, **patch}
    assert harness.store.get("k") == {"keep": [], "also": {}, **patch}


def test_merge_keeps_the_expiry_unless_given_a_ttl(harness: Harness) -> None:
    harness.store.set("k", {"n": 0}, ttl=SHORT)
    harness.store.merge("k", {"m": 1})
    remaining = harness.store.ttl("k")
    assert remaining is not None
    assert 0 < remaining <= SHORT
    harness.advance(PAST_SHORT)
    assert harness.store.get("k") is None


@pytest.mark.parametrize("patch", BAD_VALUES)
def test_merge_of_a_bad_patch_writes_nothing(harness: Harness, patch: Any) -> None:
    harness.store.set("k", ORIGINAL)
    with pytest.raises(SerializationError):
        harness.store.merge("k", patch)
    assert_unchanged(harness, "k", version=1)


# -- delete / exists ------------------------------------------------------------------------


def test_delete_and_exists(harness: Harness) -> None:
    harness.store.set("k", {})
    assert harness.store.exists("k") is True
    assert harness.store.delete("k") is True
    assert harness.store.exists("k") is False
    assert harness.store.delete("k") is False
    assert harness.store.get("k") is None


# -- expiry -------------------------------------------------------------------------------


def test_ttl_of_missing_and_of_never_expiring(harness: Harness) -> None:
    assert harness.store.ttl("missing") is None
    harness.store.set("k", {})
    assert harness.store.ttl("k") == math.inf


def test_ttl_accepts_timedelta(harness: Harness) -> None:
    harness.store.set("k", {}, ttl=timedelta(minutes=10))
    remaining = harness.store.ttl("k")
    assert remaining is not None
    assert 590 < remaining <= 600


def test_expired_entries_are_invisible_at_once(harness: Harness) -> None:
    store = harness.store
    store.set("p:short", {"v": 1}, ttl=SHORT)
    store.set("p:long", {"v": 2}, ttl=3600)
    harness.advance(PAST_SHORT)
    assert store.get("p:short") is None
    assert store.get_entry("p:short") is None
    assert store.exists("p:short") is False
    assert store.ttl("p:short") is None
    assert store.touch("p:short", 60) is False
    assert store.get_many(["p:short", "p:long"]) == {"p:long": {"v": 2}}
    assert store.count("p:") == 1
    assert [key for key in store.scan("p:")] == ["p:long"]
    with pytest.raises(SessionNotFound):
        store.update("p:short", lambda v: v)


def test_touch_slides_the_expiry(harness: Harness) -> None:
    harness.store.set("k", {"v": 1}, ttl=SHORT)
    harness.advance(SHORT * 0.6)
    assert harness.store.touch("k", SHORT) is True
    harness.advance(SHORT * 0.6)  # past the first expiry, within the renewed one
    assert harness.store.get("k") == {"v": 1}
    assert harness.store.touch("missing", SHORT) is False


def test_default_ttl_applies_when_no_ttl_is_given(
    harness: Harness, tmp_path: Path
) -> None:
    h = open_harness(harness.spec, tmp_path / "default_ttl", default_ttl=SHORT)
    try:
        h.store.set("set", {})
        h.store.create("create", {})
        h.store.merge("merge", {})
        h.store.set_many({"many": {}})
        h.store.set("long", {}, ttl=3600)
        h.advance(PAST_SHORT)
        assert h.store.get_many(["set", "create", "merge", "many", "long"]) == {"long": {}}
    finally:
        close_harness(h)


@pytest.mark.parametrize("ttl", BAD_TTLS)
def test_a_bad_ttl_writes_nothing(harness: Harness, ttl: Any) -> None:
    store = harness.store
    store.set("k", ORIGINAL)
    with pytest.raises(InvalidTTL):
        store.set("k", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.create("other", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.update("k", lambda v: {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.merge("k", {"new": 1}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.set_many({"k": {"new": 1}}, ttl=ttl)
    with pytest.raises(InvalidTTL):
        store.touch("k", ttl)
    assert_unchanged(harness, "k", version=1)
    assert store.ttl("k") == math.inf
    assert store.exists("other") is False


# -- batches --------------------------------------------------------------------------------


def test_get_many_returns_only_live_keys(harness: Harness) -> None:
    harness.store.set("a", {"v": "a"})
    harness.store.set("b", {"v": "b"})
    assert harness.store.get_many(["a", "missing", "b", "a"]) == {
        "a": {"v": "a"},
        "b": {"v": "b"},
    }
    assert harness.store.get_many([]) == {}


def test_set_many_writes_all_with_one_ttl(harness: Harness) -> None:
    items = {f"k{i}": {"i": i} for i in range(20)}
    harness.store.set_many(items, ttl=SHORT)
    assert harness.store.get_many(items) == items
    harness.advance(PAST_SHORT)
    assert harness.store.get_many(items) == {}


def test_set_many_with_one_bad_value_writes_none(harness: Harness) -> None:
    harness.store.set("k", ORIGINAL)
    with pytest.raises(SerializationError):
        harness.store.set_many({"k": {"new": 1}, "fresh": {"ok": 1}, "bad": {"x": {1}}})
    assert_unchanged(harness, "k", version=1)
    assert harness.store.get_many(["fresh", "bad"]) == {}


def test_set_many_with_one_bad_key_writes_none(harness: Harness) -> None:
    harness.store.set("k", ORIGINAL)
    with pytest.raises(InvalidKey):
        harness.store.set_many({"k": {"new": 1}, "bad key": {"ok": 1}})
    assert_unchanged(harness, "k", version=1)


def test_scan_count_and_purge_by_prefix(harness: Harness) -> None:
    store = harness.store
    wanted = {f"tpl:{i:02d}" for i in range(7)}
    store.set_many({key: {} for key in wanted})
    store.set_many({"doc:1": {}, "tpl": {}, "tplx:1": {}})
    assert {key for key in store.scan("tpl:", batch_size=2)} == wanted
    assert len([key for key in store.scan("tpl:", batch_size=2)]) == 7  # each once
    assert store.count("tpl:") == 7
    assert store.count("") == 10
    assert store.purge("tpl:") == 7
    assert store.count("tpl:") == 0
    assert {key for key in store.scan()} == {"doc:1", "tpl", "tplx:1"}


def test_scan_treats_prefix_characters_literally(harness: Harness) -> None:
    # SQL LIKE and glob patterns give these characters meaning; a prefix must not.
    store = harness.store
    keys = ["a%b:1", "axb:1", "a_b:1", "a*b:1", "a?b:1", "a[b]:1", "a\\b:1", "aXb:1"]
    store.set_many({key: {} for key in keys})
    for key in keys:
        prefix = key[:-1]
        assert [k for k in store.scan(prefix)] == [key], prefix
        assert store.count(prefix) == 1, prefix
    assert store.purge("a%") == 1
    assert store.count("a") == len(keys) - 1


def test_keys_are_case_sensitive(harness: Harness) -> None:
    harness.store.set("Key", {"v": "upper"})
    harness.store.set("key", {"v": "lower"})
    assert harness.store.get("Key") == {"v": "upper"}
    assert harness.store.get("key") == {"v": "lower"}
    assert harness.store.count("K") == 1


def test_sweep_reclaims_expired_and_keeps_live_entries(harness: Harness) -> None:
    store = harness.store
    store.set_many({f"old:{i}": {} for i in range(5)}, ttl=SHORT)
    store.set_many({f"new:{i}": {} for i in range(3)}, ttl=3600)
    store.set("forever", {})
    harness.advance(PAST_SHORT)
    swept = store.sweep()
    assert swept in (0, 5)  # 0 where the backend expires natively
    assert store.count() == 4
    assert store.sweep() == 0


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_key_is_rejected_by_every_operation(harness: Harness, key: Any) -> None:
    store = harness.store
    store.set("k", ORIGINAL)
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
            call()
    assert_unchanged(harness, "k", version=1)
    assert store.count() == 1


@pytest.mark.parametrize("prefix", [" ", "tab\t", "é", 7])
def test_a_bad_prefix_is_rejected(harness: Harness, prefix: Any) -> None:
    harness.store.set("k", ORIGINAL)
    with pytest.raises(InvalidKey):
        harness.store.count(prefix)
    with pytest.raises(InvalidKey):
        harness.store.purge(prefix)
    with pytest.raises(InvalidKey):
        [key for key in harness.store.scan(prefix)]
    assert_unchanged(harness, "k", version=1)


def test_the_longest_key_is_accepted(harness: Harness) -> None:
    key = "k" * 256
    harness.store.set(key, {"ok": True})
    assert harness.store.get(key) == {"ok": True}


@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_non_json_value_is_rejected_and_writes_nothing(
    harness: Harness, value: Any
) -> None:
    store = harness.store
    store.set("k", ORIGINAL)
    with pytest.raises(SerializationError):
        store.set("k", value)
    with pytest.raises(SerializationError):
        store.create("new", value)
    with pytest.raises(SerializationError):
        store.update("k", lambda v: value)
    assert_unchanged(harness, "k", version=1)
    assert store.exists("new") is False


def test_a_payload_over_the_limit_is_rejected_and_writes_nothing(
    harness: Harness,
) -> None:
    store = harness.store
    store.set("k", ORIGINAL)
    huge = {"blob": "x" * (1024 * 1024)}  # encodes to just over the 1 MiB default
    with pytest.raises(PayloadTooLarge):
        store.set("k", huge)
    with pytest.raises(PayloadTooLarge):
        store.merge("k", huge)
    with pytest.raises(PayloadTooLarge):
        store.update("k", lambda v: huge)
    with pytest.raises(PayloadTooLarge):
        store.set_many({"other": huge})
    assert_unchanged(harness, "k", version=1)
    assert store.exists("other") is False


# -- lifecycle ------------------------------------------------------------------------------


def test_a_closed_store_refuses_calls(harness: Harness, tmp_path: Path) -> None:
    h = open_harness(harness.spec, tmp_path / "closed")
    with h.store as store:
        store.set("k", {})
    h.store.close()  # idempotent
    with pytest.raises(StoreClosed):
        h.store.get("k")
    with pytest.raises(StoreClosed):
        h.store.set("k", {})
