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
import contextlib
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
from ..errors import ConfigurationError, ConflictError, SessionNotFound
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

    ``key_builder``: a `SessionkitKeyBuilder` by default; any aiogram ``KeyBuilder``
    whose keys are valid store keys starting with ``~`` (``ConfigurationError`` otherwise).
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
        self.key_builder = _checked_key_builder(key_builder)
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
        store_key = self.key_builder.build(key, "state")
        if state is None:
            await self.store.delete(store_key)
            return
        name = state.state if isinstance(state, State) else state
        if name is None:  # a State() that is the "any state" marker: same as no state
            await self.store.delete(store_key)
            return
        await self.store.set(store_key, {"state": name}, ttl=self.state_ttl)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self.store.get(self.key_builder.build(key, "state"))
        return None if record is None else record.get("state")

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        _require_mapping(data)
        store_key = self.key_builder.build(key, "data")
        if not data:  # empty data is no data: nothing left behind to expire
            await self.store.delete(store_key)
            return
        await self.store.set(store_key, data, ttl=self.data_ttl)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        # Every read decodes afresh: the caller owns the dict it gets.
        return await self.store.get(self.key_builder.build(key, "data")) or {}

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Set the top-level fields of ``data`` in one atomic store operation (``merge``)."""
        _require_mapping(data)
        if not data:
            return await self.get_data(key)
        return await self.store.merge(self.key_builder.build(key, "data"), data, ttl=self.data_ttl)

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


def _checked_key_builder(key_builder: KeyBuilder | None) -> KeyBuilder:
    if key_builder is None:
        return SessionkitKeyBuilder()
    sample = key_builder.build(StorageKey(bot_id=1, chat_id=1, user_id=1), "data")
    if not sample.startswith("~"):
        raise ConfigurationError(
            f"the key builder's keys must start with '~' (like '~aiogram:...'), not "
            f"{sample!r}: namespace keys never do, so FSM records cannot collide with them. "
            "Use SessionkitKeyBuilder(prefix='~mybot')."
        )
    return key_builder


def _require_mapping(data: object) -> None:
    if not isinstance(data, Mapping):
        raise DataNotDictLikeError(
            f"Data must be a dict or dict-like object, got {type(data).__name__}"
        )


class _Held(Exception):
    """The lock entry belongs to someone else (raised inside an update: nothing written)."""


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
    """

    def __init__(
        self,
        store: AsyncSessionStore,
        *,
        key_builder: KeyBuilder | None = None,
        lock_ttl: TTL = 60.0,
        wait_timeout: float = 60.0,
        poll_interval: float = 0.01,
    ) -> None:
        if not wait_timeout > 0 or not poll_interval > 0:
            raise ValueError("wait_timeout and poll_interval are positive seconds")
        self.store = store
        self.key_builder = _checked_key_builder(key_builder)
        self.lock_ttl = to_seconds(lock_ttl)
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        lock_key = self.key_builder.build(key, "lock")
        owner = secrets.token_hex(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_timeout
        delay = self.poll_interval
        while not await self._acquire(lock_key, owner):
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"event lock {lock_key!r} still held after {self.wait_timeout} s"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)  # back off: a busy key should not hammer the store
        try:
            yield None
        finally:
            await self._release(lock_key, owner)

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
        def free_if_mine(record: dict[str, Any]) -> dict[str, Any]:
            if record.get("owner") != owner:
                raise _Held  # it expired and another holder took it: theirs now
            return {"owner": None}

        # Not ours any more, or expired: nothing to release.
        with contextlib.suppress(_Held, SessionNotFound):
            await self.store.update(lock_key, free_if_mine, ttl=_RELEASED_TTL)

    async def close(self) -> None:
        """Nothing to release: the store belongs to whoever passed it in."""
