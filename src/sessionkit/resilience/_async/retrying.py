"""A store that retries the calls a backend failed with StoreUnavailable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from time import monotonic
from typing import Any, TypeVar

import tenacity

from ..._async.base import AsyncStoreBase
from ..._async.protocol import AsyncSessionStore
from ...entry import TTL, Entry, UpdateFunction
from ...errors import StoreUnavailable
from .._types import AsyncOperation, AsyncSleep
from ..events import Emitter, ResilienceObserver
from ..retry_policy import RetryPolicy

__all__ = ["AsyncRetrying"]

_T = TypeVar("_T")


class AsyncRetrying(AsyncStoreBase):
    """Wraps a store; retries its idempotent calls on :class:`StoreUnavailable`.

    The first attempt runs outside tenacity (the healthy path costs one ``try``); after a
    failure a fresh ``tenacity`` loop makes the remaining attempts, waiting per ``policy``.
    Only the operations in
    :data:`~sessionkit.resilience.retry_policy.IDEMPOTENT_OPERATIONS` are retried
    (``update``, ``create`` and ``scan`` are not), and only on :class:`StoreUnavailable`.
    ``sleep`` and ``clock`` (monotonic seconds, which time ``max_delay``) are injectable
    so tests do not wait.
    """

    def __init__(
        self,
        store: AsyncSessionStore,
        *,
        policy: RetryPolicy | None = None,
        sleep: AsyncSleep = asyncio.sleep,
        clock: Callable[[], float] = monotonic,
        observers: Iterable[ResilienceObserver] = (),
        emitter: Emitter | None = None,
    ) -> None:
        self._store = store
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._emitter = emitter or Emitter(observers)

    @property
    def inner(self) -> AsyncSessionStore:
        """The wrapped store."""
        return self._store

    async def _call(self, operation_name: str, operation: AsyncOperation[_T]) -> _T:
        self._check_open()
        try:
            return await operation()
        except StoreUnavailable as error:
            if not self.policy.retries(operation_name):
                raise
            first_failure = error
        return await self._retry(operation_name, operation, first_failure)

    async def _retry(
        self, operation_name: str, operation: AsyncOperation[_T], first_failure: StoreUnavailable
    ) -> _T:
        pending: list[BaseException] = [first_failure]  # attempt 1 already happened
        options = self.policy.tenacity_options(operation_name, self._emitter, clock=self._clock)
        retrying = tenacity.AsyncRetrying(sleep=self._sleep, **options)
        async for attempt in retrying:
            with attempt:
                if pending:
                    raise pending.pop()
                return await operation()
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self._call("get", lambda: self._store.get(key))

    async def get_entry(self, key: str) -> Entry | None:
        return await self._call("get_entry", lambda: self._store.get_entry(key))

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        await self._call("set", lambda: self._store.set(key, value, ttl))

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        return await self._call("create", lambda: self._store.create(key, value, ttl))

    async def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return await self._call(
            "update", lambda: self._store.update(key, fn, ttl, default=default)
        )

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        return await self._call("merge", lambda: self._store.merge(key, patch, ttl))

    async def delete(self, key: str) -> bool:
        return await self._call("delete", lambda: self._store.delete(key))

    async def exists(self, key: str) -> bool:
        return await self._call("exists", lambda: self._store.exists(key))

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        return await self._call("touch", lambda: self._store.touch(key, ttl))

    async def ttl(self, key: str) -> float | None:
        return await self._call("ttl", lambda: self._store.ttl(key))

    async def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)  # an iterator would be used up by the first attempt
        return await self._call("get_many", lambda: self._store.get_many(keys))

    async def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        await self._call("set_many", lambda: self._store.set_many(items, ttl))

    async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
        # Never retried (not in IDEMPOTENT_OPERATIONS): a half-read iteration cannot be
        # repeated unseen by its consumer.
        self._check_open()
        async for key in self._store.scan(prefix, batch_size=batch_size):
            yield key

    async def count(self, prefix: str = "") -> int:
        return await self._call("count", lambda: self._store.count(prefix))

    async def purge(self, prefix: str = "") -> int:
        return await self._call("purge", lambda: self._store.purge(prefix))

    async def sweep(self) -> int:
        return await self._call("sweep", self._store.sweep)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._store.close()

    def __repr__(self) -> str:
        return f"AsyncRetrying({self._store!r}, attempts={self.policy.attempts})"
