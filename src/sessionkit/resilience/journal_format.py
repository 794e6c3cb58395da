"""The fallback journal's record format: one JSON object per line, then its checksum.

File format (2), UTF-8, ``\\n``-terminated lines, each ``<json> #<crc32>[ <hmac>]``::

    {"sessionkit_journal":2,"generation":"5c0e..."} #1a2b3c4d              (header)
    {"id":"9f1c...","at":1700000000.5,"op":"set","key":"k","value":{...},"expires_at":null} #...
    {"id":"...","at":...,"op":"merge","key":"k","value":{patch},"keep_expiry":true,...} #...
    {"id":"...","at":...,"op":"delete","key":"k"} #...

``<crc32>`` is the CRC-32 of the JSON bytes, 8 lowercase hex digits; with a
``journal_key`` it is followed by ``<hmac>``, the 64-hex-digit HMAC-SHA256 under that key
of ``<generation>\\n<json>`` (the header's is over ``\\n<json>``), so that a record can
be neither forged nor copied from another journal generation. A line whose checksum (or,
with a key, whose HMAC) does not verify is damage: never replayed, set aside.

Format 1 (sessionkit before checksums) is the same without the trailer; such a journal
is read (its lines unchecked, since they carry nothing to check) and replayed, and the
next generation after its truncation is format 2. With a ``journal_key``, format-1 lines
cannot be authenticated and are set aside as damage instead.

``op`` is one of set, create, merge, delete, touch, set_many (``items`` instead of
``key``/``value``). ``expires_at`` is an absolute instant (seconds since the epoch) or
null for never; ``keep_expiry`` marks a merge that keeps the entry's expiry. A journal
records *effects*, never functions: an ``update`` made during an outage is journaled as
the ``set`` of its result, so every record gives the same store when applied twice in a
row. That is what makes a replay safe to restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
import zlib
from typing import Any

import attrs

__all__ = [
    "FORMAT",
    "HEADER_FIELD",
    "LEGACY_FORMAT",
    "Damage",
    "Record",
    "ReplayReport",
    "compact_json",
    "parse_record",
    "seal_line",
    "split_line",
]

#: The format number in the header line.
FORMAT = 2
#: The format before checksums: read (and replayed), never written.
LEGACY_FORMAT = 1
#: The header line's marker field.
HEADER_FIELD = "sessionkit_journal"
_OPS = frozenset({"set", "create", "merge", "delete", "touch", "set_many"})
#: Op ids are uuid4 hex when sessionkit writes them; any id without whitespace is read,
#: so that a cursor line (``<id>`` or ``<id> lost <key>``) stays unambiguous.
_OP_ID = re.compile(r"[\w.:-]{1,128}", re.ASCII)


def compact_json(obj: object) -> bytes:
    """One line's JSON: compact, UTF-8, no NaN."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


_TRAILER = re.compile(rb" #([0-9a-f]{8})(?: ([0-9a-f]{64}))?\Z")


def _mac(key: bytes, generation: str, body: bytes) -> str:
    return hmac.new(key, generation.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def seal_line(body: bytes, *, key: bytes | None, generation: str) -> bytes:
    """``body`` (one JSON object, no newline) with its checksum trailer and newline."""
    trailer = b" #%08x" % zlib.crc32(body)
    if key is not None:
        trailer += b" " + _mac(key, generation, body).encode()
    return body + trailer + b"\n"


def split_line(
    line: bytes, *, key: bytes | None, generation: str, legacy: bool
) -> tuple[bytes | None, str]:
    """The JSON bytes of a line whose trailer verifies, else ``(None, why not)``.

    ``legacy``: the journal is format 1, whose lines carry no trailer (accepted without
    a key). The JSON itself is not parsed here.
    """
    match = _TRAILER.search(line)
    if match is None:
        if legacy and key is None:
            return line, ""
        return None, "no checksum" if not legacy else "not authenticated (format 1 journal)"
    body = line[: match.start()]
    if int(match.group(1), 16) != zlib.crc32(body):
        return None, "checksum mismatch"
    if key is not None:
        mac = match.group(2)
        if mac is None:
            return None, "not authenticated (no HMAC)"
        if not hmac.compare_digest(mac.decode(), _mac(key, generation, body)):
            return None, "HMAC mismatch (forged, damaged, or another journal_key)"
    return body, ""


@attrs.frozen
class Record:
    """One journaled write."""

    op_id: str
    op: str
    key: str  # "" for set_many
    at: float
    value: dict[str, Any] | None = None  # set/create: the value; merge: the patch
    items: dict[str, dict[str, Any]] | None = None  # set_many
    expires_at: float | None = None
    keep_expiry: bool = False

    @classmethod
    def new(cls, op: str, key: str, at: float, **fields: Any) -> Record:
        return cls(uuid.uuid4().hex, op, key, at, **fields)

    def touched_keys(self) -> list[str]:
        return list(self.items) if self.items is not None else [self.key]

    def to_line(self) -> bytes:
        """The record's JSON and a newline (no checksum: `seal_line` adds it)."""
        return self.to_json() + b"\n"

    def to_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": self.op_id, "at": self.at, "op": self.op}
        if self.op == "set_many":
            obj["items"] = self.items
        else:
            obj["key"] = self.key
        if self.op in ("set", "create", "merge"):
            obj["value"] = self.value
        if self.op != "delete":
            obj["expires_at"] = self.expires_at
        if self.keep_expiry:
            obj["keep_expiry"] = True
        return obj

    def to_json(self) -> bytes:
        return compact_json(self.to_obj())


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def parse_record(obj: object) -> Record:
    """A `Record` from a decoded journal line; ``ValueError`` if it is not one."""
    if not isinstance(obj, dict):
        raise ValueError("a record is a JSON object")
    op, op_id = obj.get("op"), obj.get("id")
    if op not in _OPS:
        raise ValueError(f"unknown operation {op!r}")
    if not isinstance(op_id, str) or not _OP_ID.fullmatch(op_id):
        raise ValueError(f"bad operation id {op_id!r}")
    expires = obj.get("expires_at")
    fields: dict[str, Any] = {
        "expires_at": None if expires is None else _number(expires),
        "keep_expiry": obj.get("keep_expiry") is True,
    }
    if op == "set_many":
        items = obj.get("items")
        if not isinstance(items, dict) or not all(isinstance(v, dict) for v in items.values()):
            raise ValueError("set_many needs an object of objects")
        fields["items"] = items
        key: object = ""
    else:
        key = obj.get("key")
    if not isinstance(key, str):
        raise ValueError("a record needs a key")
    if op in ("set", "create", "merge"):
        value = obj.get("value")
        if not isinstance(value, dict):
            raise ValueError(f"{op} needs a value object")
        fields["value"] = value
    return Record(op_id, op, key, _number(obj.get("at")), **fields)


@attrs.frozen
class Damage:
    """A journal line that could not be read: a torn append (crash mid-write) or garbage."""

    offset: int
    length: int
    reason: str


@attrs.frozen
class ReplayReport:
    """What one replay did."""

    #: Records applied to the primary.
    applied: int = 0
    #: Journaled creates dropped by the conflict rule: the primary already held their
    #: key with another value (first writer wins).
    conflicts: int = 0
    #: Records set aside in the dead-letter file: the primary refused them (say, over its
    #: payload limit), or they were older than ``max_replay_age``; not retried by themselves.
    rejected: int = 0
    #: Unreadable lines found in the journal, skipped.
    damaged: tuple[Damage, ...] = ()
    #: Whether the journal was fully replayed and truncated. False when the primary
    #: failed again, or when another replay (task, thread or process) holds the cursor.
    completed: bool = False
    #: True when the journal could not be emptied although the primary may well answer:
    #: another replay holds the cursor, or writers kept appending faster than it applied,
    #: or a bounded step (a call's, the background replayer's) left records for later.
    busy: bool = False
    #: Records not applied because the primary held a newer write or delete of their key
    #: (last acknowledged write wins, by stamp; see docs/resilience.md, "Replay order").
    superseded: int = 0
