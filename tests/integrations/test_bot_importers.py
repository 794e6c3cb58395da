"""The importers move real data sets written by aiogram's RedisStorage and PTB's
PicklePersistence; dry run by default, idempotent."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from telegram.ext import PicklePersistence

from sessionkit import AsyncMemoryStore, open_async_store
from sessionkit.cli import main
from sessionkit.integrations.aiogram import SessionkitStorage
from sessionkit.integrations.importers import import_aiogram_redis, import_ptb_pickle
from sessionkit.integrations.telegram import SessionkitPersistence
from tests.servers import require_server


@dataclasses.dataclass(frozen=True)
class Pick:
    item: str


class Unstorable:
    pass


@pytest.fixture
async def redis_storage() -> AsyncIterator[RedisStorage]:
    require_server("Redis", "127.0.0.1", 6379)
    prefix = f"sktest:import:{uuid.uuid4().hex[:12]}"
    storage = RedisStorage.from_url(
        "redis://127.0.0.1:6379/0",
        key_builder=DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True),
    )
    try:
        yield storage
    finally:
        keys = await storage.redis.keys(f"{prefix}:*")
        if keys:
            await storage.redis.delete(*keys)
        await storage.close()


async def test_aiogram_redis_storage_keys_move_over(redis_storage: RedisStorage) -> None:
    keys = [StorageKey(bot_id=42, chat_id=-100 - n, user_id=n) for n in range(5)]
    for n, key in enumerate(keys):
        await redis_storage.set_state(key, f"Wizard:step{n}")
        await redis_storage.set_data(key, {"n": n, "cart": {101: 2}})
    other = StorageKey(bot_id=42, chat_id=1, user_id=1, destiny="my flow")
    await redis_storage.set_data(other, {"x": 1})
    prefix = redis_storage.key_builder.prefix  # type: ignore[attr-defined]
    target = SessionkitStorage(AsyncMemoryStore())
    options = {"source_prefix": prefix, "with_bot_id": True, "with_destiny": True}

    dry = await import_aiogram_redis(redis_storage.redis, target, **options)
    assert (dry.found, dry.imported, dry.skipped, dry.dry_run) == (11, 11, 0, True)
    assert await target.store.count() == 0

    done = await import_aiogram_redis(redis_storage.redis, target, apply=True, **options)
    assert (done.imported, done.dry_run) == (11, False)
    for n, key in enumerate(keys):
        assert await target.get_state(key) == f"Wizard:step{n}"
        assert await target.get_data(key) == await redis_storage.get_data(key)
    assert await target.get_data(other) == {"x": 1}

    await target.update_data(keys[0], {"n": 99})  # written after the switch
    again = await import_aiogram_redis(redis_storage.redis, target, apply=True, **options)
    assert (again.imported, again.already_present) == (0, 11)
    assert (await target.get_data(keys[0]))["n"] == 99


async def test_aiogram_import_needs_the_bot_id_when_keys_lack_it() -> None:
    with pytest.raises(Exception, match="bot_id"):
        await import_aiogram_redis(object(), SessionkitStorage(AsyncMemoryStore()))


async def test_a_ptb_pickle_file_moves_over(tmp_path: Path) -> None:
    file = tmp_path / "bot.pickle"
    source = PicklePersistence(file)
    await source.update_user_data(7, {"last": ("tea", 2), "when": datetime.date(2024, 5, 1)})
    await source.update_user_data(8, {"bad": Unstorable()})
    await source.update_chat_data(-5, {"members": {7, 8}})
    await source.update_bot_data({"started": 1})
    await source.update_conversation("shop", (7, 7), 2)
    await source.update_callback_data(([("kb", 1.5, {"b": Pick("tea")})], {"q": "kb"}))
    await source.flush()

    target = SessionkitPersistence(AsyncMemoryStore(), namespace="bot1", types=[Pick])
    dry = await import_ptb_pickle(file, target)
    assert (dry.found, dry.imported, dry.skipped, dry.dry_run) == (6, 5, 1, True)
    assert "user_data[8]" in dry.problems[0]
    assert await target.store.count() == 0

    done = await import_ptb_pickle(file, target, apply=True)
    assert done.imported == 5
    reloaded = SessionkitPersistence(target.store, namespace="bot1", types=[Pick])
    assert await reloaded.get_user_data() == {
        7: {"last": ("tea", 2), "when": datetime.date(2024, 5, 1)}
    }
    assert await reloaded.get_chat_data() == {-5: {"members": {7, 8}}}
    assert await reloaded.get_bot_data() == {"started": 1}
    assert await reloaded.get_conversations("shop") == {(7, 7): 2}
    assert await reloaded.get_callback_data() == ([("kb", 1.5, {"b": Pick("tea")})], {"q": "kb"})

    again = await import_ptb_pickle(file, target, apply=True)
    assert (again.imported, again.already_present, again.skipped) == (0, 5, 1)


def test_the_cli_imports_a_pickle_file_dry_run_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bot.pickle"

    async def write_source() -> None:
        source = PicklePersistence(file)
        await source.update_user_data(7, {"seen": {1, 2}})
        await source.update_conversation("shop", (7, 7), "age")
        await source.flush()

    asyncio.run(write_source())
    target = f"sqlite:///{tmp_path}/bot.db"
    argv = ["import", "ptb-pickle", str(file), "--namespace", "123", "--url", target]
    assert main(argv) == 0
    assert "dry run: would import 2 of 2 records" in capsys.readouterr().out
    assert main([*argv, "--apply"]) == 0
    assert capsys.readouterr().out.startswith("imported 2 of 2 records")
    assert main([*argv, "--apply"]) == 0
    assert "imported 0 of 2 records" in capsys.readouterr().out  # idempotent

    async def read_back() -> dict[int, dict[str, object]]:
        store = open_async_store(target)
        try:
            return await SessionkitPersistence(store, namespace="123").get_user_data()
        finally:
            await store.close()

    assert asyncio.run(read_back()) == {7: {"seen": {1, 2}}}
