"""A store that reports every operation it passes on: structlog events and metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, TypeVar

from ..._async.base import AsyncStoreBase
from ..._async.protocol import AsyncSessionStore
from ...entry import TTL, Entry, UpdateFunction
from .._types import AsyncOperation
from ..events import Observer
from ..reporter import ALL, OperationRecorder, Reporter, store_label

__all__ = ["AsyncObserved"]

_T = TypeVar("_T")
_clock = time.perf_counter


class AsyncObserved(AsyncStoreBase):
    """Wraps a store; reports each operation's outcome and latency, then returns its result.

    * ``metrics`` (say a :class:`~sessionkit.metrics.SessionMetrics`) gets one sample per
      operation: store, namespace, operation, outcome, seconds.
    * structlog (logger ``sessionkit.store``) gets hits and misses at debug, and outages,
      conflicts, corrupt values, sweeps and purges as the events of
      :class:`~sessionkit.observability.StoreEvent`; keys only as :func:`key_digest`.
    * ``observers`` get those events too (``metrics`` is one if it has ``notify``).

    ``name`` is the ``store`` label (default: from the class, ``"redis"``, ``"sql"``...).
    ``log_reads=False`` skips the hit/miss debug events (and their digest) entirely.
    Outermost (``AsyncObserved(resilient(store))``) it reports what the application sees;
    innermost (``resilient(AsyncObserved(store))``) it reports every attempt on the backend.
    """

    def __init__(
        self,
        store: AsyncSessionStore,
        *,
        name: str | None = None,
        metrics: OperationRecorder | None = None,
        observers: Iterable[Observer] = (),
        log_reads: bool = True,
        logger: Any = None,
    ) -> None:
        self._store = store
        self.name = name or store_label(store)
        self._report = Reporter(
            self.name, metrics=metrics, observers=observers, log_reads=log_reads, logger=logger
        )

    @property
    def inner(self) -> AsyncSessionStore:
        """The wrapped store."""
        return self._store

    async def _call(
        self, operation: str, namespace: str, key: str | None, call: AsyncOperation[_T]
    ) -> _T:
        started = _clock()
        try:
            result = await call()
        except Exception as error:
            self._report.failed(operation, namespace, key, error, _clock() - started)
            raise
        self._report.done(operation, namespace, _clock() - started)
        return result

    async def _keyed(self, operation: str, key: str, call: AsyncOperation[_T]) -> _T:
        return await self._call(operation, self._report.namespace(key), key, call)

    # -- reads ------------------------------------------------------------------------------

    async def get(self, key: str) -> dict[str, Any] | None:
        started = _clock()
        try:
            value = await self._store.get(key)
        except Exception as error:
            self._report.failed("get", self._report.namespace(key), key, error, _clock() - started)
            raise
        self._report.read("get", key, value is not None, _clock() - started)
        return value

    async def get_entry(self, key: str) -> Entry | None:
        started = _clock()
        try:
            entry = await self._store.get_entry(key)
        except Exception as error:
            namespace = self._report.namespace(key)
            self._report.failed("get_entry", namespace, key, error, _clock() - started)
            raise
        self._report.read("get_entry", key, entry is not None, _clock() - started)
        return entry

    async def exists(self, key: str) -> bool:
        started = _clock()
        try:
            found = await self._store.exists(key)
        except Exception as error:
            namespace = self._report.namespace(key)
            self._report.failed("exists", namespace, key, error, _clock() - started)
            raise
        self._report.read("exists", key, found, _clock() - started)
        return found

    async def ttl(self, key: str) -> float | None:
        return await self._keyed("ttl", key, lambda: self._store.ttl(key))

    async def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)
        namespace = self._report.namespace(keys[0]) if keys else ALL
        return await self._call("get_many", namespace, None, lambda: self._store.get_many(keys))

    async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
        namespace = self._report.prefix_namespace(prefix)
        started = _clock()
        try:
            async for key in self._store.scan(prefix, batch_size=batch_size):
                yield key
        except Exception as error:
            self._report.failed("scan", namespace, None, error, _clock() - started)
            raise
        self._report.done("scan", namespace, _clock() - started)

    async def count(self, prefix: str = "") -> int:
        namespace = self._report.prefix_namespace(prefix)
        return await self._call("count", namespace, None, lambda: self._store.count(prefix))

    # -- writes -----------------------------------------------------------------------------

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        await self._keyed("set", key, lambda: self._store.set(key, value, ttl))

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        return await self._keyed("create", key, lambda: self._store.create(key, value, ttl))

    async def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return await self._keyed(
            "update", key, lambda: self._store.update(key, fn, ttl, default=default)
        )

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        return await self._keyed("merge", key, lambda: self._store.merge(key, patch, ttl))

    async def delete(self, key: str) -> bool:
        return await self._keyed("delete", key, lambda: self._store.delete(key))

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        return await self._keyed("touch", key, lambda: self._store.touch(key, ttl))

    async def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        first = next(iter(items), None)
        namespace = ALL if first is None else self._report.namespace(first)
        await self._call("set_many", namespace, None, lambda: self._store.set_many(items, ttl))

    async def purge(self, prefix: str = "") -> int:
        started = _clock()
        try:
            removed = await self._store.purge(prefix)
        except Exception as error:
            namespace = self._report.prefix_namespace(prefix)
            self._report.failed("purge", namespace, None, error, _clock() - started)
            raise
        self._report.purged(prefix, removed, _clock() - started)
        return removed

    async def sweep(self) -> int:
        started = _clock()
        try:
            removed = await self._store.sweep()
        except Exception as error:
            self._report.failed("sweep", ALL, None, error, _clock() - started)
            raise
        self._report.swept(removed, _clock() - started)
        return removed

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._store.close()

    def __repr__(self) -> str:
        return f"AsyncObserved({self._store!r}, name={self.name!r})"
