"""WithFallback under asyncio: tasks keep writing and reading while a replay is running."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sessionkit import FakeClock, StoreClosed, StoreUnavailable
from sessionkit.entry import TTL
from sessionkit.resilience import AsyncWithFallback
from sessionkit.stamped import ReplayOutcome, StampedWrite
from sessionkit.testing import AsyncFlakyStore


class SlowStore(AsyncFlakyStore):
    """Yields to the event loop inside every write, as a network round trip would."""

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        await asyncio.sleep(0)
        await super().set(key, value, ttl)

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        await asyncio.sleep(0)
        return await super().merge(key, patch, ttl)


async def test_writers_and_readers_race_a_replay_and_nothing_is_lost(tmp_path: Path) -> None:
    clock = FakeClock()
    backend = SlowStore(clock=clock)
    store = AsyncWithFallback(
        backend, tmp_path / "journal.jsonl", clock=clock, fsync=False, replay_interval=None
    )
    model: dict[str, dict[str, Any]] = {}
    rng = random.Random(5)

    async def writer(n: int, rounds: int) -> None:
        for i in range(rounds):
            key = f"w{n}:{i % 7}"
            if rng.random() < 0.5:
                await store.set(key, {"i": i})
                model[key] = {"i": i}
            else:
                await store.merge(key, {"m": i})
                model[key] = {**model.get(key, {}), "m": i}
            try:
                value = await store.get(key)
            except StoreUnavailable:
                # Only while down, and only for a key merged without a whole value known.
                assert backend.down
                assert "i" not in model[key]
            else:
                assert value == model[key]  # read-your-writes, replay or not
            await asyncio.sleep(0)

    backend.down = True
    await asyncio.wait_for(asyncio.gather(*(writer(n, 40) for n in range(10))), timeout=30)
    assert store.journal.pending()
    backend.down = False
    # The first call that finds the primary back replays, while the others keep writing.
    await asyncio.wait_for(asyncio.gather(*(writer(n, 40) for n in range(10, 20))), timeout=30)
    for _ in range(50):
        if (await store.replay()).completed:
            break
        await asyncio.sleep(0)
    assert not store.journal.pending()
    assert await backend.get_many(model) == model
    await store.close()


class GatedPrimary(AsyncFlakyStore):
    """``set`` and a replay's ``apply_if_newer`` wait at a gate; ``close`` leaves in-flight
    commands to finish (a network client whose command already left completes it)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        if self.gate is not None:
            self.entered.set()
            await self.gate.wait()
        await super().set(key, value, ttl)

    async def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        if self.gate is not None:  # a replay's write
            self.entered.set()
            await self.gate.wait()
        return await super().apply_if_newer(write)

    async def close(self) -> None:
        pass


async def test_close_during_a_replay_stops_it_without_touching_reused_descriptors(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    primary = GatedPrimary()
    store = AsyncWithFallback(primary, path, fsync=False, replay_interval=None)
    primary.down = True
    await store.set("a", {"x": 1})
    primary.down = False
    primary.gate = asyncio.Event()
    replay = asyncio.create_task(store.replay())
    await asyncio.wait_for(primary.entered.wait(), timeout=30)
    await store.close()
    # Descriptors freed by close() are reused at once by whatever opens next.
    others = [tmp_path / f"other{i}" for i in range(3)]
    handles = [other.open("wb") for other in others]
    try:
        primary.gate.set()
        with pytest.raises(StoreClosed):
            await replay
    finally:
        for handle in handles:
            handle.close()
    assert [other.read_bytes() for other in others] == [b"", b"", b""]
    assert await primary.get("a") == {"x": 1}  # applied, but not marked ...
    again = AsyncWithFallback(primary, path, fsync=False, replay_interval=None)
    report = await again.replay()  # ... so the next replay meets it again, harmlessly:
    # the primary holds that very write (its stamp), so it is superseded, not re-applied
    assert (report.applied, report.superseded, report.completed) == (0, 1, True)
    await again.close()


def test_the_background_replay_task_lives_in_each_event_loop_that_uses_the_store(
    tmp_path: Path,
) -> None:
    # Tried: one store used by three asyncio.run() lifetimes in turn; an outage in the
    # first, the primary back in the second (replayed by the task, no call needed),
    # closed in the third. No task at construction; none left behind.
    backend = AsyncFlakyStore(clock=FakeClock())
    store = AsyncWithFallback(
        backend, tmp_path / "journal.jsonl", fsync=False, replay_interval=0.01
    )
    assert not store._background.running

    async def outage() -> None:
        backend.down = True
        for n in range(100):  # more than a call replays inline
            await store.set(f"a{n}", {"n": n})
        assert store._background.running  # started by the outage, in this loop

    async def recovery() -> None:
        backend.down = False
        await store.exists("other")  # a call starts the task in this new loop ...
        deadline = asyncio.get_running_loop().time() + 20
        while await backend.get("a99") is None:  # ... which replays the rest by itself
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)

    async def shutdown() -> None:
        await store.close()
        names = [task.get_name() for task in asyncio.all_tasks()]
        assert "sessionkit-replay" not in names

    asyncio.run(outage())
    asyncio.run(recovery())
    asyncio.run(shutdown())
    assert (tmp_path / "journal.jsonl").read_bytes() == b""
