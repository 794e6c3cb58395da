"""Fault injection on SQLite: another process-like connection takes the database's write
lock (``BEGIN EXCLUSIVE``) in the middle of a stream of writes, so every write through the
store fails with "database is locked" past its lock bound (StoreUnavailable); then it lets
go. Nothing written meanwhile is lost, and reads of it came from the journal.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sessionkit import StoreUnavailable, open_store
from sessionkit.resilience import Event, RetryPolicy, resilient
from tests.resilience.recorder import Recorder

WRITES = 2_000
KEYS = 100
LOCK_AT, UNLOCK_AT = 500, 1_500


def test_no_write_is_lost_while_sqlite_is_locked_by_someone_else(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sessions.db"
    options = {"table_name": "sessions", "lock_timeout": 0.05}
    recorder = Recorder()
    store = resilient(
        open_store(url, **options),
        tmp_path / "journal.jsonl",
        retry=RetryPolicy(attempts=2, initial_wait=0.0, max_wait=0.0, jitter=0.0),
        reset_timeout=0.1,
        observers=[recorder],
    )
    blocker = sqlite3.connect(tmp_path / "sessions.db", isolation_level=None)
    model: dict[str, dict[str, Any]] = {}
    set_since_lock: set[str] = set()
    journal_reads = 0
    try:
        for i in range(WRITES):
            if i == LOCK_AT:
                blocker.execute("BEGIN EXCLUSIVE")
            elif i == UNLOCK_AT:
                blocker.execute("ROLLBACK")
            key = f"s{i % KEYS}"
            if i % 3 == 0:
                store.merge(key, {"m": i})
                model[key] = {**model.get(key, {}), "m": i}
            else:
                store.set(key, {"n": i})
                model[key] = {"n": i}
                set_since_lock.add(key)
            try:
                assert store.get(key) == model[key], (i, key)
                journal_reads += store.journal.pending()
            except StoreUnavailable:
                assert LOCK_AT <= i < UNLOCK_AT, i
                assert key not in set_since_lock or i < LOCK_AT, (i, key)
            if i == LOCK_AT - 1:
                set_since_lock.clear()
        report = store.replay()
        assert report.completed
    finally:
        blocker.close()
        store.close()
    check = open_store(url, **options)
    try:
        assert check.get_many(model) == model
    finally:
        check.close()
    assert journal_reads > 500
    assert Event.FALLBACK_RECOVERED in recorder.names()
