# Generated from src/sessionkit/observability/_async/observed.py by scripts/unasync.py: edit that file, not this one.
"""A store that reports every operation it passes on: structlog events and metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator, Iterable, Mapping
from typing import Any, TypeVar

from ..._sync.base import StoreBase
from ..._sync.protocol import SessionStore
from ...entry import TTL, Entry, UpdateFunction
from .._types import Operation
from ..events import Observer
from ..reporter import ALL, OperationRecorder, Reporter, store_label

__all__ = ["Observed"]

_T = TypeVar("_T")
_clock = time.perf_counter


class Observed(StoreBase):
    """Wraps a store; reports each operation's outcome and latency, then returns its result.

    * ``metrics`` (say a :class:`~sessionkit.metrics.SessionMetrics`) gets one sample per
      operation: store, namespace, operation, outcome, seconds.
    * structlog (logger ``sessionkit.store``) gets hits and misses at debug, and outages,
      conflicts, corrupt values, sweeps and purges as the events of
      :class:`~sessionkit.observability.StoreEvent`; keys only as :func:`key_digest`.
    * ``observers`` get those events too (``metrics`` is one if it has ``notify``).

    ``name`` is the ``store`` label (default: from the class, ``"redis"``, ``"sql"``...).
    ``log_reads=False`` skips the hit/miss debug events (and their digest) entirely.
    Outermost (``Observed(resilient(store))``) it reports what the application sees;
    innermost (``resilient(Observed(store))``) it reports every attempt on the backend.
    """

    def __init__(
        self,
        store: SessionStore,
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
    def inner(self) -> SessionStore:
        """The wrapped store."""
        return self._store

    def _call(
        self, operation: str, namespace: str, key: str | None, call: Operation[_T]
    ) -> _T:
        started = _clock()
        try:
            result = call()
        except Exception as error:
            self._report.failed(operation, namespace, key, error, _clock() - started)
            raise
        self._report.done(operation, namespace, _clock() - started)
        return result

    def _keyed(self, operation: str, key: str, call: Operation[_T]) -> _T:
        return self._call(operation, self._report.namespace(key), key, call)

    # -- reads ------------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        started = _clock()
        try:
            value = self._store.get(key)
        except Exception as error:
            self._report.failed("get", self._report.namespace(key), key, error, _clock() - started)
            raise
        self._report.read("get", key, value is not None, _clock() - started)
        return value

    def get_entry(self, key: str) -> Entry | None:
        started = _clock()
        try:
            entry = self._store.get_entry(key)
        except Exception as error:
            namespace = self._report.namespace(key)
            self._report.failed("get_entry", namespace, key, error, _clock() - started)
            raise
        self._report.read("get_entry", key, entry is not None, _clock() - started)
        return entry

    def exists(self, key: str) -> bool:
        started = _clock()
        try:
            found = self._store.exists(key)
        except Exception as error:
            namespace = self._report.namespace(key)
            self._report.failed("exists", namespace, key, error, _clock() - started)
            raise
        self._report.read("exists", key, found, _clock() - started)
        return found

    def ttl(self, key: str) -> float | None:
        return self._keyed("ttl", key, lambda: self._store.ttl(key))

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)
        namespace = self._report.namespace(keys[0]) if keys else ALL
        return self._call("get_many", namespace, None, lambda: self._store.get_many(keys))

    def scan(self, prefix: str = "", *, batch_size: int = 500) -> Iterator[str]:
        namespace = self._report.prefix_namespace(prefix)
        started = _clock()
        try:
            for key in self._store.scan(prefix, batch_size=batch_size):
                yield key
        except Exception as error:
            self._report.failed("scan", namespace, None, error, _clock() - started)
            raise
        self._report.done("scan", namespace, _clock() - started)

    def count(self, prefix: str = "") -> int:
        namespace = self._report.prefix_namespace(prefix)
        return self._call("count", namespace, None, lambda: self._store.count(prefix))

    # -- writes -----------------------------------------------------------------------------

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._keyed("set", key, lambda: self._store.set(key, value, ttl))

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        return self._keyed("create", key, lambda: self._store.create(key, value, ttl))

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self._keyed(
            "update", key, lambda: self._store.update(key, fn, ttl, default=default)
        )

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        return self._keyed("merge", key, lambda: self._store.merge(key, patch, ttl))

    def delete(self, key: str) -> bool:
        return self._keyed("delete", key, lambda: self._store.delete(key))

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        return self._keyed("touch", key, lambda: self._store.touch(key, ttl))

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        first = next(iter(items), None)
        namespace = ALL if first is None else self._report.namespace(first)
        self._call("set_many", namespace, None, lambda: self._store.set_many(items, ttl))

    def purge(self, prefix: str = "") -> int:
        started = _clock()
        try:
            removed = self._store.purge(prefix)
        except Exception as error:
            namespace = self._report.prefix_namespace(prefix)
            self._report.failed("purge", namespace, None, error, _clock() - started)
            raise
        self._report.purged(prefix, removed, _clock() - started)
        return removed

    def sweep(self) -> int:
        started = _clock()
        try:
            removed = self._store.sweep()
        except Exception as error:
            self._report.failed("sweep", ALL, None, error, _clock() - started)
            raise
        self._report.swept(removed, _clock() - started)
        return removed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._store.close()

    def __repr__(self) -> str:
        return f"Observed({self._store!r}, name={self.name!r})"
