"""The replay cursor, ``<journal>.cursor``: how far a replay has applied the journal.

Fixed layout, written in place (``pwrite``), so that recording progress never needs a
new disk block once the file exists: a full disk cannot stop a replay from moving on::

    bytes   0-95   slot A   c2 <generation tag> <sequence> <journal offset> #<crc32>
    bytes  96-191  slot B   (the same; written alternately with A)
    bytes 192-...  notes    lost "k" #<crc32>   (one a line; then NUL bytes or the end)

A slot says "every journal record that ends at or before ``offset`` is done" (applied,
dropped as a conflict, or set aside), for the journal generation whose tag it carries.
Slots alternate and carry a sequence number: a write torn by a crash damages one slot,
and the other still holds the previous position, so the replay re-applies at most the
record whose slot write was lost. A slot or note whose CRC-32 does not verify is
ignored and reported (`Event.JOURNAL_CURSOR_DAMAGED`): the worst case is re-applying
records, which every record allows.

A note ``lost "k"`` was written by sessionkit 0.x up to the ordered replay, when a create
that lost the conflict rule also dropped its key's later records. Notes are still read
(and CRC-checked), and ignored: a lost create now drops only itself. A new generation
blanks them in place; the first 4 KiB are allocated when the cursor is created.

Cursors of format 1 (``generation <g>`` then one op id a line) are read once and
converted. This module is the format; `Journal` owns the file and its lock.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from pathlib import Path

import attrs

__all__ = [
    "LOST_START",
    "NOTES_PREALLOCATED",
    "SLOT_SIZE",
    "CursorState",
    "cursor_path",
    "generation_tag",
    "lost_note",
    "parse_cursor",
    "slot_bytes",
]

SLOT_SIZE = 96
LOST_START = 2 * SLOT_SIZE
NOTES_PREALLOCATED = 4096
_SLOT = re.compile(rb"c2 ([0-9a-f]{32}) ([0-9]{12}) ([0-9]{16}) #([0-9a-f]{8}) *\n\Z")
_NOTE = re.compile(rb"(lost .*) #([0-9a-f]{8})\Z")


def cursor_path(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".cursor")


def generation_tag(generation: str) -> str:
    """32 hex digits naming a journal generation (its id when it is one already)."""
    if re.fullmatch(r"[0-9a-f]{32}", generation):
        return generation
    return hashlib.sha256(generation.encode()).hexdigest()[:32]


def slot_bytes(tag: str, sequence: int, offset: int) -> bytes:
    body = b"c2 %s %012d %016d" % (tag.encode(), sequence, offset)
    line = body + b" #%08x" % zlib.crc32(body)
    return line.ljust(SLOT_SIZE - 1) + b"\n"


def lost_note(key: str) -> bytes:
    body = ("lost " + json.dumps(key, ensure_ascii=True)).encode()
    return body + b" #%08x\n" % zlib.crc32(body)


@attrs.define
class CursorState:
    """What a cursor file says, for one generation."""

    #: Journal offset up to which every record is done (0: none).
    offset: int = 0
    #: The sequence number of the newest valid slot (the next write uses +1).
    sequence: int = 0
    #: Keys whose journaled create lost, in this generation.
    lost: set[str] = attrs.Factory(set)
    #: Where the next note goes.
    notes_end: int = LOST_START
    #: Damaged slots or notes found (reported by the journal).
    damaged: list[str] = attrs.Factory(list)
    #: A format-1 cursor: the op ids it lists as applied (converted by the journal).
    legacy_applied: set[str] | None = None


def _parse_slot(data: bytes) -> tuple[str, int, int] | None:
    match = _SLOT.match(data)
    if match is None:
        return None
    body = data[: data.index(b" #")]
    if int(match.group(4), 16) != zlib.crc32(body):
        return None
    return match.group(1).decode(), int(match.group(2)), int(match.group(3))


def parse_cursor(data: bytes, tag: str, generation: str) -> CursorState:
    """The state a cursor file's bytes give for the generation ``tag``.

    A cursor of another generation (or empty, or entirely damaged) gives a fresh state.
    """
    if data.startswith(b"generation "):
        return _parse_legacy(data, generation)
    state = CursorState()
    slots: list[tuple[str, int, int]] = []
    for index in range(2):
        raw = data[index * SLOT_SIZE : (index + 1) * SLOT_SIZE]
        if not raw.strip(b"\0"):
            continue
        slot = _parse_slot(raw)
        if slot is None:
            state.damaged.append(f"slot {'AB'[index]} of the cursor does not verify")
        else:
            slots.append(slot)
    if slots:
        state.sequence = max(slot[1] for slot in slots)
    ours = [slot for slot in slots if slot[0] == tag]
    if not ours:
        state.damaged.clear()  # another generation's cursor: nothing of ours was lost
        return state
    newest = max(ours, key=lambda slot: slot[1])
    state.offset = newest[2]
    position = LOST_START
    notes = data[LOST_START:]
    end = notes.find(b"\0")
    notes = notes if end < 0 else notes[:end]
    for line in notes.split(b"\n")[:-1]:
        position += len(line) + 1
        match = _NOTE.match(line)
        if match is None or int(match.group(2), 16) != zlib.crc32(match.group(1)):
            state.damaged.append("a cursor note does not verify")
            continue
        try:
            key = json.loads(match.group(1)[len(b"lost ") :])
        except ValueError:
            key = None
        if isinstance(key, str):
            state.lost.add(key)
        else:
            state.damaged.append("a cursor note does not name a key")
    state.notes_end = position
    return state


def _parse_legacy(data: bytes, generation: str) -> CursorState:
    lines = data.split(b"\n")
    complete = lines[:-1]  # a last line without newline was torn: that record reapplies
    state = CursorState()
    if not (complete and complete[0].decode(errors="replace") == f"generation {generation}"):
        return state
    applied: set[str] = set()
    for line in complete[1:]:
        op_id, _, lost = line.decode(errors="replace").partition(" lost ")
        applied.add(op_id)
        if lost:
            try:
                key = json.loads(lost)
            except ValueError:
                key = None
            if isinstance(key, str):
                state.lost.add(key)
            else:
                state.damaged.append("a format-1 cursor line does not parse")
    state.legacy_applied = applied
    return state
