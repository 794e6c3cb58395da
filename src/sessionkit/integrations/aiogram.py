"""aiogram FSM storage (and event isolation) on any sessionkit store.

Use it like any aiogram storage::

    storage = SessionkitStorage.from_url("sqlite:///bot-sessions.db", data_ttl=3600)
    dispatcher = Dispatcher(storage=storage, events_isolation=storage.create_isolation())

State and data of one `StorageKey` live under two store
keys (``...:state`` and ``...:data``), the data entry holding the FSM data dict itself, so
`SessionkitStorage.update_data` is one atomic top-level ``merge``: concurrent updates
from several handlers, tasks or bot processes never lose each other's fields.

Every key starts with ``~`` (``~aiogram:`` by default), outside the namespaces' key space:
`AsyncSessionManager.stats()` and
``purge()`` neither count nor clear FSM records; ``await store.purge("~aiogram:")`` does.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import secrets
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal, overload
from urllib.parse import quote

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseEventIsolation,
    BaseStorage,
    KeyBuilder,
    StateType,
    StorageKey,
)

from .._async.protocol import AsyncSessionStore
from ..entry import TTL, to_seconds
from ..errors import ConflictError, SerializationError, SessionNotFound
from ..keys import MAX_KEY_LENGTH, validate_key
from ..registry import open_async_store

__all__ = ["SessionkitEventIsolation", "SessionkitKeyBuilder", "SessionkitStorage"]

Part = Literal["data", "state", "lock"]

# What an absent optional part (thread, business connection) is written as. Percent-encoding
# always encodes "!", so no encoded value can be mistaken for it.
_ABSENT = "!"

# A released lock entry is rewritten as free and expires at once (a free entry is taken over
# like an absent one, so this only spares the store the leftover).
_RELEASED_TTL = 0.001


def _encode(value: str) -> str:
    return quote(value, safe="", encoding="utf-8", errors="surrogatepass")


class _StoreKeys:
    """Store keys from any aiogram ``KeyBuilder``.

    A built key that is a valid store key starting with ``~`` is used as it is (what
    `SessionkitKeyBuilder` builds). Any other (``DefaultKeyBuilder()``'s ``fsm:...``, a
    destiny with a space, a non-ASCII prefix) is percent-encoded, its separators kept, behind
    a ``~``: ``fsm:1:2:my flow:data`` is stored as ``~fsm:1:2:my%20flow:data``. One builder's
    keys all share its prefix, so they are either all used as they are or all encoded, and
    two different built keys never give the same store key.
    """

    __slots__ = ("builder",)

    def __init__(self, builder: KeyBuilder) -> None:
        self.builder = builder

    def __call__(self, key: StorageKey, part: Part) -> str:
        built = self.builder.build(key, part)
        if built.startswith("~"):
            try:
                return validate_key(built)
            except ValueError:
                pass
        encoded = "~" + quote(built, safe=":", encoding="utf-8", errors="surrogatepass")
        if len(encoded) > MAX_KEY_LENGTH:
            raise ValueError(
                f"the key builder's key for {key} is {len(encoded)} characters once encoded, "
                f"over {MAX_KEY_LENGTH}"
            )
        return encoded


def _as_json_does(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as aiogram's ``RedisStorage`` stores it: through ``json`` (int, float, bool
    and None keys become strings, tuples lists), refusing what ``json`` refuses."""
    try:
        return dict(json.loads(json.dumps(data)))
    except (TypeError, ValueError) as error:
        raise SerializationError(f"FSM data is stored as JSON: {error}") from None


class SessionkitKeyBuilder(KeyBuilder):
    """Store keys for FSM records: every field of the `StorageKey` is in the key.

    ``<prefix>:<bot_id>:<business_connection_id>:<chat_id>:<thread_id>:<user_id>:<destiny>:<part>``,
    string parts percent-encoded (store keys are visible ASCII), absent parts as ``!``. Two
    bots, business connections or destinies sharing one store never see each other's state.

    The prefix (``~aiogram`` by default) starts with ``~``, which no namespace key does, so
    FSM records never collide with namespace sessions and are not counted or purged by the
    manager.
    """

    def __init__(self, prefix: str = "~aiogram") -> None:
        if not prefix or _encode(prefix) != prefix:
            raise ValueError(f"a key prefix is letters, digits and _.-~ only, not {prefix!r}")
        if not prefix.startswith("~") or prefix == "~":
            raise ValueError(
                f"a key prefix starts with '~' (like '~aiogram'), not {prefix!r}: namespace "
                "keys never do, so FSM records cannot collide with them"
            )
        self.prefix = prefix

    def build(self, key: StorageKey, part: Part | None = None) -> str:
        connection = key.business_connection_id
        parts = [
            self.prefix,
            str(key.bot_id),
            _ABSENT if connection is None else _encode(connection),
            str(key.chat_id),
            _ABSENT if key.thread_id is None else str(key.thread_id),
            str(key.user_id),
            _encode(key.destiny),
        ]
        if part:
            parts.append(part)
        return ":".join(parts)


class SessionkitStorage(BaseStorage):
    """An aiogram ``BaseStorage`` that keeps FSM state and data in a sessionkit store.

    ``state_ttl`` and ``data_ttl`` (seconds or timedelta) restart on every write of the
    record; ``None`` uses the store's default TTL. Data must be JSON-compatible (the store's
    codec raises `SerializationError` otherwise, before writing).

    A storage made by `from_url` owns its store and closes it in `close`; a store
    passed in is left open (its owner closes it), unless ``close_store=True``.

    ``key_builder``: a `SessionkitKeyBuilder` by default, or any aiogram ``KeyBuilder``
    (``DefaultKeyBuilder()`` included): keys that are not valid store keys starting with
    ``~`` are percent-encoded behind a ``~`` (see docs/integrations/aiogram.md).

    Data is stored as aiogram's ``RedisStorage`` stores it, through ``json``: int, float,
    bool and None keys come back as strings (``{101: 2}`` as ``{"101": 2}``), tuples as lists;
    what ``json`` refuses (sets, dates, objects), and NaN, infinities and ints beyond 64 bits
    (which the store's codec refuses), raise `SerializationError` before anything is written.
    """

    def __init__(
        self,
        store: AsyncSessionStore,
        *,
        key_builder: KeyBuilder | None = None,
        state_ttl: TTL | None = None,
        data_ttl: TTL | None = None,
        close_store: bool = False,
    ) -> None:
        self.store = store
        self.key_builder = key_builder if key_builder is not None else SessionkitKeyBuilder()
        self._key = _StoreKeys(self.key_builder)
        # Checked now, so a bad TTL fails at startup rather than on the first message.
        self.state_ttl = None if state_ttl is None else to_seconds(state_ttl)
        self.data_ttl = None if data_ttl is None else to_seconds(data_ttl)
        self._close_store = close_store

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        store_options: Mapping[str, Any] | None = None,
        key_builder: KeyBuilder | None = None,
        state_ttl: TTL | None = None,
        data_ttl: TTL | None = None,
    ) -> SessionkitStorage:
        """A storage on a store opened from ``url``; `close` closes that store."""
        store = open_async_store(url, **dict(store_options or {}))
        return cls(
            store,
            key_builder=key_builder,
            state_ttl=state_ttl,
            data_ttl=data_ttl,
            close_store=True,
        )

    def create_isolation(
        self, *, lock_ttl: TTL = 60.0, wait_timeout: float = 60.0
    ) -> SessionkitEventIsolation:
        """An event isolation on the same store and key builder (for ``Dispatcher``)."""
        return SessionkitEventIsolation(
            self.store, key_builder=self.key_builder, lock_ttl=lock_ttl, wait_timeout=wait_timeout
        )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        store_key = self._key(key, "state")
        if state is None:
            await self.store.delete(store_key)
            return
        name = state.state if isinstance(state, State) else state
        if name is None:  # a State() that is the "any state" marker: same as no state
            await self.store.delete(store_key)
            return
        await self.store.set(store_key, {"state": name}, ttl=self.state_ttl)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self.store.get(self._key(key, "state"))
        return None if record is None else record.get("state")

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        _require_mapping(data)
        store_key = self._key(key, "data")
        data = _as_json_does(data)
        if not data:  # empty data is no data: nothing left behind to expire
            await self.store.delete(store_key)
            return
        await self.store.set(store_key, data, ttl=self.data_ttl)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        # Every read decodes afresh: the caller owns the dict it gets.
        return await self.store.get(self._key(key, "data")) or {}

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Set the top-level fields of ``data`` in one atomic store operation (``merge``)."""
        _require_mapping(data)
        patch = _as_json_does(data)
        if not patch:
            return await self.get_data(key)
        return await self.store.merge(self._key(key, "data"), patch, ttl=self.data_ttl)

    @overload
    async def get_value(self, storage_key: StorageKey, dict_key: str) -> Any | None: ...

    @overload
    async def get_value(self, storage_key: StorageKey, dict_key: str, default: Any) -> Any: ...

    async def get_value(
        self, storage_key: StorageKey, dict_key: str, default: Any | None = None
    ) -> Any | None:
        return (await self.get_data(storage_key)).get(dict_key, default)

    async def close(self) -> None:
        """Close the store if this storage opened it (or was told to own it)."""
        if self._close_store:
            await self.store.close()


def _require_mapping(data: object) -> None:
    if not isinstance(data, Mapping):
        raise DataNotDictLikeError(
            f"Data must be a dict or dict-like object, got {type(data).__name__}"
        )


class _Held(Exception):
    """The lock entry belongs to someone else (raised inside an update: nothing written)."""


class _Waiter:
    """One ``lock`` call of this process waiting for a key."""

    __slots__ = ("future", "owner")

    def __init__(self, owner: str, future: asyncio.Future[bool]) -> None:
        self.owner = owner
        self.future = future  # True: the lock was handed over to it; False: try again


class SessionkitEventIsolation(BaseEventIsolation):
    """Serialises the handling of events of one ``StorageKey`` across processes.

    The lock is a store entry ``{"owner": <random token>}`` expiring after ``lock_ttl``, so a
    crashed process cannot hold it forever. Waiting is bounded by ``wait_timeout`` seconds,
    then `TimeoutError`. A handler that runs longer than ``lock_ttl`` loses the lock
    to the next waiter: choose ``lock_ttl`` above your slowest handler.

    Taking and releasing are both single atomic store operations, so a release never frees
    a lock someone else holds: taking is ``create`` (the entry is absent or expired) or an
    ``update`` that succeeds only if the entry is marked free; releasing is an ``update``
    that succeeds only if the entry still names this holder, and marks it free (with a TTL
    of a millisecond, so the entry goes away too). The store contract has no conditional
    delete, so the lock is never deleted outright: a read-then-delete could delete a lock
    that expired and was taken by another process between the read and the delete.

    Hand-over: waiters of this process queue per key (first come, first served), and a
    release hands the lock straight to the first of them in the same atomic ``update`` (the
    entry is rewritten with the waiter's token), waking it at once. Waiters also poll the
    store, from ``poll_interval`` up to ``max_poll_interval`` seconds apart, for locks
    released by other processes.
    """

    def __init__(
        self,
        store: AsyncSessionStore,
        *,
        key_builder: KeyBuilder | None = None,
        lock_ttl: TTL = 60.0,
        wait_timeout: float = 60.0,
        poll_interval: float = 0.01,
        max_poll_interval: float = 0.25,
    ) -> None:
        if not wait_timeout > 0 or not poll_interval > 0 or not max_poll_interval > 0:
            raise ValueError(
                "wait_timeout, poll_interval and max_poll_interval are positive seconds"
            )
        self.store = store
        self.key_builder = key_builder if key_builder is not None else SessionkitKeyBuilder()
        self._key = _StoreKeys(self.key_builder)
        self.lock_ttl = to_seconds(lock_ttl)
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval, poll_interval)
        self._waiters: dict[str, collections.deque[_Waiter]] = {}
        self._pending_releases: set[asyncio.Future[None]] = set()

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock_key = self._key(key, "lock")
        owner = secrets.token_hex(16)
        await self._wait_for(lock_key, owner)
        try:
            yield None
        finally:
            await self._release(lock_key, owner)

    async def _wait_for(self, lock_key: str, owner: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_timeout
        delay = self.poll_interval
        queue = self._waiters.get(lock_key)
        # Someone of this process is already waiting: queue behind them rather than
        # overtake them with a store call.
        if not queue and await self._acquire(lock_key, owner):
            return
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"event lock {lock_key!r} still held after {self.wait_timeout} s"
                )
            waiter = _Waiter(owner, loop.create_future())
            queue = self._waiters.setdefault(lock_key, collections.deque())
            queue.append(waiter)
            try:
                await asyncio.wait({waiter.future}, timeout=min(delay, remaining))
                if not waiter.future.done() and waiter not in queue:
                    # A release took it off the queue and is handing the lock over now.
                    await asyncio.shield(waiter.future)
            except asyncio.CancelledError:
                self._abandon(lock_key, waiter)
                raise
            if waiter.future.done():
                if waiter.future.result():
                    return  # handed over
            else:
                self._forget(lock_key, waiter)
            if await self._acquire(lock_key, owner):
                return
            delay = min(delay * 2, self.max_poll_interval)

    def _forget(self, lock_key: str, waiter: _Waiter) -> None:
        queue = self._waiters.get(lock_key)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)
            if not queue:
                del self._waiters[lock_key]

    def _abandon(self, lock_key: str, waiter: _Waiter) -> None:
        """A cancelled waiter: leave the queue; a lock handed to it is released again."""
        self._forget(lock_key, waiter)

        def release_if_handed(future: asyncio.Future[bool]) -> None:
            if not future.cancelled() and future.result():
                task = asyncio.ensure_future(self._release(lock_key, waiter.owner))
                self._pending_releases.add(task)
                task.add_done_callback(self._pending_releases.discard)

        if waiter.future.done():
            release_if_handed(waiter.future)
        else:
            waiter.future.add_done_callback(release_if_handed)

    async def _acquire(self, lock_key: str, owner: str) -> bool:
        if await self.store.create(lock_key, {"owner": owner}, ttl=self.lock_ttl):
            return True  # absent or expired

        def take_if_free(record: dict[str, Any]) -> dict[str, Any]:
            if record.get("owner") is not None:
                raise _Held
            return {"owner": owner}

        try:  # released, but its entry not gone yet: take it over, atomically
            await self.store.update(lock_key, take_if_free, ttl=self.lock_ttl)
        except (_Held, SessionNotFound, ConflictError):
            return False  # held; or gone (then create succeeds next time); or contended
        return True

    async def _release(self, lock_key: str, owner: str) -> None:
        queue = self._waiters.get(lock_key)
        while queue:
            waiter = queue.popleft()
            if not queue:
                del self._waiters[lock_key]
            if waiter.future.done():  # (cannot happen while queued; be safe)
                continue
            handed = await self._hand_over(lock_key, owner, waiter.owner)
            waiter.future.set_result(handed)
            return
        await self._free(lock_key, owner)

    async def _hand_over(self, lock_key: str, owner: str, successor: str) -> bool:
        def give_if_mine(record: dict[str, Any]) -> dict[str, Any]:
            if record.get("owner") != owner:
                raise _Held
            return {"owner": successor}

        try:
            await self.store.update(lock_key, give_if_mine, ttl=self.lock_ttl)
        except (_Held, SessionNotFound, ConflictError):
            return False  # expired (and maybe taken): the successor competes like anyone
        return True

    async def _free(self, lock_key: str, owner: str) -> None:
        def free_if_mine(record: dict[str, Any]) -> dict[str, Any]:
            if record.get("owner") != owner:
                raise _Held  # it expired and another holder took it: theirs now
            return {"owner": None}

        # Not ours any more, or expired: nothing to release.
        with contextlib.suppress(_Held, SessionNotFound):
            await self.store.update(lock_key, free_if_mine, ttl=_RELEASED_TTL)

    async def close(self) -> None:
        """Nothing to release: the store belongs to whoever passed it in."""
