"""The fallback journal: an append-only JSONL file of the writes a primary store missed.

Everything here is free of store I/O, so the sync and the async
:class:`~sessionkit.resilience.WithFallback` share it: the record format, the file (lock,
append, fsync, torn-line detection, truncation), this process's view of the file (the
:class:`Overlay` that answers reads during an outage) and the replay cursor.

File format, one JSON object per line, UTF-8, ``\\n``-terminated::

    {"sessionkit_journal":1,"generation":"5c0e..."}                        (header)
    {"id":"9f1c...","at":1700000000.5,"op":"set","key":"k","value":{...},"expires_at":null}
    {"id":"...","at":...,"op":"merge","key":"k","value":{patch},"expires_at":null,"keep_expiry":true}
    {"id":"...","at":...,"op":"delete","key":"k"}

``op`` is one of set, create, merge, delete, touch, set_many (``items`` instead of
``key``/``value``). ``expires_at`` is an absolute instant (seconds since the epoch) or
null for never; ``keep_expiry`` marks a merge that keeps the entry's expiry. A journal
records *effects*, never functions: an ``update`` made during an outage is journaled as
the ``set`` of its result, so every record gives the same store when applied twice in a
row. That is what makes a replay safe to restart.

Concurrency: every read and append holds ``flock(LOCK_EX)`` on the journal file (and a
thread lock, because flock does not exclude threads sharing a descriptor), so processes
sharing one path interleave whole records. A replay holds a second lock, on the cursor
file ``<journal>.cursor``, taken without waiting: one replayer at a time, and everyone
else keeps journaling meanwhile. No lock is ever held across an ``await``.

The cursor file, one line each, ``\n``-terminated::

    generation 5c0e...          (the journal generation it belongs to)
    9f1c...                     (a record the primary acknowledged)
    a0b1... lost "k"            (an acknowledged create that lost the conflict rule: the
                                 key's later records in this generation are dropped)

A cursor line is one ``write()``; with ``fsync=True`` it is fsynced before the replay
applies the next record, so even a power loss re-applies at most the one record whose
line was not yet durable.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import ConfigurationError, StoreClosed, StoreUnavailable
from .events import Emitter, Event

__all__ = [
    "Damage",
    "Journal",
    "KeyView",
    "Overlay",
    "Record",
    "ReplayReport",
    "parse_record",
]

FORMAT = 1
_HEADER_FIELD = "sessionkit_journal"
_OPS = frozenset({"set", "create", "merge", "delete", "touch", "set_many"})
_T = TypeVar("_T")
_APPEND_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
#: Op ids are uuid4 hex when sessionkit writes them; any id without whitespace is read,
#: so that a cursor line (``<id>`` or ``<id> lost <key>``) stays unambiguous.
_OP_ID = re.compile(r"[\w.:-]{1,128}", re.ASCII)
#: Appended after a torn fragment (a line that lost its end) by the next append: the
#: fragment can never parse as a record afterwards, even one that lost only its newline,
#: so a torn record is reported once and never replayed, whichever process looks.
_SEAL = b" <torn>\n"
_CLOSED_FD = -1


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


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
        return _dumps(obj) + b"\n"


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def parse_record(obj: object) -> Record:
    """A :class:`Record` from a decoded journal line; ``ValueError`` if it is not one."""
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


# -- the overlay: what the journal says about each key --------------------------------------


@attrs.frozen
class KeyView:
    """What the journal knows about one key.

    ``complete``: ``value`` is the whole value (``None``: known to be absent). Otherwise
    ``value`` holds only the fields merged during the outage, over a value the journal has
    never seen (the entry exists, since a merge creates it). ``version`` is ``None`` when
    the primary's version is unknown.
    """

    value: dict[str, Any] | None
    complete: bool
    expires_at: float | None = None
    expiry_known: bool = True
    version: int | None = None

    @property
    def absent(self) -> bool:
        return self.complete and self.value is None


_ABSENT = KeyView(None, True)


class Overlay:
    """Every key the journal mentions, with what it says about it, in journal order."""

    def __init__(self, default_ttl: float | None) -> None:
        self.default_ttl = default_ttl
        self._views: dict[str, KeyView] = {}
        #: Keys with a record that left their value unknown (a touch of an unseen key).
        self._touched: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._views or key in self._touched

    def view(self, key: str, now: float) -> KeyView | None:
        """The journal's view of ``key`` at ``now``; ``None`` if it knows nothing."""
        view = self._views.get(key)
        if view is None:
            return None
        if view.expiry_known and view.expires_at is not None and view.expires_at <= now:
            return _ABSENT
        return view

    def apply(self, record: Record) -> None:
        """Fold one record in (at the instant it was journaled)."""
        for key in record.touched_keys():
            self._apply_one(key, record)

    def _apply_one(self, key: str, record: Record) -> None:
        before = self.view(key, record.at)
        op = record.op
        if op == "delete":
            self._views[key] = _ABSENT
        elif op in ("set", "set_many") or (op == "create" and not _present(before)):
            value = record.items[key] if record.items is not None else record.value
            self._views[key] = KeyView(value, True, record.expires_at, True, _next_version(before))
        elif op == "merge":
            self._views[key] = self._merged(before, record)
        elif op == "touch":
            if before is None:
                self._touched.add(key)
            elif not before.absent:
                self._views[key] = attrs.evolve(
                    before, expires_at=record.expires_at, expiry_known=True
                )

    def _merged(self, before: KeyView | None, record: Record) -> KeyView:
        patch = record.value or {}
        if before is None or before.absent:
            fields = dict(patch)
        else:
            fields = {**(before.value or {}), **patch}
        if not record.keep_expiry:
            expires_at, known = record.expires_at, True
        elif before is not None and before.absent:  # a new entry gets the default TTL
            known = True
            expires_at = None if self.default_ttl is None else record.at + self.default_ttl
        elif before is not None:
            expires_at, known = before.expires_at, before.expiry_known
        else:
            expires_at, known = None, False
        complete = before is not None and before.complete
        return KeyView(fields, complete, expires_at, known, _next_version(before))


def _present(view: KeyView | None) -> bool:
    return view is not None and not view.absent


def _next_version(before: KeyView | None) -> int | None:
    if before is None or not before.complete:
        return None
    if before.absent:
        return 1
    return None if before.version is None else before.version + 1


def copy_value(value: dict[str, Any]) -> dict[str, Any]:
    """A private copy for a caller: nothing returned is shared with the overlay."""
    return copy.deepcopy(value)


# -- damage and reports -------------------------------------------------------------------


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
    #: Records dropped by the conflict rule (a journaled create whose key the primary
    #: already held with another value, and that key's later records in the same
    #: journal generation, however many replays it takes).
    conflicts: int = 0
    #: Records the primary refused (say, over its payload limit); skipped, not retried.
    rejected: int = 0
    #: Unreadable lines found in the journal, skipped.
    damaged: tuple[Damage, ...] = ()
    #: Whether the journal was fully replayed and truncated. False when the primary
    #: failed again, or when another replay (task, thread or process) holds the cursor.
    completed: bool = False
    #: True when the journal could not be emptied although the primary may well answer:
    #: another replay holds the cursor, or writers kept appending faster than it applied.
    busy: bool = False


# -- the file -----------------------------------------------------------------------------


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
        self._cursor_path = self.path.with_name(self.path.name + ".cursor")
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
        """Raise :class:`StoreClosed` once :meth:`close` ran (``_mutex`` held)."""
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
        if offset == 0 and isinstance(obj, dict) and _HEADER_FIELD in obj:
            if obj.get(_HEADER_FIELD) != FORMAT:
                raise ConfigurationError(
                    f"{str(self.path)!r} is a journal of format {obj.get(_HEADER_FIELD)!r}; "
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
            header = {_HEADER_FIELD: FORMAT, "generation": uuid.uuid4().hex}
            prefix = _dumps(header) + b"\n"
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
        """Release the replay lock (safe after :meth:`close`, which released the flock)."""
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
        lines = os.pread(self._cursor_fd, size, 0).split(b"\n") if size else []
        complete = lines[:-1]  # a last line without newline was torn: that record reapplies
        self._applied, self._lost = set(), set()
        if complete and complete[0].decode(errors="replace") == f"generation {self.generation}":
            for line in complete[1:]:
                op_id, _, lost = line.decode(errors="replace").partition(" lost ")
                self._applied.add(op_id)
                if lost:
                    self._lost.add(_cursor_key(lost))
        else:  # a cursor of an older journal, or none: start afresh
            os.ftruncate(self._cursor_fd, 0)
            self._write_cursor(f"generation {self.generation}\n".encode())
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
        line = record.op_id
        if lost:
            line += " lost " + json.dumps(record.key, ensure_ascii=True)
        with self._mutex:
            self._check_open()  # close() during a replay: never write to a reused fd
            with self._file_errors():
                self._write_cursor(line.encode() + b"\n")
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
        :class:`StoreClosed`; the descriptors are never used after this returns."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            fd, self._fd = self._fd, _CLOSED_FD
            cursor_fd, self._cursor_fd = self._cursor_fd, None
            os.close(fd)
            if cursor_fd is not None:
                os.close(cursor_fd)  # releases the replay's flock too


def _cursor_key(text: str) -> str:
    key = json.loads(text)  # written by json.dumps: a damaged line is a bug, not data
    if not isinstance(key, str):
        raise ValueError(f"bad cursor line: lost {text!r}")
    return key


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
