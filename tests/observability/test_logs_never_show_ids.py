"""No session id (nor tenant id, nor key) ever appears in clear in sessionkit's events.

Every path that logs is exercised with recognisable ids: hits and misses, an outage with
retries, breaker transitions, journaled writes and their replay (a backend test double
switched down and up), a corrupt value, a conflict, a purge, a sweep, and the CLI's
inspect. The captured events are then searched for the ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fakeredis
import pytest

from sessionkit import (
    ConflictError,
    CorruptSession,
    CorruptValue,
    MemoryStore,
    SessionManager,
)
from sessionkit.cli import main
from sessionkit.observability import StoreEvent, key_digest, observed
from sessionkit.presets import (
    DocumentApp,
    TemplateSession,
)
from sessionkit.resilience import Event, RetryPolicy, resilient
from sessionkit.stores.redis import RedisStore
from sessionkit.testing import FlakyStore, capture_events

SESSION_ID = "sess-7f9a2c-SECRET"
TENANT_ID = "tenant-acme-SECRET"
SECRETS = (SESSION_ID, TENANT_ID, "7f9a2c")


def assert_no_secret(events: list[dict[str, Any]]) -> None:
    text = repr(events)
    for secret in SECRETS:
        assert secret not in text


def test_store_and_resilience_events_carry_digests_only(tmp_path: Path) -> None:
    backend = FlakyStore()
    stack = resilient(
        backend,
        tmp_path / "journal",
        retry=RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0),
        fail_max=1,
        reset_timeout=5,
        breaker_clock=lambda: clock[0],
        sleep=lambda seconds: None,
        fsync=False,
    )
    clock = [0.0]
    manager = SessionManager(observed(stack), sweep_interval=None)
    tenant = manager.for_tenant(TENANT_ID)
    with capture_events() as events:
        DocumentApp(manager).templates.put(SESSION_ID, TemplateSession(filename="lease.docx"))
        assert DocumentApp(manager).templates.get(SESSION_ID) is not None
        assert DocumentApp(manager).templates.get(SESSION_ID + "-gone") is None
        backend.down = True
        DocumentApp(tenant).templates.put(SESSION_ID, TemplateSession(filename="outage.docx"))
        DocumentApp(manager).templates.put(SESSION_ID, TemplateSession(filename="second.docx"))
        backend.down = False
        clock[0] += 10
        assert stack.replay().completed
        assert manager.purge(namespace="templates", tenant=TENANT_ID) == 1
        manager.sweep()
    names = {event["event"] for event in events}
    assert {
        StoreEvent.HIT,
        StoreEvent.MISS,
        StoreEvent.PURGED,
        StoreEvent.SWEPT,
        Event.RETRY_SCHEDULED,
        Event.BREAKER_STATE_CHANGED,
        Event.FALLBACK_JOURNALED,
        Event.FALLBACK_RECOVERED,
    } <= names
    assert_no_secret(events)
    hit = next(event for event in events if event["event"] == StoreEvent.HIT)
    assert hit["key"] == key_digest(f"templates:{SESSION_ID}")
    purged = next(event for event in events if event["event"] == StoreEvent.PURGED)
    assert purged["namespace"] == "templates"
    assert purged["tenant"] == key_digest(TENANT_ID)


def test_corrupt_values_and_conflicts_are_logged_without_the_key() -> None:
    client = fakeredis.FakeRedis()
    store = observed(RedisStore(client, prefix="logs-test:", update_attempts=2))
    client.set(f"logs-test:templates:{SESSION_ID}", b"not written by sessionkit")
    store.set(f"documents:{SESSION_ID}", {"n": 0})

    def lose_every_race(value: dict[str, Any]) -> dict[str, Any]:
        store.inner.set(f"documents:{SESSION_ID}", {"n": value["n"] + 1})  # another writer
        return value

    with capture_events() as events:
        with pytest.raises(CorruptValue) as corrupt:
            store.get(f"templates:{SESSION_ID}")
        with pytest.raises(ConflictError) as conflict:
            store.update(f"documents:{SESSION_ID}", lose_every_race)
    assert SESSION_ID in str(corrupt.value)  # the caller is told which key...
    assert SESSION_ID in str(conflict.value)
    assert [event["event"] for event in events] == [
        StoreEvent.CORRUPT_VALUE,
        StoreEvent.CONFLICT,
    ]
    assert events[0]["log_level"] == "error"
    assert events[0]["key"] == key_digest(f"templates:{SESSION_ID}")
    assert_no_secret(events)  # ...the log is not
    store.close()


def test_a_session_that_does_not_fit_its_class_is_logged_without_its_id() -> None:
    manager = SessionManager(observed(MemoryStore(), log_reads=False), sweep_interval=None)
    key = DocumentApp(manager).templates.key(SESSION_ID)
    manager.store.set(key, {"filename": ["not", "a", "str"]})
    with capture_events() as events, pytest.raises(CorruptSession):
        DocumentApp(manager).templates.get(SESSION_ID)
    assert [(e["event"], e["namespace"], e["field"]) for e in events] == [
        (StoreEvent.CORRUPT_SESSION, "templates", "filename")
    ]
    assert events[0]["key"] == key_digest(key)
    assert_no_secret(events)


def test_cli_inspect_logs_a_digest_of_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/sessions.db"
    with SessionManager.from_url(url, sweep_interval=None) as manager:
        DocumentApp(manager.for_tenant(TENANT_ID)).templates.put(SESSION_ID, TemplateSession())
        key = DocumentApp(manager.for_tenant(TENANT_ID)).templates.key(SESSION_ID)
    with capture_events() as events:
        assert main(["inspect", "--url", url, key, "--json"]) == 0
    assert SESSION_ID in capsys.readouterr().out  # the operator asked for it
    assert [event["event"] for event in events] == [StoreEvent.HIT]
    assert events[0]["key"] == key_digest(key)
    assert_no_secret(events)
