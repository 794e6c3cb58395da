"""A store that journals writes to a local file while its primary is unavailable."""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, TypeVar

from ..._async.delegating import PREFIX_OPERATIONS, AsyncDelegatingStore
from ..._async.protocol import AsyncSessionStore
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
from .._types import AsyncOperation
from ..events import Emitter, Event, ResilienceObserver, key_digest
from ..journal import DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, Journal
from ..journal_format import Record, ReplayReport
from ..outage import UNKNOWN_TTL, Decision, KeyView, OutageRules, Overlay, primary_default_ttl

__all__ = ["AsyncWithFallback"]

_T = TypeVar("_T")

#: Errors that condemn one record, not the replay: it is skipped and reported. Anything
#: else (StoreUnavailable, StoreClosed, a bug) stops the replay and keeps the journal.
#: The record is set aside in the dead-letter file (`Journal.dead_letter`). OverflowError:
#: a store that cannot represent the record's expiry (it never gets better by waiting).
_REFUSALS = (SerializationError, InvalidKey, InvalidTTL, CorruptValue, OverflowError)

#: Records fetched from the journal per step of a replay.
_REPLAY_CHUNK = 500

#: A replay keeps going while writers append; after this many rounds it yields.
_MAX_REPLAY_ROUNDS = 50


class _Settled(enum.Enum):
    CLEAR = "clear"  # the journal is empty: use the primary
    BUSY = "busy"  # another replay runs: the primary answers, the journal still counts
    DOWN = "down"  # the primary failed again


class AsyncWithFallback(AsyncDelegatingStore):
    """Wraps a primary store; while it raises StoreUnavailable, writes go to a journal.

    * Healthy path: every call goes to the primary; the journal costs a flag check.
    * Outage: writes are appended to the JSONL journal at ``journal_path`` (see
      `sessionkit.resilience.journal`) and answered from it; reads of keys the
      journal mentions are answered from it (read-your-writes); see
      `sessionkit.resilience.outage` for what it cannot answer.
    * Recovery: while the journal holds records, every call first tries to replay it (in
      order, each record once, the applied op ids kept in ``<journal>.cursor``) and, once
      all are applied, truncates it. `replay` does the same on demand.

    Conflict rule: the journal's writes are newer than anything the primary held when it
    failed, so they are applied on top of whatever the primary holds at replay: ``set``
    and ``delete`` replace, ``merge`` re-merges its fields (other fields stay), ``touch``
    restarts the expiry. A journaled ``create`` whose key the primary already holds with a
    different value loses (first writer wins, as ``create`` promises), and so do that
    key's later records in the same journal generation (until the journal is truncated),
    however many replays that takes: the decision is kept in the cursor file. Both are
    reported as conflicts.

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
        primary: AsyncSessionStore,
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
        self._refusal = ""

    # -- the machinery ----------------------------------------------------------------------

    async def replay(self) -> ReplayReport:
        """Apply the journal to the primary and truncate it; safe to call at any time."""
        self._check_open()
        journal = self.journal
        if not journal.pending():
            return ReplayReport(completed=True)
        if not journal.begin_replay():
            return ReplayReport(busy=True)
        applied = conflicts = rejected = 0
        damaged = journal.damage
        try:
            rounds = chunks = 0
            while rounds < _MAX_REPLAY_ROUNDS:
                batch = journal.unapplied(_REPLAY_CHUNK)
                damaged = journal.damage
                for record in batch:
                    self._check_open()  # closed meanwhile: stop before touching the primary
                    outcome = await self._apply(record)
                    if outcome == "rejected":  # set aside with its reason; the replay goes on
                        journal.dead_letter(record, self._refusal)
                    else:
                        journal.mark_applied(record, lost=outcome == "lost")
                    applied += outcome == "applied"
                    conflicts += outcome in ("conflict", "lost")
                    rejected += outcome == "rejected"
                chunks += 1
                if len(batch) == _REPLAY_CHUNK and chunks < 20 * _MAX_REPLAY_ROUNDS:
                    continue  # more records: fetch the next chunk before trying to finish
                rounds += 1
                if journal.finish():
                    report = ReplayReport(applied, conflicts, rejected, damaged, completed=True)
                    self._emitter.emit(
                        Event.FALLBACK_RECOVERED,
                        journal=str(journal.path),
                        applied=applied,
                        conflicts=conflicts,
                        rejected=rejected,
                        damaged=len(damaged),
                    )
                    return report
            # Writers kept appending faster than the replay applied: the primary answers,
            # so report it as busy rather than down; the next call continues.
            return ReplayReport(applied, conflicts, rejected, damaged, busy=True)
        except JournalUnavailable:
            # The journal's file failed (disk full, I/O error), not the primary: report it
            # as busy, so that keys the journal does not hold are still served by the
            # primary; the records stay for a later replay.
            return ReplayReport(applied, conflicts, rejected, damaged, busy=True)
        except StoreUnavailable as error:
            if applied:
                self._emitter.emit(
                    Event.REPLAY_INTERRUPTED,
                    journal=str(journal.path),
                    applied=applied,
                    error=type(error).__name__,
                )
        finally:
            journal.end_replay()
        return ReplayReport(applied, conflicts, rejected, damaged, completed=False)

    async def _apply(self, record: Record) -> str:
        """Apply one record to the primary: "applied", "rejected", "conflict" (dropped: its
        key was lost earlier in this generation) or "lost" (a create that loses now)."""
        primary, now, journal = self._primary, self._clock.now(), self.journal
        key = record.key
        if record.op != "set_many" and journal.is_lost(key):
            self._conflict(record, key)
            return "conflict"
        expired = record.expires_at is not None and record.expires_at <= now
        ttl = None if record.expires_at is None else max(record.expires_at - now, 1e-3)
        try:
            if record.op == "set_many":
                assert record.items is not None
                items = {k: v for k, v in record.items.items() if not journal.is_lost(k)}
                if expired:
                    for item_key in items:
                        await primary.delete(item_key)
                elif items:
                    await primary.set_many(items, ttl)
            elif record.op == "delete" or (expired and record.op != "create"):
                await primary.delete(key)  # an expired write leaves the key absent
            elif record.op == "set":
                assert record.value is not None
                await primary.set(key, record.value, ttl)
            elif record.op == "merge":
                assert record.value is not None
                await primary.merge(key, record.value, None if record.keep_expiry else ttl)
            elif record.op == "touch":
                await primary.touch(key, ttl)
            elif record.op == "create" and not expired:
                assert record.value is not None
                created = await primary.create(key, record.value, ttl)
                # Not created and another value: someone else's entry (ours, written by a
                # replay interrupted before its cursor moved, would be equal).
                if not created and await primary.get(key) != record.value:
                    self._conflict(record, key)
                    return "lost"
        except _REFUSALS as error:  # the primary refuses this record: skip it, do not block
            self._refusal = f"{type(error).__name__}: {error}"
            self._emitter.emit(
                Event.REPLAY_REJECTED,
                op_id=record.op_id,
                operation=record.op,
                key=key_digest(key),
                error=type(error).__name__,
            )
            return "rejected"
        return "applied"

    def _conflict(self, record: Record, key: str) -> None:
        self._emitter.emit(
            Event.REPLAY_CONFLICT, op_id=record.op_id, operation=record.op, key=key_digest(key)
        )

    async def _settle(self) -> _Settled:
        report = await self.replay()
        if report.completed:
            return _Settled.CLEAR
        return _Settled.BUSY if report.busy else _Settled.DOWN

    def _journaled(
        self, operation: str, key: str, decide: Decision[_T], error: Exception | None
    ) -> _T:
        if not self.journal.pending():  # the first record of an outage (for this journal)
            self._emitter.emit(
                Event.FALLBACK_ENGAGED,
                journal=str(self.journal.path),
                error=None if error is None else type(error).__name__,
            )
        result = self.journal.transact(lambda overlay: decide(overlay, self._clock.now()))
        self._emitter.emit(
            Event.FALLBACK_JOURNALED,
            operation=operation,
            key=key_digest(key),
            fill=round(self.journal.fill_level.ratio, 6),
        )
        return result

    async def _write(
        self,
        operation: str,
        key: str,
        call: AsyncOperation[_T],
        decision: Callable[[], Decision[_T]],
    ) -> _T:
        """The primary if it can take the write in order, else the journal."""
        self._check_open()
        if self.journal.pending():
            state = await self._settle()
            # BUSY (the primary answers; another replay runs, or the journal's file
            # failed): a key the journal does not mention goes to the primary, which
            # reorders nothing; set_many is journaled (its keys are checked as one).
            if state is _Settled.DOWN or (
                state is _Settled.BUSY and (operation == "set_many" or self._mentions(key))
            ):
                return self._journaled(operation, key, decision(), None)
        try:
            return await call()
        except StoreUnavailable as error:
            return self._journaled(operation, key, decision(), error)

    async def _view(self, key: str) -> tuple[_Settled, KeyView | None]:
        """After settling: the state and the journal's view of ``key`` (None: no mention)."""
        validate_key(key)
        state = await self._settle()
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

    async def _require_clear(self, operation: str) -> None:
        if self.journal.pending() and await self._settle() is not _Settled.CLEAR:
            raise StoreUnavailable(
                f"{operation} needs the primary store, and its journal is not replayed yet"
            )

    # -- reads ------------------------------------------------------------------------------

    async def get(self, key: str) -> dict[str, Any] | None:
        self._check_open()
        if self.journal.pending():
            state, view = await self._view(key)
            if view is not None:
                if not view.complete and state is _Settled.BUSY:  # another replay runs
                    return self._rules.merged_over(view, await self._primary.get(key))
                return self._rules.value(key, view)
        return await self._primary.get(key)

    async def get_entry(self, key: str) -> Entry | None:
        self._check_open()
        if self.journal.pending():
            _, view = await self._view(key)
            if view is not None:
                return self._rules.entry(key, view)
        return await self._primary.get_entry(key)

    async def exists(self, key: str) -> bool:
        self._check_open()
        if self.journal.pending():
            _, view = await self._view(key)
            if view is not None:
                return self._rules.exists(view)
        return await self._primary.exists(key)

    async def ttl(self, key: str) -> float | None:
        self._check_open()
        if self.journal.pending():
            _, view = await self._view(key)
            if view is not None:
                return self._rules.ttl(key, view, self._clock.now())
        return await self._primary.ttl(key)

    async def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._check_open()
        given: list[Any] = key_list(keys)  # a str or None is refused, journal or not
        if not self.journal.pending():
            return await self._primary.get_many(given)
        wanted = self._rules.keys(given)
        state = await self._settle()
        if state is _Settled.CLEAR:
            return await self._primary.get_many(wanted)
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
            found.update(await self._primary.get_many(unknown))
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

    async def _around(self, operation: str, key: str | None, call: AsyncOperation[_T]) -> _T:
        self._check_open()
        if operation in PREFIX_OPERATIONS:
            validate_prefix(key)
            await self._require_clear(operation)
        return await call()

    async def _around_scan(self, prefix: str, keys: AsyncIterator[str]) -> AsyncIterator[str]:
        self._check_open()
        validate_prefix(prefix)
        await self._require_clear("scan")
        async for key in keys:
            yield key

    # -- writes -----------------------------------------------------------------------------

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        await self._write(
            "set",
            key,
            lambda: self._primary.set(key, value, ttl),
            lambda: self._rules.set(key, value, ttl),
        )

    async def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        await self._write(
            "set_many",
            next(iter(check_items(items)), ""),
            lambda: self._primary.set_many(items, ttl),
            lambda: self._rules.set_many(items, ttl),
        )

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        return await self._write(
            "create",
            key,
            lambda: self._primary.create(key, value, ttl),
            lambda: self._rules.create(key, value, ttl),
        )

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        return await self._write(
            "merge",
            key,
            lambda: self._primary.merge(key, patch, ttl),
            lambda: self._rules.merge(key, patch, ttl),
        )

    async def delete(self, key: str) -> bool:
        return await self._write(
            "delete", key, lambda: self._primary.delete(key), lambda: self._rules.delete(key)
        )

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        return await self._write(
            "touch",
            key,
            lambda: self._primary.touch(key, ttl),
            lambda: self._rules.touch(key, ttl),
        )

    async def update(
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
            state = await self._settle()
            # A key the journal never mentions can go to a live primary (during another
            # replay) without reordering anything; otherwise fn needs the journal's value.
            if state is _Settled.DOWN or (state is _Settled.BUSY and self._mentions(key)):
                decision = self._rules.update(key, fn, ttl, default)
                return self._journaled("update", key, decision, None)
        return await self._primary.update(key, fn, ttl, default=default)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True  # a running replay stops at its next record
            try:
                self.journal.close()  # first: the replay's next journal step raises
            finally:
                await self._primary.close()

    def __repr__(self) -> str:
        return f"AsyncWithFallback({self._primary!r}, journal={str(self.journal.path)!r})"
