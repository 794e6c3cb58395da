"""Read-modify-write logic that is not I/O, shared by every store."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .codec import JSONCodec
from .entry import UpdateFunction
from .errors import SerializationError, SessionNotFound

__all__ = ["apply_update", "merge_values", "starting_value"]


def starting_value(
    key: str, current: dict[str, Any] | None, default: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The value ``fn`` starts from: the stored one, else a deep copy of ``default``."""
    if current is not None:
        return current
    if default is None:
        raise SessionNotFound(key)
    return copy.deepcopy(dict(default))


def apply_update(
    codec: JSONCodec, key: str, fn: UpdateFunction, start: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    """Run ``fn`` and encode its result. ``fn``'s own exceptions propagate unchanged."""
    result = fn(start)
    if not isinstance(result, Mapping):
        raise SerializationError(
            f"the update function for key {key!r} returned {type(result).__name__}, "
            "not a mapping (did it forget to return the value?)"
        )
    # Hand back what a reader will see (tuples as lists, a private copy), not fn's object.
    data, value = codec.encode_and_copy(result)
    return value, data


def merge_values(current: dict[str, Any] | None, patch: dict[str, Any]) -> dict[str, Any]:
    """Top-level merge: the fields of ``patch`` replace those of ``current``."""
    return patch.copy() if current is None else {**current, **patch}
