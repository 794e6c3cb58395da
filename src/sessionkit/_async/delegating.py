"""The base of every wrapper store: each store method delegates through one hook.

A wrapper (retry, circuit breaker, observation, the fallback's pass-through) differs from
the store it wraps only in what it does *around* each call, so it overrides
`AsyncDelegatingStore._around` (and `AsyncDelegatingStore._around_scan` for the
one call that is an iterator) instead of spelling out every method of the protocol: a
new store method is added here once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, TypeVar

from .._types import AsyncOperation
from ..codec import check_items
from ..entry import TTL, Entry, UpdateFunction
from ..keys import key_list
from ..stamped import ReplayOutcome, StampedWrite
from .base import AsyncStoreBase
from .protocol import AsyncSessionStore
from .stamped_apply import apply_stamped

__all__ = ["BATCH_OPERATIONS", "KEYED_OPERATIONS", "PREFIX_OPERATIONS", "AsyncDelegatingStore"]

_T = TypeVar("_T")

#: Operations whose hook ``key`` is the one key they act on.
KEYED_OPERATIONS = frozenset(
    {
        "get",
        "get_entry",
        "exists",
        "ttl",
        "set",
        "create",
        "update",
        "merge",
        "delete",
        "touch",
        "apply_if_newer",
    }
)
#: Operations on several keys: the hook gets their first key (``None`` for none).
BATCH_OPERATIONS = frozenset({"get_many", "set_many"})
#: Operations on a prefix: the hook gets the prefix. ``sweep`` gets ``None``.
PREFIX_OPERATIONS = frozenset({"scan", "count", "purge"})


class AsyncDelegatingStore(AsyncStoreBase):
    """A store that passes every call to ``store`` through `_around`."""

    def __init__(self, store: AsyncSessionStore) -> None:
        self._store = store

    @property
    def inner(self) -> AsyncSessionStore:
        """The wrapped store."""
        return self._store

    async def _around(self, operation: str, key: str | None, call: AsyncOperation[_T]) -> _T:
        """Run ``call`` (the wrapped store's ``operation``); wrappers add their behaviour.

        ``key`` is the operation's key, first key or prefix (see the ``*_OPERATIONS`` sets).
        ``call`` may be called again (a retry), and makes the same call each time.
        """
        self._check_open()
        return await call()

    def _around_scan(self, prefix: str, keys: AsyncIterator[str]) -> AsyncIterator[str]:
        """The wrapped store's scan iterator, as this wrapper hands it on."""
        self._check_open()
        return keys

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self._around("get", key, lambda: self._store.get(key))

    async def get_entry(self, key: str) -> Entry | None:
        return await self._around("get_entry", key, lambda: self._store.get_entry(key))

    async def exists(self, key: str) -> bool:
        return await self._around("exists", key, lambda: self._store.exists(key))

    async def ttl(self, key: str) -> float | None:
        return await self._around("ttl", key, lambda: self._store.ttl(key))

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        await self._around("set", key, lambda: self._store.set(key, value, ttl))

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        return await self._around("create", key, lambda: self._store.create(key, value, ttl))

    async def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return await self._around(
            "update", key, lambda: self._store.update(key, fn, ttl, default=default)
        )

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        return await self._around("merge", key, lambda: self._store.merge(key, patch, ttl))

    async def delete(self, key: str) -> bool:
        return await self._around("delete", key, lambda: self._store.delete(key))

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        return await self._around("touch", key, lambda: self._store.touch(key, ttl))

    async def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        """The wrapped store's ``apply_if_newer`` (see `sessionkit.stamped`)."""
        return await self._around(
            "apply_if_newer", write.key, lambda: apply_stamped(self._store, write)
        )

    async def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        # A list: an iterator would be used up by a first attempt. A str is refused here.
        wanted: list[Any] = key_list(keys)
        first = wanted[0] if wanted else None
        return await self._around("get_many", first, lambda: self._store.get_many(wanted))

    async def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        first = next(iter(check_items(items)), None)
        await self._around("set_many", first, lambda: self._store.set_many(items, ttl))

    async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
        keys = self._around_scan(prefix, self._store.scan(prefix, batch_size=batch_size))
        async for key in keys:
            yield key

    async def count(self, prefix: str = "") -> int:
        return await self._around("count", prefix, lambda: self._store.count(prefix))

    async def purge(self, prefix: str = "") -> int:
        return await self._around("purge", prefix, lambda: self._store.purge(prefix))

    async def sweep(self) -> int:
        return await self._around("sweep", None, self._store.sweep)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._store.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"
