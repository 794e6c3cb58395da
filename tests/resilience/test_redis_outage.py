"""Fault injection against a real redis-server this test starts, SIGKILLs and restarts.

A writer streams 10,000 set/merge operations through the whole resilience stack; a third
of the way in, the server is killed with SIGKILL; later it is restarted on the same port
(its append-only file, fsynced per write, brings back what it had acknowledged). After
recovery every key holds its last written value, and reads made during the outage
returned the values written during the outage.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sessionkit import StoreUnavailable, open_async_store
from sessionkit.resilience import Event, RetryPolicy, resilient
from tests.redis_servers import RedisProcess
from tests.resilience.recorder import Recorder

pytestmark = pytest.mark.server

WRITES = 10_000
KEYS = 250
KILL_AT = 3_000
RESTART_AT = 6_500
READ_BACK_FROM = KILL_AT - 100


async def test_no_write_is_lost_across_a_redis_kill_and_restart(
    redis_server: RedisProcess, tmp_path: Path
) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    options = {"prefix": "outage:", "socket_timeout": 1.0, "socket_connect_timeout": 0.5}
    recorder = Recorder()
    store = resilient(
        open_async_store(url, **options),
        tmp_path / "journal.jsonl",
        retry=RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.02, jitter=0.01),
        reset_timeout=0.2,
        observers=[recorder],
    )
    model: dict[str, dict[str, Any]] = {}
    set_since_kill: set[str] = set()
    outage_reads_from_journal = outage_reads_unknown = 0
    try:
        for i in range(WRITES):
            if i == KILL_AT:
                redis_server.kill()
            elif i == RESTART_AT:
                redis_server.start()
            key = f"s{i % KEYS}"
            if i % 3 == 0:
                await store.merge(key, {"m": i})
                model[key] = {**model.get(key, {}), "m": i}
            else:
                await store.set(key, {"n": i, "pad": "xxxxxxxx"})
                model[key] = {"n": i, "pad": "xxxxxxxx"}
                if i >= KILL_AT:
                    set_since_kill.add(key)
            if i < READ_BACK_FROM:
                continue
            try:
                assert await store.get(key) == model[key], (i, key)
                if KILL_AT <= i < RESTART_AT:
                    outage_reads_from_journal += 1
            except StoreUnavailable:
                # Only a key merged, never set, since the kill has a value the journal
                # knows in part; every other read must answer.
                assert KILL_AT <= i < RESTART_AT or store.journal.pending(), i
                assert key not in set_since_kill, (i, key)
                outage_reads_unknown += 1

        for _ in range(100):  # the breaker may still be open: bounded wait for the replay
            if (await store.replay()).completed:
                break
            await asyncio.sleep(0.05)
        assert not store.journal.pending()
    finally:
        await store.close()

    check = open_async_store(url, **options)
    try:
        stored = await check.get_many(model)
    finally:
        await check.close()
    assert stored == model  # 0 lost: every key holds its last written value
    assert outage_reads_from_journal > 3_000
    names = recorder.names()
    assert Event.FALLBACK_ENGAGED in names
    assert Event.FALLBACK_RECOVERED in names
    assert Event.REPLAY_CONFLICT not in names
    transitions = [(e["old"], e["new"]) for e in recorder.of(Event.BREAKER_STATE_CHANGED)]
    assert transitions[0] == ("closed", "open")
    assert transitions[-1] == ("half-open", "closed")
    print(
        f"outage reads: {outage_reads_from_journal} from the journal, "
        f"{outage_reads_unknown} unknown (merged-only keys); "
        f"replayed: {sum(e['applied'] for e in recorder.of(Event.FALLBACK_RECOVERED))}"
    )

