"""Scrape the metrics after a scripted Redis outage: exactly what the run caused.

A redis-server on a free loopback port is killed (SIGKILL) and restarted while writes go
through ``observed(resilient(RedisStore))``. Retries do not wait (injected sleep) and the
breaker's clock is a counter the test moves, so every retry, transition and journaled
write is decided by the script, not by timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sessionkit import open_store
from sessionkit.metrics import SessionMetrics
from sessionkit.observability import observed
from sessionkit.resilience import RetryPolicy, resilient
from tests.redis_servers import RedisProcess

pytestmark = pytest.mark.server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """What a Prometheus server would read: the exposition text, parsed."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_metrics_count_exactly_the_retries_trips_fallback_writes_and_replays(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    registry = CollectorRegistry()
    metrics = SessionMetrics(registry)
    breaker_now = [0.0]
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    options = {"prefix": "metrics:", "socket_timeout": 2.0, "socket_connect_timeout": 1.0}
    stack = resilient(
        open_store(url, **options),
        tmp_path / "sessions.journal",
        retry=RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0),
        fail_max=2,
        reset_timeout=30,
        breaker_clock=lambda: breaker_now[0],
        sleep=lambda seconds: None,
        fsync=False,
        observers=[metrics],
        replay_interval=None,  # exact counts: replays only inside the calls below
    )
    store = observed(stack, name="redis", metrics=metrics, log_reads=False)
    try:
        store.set("wizard:1", {"step": "name"})
        store.set("wizard:2", {"step": "name"})
        before = scrape(registry)
        assert total(before, "sessionkit_retries_total") == 0
        assert value(before, "sessionkit_fallback_journal_depth") == 0

        redis_server.kill()
        # 1. Three attempts fail: 2 retries, exhausted; breaker failure 1 of 2; journaled.
        store.set("wizard:3", {"step": "price"})
        # 2. The journal is pending, so the call first replays wizard:3's set (a replay's
        #    conditional write, apply_if_newer): 3 attempts fail (2 more retries,
        #    exhausted), the breaker's 2nd failure opens it; journaled.
        store.set("wizard:4", {"step": "price"})
        # 3. The replay attempt is failed fast by the open breaker (1 rejection); journaled.
        store.merge("wizard:1", {"step": "price"})
        during = scrape(registry)
        assert value(during, "sessionkit_fallback_journal_depth") == 3
        assert value(during, "sessionkit_breaker_state", breaker="sessionkit") == 2

        redis_server.start()
        breaker_now[0] += 31  # past reset_timeout: the next call is the half-open probe
        report = stack.replay()  # the probe succeeds, the breaker closes, 3 records apply
        assert report.completed
        assert report.applied == 3
        assert store.get("wizard:1") == {"step": "price"}
        assert store.get("wizard:4") == {"step": "price"}
    finally:
        store.close()

    after = scrape(registry)
    assert value(after, "sessionkit_retries_total", operation="set") == 2
    assert value(after, "sessionkit_retries_total", operation="apply_if_newer") == 2
    assert total(after, "sessionkit_retries_total") == 4
    assert value(after, "sessionkit_retries_exhausted_total", operation="set") == 1
    exhausted = "sessionkit_retries_exhausted_total"
    assert value(after, exhausted, operation="apply_if_newer") == 1
    assert total(after, exhausted) == 2
    transitions = "sessionkit_breaker_transitions_total"
    assert value(after, transitions, breaker="sessionkit", state="open") == 1
    assert value(after, transitions, breaker="sessionkit", state="half-open") == 1
    assert value(after, transitions, breaker="sessionkit", state="closed") == 1
    assert value(after, "sessionkit_breaker_rejections_total", breaker="sessionkit") == 1
    assert value(after, "sessionkit_breaker_state", breaker="sessionkit") == 0
    assert value(after, "sessionkit_fallback_writes_total", operation="set") == 2
    assert value(after, "sessionkit_fallback_writes_total", operation="merge") == 1
    assert total(after, "sessionkit_fallback_writes_total") == 3
    assert value(after, "sessionkit_replayed_records_total", outcome="applied") == 3
    assert total(after, "sessionkit_replayed_records_total") == 3
    assert value(after, "sessionkit_fallback_journal_depth") == 0
    # What the application saw through the outermost wrapper: every write succeeded.
    operations = "sessionkit_operations_total"
    assert (
        value(after, operations, store="redis", namespace="wizard", operation="set", outcome="ok")
        == 4
    )
    assert (
        value(after, operations, store="redis", namespace="wizard", operation="merge", outcome="ok")
        == 1
    )
    assert (
        value(after, operations, store="redis", namespace="wizard", operation="get", outcome="hit")
        == 2
    )
    assert total(after, operations) == 7
    assert total(after, "sessionkit_operation_duration_seconds_count") == 7
