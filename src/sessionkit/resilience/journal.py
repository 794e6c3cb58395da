"""The fallback journal: an append-only JSONL file of the writes a primary store missed.

Everything here is free of store I/O, so the sync and the async
`WithFallback` share it. This module is the file (safety checks, lock, bounds, append,
fsync, checksums, torn-line detection, truncation), its replay bookkeeping and its
dead letters (``<journal>.dead``: records set aside); the record format is in
`.journal_format`, the cursor's in `.journal_cursor`, and the `Overlay` (this process's
view of the file, which answers reads during an outage) in `.outage`.

Concurrency: every read and append holds ``flock(LOCK_EX)`` on the journal file (and a
thread lock, because flock does not exclude threads sharing a descriptor), so processes
sharing one path interleave whole records. A replay holds a second lock, on the cursor
file ``<journal>.cursor``, taken without waiting: one replayer at a time, and everyone
else keeps journaling meanwhile. No lock is ever held across an ``await``.

Safety: every file is opened with ``O_NOFOLLOW`` and created ``0600``; an existing file
must be a regular file owned by this process's user with no group/other permission, in
a directory owned by this user (or root) that others cannot write to unless it is
sticky; otherwise `JournalUnsafe`. Every line carries a CRC-32 (and, with
``journal_key``, an HMAC-SHA256); a line that does not verify is never replayed: it is
reported and, when the replay empties the journal, set aside in the dead-letter file.

Durability: an append is acknowledged only after its ``write`` and (``fsync=True``) its
``fsync`` returned; if either fails the file is cut back to where it was and the call
raises (`JournalFull` for a full disk, else `JournalUnavailable`), so nothing that was
not acknowledged can be replayed later. The file I/O goes through `JournalIO`, which
tests replace to inject failures.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import errno
import fcntl
import gc
import json
import math
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import (
    ConfigurationError,
    InvalidTTL,
    JournalFull,
    JournalUnavailable,
    JournalUnsafe,
    StoreClosed,
    StoreUnavailable,
)
from ..keys import validate_key
from ..stamped import stamp_of
from .events import Emitter, Event
from .journal_cursor import (
    LOST_START,
    NOTES_PREALLOCATED,
    SLOT_SIZE,
    cursor_path,
    generation_tag,
    parse_cursor,
    slot_bytes,
)
from .journal_format import (
    FORMAT,
    HEADER_FIELD,
    LEGACY_FORMAT,
    Damage,
    Record,
    compact_json,
    parse_record,
    seal_line,
    split_line,
)
from .outage import Overlay

_loads: Callable[[bytes], Any]
try:  # the `fast` extra: parses journal records in about a fifth of the time
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "DeadLetter",
    "Journal",
    "JournalFill",
    "JournalIO",
    "dead_letter_path",
    "read_dead_letters",
]

_T = TypeVar("_T")
#: Default bounds: far above what an outage of minutes produces for a typical app, far
#: below what would exhaust the memory of the process that holds the journal's view.
DEFAULT_MAX_RECORDS = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_APPEND_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
_CURSOR_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
#: Appended after a torn fragment (a line that lost its end) by the next append: the
#: fragment can never parse as a record afterwards, even one that lost only its newline,
#: so a torn record is reported once and never replayed, whichever process looks.
_SEAL = b" <torn>\n"
_CLOSED_FD = -1
#: Without a local write, how often `pending` looks at the file for another process's
#: records (seconds); in between the healthy path makes no system call.
_RECHECK_INTERVAL = 1.0
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@attrs.define
class JournalIO:
    """The system calls the journal writes with; tests replace them to inject faults."""

    write: Callable[[int, bytes], int] = os.write
    pwrite: Callable[[int, bytes, int], int] = os.pwrite
    fsync: Callable[[int], None] = os.fsync


@attrs.frozen
class JournalFill:
    """How full the journal is: the file as it stands (applied records included until a
    replay truncates it)."""

    records: int
    bytes: int
    max_records: int
    max_bytes: int

    @property
    def ratio(self) -> float:
        """The fuller of the two, 0.0 (empty) to 1.0 (full)."""
        return max(self.records / self.max_records, self.bytes / self.max_bytes)


@attrs.frozen
class DeadLetter:
    """A record (or an unreadable line) set aside by a replay, with the reason.

    ``record`` is None for a damaged line, whose bytes are in ``raw``.
    """

    id: str
    reason: str
    set_aside_at: float
    record: Record | None = None
    raw: bytes | None = None

    def to_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": self.id, "reason": self.reason, "at": self.set_aside_at}
        if self.record is not None:
            obj["record"] = self.record.to_obj()
        if self.raw is not None:
            obj["raw"] = base64.b64encode(self.raw).decode()
        return obj


def dead_letter_path(journal_path: str | os.PathLike[str]) -> Path:
    """``<journal>.dead``: where a replay sets records aside."""
    path = Path(journal_path)
    return path.with_name(path.name + ".dead")


_DEAD_GENERATION = "dead-letters"


def _parse_dead(line: bytes, key: bytes | None) -> DeadLetter | None:
    body, _ = split_line(line, key=key, generation=_DEAD_GENERATION, legacy=False)
    if body is None:
        return None
    try:
        obj = json.loads(body)
        record = parse_record(obj["record"]) if "record" in obj else None
        raw = base64.b64decode(obj["raw"]) if "raw" in obj else None
        return DeadLetter(str(obj["id"]), str(obj["reason"]), float(obj["at"]), record, raw)
    except (ValueError, KeyError, TypeError):
        return None


def _read_dead(fd: int, key: bytes | None) -> tuple[list[DeadLetter], int]:
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    letters: list[DeadLetter] = []
    damaged = 0
    for line in data.split(b"\n")[:-1]:
        letter = _parse_dead(line, key)
        if letter is None:
            damaged += 1
        else:
            letters.append(letter)
    return letters, damaged + bool(data and not data.endswith(b"\n"))


def read_dead_letters(
    journal_path: str | os.PathLike[str], *, journal_key: bytes | str | None = None
) -> list[DeadLetter]:
    """The records set aside next to the journal at ``journal_path`` (none if no file).

    Read-only, and safe to call while the application runs. Lines of the dead-letter file
    that do not verify are left out.
    """
    path = dead_letter_path(journal_path)
    if not path.exists():
        return []
    fd = _open_private(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        return _read_dead(fd, _key_bytes(journal_key))[0]
    finally:
        os.close(fd)


def _key_bytes(key: bytes | str | None) -> bytes | None:
    if key is None:
        return None
    data = key.encode() if isinstance(key, str) else bytes(key)
    if len(data) < 16:
        raise ConfigurationError("journal_key must be at least 16 bytes")
    return data


def _check_directory(directory: Path) -> None:
    try:
        info = os.stat(directory)
    except OSError as error:
        raise ConfigurationError(
            f"cannot use the directory {str(directory)!r} of the fallback journal: {error}"
        ) from error
    if info.st_uid not in (os.geteuid(), 0):
        raise JournalUnsafe(
            str(directory),
            f"the directory is owned by uid {info.st_uid}, who can replace the journal",
            "put the journal in a directory owned by this user",
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        raise JournalUnsafe(
            str(directory),
            f"the directory is writable by group or others (mode {stat.S_IMODE(info.st_mode):o})"
            " without the sticky bit",
            f"chmod go-w {str(directory)!r}, or use a private directory",
        )


def _open_private(path: Path, flags: int) -> int:
    """Open ``path`` (no symlink followed), creating it 0600, and check the result."""
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise JournalUnsafe(
                str(path), "it is a symbolic link", "point journal_path at a regular file"
            ) from error
        raise ConfigurationError(
            f"cannot open the fallback journal file {str(path)!r}: {error}"
        ) from error
    try:
        info = os.fstat(fd)
        problem, fix = "", ""
        if not stat.S_ISREG(info.st_mode):
            problem, fix = "it is not a regular file", "remove it or choose another path"
        elif info.st_uid != os.geteuid():
            problem = f"it is owned by uid {info.st_uid}, not by this process (uid {os.geteuid()})"
            fix = "remove it (its records cannot be trusted) or chown it to this user"
        elif info.st_mode & 0o077:
            problem = (
                f"its mode is {stat.S_IMODE(info.st_mode):o}: group or others may read or "
                "write session data"
            )
            fix = f"chmod 600 {str(path)!r} after checking its content"
        elif info.st_nlink > 1:
            problem, fix = "it has other hard links", "remove the other links"
        if problem:
            raise JournalUnsafe(str(path), problem, fix)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Journal:
    """The journal file at ``path`` and this process's view of it.

    ``fsync=True`` (the default) fsyncs the file after every append, so an acknowledged
    write survives a power loss, and fsyncs each replay cursor write before the next
    record is applied; ``fsync=False`` still writes each record and each cursor slot to
    the kernel with one ``write()`` (it survives the process dying, not the machine).

    ``max_records`` and ``max_bytes`` bound the file; an append beyond either raises
    `JournalFull` and writes nothing. ``journal_key`` (16 bytes or more) adds an HMAC to
    every line and makes lines without a valid one damage.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = True,
        default_ttl: float | None = None,
        emitter: Emitter | None = None,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        journal_key: bytes | str | None = None,
        io: JournalIO | None = None,
    ) -> None:
        if max_records < 1 or max_bytes < 1024:
            raise ConfigurationError("max_records must be >= 1 and max_bytes >= 1024")
        self.path = Path(path)
        self.fsync = fsync
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.io = io or JournalIO()
        self._key = _key_bytes(journal_key)
        self._default_ttl = default_ttl
        self._emitter = emitter or Emitter()
        _check_directory(self.path.parent.resolve())
        self._fd = _open_private(self.path, _APPEND_FLAGS)
        if fsync:  # make the new file's directory entry durable too
            _fsync_directory(self.path.parent)
        self._cursor_path = cursor_path(self.path)
        self._dead_path = dead_letter_path(self.path)
        self._cursor_fd: int | None = None
        try:  # check the companion files now, not at the first replay
            self._cursor_fd = _open_private(self._cursor_path, _CURSOR_FLAGS)
            if self._dead_path.exists() or self._dead_path.is_symlink():
                os.close(self._open_dead())
        except BaseException:
            os.close(self._fd)
            if self._cursor_fd is not None:
                os.close(self._cursor_fd)
            raise
        self._mutex = threading.Lock()
        self._replay_mutex = threading.Lock()
        self._unreported: list[Damage] = []
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._closed = False
        self._maybe_pending = True  # until the first look
        self._checked_at = -math.inf
        self._reset_view()

    def _reset_view(self) -> None:
        #: The first line as read (the header, or whatever damaged line stands there): a
        #: truncation refilled by another process starts with another one.
        self._header: bytes | None = None
        self.generation = ""
        self._legacy = False
        self._offset = 0
        self.records: list[Record] = []
        self._ends: list[int] = []  # each record's end offset in the file
        self._index: dict[str, int] = {}  # op id -> position in records
        self.overlay = Overlay(self._default_ttl)
        self._damage: dict[int, Damage] = {}
        self._latest_at = -math.inf  # the latest ``at`` of the records in view
        self._forget_cursor()

    def _forget_cursor(self) -> None:
        self._cursor_tag: str | None = None  # the generation the cursor state is for
        self._done = 0  # records[:_done] are done, durably
        self._done_extra: set[str] = set()  # done out of order (not durable)
        self._cursor_sequence = 0

    # -- the cheap check every operation makes ---------------------------------------------

    def pending(self) -> bool:
        """Whether the file may hold anything.

        No system call on the healthy path: the file is looked at (one ``fstat``) when a
        local write may have filled it, and otherwise at most every second, for records
        another process appended to a shared journal.
        """
        now = time.monotonic()
        if not self._maybe_pending and now - self._checked_at < _RECHECK_INTERVAL:
            return False
        self._checked_at = now
        try:
            size = os.fstat(self._fd).st_size
        except OSError as error:
            if self._closed:
                raise StoreClosed("the fallback journal is closed") from error
            raise StoreUnavailable(f"the fallback journal failed: {error}") from error
        self._maybe_pending = size > 0
        return self._maybe_pending

    def fill(self) -> JournalFill:
        """How full the journal is (one ``fstat``)."""
        with self._locked(), self._file_errors():
            self._refresh()
            return self.fill_level

    @property
    def fill_level(self) -> JournalFill:
        """`fill` as of this process's last look at the file (no system call)."""
        return JournalFill(len(self.records), self._offset, self.max_records, self.max_bytes)

    def _check_open(self) -> None:
        """Raise `StoreClosed` once `close` ran (``_mutex`` held)."""
        if self._closed:
            raise StoreClosed("the fallback journal is closed")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with self._mutex:
                self._check_open()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._report()  # after unlocking: a slow log sink must not stall writers

    @contextmanager
    def _file_errors(self) -> Iterator[None]:
        """A journal that cannot be read or written is `JournalUnavailable`."""
        try:
            yield
        except OSError as error:
            raise self._error(error) from error

    def _error(self, error: OSError, what: str = "I/O error") -> JournalUnavailable:
        if error.errno in _DISK_FULL:
            return JournalFull(str(self.path), "disk", f"the disk is full ({error})")
        return JournalUnavailable(str(self.path), f"{what}: {error}")

    def _report(self) -> None:
        with self._mutex:
            found, self._unreported = self._unreported, []
            events, self._events = self._events, []
        for damage in found:
            self._emitter.emit(
                Event.JOURNAL_TORN_RECORD,
                journal=str(self.path),
                offset=damage.offset,
                length=damage.length,
                reason=damage.reason,
            )
        for event, fields in events:
            self._emitter.emit(event, **fields)

    # -- reading --------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Fold in whatever was appended since the last look (lock held)."""
        size = os.fstat(self._fd).st_size
        header = self._header
        if self._offset and (
            size < self._offset
            or (header is not None and os.pread(self._fd, len(header), 0) != header)
        ):
            self._reset_view()  # truncated by a replay, maybe already refilled
        self._maybe_pending = size > 0
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        start = 0
        with _no_collection_for(len(data)):
            while True:
                end = data.find(b"\n", start)
                if end < 0:
                    break
                self._take_line(data[start:end], self._offset + start, self._offset + end + 1)
                start = end + 1
        if start < len(data):  # no newline: an append that died half-way (we hold the lock)
            # Never parsed, even if only the newline is missing: the next append seals it
            # (see _SEAL), so it stays damaged, and is never replayed, for every reader.
            self._note_damage(self._offset + start, len(data) - start, "torn: no end of line")
        self._offset += start

    def _take_header(self, line: bytes) -> bool:
        """Read line 0 as the header; False if it is not one (then it is damage)."""
        self._header = line  # whatever it is: a refill after a truncation differs
        body, _ = split_line(line, key=self._key, generation="", legacy=False)
        legacy = body is None
        try:
            obj = json.loads(line if body is None else body)
        except ValueError:
            return False
        if not isinstance(obj, dict) or HEADER_FIELD not in obj:
            return False
        version = obj.get(HEADER_FIELD)
        if version not in (FORMAT, LEGACY_FORMAT) or (version == FORMAT) == legacy:
            if version not in (FORMAT, LEGACY_FORMAT):
                raise ConfigurationError(
                    f"{str(self.path)!r} is a journal of format {version!r}; "
                    f"this sessionkit reads formats {LEGACY_FORMAT} and {FORMAT}"
                )
            return False  # a format-2 header whose checksum fails (or a keyless one)
        self._legacy = version == LEGACY_FORMAT
        self.generation = str(obj.get("generation", ""))
        return True

    def _take_line(self, line: bytes, offset: int, end: int) -> None:
        if offset == 0 and self._take_header(line):
            return  # (a damaged header is damage; the records carry their own checksums)
        body, why = split_line(line, key=self._key, generation=self.generation, legacy=self._legacy)
        if body is None:
            sealed = line.endswith(_SEAL[:-1])
            if sealed:
                why = "torn: ended by a later append"
            elif offset == 0:
                why = "damaged journal header"
            self._note_damage(offset, len(line), why)
            return
        try:
            obj = _loads(body)  # orjson's JSONDecodeError is a ValueError too
        except ValueError:
            self._note_damage(offset, len(line), "not valid JSON")
            return
        try:
            record = parse_record(obj)
        except ValueError as error:
            self._note_damage(offset, len(line), f"not a journal record ({error})")
            return
        self._index[record.op_id] = len(self.records)
        self.records.append(record)
        self._ends.append(end)
        self._latest_at = max(self._latest_at, record.at)
        self.overlay.apply(record)

    def _note_damage(self, offset: int, length: int, reason: str) -> None:
        if offset in self._damage:
            return
        self._damage[offset] = Damage(offset, length, reason)
        self._unreported.append(self._damage[offset])

    @property
    def damage(self) -> tuple[Damage, ...]:
        """Unreadable lines in the current journal, in file order."""
        return tuple(self._damage[offset] for offset in sorted(self._damage))

    def read(self, fn: Callable[[Overlay], _T]) -> _T:
        """Run ``fn`` on an up-to-date overlay, under the lock."""
        with self._locked():
            with self._file_errors():
                self._refresh()
            return fn(self.overlay)

    # -- writing --------------------------------------------------------------------------

    def transact(
        self, fn: Callable[[Overlay], tuple[Record | None, _T]], *, after: float | None = None
    ) -> _T:
        """Decide against an up-to-date overlay and append the record it returns, atomically.

        ``fn`` returns ``(record or None, result)``; its exceptions propagate and nothing is
        appended. `JournalFull` when the journal or the disk is full, `JournalUnavailable`
        on another I/O error: the record is then not in the file.

        The record's ``at`` is moved, by whole microseconds, to be later than every record
        in the journal and than ``after`` (the writer's last write the primary took):
        replay orders by those stamps, and a tie would lose.
        """
        with self._locked():
            with self._file_errors():
                self._refresh()
            record, result = fn(self.overlay)  # the caller's errors pass through untouched
            if record is not None:
                floor = self._latest_at if self.records else -math.inf
                if after is not None:
                    floor = max(floor, after)
                if floor > -math.inf and stamp_of(record.at) <= stamp_of(floor):
                    record = attrs.evolve(record, at=(stamp_of(floor) + 1) / 1_000_000)
                self._append([record])
                with self._file_errors():
                    self._refresh()  # reads our own line back: one path for every record
            return result

    def _check_record(self, record: Record) -> None:
        """What the primary would refuse about any record, before it is written."""
        for key in record.touched_keys():
            validate_key(key)
        for instant in (record.at, record.expires_at):
            if instant is not None and not math.isfinite(instant):
                raise InvalidTTL(f"a journaled expiry must be finite, got {instant!r}")

    def _append(self, records: Sequence[Record]) -> None:
        """Append whole lines, or nothing (lock held, view refreshed)."""
        for record in records:
            self._check_record(record)
        try:
            size = os.fstat(self._fd).st_size
        except OSError as error:
            raise self._error(error) from error
        prefix = b""
        generation = self.generation
        if size == 0:
            generation = uuid.uuid4().hex
            header = compact_json({HEADER_FIELD: FORMAT, "generation": generation})
            prefix = seal_line(header, key=self._key, generation="")
        elif os.pread(self._fd, 1, size - 1) != b"\n":
            prefix = _SEAL  # end a torn fragment, so that our record stays whole
        data = prefix + b"".join(
            seal_line(record.to_json(), key=self._key, generation=generation) for record in records
        )
        self._check_bounds(len(records), size, len(data))
        try:
            _write_all(self.io.write, self._fd, data)
            if self.fsync:
                self.io.fsync(self._fd)
        except OSError as error:
            # Not acknowledged: cut the file back, so the record can never be replayed.
            with contextlib.suppress(OSError):  # the disk refuses even that: a torn line
                os.ftruncate(self._fd, size)
            failure = self._error(error, "append failed")
            if isinstance(failure, JournalFull):
                fields = {"journal": str(self.path), "limit": "disk", "reason": failure.reason}
                self._events.append((Event.JOURNAL_FULL, fields))
            raise failure from error
        self._maybe_pending = True

    def _check_bounds(self, count: int, size: int, length: int) -> None:
        limit = ""
        if len(self.records) + count > self.max_records:
            limit = "max_records"
            reason = f"it holds {len(self.records)} of {self.max_records} records"
        elif size + length > self.max_bytes:
            limit, reason = "max_bytes", f"{size} + {length} bytes would pass {self.max_bytes}"
        if limit:
            fields = {"journal": str(self.path), "limit": limit, "reason": reason}
            self._events.append((Event.JOURNAL_FULL, fields))
            raise JournalFull(str(self.path), limit, f"the journal is full: {reason} ({limit})")

    # -- replay ---------------------------------------------------------------------------

    def begin_replay(self) -> bool:
        """Take the replay lock without waiting; ``False`` if someone else holds it."""
        if not self._replay_mutex.acquire(blocking=False):
            return False
        try:
            with self._mutex:
                self._check_open()
                if self._cursor_fd is None:
                    self._cursor_fd = _open_private(self._cursor_path, _CURSOR_FLAGS)
                fcntl.flock(self._cursor_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self._replay_mutex.release()
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise JournalUnavailable(str(self._cursor_path), f"cannot lock: {error}") from error
        except BaseException:
            self._replay_mutex.release()
            raise
        self._forget_cursor()  # another process may have moved it: read it again
        return True

    def end_replay(self) -> None:
        """Release the replay lock (safe after `close`, which released the flock)."""
        try:
            with self._mutex:
                if not self._closed and self._cursor_fd is not None:
                    fcntl.flock(self._cursor_fd, fcntl.LOCK_UN)
        finally:
            self._replay_mutex.release()

    def unapplied(self, limit: int | None = None) -> list[Record]:
        """The records no replay has done yet, in order, at most ``limit`` (replay lock
        held). Costs what it returns, not the journal's length."""
        with self._locked(), self._file_errors():
            self._refresh()
            self._load_cursor()
            found: list[Record] = []
            extra = self._done_extra
            for record in self.records[self._done :]:
                if limit is not None and len(found) >= limit:
                    break
                if record.op_id not in extra:
                    found.append(record)
            return found

    def _load_cursor(self) -> None:
        fd = self._cursor_fd
        assert fd is not None
        tag = generation_tag(self.generation)
        if self._cursor_tag == tag:
            return
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if size else b""
        state = parse_cursor(data, tag, self.generation)
        for problem in state.damaged:
            fields = {"cursor": str(self._cursor_path), "reason": problem}
            self._events.append((Event.JOURNAL_CURSOR_DAMAGED, fields))
        self._forget_cursor()
        self._cursor_sequence = state.sequence
        if state.legacy_applied is not None:  # a format-1 cursor: convert it once
            done = 0
            while done < len(self.records) and self.records[done].op_id in state.legacy_applied:
                done += 1
            os.ftruncate(fd, 0)
            self._start_cursor(fd, tag)
            self._done = done
            self._write_slot(tag, self._ends[done - 1] if done else 0)
        elif state.offset or state.notes_end > LOST_START:  # notes: an older version's
            self._done = bisect.bisect_right(self._ends, state.offset)
        else:  # a cursor of an older journal, or none: start afresh, in place
            self._start_cursor(fd, tag, old=data)
        self._cursor_tag = tag

    def _start_cursor(self, fd: int, tag: str, old: bytes = b"") -> None:
        """Make the cursor this generation's: notes cleared (in place), slot at 0."""
        end = old.find(b"\0", LOST_START)
        stale = (len(old) if end < 0 else end) - LOST_START
        blank = b"".ljust(max(stale, 0), b"\0")
        if len(old) < LOST_START + NOTES_PREALLOCATED:  # new file: allocate it now
            blank = blank.ljust(NOTES_PREALLOCATED, b"\0")
        if blank:
            _pwrite_all(self.io.pwrite, fd, blank, LOST_START)
        self._write_slot(tag, 0)

    def _write_slot(self, tag: str, offset: int) -> None:
        fd = self._cursor_fd
        assert fd is not None
        sequence = self._cursor_sequence + 1
        data = slot_bytes(tag, sequence, offset)
        where = (sequence % 2) * SLOT_SIZE
        try:
            _pwrite_all(self.io.pwrite, fd, data, where)
            if self.fsync:
                self.io.fsync(fd)
        except OSError:
            # Not durable, so not done: blank the slot (the other one keeps the previous
            # position), in place, so that no later look takes this move as made.
            with contextlib.suppress(OSError):
                _pwrite_all(os.pwrite, fd, b"\0" * SLOT_SIZE, where)
            raise
        self._cursor_sequence = sequence

    def mark_applied(self, record: Record) -> None:
        """Note that ``record`` is done (replay lock held): the primary acknowledged it,
        or it was dropped or set aside.

        Raises `JournalUnavailable` if the cursor cannot be written; the record then
        counts as not done (it is applied again, which every record allows).
        """
        with self._mutex:
            self._check_open()  # close() during a replay: never write to a reused fd
            with self._file_errors():
                self._mark_done(record)

    def _mark_done(self, record: Record) -> None:
        assert self._cursor_tag is not None
        index = self._index.get(record.op_id)
        if index is None or index < self._done:
            return  # not in this view (truncated meanwhile) or already done
        if index > self._done:
            self._done_extra.add(record.op_id)  # out of order: durable once the gap closes
            return
        done = index + 1
        while done < len(self.records) and self.records[done].op_id in self._done_extra:
            done += 1
        self._write_slot(self._cursor_tag, self._ends[done - 1])
        for later in self.records[index + 1 : done]:
            self._done_extra.discard(later.op_id)
        self._done = done

    def dead_letter(self, record: Record, reason: str) -> None:
        """Set ``record`` aside (replay lock held): append it, with ``reason``, to the
        dead-letter file ``<journal>.dead`` (fsynced), report it
        (`Event.JOURNAL_DEAD_LETTER`) and mark it done, so that the replay goes on.

        The replay calls this for a record the primary refuses for good; an operator
        lists, retries or drops dead letters with `dead_letters`, `retry_dead_letters`
        and `drop_dead_letters` (or ``sessionkit replay JOURNAL show|retry|drop``).
        """
        letter = DeadLetter(uuid.uuid4().hex, reason, time.time(), record=record)
        with self._locked():
            with self._file_errors():
                self._write_dead([letter], skip_op_ids=True)
            with self._file_errors():
                self._mark_done(record)

    def _open_dead(self) -> int:
        return _open_private(dead_letter_path(self.path), _APPEND_FLAGS)

    def _write_dead(self, letters: Sequence[DeadLetter], *, skip_op_ids: bool = False) -> None:
        """Append ``letters`` to the dead-letter file (journal lock held)."""
        fd = self._open_dead()
        try:
            if skip_op_ids:  # a replay resumed after a crash sets the same record aside once
                present = {
                    letter.record.op_id
                    for letter in _read_dead(fd, self._key)[0]
                    if letter.record is not None
                }
                letters = [
                    letter
                    for letter in letters
                    if letter.record is None or letter.record.op_id not in present
                ]
            if not letters:
                return
            size = os.fstat(fd).st_size
            data = b"".join(self._dead_line(letter) for letter in letters)
            try:
                _write_all(self.io.write, fd, data)
                self.io.fsync(fd)  # always: a dead letter leaves the journal for good
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
        for letter in letters:
            record = letter.record
            self._events.append(
                (Event.JOURNAL_DEAD_LETTER, {
                    "journal": str(self.path),
                    "dead_letter": letter.id,
                    "op_id": None if record is None else record.op_id,
                    "operation": None if record is None else record.op,
                    "reason": letter.reason,
                })
            )  # fmt: skip

    def _dead_line(self, letter: DeadLetter) -> bytes:
        return seal_line(compact_json(letter.to_obj()), key=self._key, generation=_DEAD_GENERATION)

    def dead_letters(self) -> list[DeadLetter]:
        """The records set aside so far, oldest first."""
        with self._locked(), self._file_errors():
            if not self._dead_path.exists():
                return []
            fd = self._open_dead()
            try:
                return _read_dead(fd, self._key)[0]
            finally:
                os.close(fd)

    def drop_dead_letters(self, ids: Sequence[str] | None = None) -> int:
        """Delete the dead letters with these ids (all with None); returns how many."""
        return len(self._rewrite_dead(ids, retry=False))

    def retry_dead_letters(self, ids: Sequence[str] | None = None) -> int:
        """Put the dead letters with these ids (all with None) back in the journal, as new
        records with their original time, for the next replay; damaged lines (no record)
        stay. `JournalFull` if they do not fit: then nothing moves. Returns how many."""
        return len(self._rewrite_dead(ids, retry=True))

    def _rewrite_dead(self, ids: Sequence[str] | None, *, retry: bool) -> list[DeadLetter]:
        wanted = None if ids is None else set(ids)
        with self._locked(), self._file_errors():
            if not self._dead_path.exists():
                return []
            fd = self._open_dead()
            try:
                letters, _ = _read_dead(fd, self._key)
                chosen = [
                    letter
                    for letter in letters
                    if (wanted is None or letter.id in wanted)
                    and (not retry or letter.record is not None)
                ]
                if not chosen:
                    return []
                if retry:
                    self._refresh()
                    self._append(
                        [
                            attrs.evolve(letter.record, op_id=uuid.uuid4().hex)
                            for letter in chosen
                            if letter.record is not None
                        ]
                    )
                    self._refresh()
                kept = [letter for letter in letters if letter not in chosen]
                data = b"".join(self._dead_line(letter) for letter in kept)
                _replace_file(self._dead_path, data, self.io)
            finally:
                os.close(fd)
            return chosen

    def finish(self) -> bool:
        """Truncate the journal if every record is done; ``False`` if new ones arrived.

        Damaged lines are set aside in the dead-letter file first; if that fails (disk
        full), the journal is kept and ``False`` returned.
        """
        assert self._cursor_fd is not None
        with self._locked(), self._file_errors():
            self._refresh()
            self._load_cursor()
            if self._done < len(self.records):
                return False
            if self._damage:
                self._write_dead([self._damaged_letter(damage) for damage in self.damage])
            os.ftruncate(self._fd, 0)
            if self.fsync:
                self.io.fsync(self._fd)
            self._reset_view()
            self._maybe_pending = False
            return True

    def _damaged_letter(self, damage: Damage) -> DeadLetter:
        """A damaged line as a dead letter: its bytes, and the record they still spell,
        if any (an operator may retry that one, vouching for it)."""
        raw = os.pread(self._fd, damage.length, damage.offset)
        record: Record | None = None
        body = raw.rsplit(b" #", 1)[0] if _has_trailer(raw) else raw
        with contextlib.suppress(ValueError):
            record = parse_record(json.loads(body))
        return DeadLetter(uuid.uuid4().hex, damage.reason, time.time(), record, raw)

    def close(self) -> None:
        """Close the files. A replay running meanwhile stops at its next journal step with
        `StoreClosed`; the descriptors are never used after this returns."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            fd, self._fd = self._fd, _CLOSED_FD
            cursor_fd, self._cursor_fd = self._cursor_fd, None
            os.close(fd)
            if cursor_fd is not None:
                os.close(cursor_fd)  # releases the replay's flock too


@contextmanager
def _no_collection_for(size: int) -> Iterator[None]:
    """No cyclic garbage collection while a large read is parsed: the records it makes
    hold no cycles, and the collector's passes over them cost more than the parse (about
    half of the first call after recovery with 20,000 records). The app's own setting is
    restored after."""
    if size < _BULK_READ or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: A read of the journal this large (bytes) is parsed without garbage collection.
_BULK_READ = 1 << 20


def _has_trailer(line: bytes) -> bool:
    head, _, tail = line.rpartition(b" #")
    return bool(head) and len(tail) in (8, 73)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_file(path: Path, data: bytes, io: JournalIO) -> None:
    """Atomically replace ``path`` by a new 0600 file holding ``data``."""
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        _write_all(io.write, fd, data)
        io.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temporary)
        raise
    os.close(fd)
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def _write_all(write: Callable[[int, bytes], int], fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = write(fd, bytes(view))
        view = view[written:]


def _pwrite_all(
    pwrite: Callable[[int, bytes, int], int], fd: int, data: bytes, offset: int
) -> None:
    view = memoryview(data)
    while view:
        written = pwrite(fd, bytes(view), offset)
        view = view[written:]
        offset += written
