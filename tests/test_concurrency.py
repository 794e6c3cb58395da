"""Concurrent read-modify-write never loses an update, on every backend.

16 writers x 250 increments of one counter must end at exactly 4000: with threads on the
sync store, with tasks on the async store, and with tasks on several event loops in several
threads at once (each loop with its own async store on the same data).

The tests force the writers to interleave, so that a store that is not atomic fails them
(the memory store with its lock released while ``fn`` runs loses hundreds of the 4000):
threads run with a one-microsecond switch interval, and the update function itself lets
other threads run between its read and its return (``sessionkit.testing.writers``). Left
alone, each thread would finish its 250 updates inside one 5 ms time slice.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from sessionkit import AsyncMemoryStore, MemoryStore, open_async_store, open_store
from sessionkit.stores.memory import MemoryState
from sessionkit.testing.writers import RunWriters, increment
from tests.backends import SPECS

WRITERS = 16
INCREMENTS = 250


@pytest.fixture(params=sorted(SPECS))
def spec_name(request: pytest.FixtureRequest) -> str:
    SPECS[request.param].require()
    return str(request.param)


def test_threads_updating_one_key_lose_nothing(spec_name: str, tmp_path: Path) -> None:
    spec = SPECS[spec_name]
    store = open_store(spec.url(tmp_path), **spec.options(uuid.uuid4().hex[:12]))
    try:
        store.set("counter", {"n": 0})

        def writer() -> None:
            for _ in range(INCREMENTS):
                store.update("counter", increment)

        RunWriters(WRITERS, writer)
        assert store.get("counter") == {"n": WRITERS * INCREMENTS}
    finally:
        store.purge("")
        store.close()


async def test_tasks_updating_one_key_lose_nothing(spec_name: str, tmp_path: Path) -> None:
    spec = SPECS[spec_name]
    store = open_async_store(spec.url(tmp_path), **spec.options(uuid.uuid4().hex[:12]))
    try:
        await store.set("counter", {"n": 0})

        async def writer() -> None:
            for _ in range(INCREMENTS):
                await store.update("counter", increment)

        await asyncio.wait_for(asyncio.gather(*(writer() for _ in range(WRITERS))), 300)
        assert await store.get("counter") == {"n": WRITERS * INCREMENTS}
    finally:
        await store.purge("")
        await store.close()


async def test_tasks_merging_distinct_fields_lose_nothing(spec_name: str, tmp_path: Path) -> None:
    spec = SPECS[spec_name]
    store = open_async_store(spec.url(tmp_path), **spec.options(uuid.uuid4().hex[:12]))
    try:

        async def writer(i: int) -> None:
            for j in range(20):
                await store.merge("shared", {f"w{i}": j})

        await asyncio.wait_for(asyncio.gather(*(writer(i) for i in range(WRITERS))), 300)
        assert await store.get("shared") == {f"w{i}": 19 for i in range(WRITERS)}
    finally:
        await store.purge("")
        await store.close()


LOOPS = 4


def test_tasks_on_several_event_loops_updating_one_memory_key_lose_nothing() -> None:
    # One event loop alone cannot interleave inside the memory store's update (it has no
    # await), and the async memory store promises to be thread-safe too: LOOPS loops in
    # LOOPS threads, each with WRITERS // LOOPS tasks and its own async store on the same
    # MemoryState, must lose nothing either. (The network stores interleave at their own
    # awaits, in the single-loop test above; their clients belong to one loop.)
    state = MemoryState()
    MemoryStore(state=state).set("counter", {"n": 0})

    async def loop() -> None:
        store = AsyncMemoryStore(state=state)

        async def writer() -> None:
            for _ in range(INCREMENTS):
                await store.update("counter", increment)

        try:
            await asyncio.gather(*(writer() for _ in range(WRITERS // LOOPS)))
        finally:
            await store.close()

    RunWriters(LOOPS, lambda: asyncio.run(loop()))
    assert MemoryStore(state=state).get("counter") == {"n": WRITERS * INCREMENTS}
