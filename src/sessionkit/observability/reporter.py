"""What the sync and async `Observed` wrappers share: turning
one finished operation into a log event, observer calls and metric samples.

Kept free of I/O so it exists once; the wrappers only time the call and hand over the
outcome. The hot path (a hit, a miss, a successful write) costs one dict lookup for the
namespace label, one metrics call and, for reads, one debug log call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Protocol

from ..errors import (
    CircuitOpen,
    ConflictError,
    CorruptValue,
    SessionNotFound,
    StoreUnavailable,
)
from .events import EventLogger, Observer, StoreEvent, key_digest, notify_all, split_key

__all__ = ["OperationRecorder", "Outcome", "Reporter", "store_label"]


class Outcome:
    """The ``outcome`` label of an operation (metrics) and its meaning."""

    OK = "ok"  # a write, count, scan... that succeeded
    HIT = "hit"  # a read that found the key
    MISS = "miss"  # a read that found nothing
    NOT_FOUND = "not_found"  # update of an absent key with no default
    CONFLICT = "conflict"  # update gave up after its optimistic retries
    CORRUPT = "corrupt"  # the stored value cannot be decoded
    UNAVAILABLE = "unavailable"  # the backend could not be reached in time
    CIRCUIT_OPEN = "circuit_open"  # the breaker failed the call fast
    ERROR = "error"  # anything else: bad input, closed store, an exception from fn


class OperationRecorder(Protocol):
    """Where an observed store sends its samples (`SessionMetrics`)."""

    def record_operation(
        self, store: str, namespace: str, operation: str, outcome: str, seconds: float
    ) -> None: ...


#: Namespace labels: keys outside any namespace, and whole-store (or whole-tenant) calls.
OTHER = "other"
ALL = "all"


def store_label(store: object) -> str:
    """``"redis"`` for a ``RedisStore`` or ``AsyncRedisStore``, ``"sql"``, ``"memory"``..."""
    name = type(store).__name__.lower()
    if name.startswith("async"):
        name = name[len("async") :]
    return name.removesuffix("store") or name


def _classify(error: BaseException) -> tuple[str, str | None, str]:
    """``(outcome, event or None, log level)`` for an operation that raised ``error``."""
    if isinstance(error, CircuitOpen):
        return Outcome.CIRCUIT_OPEN, StoreEvent.UNAVAILABLE, "warning"
    if isinstance(error, StoreUnavailable):
        return Outcome.UNAVAILABLE, StoreEvent.UNAVAILABLE, "warning"
    if isinstance(error, ConflictError):
        return Outcome.CONFLICT, StoreEvent.CONFLICT, "warning"
    if isinstance(error, CorruptValue):
        return Outcome.CORRUPT, StoreEvent.CORRUPT_VALUE, "error"
    if isinstance(error, SessionNotFound):
        return Outcome.NOT_FOUND, None, "debug"
    return Outcome.ERROR, None, "debug"


class Reporter:
    """Reports the operations of one observed store.

    ``max_namespaces`` bounds the namespace label's cardinality: past that many distinct
    names, new ones are reported as ``"other"`` (a metric per key would exhaust Prometheus).
    """

    def __init__(
        self,
        store: str,
        *,
        metrics: OperationRecorder | None = None,
        observers: Iterable[Observer] = (),
        log_reads: bool = True,
        logger: Any = None,
        max_namespaces: int = 50,
    ) -> None:
        self.store = store
        self._metrics = metrics
        watchers = list(observers)
        if metrics is not None and isinstance(metrics, Observer) and metrics not in watchers:
            watchers.append(metrics)
        self._observers = tuple(watchers)
        self._log_reads = log_reads
        self._log = logger if logger is not None else EventLogger("sessionkit.store")
        self._labels: dict[str, str] = {}  # namespace -> label, for the default tenant
        self._seen: set[str] = set()
        self._labels_lock = threading.Lock()
        self._max_namespaces = max_namespaces

    # -- labels ----------------------------------------------------------------------------

    def namespace(self, key: str) -> str:
        """The namespace label for a key (``"other"`` for anything that is not one)."""
        if not isinstance(key, str):  # a bad key: the store is about to reject it
            return OTHER
        head, separator, _ = key.partition(":")
        label = self._labels.get(head) if separator else None
        return self._new_label(key) if label is None else label

    def _new_label(self, key: str) -> str:
        _, namespace, _ = split_key(key)
        with self._labels_lock:
            if namespace is None:
                return OTHER
            if namespace not in self._seen:
                if len(self._seen) >= self._max_namespaces:
                    return OTHER
                self._seen.add(namespace)
            if key[:1] != "@":  # cache by first segment (tenant keys vary per tenant)
                self._labels[namespace] = namespace
        return namespace

    def prefix_namespace(self, prefix: str) -> str:
        """The namespace label for a prefix (``"all"`` when it spans namespaces)."""
        if not isinstance(prefix, str):
            return OTHER
        _, namespace, _ = split_key(prefix)
        return ALL if namespace is None else self.namespace(prefix)

    # -- outcomes --------------------------------------------------------------------------

    def read(self, operation: str, key: str, found: bool, seconds: float) -> None:
        """A single-key read finished: a hit or a miss."""
        namespace = self.namespace(key)
        outcome = Outcome.HIT if found else Outcome.MISS
        if self._metrics is not None:
            self._metrics.record_operation(self.store, namespace, operation, outcome, seconds)
        if self._log_reads:
            self._log.debug(
                StoreEvent.HIT if found else StoreEvent.MISS,
                store=self.store,
                namespace=namespace,
                operation=operation,
                key=key_digest(key),
            )

    def done(self, operation: str, namespace: str, seconds: float) -> None:
        """Any other operation finished without an error."""
        if self._metrics is not None:
            self._metrics.record_operation(self.store, namespace, operation, Outcome.OK, seconds)

    def failed(
        self, operation: str, namespace: str, key: str | None, error: BaseException, seconds: float
    ) -> None:
        """An operation raised ``error``: counted by outcome, logged if an operator cares."""
        outcome, event, level = _classify(error)
        if self._metrics is not None:
            self._metrics.record_operation(self.store, namespace, operation, outcome, seconds)
        if event is None:
            return  # bad input or a missing session: the caller's business, not the operator's
        fields: dict[str, Any] = {
            "store": self.store,
            "namespace": namespace,
            "operation": operation,
            "error": type(error).__name__,
        }
        if isinstance(key, str):
            fields["key"] = key_digest(key)
        if isinstance(error, CorruptValue):
            # Only the reason's shape: a CorruptSession's reason names the session id.
            field = getattr(error, "field", None)
            if field is not None:
                fields["field"] = field
        getattr(self._log, level)(event, **fields)
        notify_all(self._observers, event, fields, self._log)

    def swept(self, removed: int, seconds: float) -> None:
        self.done("sweep", ALL, seconds)
        fields = {"store": self.store, "removed": removed}
        if removed:
            self._log.info(StoreEvent.SWEPT, **fields)
        else:
            self._log.debug(StoreEvent.SWEPT, **fields)
        notify_all(self._observers, StoreEvent.SWEPT, fields, self._log)

    def purged(self, prefix: str, removed: int, seconds: float) -> None:
        namespace = self.prefix_namespace(prefix)
        self.done("purge", namespace, seconds)
        tenant, _, _ = split_key(prefix)
        fields: dict[str, Any] = {
            "store": self.store,
            "namespace": namespace,
            "tenant": None if tenant is None else key_digest(tenant),
            "removed": removed,
        }
        self._log.info(StoreEvent.PURGED, **fields)
        notify_all(self._observers, StoreEvent.PURGED, fields, self._log)
