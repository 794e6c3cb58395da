"""The inputs the store contract tries, shared by its sync and async halves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..entry import MAX_TTL

__all__ = [
    "BAD_ITEM_COLLECTIONS",
    "BAD_KEYS",
    "BAD_KEY_COLLECTIONS",
    "BAD_TTLS",
    "BAD_VALUES",
    "ORIGINAL",
    "PAST_SHORT",
    "SHORT",
]

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
BAD_TTLS: list[Any] = [
    0,
    -1,
    float("nan"),
    float("inf"),
    "10",
    "junk",
    True,
    [60],
    timedelta(0),
    timedelta.min,
    # Beyond MAX_TTL (ten years): more than some backend can keep, so no store keeps it.
    MAX_TTL + 1,
    1e13,
    10**30,
    timedelta.max,
]
#: What ``get_many`` refuses: it takes a collection of keys.
BAD_KEY_COLLECTIONS: list[Any] = [
    None,
    "abc",  # a str: it would iterate as the keys "a", "b", "c"
    b"abc",
    42,
]
#: What ``set_many`` refuses: it takes a mapping of keys to values.
BAD_ITEM_COLLECTIONS: list[Any] = [
    None,
    [("k", {"new": 1})],  # a list of pairs is not a mapping
    [{"new": 1}],
    "k",
    42,
]
ORIGINAL = {"keep": "me", "n": 1}
