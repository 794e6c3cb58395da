"""Where sessions live in the Redis keyspace: ``prefix + key``, and how SCAN finds them."""

from __future__ import annotations

import re

from ...keys import MAX_KEY_LENGTH

__all__ = ["DEFAULT_PREFIX", "match_pattern", "store_key"]

#: Keys are ``prefix + key``; the default keeps sessionkit's keys apart from the app's.
DEFAULT_PREFIX = "sessionkit:"

#: A Redis key name (after the prefix) that is a valid store key: scan skips the others.
_STORE_KEY = re.compile(rb"[!-~]{1,%d}" % MAX_KEY_LENGTH)

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*?[]"})


def store_key(name: bytes, start: int) -> str | None:
    """The store key in the Redis key ``name`` (prefix ends at ``start``), or None.

    Another program may write keys under our prefix that are no store key (non-ASCII, a
    space, too long): ``scan``, ``count`` and ``purge`` skip those.
    """
    if _STORE_KEY.fullmatch(name, start):
        return name[start:].decode("ascii")
    return None


def match_pattern(prefix: str) -> str:
    """A SCAN MATCH pattern for keys starting with ``prefix``, taken literally."""
    return prefix.translate(_GLOB_SPECIAL) + "*"
