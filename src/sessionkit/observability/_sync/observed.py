# Generated from src/sessionkit/observability/_async/observed.py by scripts/unasync.py: edit that file, not this one.
"""A store that reports every operation it passes on: log events and metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator, Iterable
from typing import Any, TypeVar

from ..._sync.delegating import KEYED_OPERATIONS, PREFIX_OPERATIONS, DelegatingStore
from ..._sync.protocol import SessionStore
from .._types import Operation
from ..events import Observer
from ..reporter import ALL, OperationRecorder, Reporter, store_label

__all__ = ["Observed"]

_T = TypeVar("_T")
_clock = time.perf_counter
#: Single-key reads, reported as a hit or a miss.
_READS = frozenset({"get", "get_entry", "exists"})


def _keyed(operation: str, key: str | None) -> str | None:
    """The key to digest in a failure event: single-key operations only."""
    return key if operation in KEYED_OPERATIONS else None


class Observed(DelegatingStore):
    """Wraps a store; reports each operation's outcome and latency, then returns its result.

    * ``metrics`` (say a `SessionMetrics`) gets one sample per
      operation: store, namespace, operation, outcome, seconds.
    * stdlib logging (logger ``sessionkit.store``) gets hits and misses at debug, and outages,
      conflicts, corrupt values, sweeps and purges as the events of
      `StoreEvent`; keys only as `key_digest`.
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
        super().__init__(store)
        self.name = name or store_label(store)
        self._report = Reporter(
            self.name, metrics=metrics, observers=observers, log_reads=log_reads, logger=logger
        )

    def _around(self, operation: str, key: str | None, call: Operation[_T]) -> _T:
        report = self._report
        started = _clock()
        try:
            result = call()
        except Exception as error:
            report.failed(operation, self._label(operation, key), _keyed(operation, key), error,
                          _clock() - started)  # fmt: skip
            raise
        seconds = _clock() - started
        if operation in _READS:
            assert key is not None
            report.read(operation, key, result is not None and result is not False, seconds)
        elif operation == "purge":
            report.purged(key or "", result, seconds)  # type: ignore[arg-type]
        elif operation == "sweep":
            report.swept(result, seconds)  # type: ignore[arg-type]
        else:
            report.done(operation, self._label(operation, key), seconds)
        return result

    def _around_scan(self, prefix: str, keys: Iterator[str]) -> Iterator[str]:
        namespace = self._report.prefix_namespace(prefix)
        started = _clock()
        try:
            for key in keys:
                yield key
        except Exception as error:
            self._report.failed("scan", namespace, None, error, _clock() - started)
            raise
        self._report.done("scan", namespace, _clock() - started)

    def _label(self, operation: str, key: str | None) -> str:
        """The namespace label of an operation, from its key, first key or prefix."""
        if operation in PREFIX_OPERATIONS:
            return self._report.prefix_namespace(key or "")
        if key is None:  # sweep, or a batch of no keys
            return ALL
        return self._report.namespace(key)

    def __repr__(self) -> str:
        return f"Observed({self._store!r}, name={self.name!r})"
