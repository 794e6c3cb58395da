# Generated from src/sessionkit/testing/_async/data_cases.py by scripts/unasync.py: edit that file, not this one.
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
from ..writers import RunWriters, increment
from .harness import ContractHarness, assert_unchanged

# Concurrent writers of one key in the atomicity tests, and the writes each makes.
WRITERS = 4
WRITES = 50


class DataCases:
    """Reads and writes of whole values and their versions; atomic update and merge."""

    # -- get / set ----------------------------------------------------------------------------

    def test_get_of_a_missing_key_is_none(self, harness: ContractHarness) -> None:
        assert harness.store.get("missing") is None
        assert harness.store.get_entry("missing") is None

    def test_set_then_get_round_trips_json_values(
        self, harness: ContractHarness
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
        harness.store.set("k", value)
        expected = {**value, "tuple": ["a", "b"]}  # tuples read back as lists, like JSON
        assert harness.store.get("k") == expected

    def test_values_are_copies_not_shared(self, harness: ContractHarness) -> None:
        value = {"items": [1]}
        harness.store.set("k", value)
        value["items"].append(2)  # mutate what was passed in
        got = harness.store.get("k")
        assert got == {"items": [1]}
        assert got is not None
        got["items"].append(3)  # mutate what came out
        assert harness.store.get("k") == {"items": [1]}

    def test_set_replaces_the_whole_value(self, harness: ContractHarness) -> None:
        harness.store.set("k", {"a": 1, "b": 2})
        harness.store.set("k", {"c": 3})
        assert harness.store.get("k") == {"c": 3}

    def test_versions_start_at_one_and_grow_with_each_write(
        self, harness: ContractHarness
    ) -> None:
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

    def test_a_deleted_key_starts_again_at_version_one(
        self, harness: ContractHarness
    ) -> None:
        harness.store.set("k", {})
        harness.store.set("k", {})
        harness.store.delete("k")
        harness.store.set("k", {})
        entry = harness.store.get_entry("k")
        assert entry is not None
        assert entry.version == 1

    # -- create -------------------------------------------------------------------------------

    def test_create_writes_only_when_absent(self, harness: ContractHarness) -> None:
        assert harness.store.create("k", {"first": True}) is True
        assert harness.store.create("k", {"second": True}) is False
        assert harness.store.get("k") == {"first": True}

    def test_create_over_an_expired_entry_writes(self, harness: ContractHarness) -> None:
        harness.store.set("k", {"old": True}, ttl=SHORT)
        harness.advance(PAST_SHORT)
        assert harness.store.create("k", {"new": True}) is True
        assert harness.store.get("k") == {"new": True}

    # -- update -------------------------------------------------------------------------------

    def test_update_applies_the_function_and_returns_the_new_value(
        self,
        harness: ContractHarness,
    ) -> None:
        harness.store.set("k", {"n": 1, "other": "x"})
        result = harness.store.update("k", lambda v: {**v, "n": v["n"] + 1})
        assert result == {"n": 2, "other": "x"}
        assert harness.store.get("k") == result

    def test_update_of_a_missing_key_without_default_raises(
        self, harness: ContractHarness
    ) -> None:
        with pytest.raises(SessionNotFound):
            harness.store.update("missing", lambda v: v)
        assert harness.store.exists("missing") is False

    def test_update_of_a_missing_key_starts_from_a_copy_of_default(
        self,
        harness: ContractHarness,
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
        self,
        harness: ContractHarness,
    ) -> None:
        harness.store.set("k", ORIGINAL)

        class Boom(Exception):
            pass

        def explode(v: dict[str, Any]) -> dict[str, Any]:
            raise Boom("the app's own error")

        with pytest.raises(Boom):
            harness.store.update("k", explode)
        assert_unchanged(harness, "k", version=1)

    @pytest.mark.parametrize(
        "result", [None, ["list"], "str", {"bad": {1, 2}}, {"n": float("nan")}]
    )
    def test_update_whose_function_returns_a_bad_value_writes_nothing(
        self, harness: ContractHarness, result: Any
    ) -> None:
        harness.store.set("k", ORIGINAL)
        with pytest.raises(SerializationError):
            harness.store.update("k", lambda v: result)
        assert_unchanged(harness, "k", version=1)

    def test_update_keeps_the_expiry_unless_given_a_ttl(
        self, harness: ContractHarness
    ) -> None:
        harness.store.set("k", {"n": 0}, ttl=SHORT)
        harness.store.update("k", lambda v: {"n": 1})
        remaining = harness.store.ttl("k")
        assert remaining is not None
        assert 0 < remaining <= SHORT
        harness.store.update("k", lambda v: {"n": 2}, ttl=3600)
        remaining = harness.store.ttl("k")
        assert remaining is not None
        assert 3000 < remaining <= 3600

    def test_update_conflict_error_is_a_session_kit_error(
        self, harness: ContractHarness
    ) -> None:
        # Retries are exhausted only under contention (see the concurrency tests); here we
        # pin the type users catch.
        assert issubclass(ConflictError, Exception)
        harness.store.set("k", {"n": 0})
        assert harness.store.update("k", lambda v: {"n": v["n"] + 1}) == {"n": 1}

    def test_concurrent_updates_of_one_key_lose_nothing(
        self, harness: ContractHarness
    ) -> None:
        # Tried: WRITERS concurrent writers (tasks; threads forced to interleave in the
        # sync contract) each incrementing one counter WRITES times. Any update that read a
        # value another had already replaced and wrote over it would show as a lost count.
        store = harness.store
        store.set("counter", {"n": 0})

        def writer() -> None:
            for _ in range(WRITES):
                store.update("counter", increment)

        RunWriters(WRITERS, writer)
        assert store.get("counter") == {"n": WRITERS * WRITES}
        entry = store.get_entry("counter")
        assert entry is not None
        assert entry.version == 1 + WRITERS * WRITES

    def test_concurrent_merges_of_distinct_fields_lose_nothing(
        self, harness: ContractHarness
    ) -> None:
        store = harness.store
        fields = iter(range(WRITERS))

        def writer() -> None:
            field = f"w{next(fields)}"
            for n in range(WRITES):
                store.merge("shared", {field: n})

        RunWriters(WRITERS, writer)
        assert store.get("shared") == {f"w{i}": WRITES - 1 for i in range(WRITERS)}

    # -- merge --------------------------------------------------------------------------------

    def test_merge_sets_top_level_fields(self, harness: ContractHarness) -> None:
        harness.store.set("k", {"a": 1, "nested": {"x": 1, "y": 2}})
        result = harness.store.merge("k", {"b": 2, "nested": {"z": 3}})
        # Top level only: a nested mapping in the patch replaces the stored one whole.
        assert result == {"a": 1, "b": 2, "nested": {"z": 3}}
        assert harness.store.get("k") == result

    def test_merge_creates_a_missing_entry(self, harness: ContractHarness) -> None:
        assert harness.store.merge("k", {"a": 1}) == {"a": 1}
        entry = harness.store.get_entry("k")
        assert entry is not None
        assert (entry.value, entry.version) == ({"a": 1}, 1)

    def test_merge_round_trips_every_json_type(self, harness: ContractHarness) -> None:
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

    def test_merge_keeps_the_expiry_unless_given_a_ttl(
        self, harness: ContractHarness
    ) -> None:
        harness.store.set("k", {"n": 0}, ttl=SHORT)
        harness.store.merge("k", {"m": 1})
        remaining = harness.store.ttl("k")
        assert remaining is not None
        assert 0 < remaining <= SHORT
        harness.advance(PAST_SHORT)
        assert harness.store.get("k") is None

    @pytest.mark.parametrize("patch", BAD_VALUES)
    def test_merge_of_a_bad_patch_writes_nothing(
        self, harness: ContractHarness, patch: Any
    ) -> None:
        harness.store.set("k", ORIGINAL)
        with pytest.raises(SerializationError):
            harness.store.merge("k", patch)
        assert_unchanged(harness, "k", version=1)

    # -- delete / exists ------------------------------------------------------------------------

    def test_delete_and_exists(self, harness: ContractHarness) -> None:
        harness.store.set("k", {})
        assert harness.store.exists("k") is True
        assert harness.store.delete("k") is True
        assert harness.store.exists("k") is False
        assert harness.store.delete("k") is False
        assert harness.store.get("k") is None
