"""Atomicity across processes: 4 processes x 4 tasks on one key, on a standalone server
and on a cluster. update must count every increment; merge must keep every field.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from collections.abc import Callable

import pytest

from sessionkit import open_async_store, open_store
from tests import redis_servers
from tests.servers import require_server

PROCESSES = 4
TASKS = 4
INCREMENTS = 250
MERGES = 40
JOIN_TIMEOUT = 240.0


def _increment_worker(url: str, prefix: str) -> None:
    async def main() -> None:
        store = open_async_store(url, prefix=prefix)

        async def task() -> None:
            for _ in range(INCREMENTS):
                await store.update("counter", lambda v: {"n": v["n"] + 1})

        try:
            await asyncio.gather(*(task() for _ in range(TASKS)))
        finally:
            await store.close()

    asyncio.run(main())


def _merge_worker(url: str, prefix: str, process: int) -> None:
    async def main() -> None:
        store = open_async_store(url, prefix=prefix)

        async def task(writer: int) -> None:
            for j in range(MERGES):
                await store.merge("shared", {f"w{writer}:{j}": j, f"last{writer}": j})

        try:
            await asyncio.gather(*(task(process * TASKS + t) for t in range(TASKS)))
        finally:
            await store.close()

    asyncio.run(main())


def _standalone_url() -> str:
    require_server("Redis", "127.0.0.1", 6379)
    return "redis://127.0.0.1:6379/0"


def _cluster_url() -> str:
    redis_servers.redis_server_binary()
    return redis_servers.cluster().url


@pytest.fixture(params=["standalone", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    return _standalone_url() if request.param == "standalone" else _cluster_url()


def _run_processes(target: Callable[..., None], args: list[tuple[object, ...]]) -> None:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    processes = [context.Process(target=target, args=a) for a in args]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join(timeout=JOIN_TIMEOUT)
        assert [p.exitcode for p in processes] == [0] * len(processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(timeout=10)


def test_processes_and_tasks_updating_one_key_count_every_increment(url: str) -> None:
    prefix = f"sktest:{uuid.uuid4().hex[:12]}:"
    with open_store(url, prefix=prefix) as store:
        try:
            store.set("counter", {"n": 0})
            _run_processes(_increment_worker, [(url, prefix)] * PROCESSES)
            entry = store.get_entry("counter")
            assert entry is not None
            assert entry.value == {"n": PROCESSES * TASKS * INCREMENTS}
            assert entry.version == 1 + PROCESSES * TASKS * INCREMENTS
        finally:
            store.purge("")


def test_sixteen_writers_merging_distinct_fields_keep_every_field(url: str) -> None:
    prefix = f"sktest:{uuid.uuid4().hex[:12]}:"
    with open_store(url, prefix=prefix) as store:
        try:
            _run_processes(_merge_worker, [(url, prefix, p) for p in range(PROCESSES)])
            writers = range(PROCESSES * TASKS)
            expected = {f"w{w}:{j}": j for w in writers for j in range(MERGES)}
            expected |= {f"last{w}": MERGES - 1 for w in writers}
            entry = store.get_entry("shared")
            assert entry is not None
            assert entry.value == expected
            assert entry.version == PROCESSES * TASKS * MERGES
        finally:
            store.purge("")
