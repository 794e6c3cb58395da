"""Prometheus metrics (the ``metrics`` extra): one object that counts what a store does.

`SessionMetrics` registers its collectors on the registry you pass (default: the
global one) and is fed two ways:

* as the ``metrics`` of an `Observed` store: one sample per
  operation (store, namespace, operation, outcome, latency), plus sweeps, purges and
  corrupt values;
* as an observer of the resilience wrappers (``resilient(store, path, observers=[m])``):
  retries, breaker states and transitions, fallback writes, journal depth, replays.

``prometheus_client`` is imported only when a `SessionMetrics` is made, so an app
without the extra pays nothing, and gets a clear error if it asks for metrics.

```pycon
>>> from prometheus_client import CollectorRegistry
>>> import sessionkit
>>> from sessionkit.observability import observed
>>> registry = CollectorRegistry()
>>> metrics = SessionMetrics(registry)
>>> store = observed(sessionkit.MemoryStore(), metrics=metrics, log_reads=False)
>>> store.set("templates:t1", {"filename": "lease.docx"})
>>> store.get("templates:t1")
{'filename': 'lease.docx'}
>>> registry.get_sample_value("sessionkit_operations_total", {"store": "memory",
...     "namespace": "templates", "operation": "get", "outcome": "hit"})
1.0

```
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .observability.events import StoreEvent

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .manager.stats import SessionStats

__all__ = ["LATENCY_BUCKETS", "SessionMetrics"]

#: Latency buckets (seconds): session stores answer in microseconds (memory) to tens of
#: milliseconds (a remote database), and a retried call can take seconds.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

#: ``sessionkit_breaker_state`` values (seed 003's dashboards alert on 2).
BREAKER_STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}

# The resilience event names, spelled out so that importing this module does not import
# the resilience package (they are its stable, documented names).
_RETRY_SCHEDULED = "sessionkit.retry.scheduled"
_RETRY_EXHAUSTED = "sessionkit.retry.exhausted"
_BREAKER_STATE_CHANGED = "sessionkit.breaker.state_changed"
_BREAKER_REJECTED = "sessionkit.breaker.rejected"
_FALLBACK_JOURNALED = "sessionkit.fallback.journaled"
_FALLBACK_RECOVERED = "sessionkit.fallback.recovered"
_REPLAY_INTERRUPTED = "sessionkit.fallback.replay_interrupted"
_REPLAY_CONFLICT = "sessionkit.fallback.replay_conflict"
_REPLAY_REJECTED = "sessionkit.fallback.replay_rejected"
_REPLAY_SUPERSEDED = "sessionkit.fallback.replay_superseded"
_JOURNAL_TORN_RECORD = "sessionkit.fallback.torn_record"
_JOURNAL_DEAD_LETTER = "sessionkit.fallback.dead_letter"
_JOURNAL_FULL = "sessionkit.fallback.journal_full"


def _prometheus() -> Any:
    try:
        return importlib.import_module("prometheus_client")
    except ImportError as error:
        raise ConfigurationError(
            "sessionkit metrics need prometheus_client: pip install 'sessionkit[metrics]'"
        ) from error


class SessionMetrics:
    """sessionkit's Prometheus collectors on one registry (make one per registry).

    Metric names (``prefix`` defaults to ``sessionkit``) are listed in docs/operations.md.
    Use it as ``metrics=`` of `observed` and as an observer
    of `resilient`; call `record_stats` when you want the
    live-session gauge refreshed (it scans the store, so it is never done implicitly).
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, prefix: str = "sessionkit"
    ) -> None:
        prom = _prometheus()
        registry = prom.REGISTRY if registry is None else registry
        self.registry = registry

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            return prom.Counter(f"{prefix}_{name}", doc, labels, registry=registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            return prom.Gauge(f"{prefix}_{name}", doc, labels, registry=registry)

        self.operations = counter(
            "operations",
            "Store operations by store, namespace, operation and outcome.",
            ("store", "namespace", "operation", "outcome"),
        )
        self.latency = prom.Histogram(
            f"{prefix}_operation_duration_seconds",
            "Store operation latency, as seen by the Observed wrapper.",
            ("store", "operation"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.retries = counter(
            "retries", "Retries scheduled after StoreUnavailable.", ("operation",)
        )
        self.retries_exhausted = counter(
            "retries_exhausted", "Calls that failed after their last attempt.", ("operation",)
        )
        self.breaker_state = gauge(
            "breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ("breaker",)
        )
        self.breaker_transitions = counter(
            "breaker_transitions", "Circuit breaker transitions, by the new state.",
            ("breaker", "state"),
        )  # fmt: skip
        self.breaker_rejections = counter(
            "breaker_rejections", "Calls failed fast by an open breaker.", ("breaker",)
        )
        self.fallback_writes = counter(
            "fallback_writes", "Writes journaled while the primary was down.", ("operation",)
        )
        self.journal_depth = gauge(
            "fallback_journal_depth",
            "Records this process journaled that no replay has applied yet.",
        )
        self.replayed = counter(
            "replayed_records", "Journal records replayed, by outcome.", ("outcome",)
        )
        self.journal_damage = counter(
            "journal_damaged_records", "Unreadable (torn) journal lines skipped."
        )
        self.journal_dead_letters = counter(
            "journal_dead_letters", "Journal records (or damaged lines) set aside by a replay."
        )
        self.journal_full = counter(
            "journal_full",
            "Journal writes refused because the journal or the disk was full, by limit.",
            ("limit",),
        )
        self.journal_fill = gauge(
            "fallback_journal_fill_ratio",
            "How full the fallback journal is (0-1, the fuller of max_records and max_bytes),"
            " as of its last write or replay.",
        )
        self.swept = counter("swept_entries", "Expired entries reclaimed by sweeps.", ("store",))
        self.purged = counter("purged_entries", "Entries deleted by purge.", ("store", "namespace"))
        self.corrupt = counter(
            "corrupt_values", "Reads of values that cannot be decoded.", ("store", "namespace")
        )
        self.live_sessions = gauge(
            "live_sessions",
            "Live sessions per namespace, as of the last record_stats() call.",
            ("namespace",),
        )
        self._children: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        self._depth = 0  # journal_depth's value, kept here to update it atomically
        self._depth_lock = threading.Lock()
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            _RETRY_SCHEDULED: lambda f: self.retries.labels(f["operation"]).inc(),
            _RETRY_EXHAUSTED: lambda f: self.retries_exhausted.labels(f["operation"]).inc(),
            _BREAKER_STATE_CHANGED: self._breaker_changed,
            _BREAKER_REJECTED: lambda f: self.breaker_rejections.labels(f["breaker"]).inc(),
            _FALLBACK_JOURNALED: self._journaled,
            _FALLBACK_RECOVERED: self._recovered,
            _REPLAY_INTERRUPTED: self._interrupted,
            _REPLAY_CONFLICT: lambda f: self.replayed.labels("conflict").inc(),
            _REPLAY_REJECTED: lambda f: self.replayed.labels("rejected").inc(),
            _REPLAY_SUPERSEDED: lambda f: self.replayed.labels("superseded").inc(),
            _JOURNAL_TORN_RECORD: lambda f: self.journal_damage.inc(),
            _JOURNAL_DEAD_LETTER: lambda f: self.journal_dead_letters.inc(),
            _JOURNAL_FULL: self._journal_full,
            StoreEvent.SWEPT: lambda f: self.swept.labels(f["store"]).inc(f["removed"]),
            StoreEvent.PURGED: lambda f: self.purged.labels(f["store"], f["namespace"]).inc(
                f["removed"]
            ),
            StoreEvent.CORRUPT_VALUE: lambda f: self.corrupt.labels(
                f["store"], f["namespace"]
            ).inc(),
        }

    # -- the Observed wrapper's samples -----------------------------------------------------

    def record_operation(
        self, store: str, namespace: str, operation: str, outcome: str, seconds: float
    ) -> None:
        """Count one operation and observe its latency (label children are cached)."""
        labels = (store, namespace, operation, outcome)
        children = self._children.get(labels)
        if children is None:
            children = (
                self.operations.labels(store, namespace, operation, outcome),
                self.latency.labels(store, operation),
            )
            self._children[labels] = children
        children[0].inc()
        children[1].observe(seconds)

    # -- events (the resilience observer hook, and the Observed wrapper's events) -----------

    def notify(self, event: str, fields: dict[str, Any]) -> None:
        """Count ``event``; events this class does not measure are ignored."""
        handler = self._handlers.get(event)
        if handler is not None:
            handler(fields)

    def _breaker_changed(self, fields: dict[str, Any]) -> None:
        breaker, state = fields["breaker"], fields["new"]
        self.breaker_state.labels(breaker).set(BREAKER_STATE_VALUES.get(state, -1))
        self.breaker_transitions.labels(breaker, state).inc()

    def _journaled(self, fields: dict[str, Any]) -> None:
        self.fallback_writes.labels(fields["operation"]).inc()
        self._set_depth(lambda depth: depth + 1)
        if "fill" in fields:
            self.journal_fill.set(fields["fill"])

    def _journal_full(self, fields: dict[str, Any]) -> None:
        self.journal_full.labels(fields.get("limit", "")).inc()
        if fields.get("limit") in ("max_records", "max_bytes"):
            self.journal_fill.set(1.0)

    def _recovered(self, fields: dict[str, Any]) -> None:
        # Conflicts and rejections were counted one by one as they happened.
        self.replayed.labels("applied").inc(fields["applied"])
        self._set_depth(lambda depth: 0)  # the journal was truncated
        self.journal_fill.set(0.0)

    def _interrupted(self, fields: dict[str, Any]) -> None:
        self.replayed.labels("applied").inc(fields["applied"])
        self._set_depth(lambda depth: max(depth - fields["applied"], 0))

    def _set_depth(self, change: Callable[[int], int]) -> None:
        with self._depth_lock:
            self._depth = change(self._depth)
            self.journal_depth.set(self._depth)

    # -- on demand ------------------------------------------------------------------------

    def record_stats(self, stats: SessionStats) -> None:
        """Set ``live_sessions`` from a manager's ``stats()`` (namespaces gone drop to none)."""
        self.live_sessions.clear()
        for namespace, count in stats.by_namespace().items():
            self.live_sessions.labels(namespace).set(count)
        if stats.other:
            self.live_sessions.labels("other").set(stats.other)
