"""The fallback journal: an append-only JSONL file of the writes a primary store missed.

Everything here is free of store I/O, so the sync and the async
`WithFallback` share it. This module is the file (lock,
append, fsync, torn-line detection, truncation) and its replay bookkeeping; the record
format is in `.journal_format`, the cursor's in `.journal_cursor`, and the
`Overlay` (this process's view of the file, which answers reads during
an outage) in `.outage`.

Concurrency: every read and append holds ``flock(LOCK_EX)`` on the journal file (and a
thread lock, because flock does not exclude threads sharing a descriptor), so processes
sharing one path interleave whole records. A replay holds a second lock, on the cursor
file ``<journal>.cursor``, taken without waiting: one replayer at a time, and everyone
else keeps journaling meanwhile. No lock is ever held across an ``await``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ..errors import ConfigurationError, StoreClosed, StoreUnavailable
from .events import Emitter, Event
from .journal_cursor import applied_line, cursor_path, generation_line, read_cursor
from .journal_format import FORMAT, HEADER_FIELD, Damage, Record, compact_json, parse_record
from .outage import Overlay

__all__ = ["Journal"]

_T = TypeVar("_T")
_APPEND_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
#: Appended after a torn fragment (a line that lost its end) by the next append: the
#: fragment can never parse as a record afterwards, even one that lost only its newline,
#: so a torn record is reported once and never replayed, whichever process looks.
_SEAL = b" <torn>\n"
_CLOSED_FD = -1


class Journal:
    """The journal file at ``path`` and this process's view of it.

    ``fsync=True`` (the default) fsyncs the file after every append, so an acknowledged
    write survives a power loss, and fsyncs each replay cursor line before the next
    record is applied; ``fsync=False`` still writes each record and each cursor line to
    the kernel with one ``write()`` (it survives the process dying, not the machine).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = True,
        default_ttl: float | None = None,
        emitter: Emitter | None = None,
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._default_ttl = default_ttl
        self._emitter = emitter or Emitter()
        try:
            self._fd = os.open(self.path, _APPEND_FLAGS, 0o600)
        except OSError as error:
            raise ConfigurationError(
                f"cannot open the fallback journal {str(self.path)!r}: {error}"
            ) from error
        if fsync:  # make the new file's directory entry durable too
            _fsync_directory(self.path.parent)
        self._cursor_path = cursor_path(self.path)
        self._cursor_fd: int | None = None
        self._mutex = threading.Lock()
        self._replay_mutex = threading.Lock()
        self._applied: set[str] = set()
        #: Keys whose journaled create lost at replay, in this generation (from the cursor).
        self._lost: set[str] = set()
        self._cursor_generation: str | None = None
        self._unreported: list[Damage] = []
        self._closed = False
        self._reset_view()

    def _reset_view(self) -> None:
        #: The first line as read (the header, or whatever damaged line stands there): a
        #: truncation refilled by another process starts with another one.
        self._header: bytes | None = None
        self.generation = ""
        self._offset = 0
        self.records: list[Record] = []
        self.overlay = Overlay(self._default_ttl)
        self._damage: dict[int, Damage] = {}

    # -- the cheap check every operation makes ---------------------------------------------

    def pending(self) -> bool:
        """Whether the file holds anything (one ``fstat``; no lock)."""
        try:
            return os.fstat(self._fd).st_size > 0
        except OSError as error:
            if self._closed:
                raise StoreClosed("the fallback journal is closed") from error
            raise StoreUnavailable(f"the fallback journal failed: {error}") from error

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
            self._report_damage()  # after unlocking: a slow log sink must not stall writers

    @contextmanager
    def _file_errors(self) -> Iterator[None]:
        """A journal that cannot be read or written (disk full, say) is an outage too."""
        try:
            yield
        except OSError as error:
            raise StoreUnavailable(
                f"the fallback journal {str(self.path)!r} failed: {error}"
            ) from error

    def _report_damage(self) -> None:
        with self._mutex:
            found, self._unreported = self._unreported, []
        for damage in found:
            self._emitter.emit(
                Event.JOURNAL_TORN_RECORD,
                journal=str(self.path),
                offset=damage.offset,
                length=damage.length,
                reason=damage.reason,
            )

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
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self._take_line(data[start:end], self._offset + start)
            start = end + 1
        if start < len(data):  # no newline: an append that died half-way (we hold the lock)
            # Never parsed, even if only the newline is missing: the next append seals it
            # (see _SEAL), so it stays damaged, and is never replayed, for every reader.
            self._note_damage(self._offset + start, len(data) - start, "torn: no end of line")
        self._offset += start

    def _take_line(self, line: bytes, offset: int) -> None:
        if offset == 0:
            self._header = line  # whatever it is: a refill after a truncation differs
        try:
            obj = json.loads(line)
        except ValueError:
            sealed = line.endswith(_SEAL[:-1])
            self._note_damage(
                offset, len(line), "torn: ended by a later append" if sealed else "not valid JSON"
            )
            return
        if offset == 0 and isinstance(obj, dict) and HEADER_FIELD in obj:
            if obj.get(HEADER_FIELD) != FORMAT:
                raise ConfigurationError(
                    f"{str(self.path)!r} is a journal of format {obj.get(HEADER_FIELD)!r}; "
                    f"this sessionkit reads format {FORMAT}"
                )
            self.generation = str(obj.get("generation", ""))
            return
        try:
            record = parse_record(obj)
        except ValueError as error:
            self._note_damage(offset, len(line), f"not a journal record ({error})")
            return
        self.records.append(record)
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

    def transact(self, fn: Callable[[Overlay], tuple[Record | None, _T]]) -> _T:
        """Decide against an up-to-date overlay and append the record it returns, atomically.

        ``fn`` returns ``(record or None, result)``; its exceptions propagate and nothing is
        appended.
        """
        with self._locked():
            with self._file_errors():
                self._refresh()
            record, result = fn(self.overlay)  # the caller's errors pass through untouched
            if record is not None:
                with self._file_errors():
                    self._append(record)
                    self._refresh()  # reads our own line back: one path for every record
            return result

    def _append(self, record: Record) -> None:
        size = os.fstat(self._fd).st_size
        prefix = b""
        if size == 0:
            header = {HEADER_FIELD: FORMAT, "generation": uuid.uuid4().hex}
            prefix = compact_json(header) + b"\n"
        elif os.pread(self._fd, 1, size - 1) != b"\n":
            prefix = _SEAL  # end a torn fragment, so that our record stays whole
        _write_all(self._fd, prefix + record.to_line())
        if self.fsync:
            os.fsync(self._fd)

    # -- replay ---------------------------------------------------------------------------

    def begin_replay(self) -> bool:
        """Take the replay lock without waiting; ``False`` if someone else holds it."""
        if not self._replay_mutex.acquire(blocking=False):
            return False
        try:
            with self._mutex:
                self._check_open()
                if self._cursor_fd is None:
                    self._cursor_fd = os.open(self._cursor_path, _APPEND_FLAGS, 0o600)
                fcntl.flock(self._cursor_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self._replay_mutex.release()
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise StoreUnavailable(f"cannot lock the journal cursor: {error}") from error
        except BaseException:
            self._replay_mutex.release()
            raise
        self._applied = set()
        self._lost = set()
        self._cursor_generation = None
        return True

    def end_replay(self) -> None:
        """Release the replay lock (safe after `close`, which released the flock)."""
        try:
            with self._mutex:
                if not self._closed and self._cursor_fd is not None:
                    fcntl.flock(self._cursor_fd, fcntl.LOCK_UN)
        finally:
            self._replay_mutex.release()

    def unapplied(self) -> list[Record]:
        """The records no replay has applied yet, in order (replay lock held)."""
        with self._locked(), self._file_errors():
            self._refresh()
            self._load_cursor()
            return [record for record in self.records if record.op_id not in self._applied]

    def is_lost(self, key: str) -> bool:
        """Whether a journaled create of ``key`` lost at replay, in this generation."""
        return key in self._lost

    def _load_cursor(self) -> None:
        assert self._cursor_fd is not None
        if self._cursor_generation == self.generation:
            return
        size = os.fstat(self._cursor_fd).st_size
        read = read_cursor(os.pread(self._cursor_fd, size, 0) if size else b"", self.generation)
        if read is not None:
            self._applied, self._lost = read
        else:  # a cursor of an older journal, or none: start afresh
            self._applied, self._lost = set(), set()
            os.ftruncate(self._cursor_fd, 0)
            self._write_cursor(generation_line(self.generation))
        self._cursor_generation = self.generation

    def _write_cursor(self, line: bytes) -> None:
        assert self._cursor_fd is not None
        _write_all(self._cursor_fd, line)
        if self.fsync:
            os.fsync(self._cursor_fd)

    def mark_applied(self, record: Record, *, lost: bool = False) -> None:
        """Note that the primary acknowledged ``record`` (replay lock held).

        ``lost``: the record is a create that lost the conflict rule; its key's later
        records in this generation are dropped, by this replay and by any that resumes
        it (the decision is in the same cursor line as the record, so it is durable
        exactly when the record counts as applied).
        """
        with self._mutex:
            self._check_open()  # close() during a replay: never write to a reused fd
            with self._file_errors():
                self._write_cursor(applied_line(record, lost=lost))
            self._applied.add(record.op_id)
            if lost:
                self._lost.add(record.key)

    def finish(self) -> bool:
        """Truncate the journal if every record is applied; ``False`` if new ones arrived."""
        assert self._cursor_fd is not None
        with self._locked(), self._file_errors():
            self._refresh()
            if any(record.op_id not in self._applied for record in self.records):
                return False
            os.ftruncate(self._fd, 0)
            if self.fsync:
                os.fsync(self._fd)
            os.ftruncate(self._cursor_fd, 0)
            self._cursor_generation = None
            self._applied = set()
            self._lost = set()
            self._reset_view()
            return True

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


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
