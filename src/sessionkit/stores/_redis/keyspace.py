"""Where sessions live in the Redis keyspace: ``prefix + key``, and how SCAN finds them;
where a deleted key's tombstone lives."""

from __future__ import annotations

import binascii
import re

from ...keys import MAX_KEY_LENGTH

__all__ = ["DEFAULT_PREFIX", "match_pattern", "store_key", "tombstone_name"]

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


# A tombstone's name is _TOMBSTONE + the key's Redis name. _TOMBSTONE starts with a byte
# that is not visible ASCII, so no store prefix (and no SCAN of one) covers it, and scan,
# count and purge skip it even with prefix "" (it is no store key). Its last two bytes are
# the CRC16 of the bytes before them, which makes the CRC16 of the whole prefix 0: CRC16
# (Redis Cluster's hash, XMODEM) of _TOMBSTONE + name is then the CRC16 of name. With no
# brace in _TOMBSTONE, name's hash tag (if any) is the tombstone's too. Either way the
# tombstone hashes to the key's slot, so one script can write both in a cluster.
_MARK = b"\xffsk-tomb:"
_TOMBSTONE = _MARK + binascii.crc_hqx(_MARK, 0).to_bytes(2, "big")
assert binascii.crc_hqx(_TOMBSTONE, 0) == 0
assert b"{" not in _TOMBSTONE
assert b"}" not in _TOMBSTONE


def tombstone_name(name: str) -> bytes:
    """The Redis name of the tombstone of the key stored as ``name`` (same hash slot)."""
    return _TOMBSTONE + name.encode()
