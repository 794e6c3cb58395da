"""The Observed wrapper and SessionMetrics on fast backends: outcomes, labels, costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sessionkit import (
    AsyncMemoryStore,
    InvalidKey,
    MemoryStore,
    SessionManager,
    SessionNotFound,
    StoreUnavailable,
)
from sessionkit.metrics import SessionMetrics
from sessionkit.observability import AsyncObserved, Observed, StoreEvent, observed
from sessionkit.presets import (
    DocumentApp,
    DocumentSession,
    TemplateSession,
)
from sessionkit.resilience import Event, RetryPolicy, resilient
from sessionkit.testing import FlakyStore, capture_events


def operations(registry: CollectorRegistry, **labels: str) -> float:
    """The sum of ``sessionkit_operations_total`` over the series matching ``labels``."""
    found = 0.0
    for family in registry.collect():
        for sample in family.samples:
            if (
                sample.name == "sessionkit_operations_total"
                and labels.items() <= sample.labels.items()
            ):
                found += sample.value
    return found


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_every_outcome_is_counted_by_store_namespace_and_operation(
    registry: CollectorRegistry,
) -> None:
    backend = FlakyStore()
    store = observed(backend, metrics=SessionMetrics(registry), name="flaky")
    store.set("templates:a", {"n": 1})
    store.get("templates:a")
    store.get("templates:b")
    assert store.exists("documents:a") is False
    with pytest.raises(SessionNotFound):
        store.update("templates:b", lambda v: v)
    with pytest.raises(InvalidKey):
        store.get("")
    backend.down = True
    with pytest.raises(StoreUnavailable):
        store.merge("templates:a", {"n": 2})
    assert operations(registry, namespace="templates", operation="set", outcome="ok") == 1
    assert operations(registry, namespace="templates", operation="get", outcome="hit") == 1
    assert operations(registry, namespace="templates", operation="get", outcome="miss") == 1
    assert operations(registry, namespace="documents", operation="exists", outcome="miss") == 1
    assert operations(registry, operation="update", outcome="not_found") == 1
    assert operations(registry, namespace="other", operation="get", outcome="error") == 1
    assert operations(registry, operation="merge", outcome="unavailable") == 1
    assert operations(registry, store="flaky") == 7


def test_the_namespace_label_is_bounded(registry: CollectorRegistry) -> None:
    metrics = SessionMetrics(registry)
    store = Observed(MemoryStore(), metrics=metrics, log_reads=False)
    for i in range(60):
        store.set(f"ns{i}:x", {})
    store.set("@acme:ns0:x", {})
    store.set("no-namespace", {})
    labels = {
        sample.labels["namespace"]
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "sessionkit_operations_total"
    }
    assert len(labels) == 51  # 50 namespaces, then "other"
    assert "other" in labels
    assert operations(registry, namespace="ns0") == 2  # the tenant's key counts as ns0


def test_purge_sweep_and_live_sessions(registry: CollectorRegistry) -> None:
    metrics = SessionMetrics(registry)
    manager = SessionManager(observed(MemoryStore(), metrics=metrics), sweep_interval=None)
    DocumentApp(manager).templates.put("t1", TemplateSession())
    DocumentApp(manager).templates.put("t2", TemplateSession())
    DocumentApp(manager.for_tenant("acme")).documents.put(1, DocumentSession())
    metrics.record_stats(manager.stats())
    assert registry.get_sample_value("sessionkit_live_sessions", {"namespace": "templates"}) == 2
    assert registry.get_sample_value("sessionkit_live_sessions", {"namespace": "documents"}) == 1
    assert manager.purge(namespace="templates") == 2
    metrics.record_stats(manager.stats())
    assert registry.get_sample_value("sessionkit_live_sessions", {"namespace": "templates"}) is None
    purged = {"store": "memory", "namespace": "templates"}
    assert registry.get_sample_value("sessionkit_purged_entries_total", purged) == 2
    assert manager.sweep() == 0
    assert registry.get_sample_value("sessionkit_swept_entries_total", {"store": "memory"}) == 0


async def test_the_async_twin_reports_the_same_way(registry: CollectorRegistry) -> None:
    store = observed(AsyncMemoryStore(), metrics=SessionMetrics(registry))
    assert isinstance(store, AsyncObserved)
    with capture_events() as events:
        await store.set("conversations:1", {"messages": []})
        assert await store.get("conversations:1") == {"messages": []}
        assert [key async for key in store.scan("conversations:")] == ["conversations:1"]
        assert await store.purge("conversations:") == 1
    assert [e["event"] for e in events] == [StoreEvent.HIT, StoreEvent.PURGED]
    assert operations(registry, namespace="conversations", operation="scan", outcome="ok") == 1
    await store.close()


def test_log_reads_off_skips_hit_and_miss_events() -> None:
    store = Observed(MemoryStore(), log_reads=False)
    with capture_events() as events:
        store.set("templates:a", {})
        store.get("templates:a")
        store.get("templates:b")
    assert events == []


def test_a_failing_observer_never_breaks_a_store_call() -> None:
    class Broken:
        def notify(self, event: str, fields: dict[str, Any]) -> None:
            raise RuntimeError("the metrics backend is broken")

    store = Observed(MemoryStore(), observers=[Broken()])
    with capture_events() as events:
        store.set("templates:a", {})
        assert store.purge("templates:") == 1
    assert [e["event"] for e in events] == [StoreEvent.PURGED, "sessionkit.observer_failed"]


def test_a_failing_observer_never_breaks_the_resilience_stack(tmp_path: Path) -> None:
    class Broken:
        def notify(self, event: str, fields: dict[str, Any]) -> None:
            raise RuntimeError("the metrics backend is broken")

    backend = FlakyStore()
    fast = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0)
    store = resilient(backend, tmp_path / "journal", retry=fast, sleep=lambda s: None,
                      fsync=False, observers=[Broken()])  # fmt: skip
    backend.down = True
    with capture_events() as events:
        store.set("templates:a", {"n": 1})  # retried, then journaled: events, all broken
    backend.down = False
    assert store.get("templates:a") == {"n": 1}
    failures = [e for e in events if e["event"] == "sessionkit.resilience.observer_failed"]
    assert [e["observed_event"] for e in failures][:1] == [Event.RETRY_SCHEDULED]
    store.close()


def test_unknown_events_are_ignored_by_the_metrics(registry: CollectorRegistry) -> None:
    SessionMetrics(registry).notify("someone.elses.event", {"x": 1})


def test_metrics_cost_nothing_until_asked_for_and_name_the_extra_when_missing() -> None:
    probe = (
        "import sys, sessionkit, sessionkit.metrics, sessionkit.observability, sessionkit.cli\n"
        "print('prometheus_client' in sys.modules)\n"
        "sys.modules['prometheus_client'] = None\n"
        "from sessionkit.metrics import SessionMetrics\n"
        "try:\n"
        "    SessionMetrics()\n"
        "except sessionkit.ConfigurationError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    imported, message = result.stdout.splitlines()
    assert imported == "False"
    assert "pip install 'sessionkit[metrics]'" in message
