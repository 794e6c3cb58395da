"""aiogram parity: data stored as RedisStorage stores it; the lock handed straight over."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from sessionkit import AsyncMemoryStore, AsyncSessionStore, SerializationError
from sessionkit.integrations.aiogram import SessionkitEventIsolation, SessionkitStorage
from tests.integrations.store_doubles import CountingStore
from tests.servers import require_server

KEY = StorageKey(bot_id=42, chat_id=-100, user_id=7)

# What bots put in FSM data that plain JSON objects do not hold as such.
DATA: list[dict[Any, Any]] = [
    {"cart": {101: 2, 102: 1}},
    {7: "int key", 1.5: "float key", True: "bool key", None: "none key"},
    {"steps": (1, 2, (3, 4))},
    {"nested": [{"a": {1: [True, None]}}]},
    {"1": "str one", 1: "int one"},  # json keeps the last of two equal keys
]


@pytest.fixture
async def redis_storage() -> AsyncIterator[RedisStorage]:
    require_server("Redis", "127.0.0.1", 6379)
    storage = RedisStorage.from_url(
        "redis://127.0.0.1:6379/0",
        key_builder=DefaultKeyBuilder(prefix=f"sktest:aiogram:{uuid.uuid4().hex[:12]}"),
    )
    try:
        yield storage
    finally:
        keys = await storage.redis.keys(f"{storage.key_builder.prefix}:*")  # type: ignore[attr-defined]
        if keys:
            await storage.redis.delete(*keys)
        await storage.close()


@pytest.mark.parametrize("data", DATA, ids=range(len(DATA)))
async def test_data_comes_back_as_redis_storage_gives_it(
    data: dict[Any, Any], redis_storage: RedisStorage, backend_store: AsyncSessionStore
) -> None:
    ours = SessionkitStorage(backend_store)
    await redis_storage.set_data(KEY, data)
    await ours.set_data(KEY, data)
    assert await ours.get_data(KEY) == await redis_storage.get_data(KEY)
    await redis_storage.update_data(KEY, {5: "five"})
    await ours.update_data(KEY, {5: "five"})
    assert await ours.get_data(KEY) == await redis_storage.get_data(KEY)


async def test_what_redis_storage_refuses_is_refused(redis_storage: RedisStorage) -> None:
    ours = SessionkitStorage(AsyncMemoryStore())
    for data in [{"tags": {1, 2}}, {"when": object()}, {(1, 2): "tuple key"}]:
        with pytest.raises(TypeError):
            await redis_storage.set_data(KEY, data)
        with pytest.raises(SerializationError):  # (a TypeError too)
            await ours.set_data(KEY, data)


async def test_a_release_hands_the_lock_to_the_next_waiter_without_polling() -> None:
    store = CountingStore()
    # Waiters would poll only every 30 s: finishing at all means each was woken.
    isolation = SessionkitEventIsolation(
        store, wait_timeout=60, poll_interval=30, max_poll_interval=30
    )
    order: list[int] = []
    inside = 0
    all_queued = asyncio.Event()

    async def handler(number: int) -> None:
        nonlocal inside
        async with isolation.lock(KEY):
            inside += 1
            assert inside == 1
            order.append(number)
            await all_queued.wait()
            inside -= 1

    tasks = []
    for number in range(20):
        tasks.append(asyncio.create_task(handler(number)))
        await asyncio.sleep(0)  # queued in this order
    all_queued.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    assert order == list(range(20))  # first come, first served
    # The first takes the lock (create). The second finds it held (a create and an update
    # that fail) and queues; the others queue behind it without a store call. Each release
    # but the last hands the lock over in one update; the last frees it. Nobody polled.
    assert store.calls["create"] == 2
    assert store.calls["update"] == 1 + 19 + 1
    assert not isolation._waiters


async def test_a_cancelled_waiter_does_not_keep_the_lock() -> None:
    isolation = SessionkitEventIsolation(AsyncMemoryStore(), wait_timeout=5, poll_interval=5)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with isolation.lock(KEY):
            holding.set()
            await release.wait()

    async def waiter() -> None:
        async with isolation.lock(KEY):
            pass

    first = asyncio.create_task(holder())
    await holding.wait()
    second = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    second.cancel()
    release.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    free_again = SessionkitEventIsolation(isolation.store, wait_timeout=1, poll_interval=5)
    async with free_again.lock(KEY):  # free, not handed to the cancelled waiter (or this times out)
        pass


async def test_a_lock_released_by_another_process_is_seen_by_polling() -> None:
    store = AsyncMemoryStore()
    here = SessionkitEventIsolation(store, wait_timeout=5, poll_interval=0.01)
    there = SessionkitEventIsolation(store, wait_timeout=5)  # another process's isolation
    entered = asyncio.Event()

    async def wait_here() -> None:
        async with here.lock(KEY):
            entered.set()

    async with there.lock(KEY):
        waiting = asyncio.create_task(wait_here())
        await asyncio.sleep(0.05)
        assert not entered.is_set()
    await asyncio.wait_for(waiting, timeout=2)
    assert entered.is_set()
