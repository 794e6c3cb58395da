# Generated from src/sessionkit/resilience/_async/fallback.py by scripts/unasync.py: edit that file, not this one.
"""A store that journals writes to a local file while its primary is unavailable."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator, Callable, Iterable, Mapping
from typing import Any, TypeVar

from ..._sync.delegating import PREFIX_OPERATIONS, DelegatingStore
from ..._sync.protocol import SessionStore
from ..._sync.stamped_apply import apply_stamped
from ...clock import Clock, system_clock
from ...codec import JSONCodec, check_items, default_codec
from ...entry import TTL, Entry, InvalidTTL, UpdateFunction, to_seconds
from ...errors import (
    ConfigurationError,
    CorruptValue,
    InvalidKey,
    JournalUnavailable,
    SerializationError,
    StoreUnavailable,
)
from ...keys import key_list, validate_key, validate_prefix
from ...stamped import DEFAULT_TOMBSTONE_TTL, ReplayOutcome, StampedWrite
from .._types import Operation
from ..background import DEFAULT_REPLAY_INTERVAL, BackgroundReplay
from ..events import Emitter, Event, ResilienceObserver, key_digest
from ..journal import DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, Journal
from ..journal_format import Record, ReplayReport
from ..outage import UNKNOWN_TTL, Decision, KeyView, OutageRules, Overlay, primary_default_ttl

__all__ = ["WithFallback"]

_T = TypeVar("_T")

#: Errors that condemn one record, not the replay: it is skipped and reported. Anything
#: else (StoreUnavailable, StoreClosed, a bug) stops the replay and keeps the journal.
#: The record is set aside in the dead-letter file (`Journal.dead_letter`). OverflowError:
#: a store that cannot represent the record's expiry (it never gets better by waiting).
_REFUSALS = (SerializationError, InvalidKey, InvalidTTL, CorruptValue, OverflowError)

#: Records fetched from the journal per step of a replay.
_REPLAY_CHUNK = 500

#: Records a user call replays inline at most, before answering (the rest is left to the
#: background replay or the next calls; the journal's overlay answers for its keys).
_INLINE_STEP = 64

#: Records one background step replays.
_BACKGROUND_STEP = _REPLAY_CHUNK

#: A replay keeps going while writers append; after this many rounds it yields.
_MAX_REPLAY_ROUNDS = 50


class _Settled(enum.Enum):
    CLEAR = "clear"  # the journal is empty: use the primary
    BUSY = "busy"  # another replay runs: the primary answers, the journal still counts
    DOWN = "down"  # the primary failed again


class WithFallback(DelegatingStore):
    """Wraps a primary store; while it raises StoreUnavailable, writes go to a journal.

    * Healthy path: every call goes to the primary; the journal costs a flag check.
    * Outage: writes are appended to the JSONL journal at ``journal_path`` (see
      `sessionkit.resilience.journal`) and answered from it; reads of keys the
      journal mentions are answered from it (read-your-writes); see
      `sessionkit.resilience.outage` for what it cannot answer.
    * Recovery: while the journal holds records, a background replayer (an asyncio task
      started by the first call in the running loop, or a daemon thread) tries the primary
      every ``replay_interval`` seconds and replays the journal in bounded chunks (in
      order, each record once, the applied op ids kept in ``<journal>.cursor``); once all
      are applied it truncates the journal. A call meanwhile replays at most a small chunk
      inline (none while another replay runs) and answers keys the journal still holds
      from it (read-your-writes), other keys from the primary. `replay` replays everything
      on demand. ``replay_interval=0`` (or None) turns the background replayer off.

    Conflict rule: last acknowledged write wins, per key, by its stamp. A journaled record
    carries the instant this instance acknowledged it (``Record.at``); the primary's own
    writes and deletes carry theirs (deletes as tombstones, kept ``tombstone_ttl``).
    A record is applied through `sessionkit.stamped.apply_if_newer` (`apply_stamped`)
    only if it is newer than what the primary holds for its key; otherwise it is counted
    as ``superseded`` (`Event.REPLAY_SUPERSEDED`): another instance wrote or deleted the
    key later, so the replay never undoes that. A record whose expiry has passed replays
    as a delete with its stamp. A journaled ``create`` whose key the primary already
    holds with a different value loses (first writer wins, as ``create`` promises) and is
    reported as a conflict; the key's later records replay on top of the entry that won,
    by their stamps like any other. A record older than ``max_replay_age`` seconds
    (default `DEFAULT_TOMBSTONE_TTL`; None: no limit) is not replayed automatically: the
    tombstone that would stop it may be gone; it is set aside as a dead letter (see
    ``sessionkit replay JOURNAL retry``). A primary without ``apply_if_newer`` (a
    third-party store) gets plain calls: unordered, over whatever it holds.

    ``default_ttl`` decides the expiry of journaled writes made with ``ttl=None``, so it
    must be the primary's: left out, it is read from the primary (memory, Redis and SQL
    stores, through other wrappers); given, it must agree with what the primary exposes.
    ``codec`` should match the primary's payload limit.

    ``max_records``/``max_bytes`` bound the journal (`JournalFull` beyond them);
    ``journal_key`` adds an HMAC to every journal line (see `Journal`). A record the
    primary refuses for good at replay is set aside with `Journal.dead_letter`.

    `close` during a replay stops the replay at its next step (it raises
    `StoreClosed`); a record the primary applied meanwhile is
    re-applied by the next replay, which every record allows.
    """

    def __init__(
        self,
        primary: SessionStore,
        journal_path: str | os.PathLike[str],
        *,
        fsync: bool = True,
        default_ttl: TTL | None = None,
        clock: Clock = system_clock,
        codec: JSONCodec = default_codec,
        observers: Iterable[ResilienceObserver] = (),
        emitter: Emitter | None = None,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        journal_key: bytes | str | None = None,
        max_replay_age: float | None = DEFAULT_TOMBSTONE_TTL,
        replay_interval: float | None = DEFAULT_REPLAY_INTERVAL,
    ) -> None:
        super().__init__(primary)
        self._primary = primary
        self._clock = clock
        self._emitter = emitter or Emitter(observers)
        default_seconds = None if default_ttl is None else to_seconds(default_ttl)
        exposed = primary_default_ttl(primary)
        if exposed is not UNKNOWN_TTL:
            if default_ttl is not None and default_seconds != exposed:
                raise ConfigurationError(
                    f"default_ttl={default_seconds!r} s, but the primary store's default TTL "
                    f"is {exposed!r} s: journaled writes would expire differently"
                )
            default_seconds = exposed
        self._rules = OutageRules(codec, default_seconds)
        self.journal = Journal(
            journal_path,
            fsync=fsync,
            default_ttl=default_seconds,
            emitter=self._emitter,
            max_records=max_records,
            max_bytes=max_bytes,
            journal_key=journal_key,
        )
        if max_replay_age is not None and not max_replay_age > 0:
            raise ConfigurationError(
                f"max_replay_age is seconds (None: no limit), not {max_replay_age!r}"
            )
        self._max_replay_age = max_replay_age
        #: Records applied by bounded steps (a call's, the background's) since the last
        #: report event: the next `FALLBACK_RECOVERED` or `REPLAY_INTERRUPTED` counts them
        #: (changed only under the journal's replay lock).
        self._carried = 0
        #: When the primary last took a write of ours (see `Journal.transact`'s ``after``).
        self._acknowledged: float | None = None
        try:
            self._background = BackgroundReplay(self._background_step, replay_interval)
        except ValueError as error:
            raise ConfigurationError(str(error)) from error
        if self.journal.pending():  # left by a crash: replay it without waiting for a call
            self._background.wake()

    # -- the machinery ----------------------------------------------------------------------

    def replay(self) -> ReplayReport:
        """Apply the journal to the primary and truncate it; safe to call at any time."""
        return self._replay(None)

    def _replay(self, limit: int | None) -> ReplayReport:
        """`replay`, stopping after ``limit`` records (None: all); stopped so with records
        left, the report says busy (the primary answers, the journal still counts)."""
        self._check_open()
        journal = self.journal
        if not journal.pending():
            return ReplayReport(completed=True)
        if not journal.begin_replay():
            return ReplayReport(busy=True)
        applied = conflicts = rejected = superseded = done = 0
        damaged = journal.damage

        def report(**state: bool) -> ReplayReport:
            return ReplayReport(
                applied, conflicts, rejected, damaged, superseded=superseded, **state
            )

        try:
            rounds = chunks = 0
            while rounds < _MAX_REPLAY_ROUNDS:
                size = _REPLAY_CHUNK if limit is None else min(_REPLAY_CHUNK, limit - done)
                batch = journal.unapplied(size)
                damaged = journal.damage
                for record in batch:
                    self._check_open()  # closed meanwhile: stop before touching the primary
                    outcome, reason = self._apply(record)
                    if outcome == "rejected":  # set aside with its reason; the replay goes on
                        journal.dead_letter(record, reason)
                    else:
                        journal.mark_applied(record)
                    applied += outcome == "applied"
                    superseded += outcome == "superseded"
                    conflicts += outcome == "lost"
                    rejected += outcome == "rejected"
                done += len(batch)
                if limit is not None and done >= limit and len(batch) == size:
                    # The step's share is done; what is left waits for the next step.
                    if journal.finish():
                        break
                    self._carried += applied
                    return report(busy=True)
                chunks += 1
                if len(batch) == _REPLAY_CHUNK and chunks < 20 * _MAX_REPLAY_ROUNDS:
                    continue  # more records: fetch the next chunk before trying to finish
                rounds += 1
                if journal.finish():
                    break
            else:
                # Writers kept appending faster than the replay applied: the primary
                # answers, so report it as busy rather than down; the next call continues.
                self._carried += applied
                return report(busy=True)
            carried, self._carried = self._carried, 0
            self._emitter.emit(
                Event.FALLBACK_RECOVERED,
                journal=str(journal.path),
                applied=applied + carried,
                superseded=superseded,
                conflicts=conflicts,
                rejected=rejected,
                damaged=len(damaged),
            )
            return report(completed=True)
        except JournalUnavailable:
            # The journal's file failed (disk full, I/O error), not the primary: report it
            # as busy, so that keys the journal does not hold are still served by the
            # primary; the records stay for a later replay.
            return report(busy=True)
        except StoreUnavailable as error:
            carried, self._carried = self._carried, 0
            if applied + carried:
                self._emitter.emit(
                    Event.REPLAY_INTERRUPTED,
                    journal=str(journal.path),
                    applied=applied + carried,
                    error=type(error).__name__,
                )
        finally:
            journal.end_replay()
        return report(completed=False)

    def _writes(self, record: Record, now: float) -> list[StampedWrite]:
        """``record`` as the stamped writes that replay it (stamp: ``record.at``). A record
        whose expiry has passed replays as a delete: its write expired, the key is absent
        (an expired create replays as nothing: it may have lost to an older entry)."""
        at = record.at
        expired = record.expires_at is not None and record.expires_at <= now
        ttl = None if record.expires_at is None else max(record.expires_at - now, 1e-3)
        if record.op == "set_many":
            assert record.items is not None
            keys = list(record.items)
            if expired:
                return [StampedWrite("delete", key, at) for key in keys]
            return [StampedWrite("set", key, at, dict(record.items[key]), ttl) for key in keys]
        key = record.key
        if record.op == "create":
            if expired:
                return []
            return [StampedWrite("create", key, at, record.value, ttl)]
        if record.op == "delete" or expired:
            return [StampedWrite("delete", key, at)]
        if record.op == "set":
            return [StampedWrite("set", key, at, record.value, ttl)]
        if record.op == "merge":
            return [StampedWrite("merge", key, at, record.value, ttl, record.keep_expiry)]
        return [StampedWrite("touch", key, at, None, ttl)]

    def _apply(self, record: Record) -> tuple[str, str]:
        """Apply one record to the primary: ("applied" | "superseded" | "rejected" |
        "lost" (a create whose key holds another value: first writer wins), the reason it
        was rejected). A lost create drops only itself: the key's later records are
        writes of their own, newer than the entry that won, and replay like any other."""
        now = self._clock.now()
        key = record.key
        age = now - record.at
        if self._max_replay_age is not None and age > self._max_replay_age:
            self._emitter.emit(
                Event.REPLAY_REJECTED,
                op_id=record.op_id,
                operation=record.op,
                key=key_digest(key),
                error="max_replay_age",
            )
            return "rejected", (
                f"older than max_replay_age ({self._max_replay_age:g} s): written "
                f"{age:.0f} s ago, a tombstone that would stop it may be gone; "
                "retry it with `sessionkit replay JOURNAL retry` if it should still land"
            )
        outcomes: list[ReplayOutcome] = []
        try:
            for write in self._writes(record, now):
                outcomes.append(apply_stamped(self._primary, write))
        except _REFUSALS as error:  # the primary refuses this record: skip it, do not block
            self._emitter.emit(
                Event.REPLAY_REJECTED,
                op_id=record.op_id,
                operation=record.op,
                key=key_digest(key),
                error=type(error).__name__,
            )
            return "rejected", f"{type(error).__name__}: {error}"
        if ReplayOutcome.LOST in outcomes:
            self._conflict(record, key)
            return "lost", ""
        if outcomes and ReplayOutcome.APPLIED not in outcomes:
            self._emitter.emit(
                Event.REPLAY_SUPERSEDED,
                op_id=record.op_id,
                operation=record.op,
                key=key_digest(key),
            )
            return "superseded", ""
        return "applied", ""

    def _conflict(self, record: Record, key: str) -> None:
        self._emitter.emit(
            Event.REPLAY_CONFLICT, op_id=record.op_id, operation=record.op, key=key_digest(key)
        )

    def _settle(self, limit: int | None = _INLINE_STEP) -> _Settled:
        """One bounded replay step before a call (``limit`` records; none while the
        background replayer or another replay runs: then BUSY)."""
        self._background.wake()
        report = self._replay(limit)
        if report.completed:
            return _Settled.CLEAR
        return _Settled.BUSY if report.busy else _Settled.DOWN

    def _background_step(self) -> bool:
        """One background replay chunk; True when it did a full chunk with more waiting."""
        if not self.journal.pending():
            return False
        report = self._replay(_BACKGROUND_STEP)
        done = report.applied + report.superseded + report.conflicts + report.rejected
        return report.busy and done > 0

    def _journaled(
        self, operation: str, key: str, decide: Decision[_T], error: Exception | None
    ) -> _T:
        if not self.journal.pending():  # the first record of an outage (for this journal)
            self._background.wake()
            self._emitter.emit(
                Event.FALLBACK_ENGAGED,
                journal=str(self.journal.path),
                error=None if error is None else type(error).__name__,
            )
        written = False

        def decided(overlay: Overlay) -> tuple[Record | None, _T]:
            nonlocal written
            record, result = decide(overlay, self._clock.now())
            written = record is not None
            return record, result

        result = self.journal.transact(decided, after=self._acknowledged)
        if written:  # not, say, a create the journal already knew to be taken
            self._emitter.emit(
                Event.FALLBACK_JOURNALED,
                operation=operation,
                key=key_digest(key),
                fill=round(self.journal.fill_level.ratio, 6),
            )
        return result

    def _write(
        self,
        operation: str,
        key: str,
        call: Operation[_T],
        decision: Callable[[], Decision[_T]],
    ) -> _T:
        """The primary if it can take the write in order, else the journal."""
        self._check_open()
        if self.journal.pending():
            state = self._settle()
            # BUSY (the primary answers; another replay runs, or the journal's file
            # failed): a key the journal does not mention goes to the primary, which
            # reorders nothing; set_many is journaled (its keys are checked as one).
            if state is _Settled.DOWN or (
                state is _Settled.BUSY and (operation == "set_many" or self._mentions(key))
            ):
                return self._journaled(operation, key, decision(), None)
        try:
            result = call()
        except StoreUnavailable as error:
            return self._journaled(operation, key, decision(), error)
        # The primary stamped that write by now: a later journaled write must be later.
        self._acknowledged = self._clock.now()
        return result

    def _view(self, key: str) -> tuple[_Settled, KeyView | None]:
        """After settling: the state and the journal's view of ``key`` (None: no mention)."""
        validate_key(key)
        state = self._settle()
        if state is _Settled.CLEAR:
            return state, None
        view = self.journal.read(lambda overlay: overlay.view(key, self._clock.now()))
        if view is None and state is _Settled.DOWN:
            raise StoreUnavailable(
                f"the primary store is unavailable, and key {key!r} is not in the journal"
            )
        return state, view

    def _mentions(self, key: str) -> bool:
        return self.journal.read(lambda overlay: key in overlay)

    def _require_clear(self, operation: str) -> None:
        # What the journal holds is not in the primary yet: these calls replay it all.
        if self.journal.pending() and self._settle(None) is not _Settled.CLEAR:
            raise StoreUnavailable(
                f"{operation} needs the primary store, and its journal is not replayed yet"
            )

    # -- reads ------------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        self._check_open()
        if self.journal.pending():
            state, view = self._view(key)
            if view is not None:
                if not view.complete and state is _Settled.BUSY:  # another replay runs
                    return self._rules.merged_over(view, self._primary.get(key))
                return self._rules.value(key, view)
        return self._primary.get(key)

    def get_entry(self, key: str) -> Entry | None:
        self._check_open()
        if self.journal.pending():
            _, view = self._view(key)
            if view is not None:
                return self._rules.entry(key, view)
        return self._primary.get_entry(key)

    def exists(self, key: str) -> bool:
        self._check_open()
        if self.journal.pending():
            _, view = self._view(key)
            if view is not None:
                return self._rules.exists(view)
        return self._primary.exists(key)

    def ttl(self, key: str) -> float | None:
        self._check_open()
        if self.journal.pending():
            _, view = self._view(key)
            if view is not None:
                return self._rules.ttl(key, view, self._clock.now())
        return self._primary.ttl(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._check_open()
        given: list[Any] = key_list(keys)  # a str or None is refused, journal or not
        if not self.journal.pending():
            return self._primary.get_many(given)
        wanted = self._rules.keys(given)
        state = self._settle()
        if state is _Settled.CLEAR:
            return self._primary.get_many(wanted)
        now = self._clock.now()

        def views(overlay: Overlay) -> dict[str, KeyView | None]:
            return {key: overlay.view(key, now) for key in wanted}

        known = self.journal.read(views)
        found: dict[str, dict[str, Any]] = {}
        # BUSY (another replay runs, the primary answers): a key only merged during the
        # outage is the primary's value with the journaled fields over it.
        unknown = [
            key
            for key, view in known.items()
            if view is None or (state is _Settled.BUSY and not view.complete)
        ]
        if unknown:
            if state is _Settled.DOWN:
                raise StoreUnavailable(
                    "the primary store is unavailable, and some keys are not in the journal"
                )
            found.update(self._primary.get_many(unknown))
        for key, view in known.items():
            if view is None:
                continue
            if not view.complete and state is _Settled.BUSY:
                found[key] = self._rules.merged_over(view, found.get(key))
                continue
            value = self._rules.value(key, view)
            if value is not None:
                found[key] = value
        return {key: found[key] for key in dict.fromkeys(wanted) if key in found}

    # scan, count, purge and sweep: the base's delegation, through these hooks. Calls on a
    # prefix need the journal replayed first (what it holds is not in the primary yet).

    def _around(self, operation: str, key: str | None, call: Operation[_T]) -> _T:
        self._check_open()
        if operation in PREFIX_OPERATIONS:
            validate_prefix(key)
            self._require_clear(operation)
        return call()

    def _around_scan(self, prefix: str, keys: Iterator[str]) -> Iterator[str]:
        self._check_open()
        validate_prefix(prefix)
        self._require_clear("scan")
        for key in keys:
            yield key

    # -- writes -----------------------------------------------------------------------------

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._write(
            "set",
            key,
            lambda: self._primary.set(key, value, ttl),
            lambda: self._rules.set(key, value, ttl),
        )

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._write(
            "set_many",
            next(iter(check_items(items)), ""),
            lambda: self._primary.set_many(items, ttl),
            lambda: self._rules.set_many(items, ttl),
        )

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        return self._write(
            "create",
            key,
            lambda: self._primary.create(key, value, ttl),
            lambda: self._rules.create(key, value, ttl),
        )

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        return self._write(
            "merge",
            key,
            lambda: self._primary.merge(key, patch, ttl),
            lambda: self._rules.merge(key, patch, ttl),
        )

    def delete(self, key: str) -> bool:
        return self._write(
            "delete", key, lambda: self._primary.delete(key), lambda: self._rules.delete(key)
        )

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        return self._write(
            "touch",
            key,
            lambda: self._primary.touch(key, ttl),
            lambda: self._rules.touch(key, ttl),
        )

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._check_open()
        validate_key(key)  # bad input is its own error, not the outage's StoreUnavailable
        if ttl is not None:
            to_seconds(ttl)
        if self.journal.pending():
            state = self._settle()
            # A key the journal never mentions can go to a live primary (during another
            # replay) without reordering anything; otherwise fn needs the journal's value.
            if state is _Settled.DOWN or (state is _Settled.BUSY and self._mentions(key)):
                decision = self._rules.update(key, fn, ttl, default)
                return self._journaled("update", key, decision, None)
        result = self._primary.update(key, fn, ttl, default=default)
        self._acknowledged = self._clock.now()
        return result

    def close(self) -> None:
        if not self._closed:
            self._closed = True  # a running replay stops at its next record
            try:
                self._background.stop()
                self.journal.close()  # first: the replay's next journal step raises
            finally:
                self._primary.close()

    def __repr__(self) -> str:
        return f"WithFallback({self._primary!r}, journal={str(self.journal.path)!r})"
