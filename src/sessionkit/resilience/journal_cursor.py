"""The replay cursor, ``<journal>.cursor``: which records a replay has applied.

One line each, ``\\n``-terminated::

    generation 5c0e...          (the journal generation it belongs to)
    9f1c...                     (a record the primary acknowledged)
    a0b1... lost "k"            (an acknowledged create that lost the conflict rule: the
                                 key's later records in this generation are dropped)

A cursor line is one ``write()``; with ``fsync=True`` it is fsynced before the replay
applies the next record, so even a power loss re-applies at most the one record whose
line was not yet durable. This module is the format; `Journal` owns the
file and its lock.
"""

from __future__ import annotations

import json
from pathlib import Path

from .journal_format import Record

__all__ = ["applied_line", "cursor_path", "generation_line", "read_cursor"]


def cursor_path(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".cursor")


def generation_line(generation: str) -> bytes:
    return f"generation {generation}\n".encode()


def applied_line(record: Record, *, lost: bool) -> bytes:
    """The line that marks ``record`` applied (and, with ``lost``, its key dropped)."""
    line = record.op_id
    if lost:
        line += " lost " + json.dumps(record.key, ensure_ascii=True)
    return line.encode() + b"\n"


def read_cursor(data: bytes, generation: str) -> tuple[set[str], set[str]] | None:
    """(applied op ids, lost keys) from a cursor file's bytes, or None when the cursor
    belongs to another generation (or is empty): the replay then starts it afresh."""
    lines = data.split(b"\n") if data else []
    complete = lines[:-1]  # a last line without newline was torn: that record reapplies
    if not (complete and complete[0].decode(errors="replace") == f"generation {generation}"):
        return None
    applied: set[str] = set()
    lost_keys: set[str] = set()
    for line in complete[1:]:
        op_id, _, lost = line.decode(errors="replace").partition(" lost ")
        applied.add(op_id)
        if lost:
            lost_keys.add(_cursor_key(lost))
    return applied, lost_keys


def _cursor_key(text: str) -> str:
    key = json.loads(text)  # written by json.dumps: a damaged line is a bug, not data
    if not isinstance(key, str):
        raise ValueError(f"bad cursor line: lost {text!r}")
    return key
