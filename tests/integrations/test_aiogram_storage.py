"""SessionkitStorage behaves like aiogram's own storages, on every backend."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TypedDict

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey

from sessionkit import (
    AsyncMemoryStore,
    AsyncSessionManager,
    AsyncSessionStore,
    FakeClock,
    SerializationError,
    StoreClosed,
)
from sessionkit.integrations.aiogram import (
    SessionkitEventIsolation,
    SessionkitKeyBuilder,
    SessionkitStorage,
)
from tests.integrations.store_doubles import CountingStore

KEY = StorageKey(bot_id=42, chat_id=-100, user_id=7)


class Form(StatesGroup):
    price = State()
    name = State()


@pytest.fixture
def storage(backend_store: AsyncSessionStore) -> SessionkitStorage:
    return SessionkitStorage(backend_store)


async def test_set_state(storage: SessionkitStorage) -> None:
    assert await storage.get_state(KEY) is None
    await storage.set_state(KEY, "state")
    assert await storage.get_state(KEY) == "state"
    await storage.set_state(KEY, Form.price)
    assert await storage.get_state(KEY) == "Form:price"
    await storage.set_state(KEY, None)
    assert await storage.get_state(KEY) is None


async def test_set_data_and_get_value(storage: SessionkitStorage) -> None:
    assert await storage.get_data(KEY) == {}
    assert await storage.get_value(KEY, "foo") is None
    assert await storage.get_value(KEY, "foo", "baz") == "baz"

    await storage.set_data(KEY, {"foo": "bar"})
    assert await storage.get_data(KEY) == {"foo": "bar"}
    assert await storage.get_value(KEY, "foo") == "bar"
    assert await storage.get_value(KEY, "foo", "baz") == "bar"

    await storage.set_data(KEY, {})
    assert await storage.get_data(KEY) == {}
    assert await storage.get_value(KEY, "foo") is None
    assert await storage.get_value(KEY, "foo", "baz") == "baz"


async def test_typed_dict_input(storage: SessionkitStorage) -> None:
    class Tariff(TypedDict, total=False):
        foo: str
        bar: str

    await storage.set_data(KEY, Tariff(foo="bar", bar="baz"))
    assert await storage.get_data(KEY) == {"foo": "bar", "bar": "baz"}
    assert await storage.get_value(KEY, "foo", "baz") == "bar"


@pytest.mark.parametrize("not_a_mapping", [(), [("a", 1)], "text", None])
async def test_data_not_dict_like(storage: SessionkitStorage, not_a_mapping: object) -> None:
    await storage.set_data(KEY, {"kept": True})
    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(KEY, not_a_mapping)  # type: ignore[arg-type]
    with pytest.raises(DataNotDictLikeError):
        await storage.update_data(KEY, not_a_mapping)  # type: ignore[arg-type]
    assert await storage.get_data(KEY) == {"kept": True}


async def test_update_data(storage: SessionkitStorage) -> None:
    assert await storage.update_data(KEY, {"foo": "bar"}) == {"foo": "bar"}
    assert await storage.update_data(KEY, {}) == {"foo": "bar"}
    assert await storage.get_data(KEY) == {"foo": "bar"}
    assert await storage.update_data(KEY, {"baz": "spam"}) == {"foo": "bar", "baz": "spam"}
    assert await storage.update_data(KEY, {"baz": "test"}) == {"foo": "bar", "baz": "test"}
    assert await storage.get_data(KEY) == {"foo": "bar", "baz": "test"}


async def test_update_data_of_absent_key_with_nothing_stores_nothing(
    storage: SessionkitStorage, backend_store: AsyncSessionStore
) -> None:
    assert await storage.update_data(KEY, {}) == {}
    assert await backend_store.count() == 0


async def test_concurrent_update_data_loses_nothing(storage: SessionkitStorage) -> None:
    await asyncio.gather(*(storage.update_data(KEY, {f"field{i}": i}) for i in range(16)))
    assert await storage.get_data(KEY) == {f"field{i}": i for i in range(16)}


async def test_copies_in_and_out(storage: SessionkitStorage) -> None:
    data = {"items": [1, 2]}
    await storage.set_data(KEY, data)
    data["items"].append(3)  # the caller keeps its object; the store is unaffected
    read = await storage.get_data(KEY)
    read["items"].append(4)
    value = await storage.get_value(KEY, "items")
    value.append(5)
    assert await storage.get_data(KEY) == {"items": [1, 2]}


async def test_non_json_data_is_refused_before_writing(storage: SessionkitStorage) -> None:
    await storage.set_data(KEY, {"kept": True})
    with pytest.raises(SerializationError):
        await storage.set_data(KEY, {"when": object()})
    with pytest.raises(SerializationError):
        await storage.update_data(KEY, {"tags": {"a", "b"}})  # json refuses sets too
    with pytest.raises(SerializationError):
        await storage.update_data(KEY, {"big": 2**70})  # beyond the store's 64-bit ints
    assert await storage.get_data(KEY) == {"kept": True}


async def test_int_keys_become_strings_as_json_makes_them(storage: SessionkitStorage) -> None:
    await storage.set_data(KEY, {"cart": {101: 2, 102: (1, 2)}, 7: True})
    assert await storage.get_data(KEY) == {"cart": {"101": 2, "102": [1, 2]}, "7": True}
    await storage.update_data(KEY, {7: False, None: 1, 1.5: "x"})
    assert await storage.get_data(KEY) == {
        "cart": {"101": 2, "102": [1, 2]},
        "7": False,
        "null": 1,
        "1.5": "x",
    }


@pytest.mark.parametrize(
    "other",
    [
        StorageKey(bot_id=43, chat_id=-100, user_id=7),
        StorageKey(bot_id=42, chat_id=-100, user_id=7, business_connection_id="conn:1"),
        StorageKey(bot_id=42, chat_id=-100, user_id=7, thread_id=5),
        StorageKey(bot_id=42, chat_id=-100, user_id=7, destiny="wizard"),
        StorageKey(bot_id=42, chat_id=-100, user_id=8),
    ],
)
async def test_every_part_of_the_key_isolates(
    storage: SessionkitStorage, other: StorageKey
) -> None:
    await storage.set_state(KEY, "mine")
    await storage.set_data(KEY, {"owner": "mine"})
    assert await storage.get_state(other) is None
    assert await storage.get_data(other) == {}


def test_key_builder_encodes_ids_into_valid_store_keys() -> None:
    builder = SessionkitKeyBuilder()
    unusual = StorageKey(
        bot_id=1, chat_id=2, user_id=3, business_connection_id="a b:ñ/!", destiny="día 1"
    )
    assert (
        builder.build(unusual, "data") == "~aiogram:1:a%20b%3A%C3%B1%2F%21:2:!:3:d%C3%ADa%201:data"
    )
    assert builder.build(KEY) == "~aiogram:42:!:-100:!:7:default"
    assert SessionkitKeyBuilder(prefix="~mybot").build(KEY) == "~mybot:42:!:-100:!:7:default"
    for prefix in ["has space", "~has space", "aiogram", "mybot", "~", ""]:
        with pytest.raises(ValueError, match="prefix"):
            SessionkitKeyBuilder(prefix=prefix)


async def test_fsm_records_stay_out_of_the_namespaces(storage: SessionkitStorage) -> None:
    await storage.set_state(KEY, Form.price)
    await storage.update_data(KEY, {"price": 990})
    isolation = storage.create_isolation()
    async with isolation.lock(KEY):
        keys = [key async for key in storage.store.scan()]
    assert len(keys) == 3
    assert all(key.startswith("~aiogram:") for key in keys)
    manager = AsyncSessionManager(storage.store, sweep_interval=None)
    assert (await manager.stats()).by_namespace() == {}
    await storage.store.purge("~aiogram:")  # how to clear every FSM record
    assert [key async for key in storage.store.scan()] == []


async def test_any_key_builder_works_its_keys_encoded_behind_a_tilde() -> None:
    store = AsyncMemoryStore()
    odd = StorageKey(bot_id=42, chat_id=-100, user_id=7, destiny="my flow/ñ")
    cases = [
        (DefaultKeyBuilder(), KEY, "~fsm:-100:7:data"),
        (DefaultKeyBuilder(with_destiny=True), odd, "~fsm:-100:7:my%20flow%2F%C3%B1:data"),
        (DefaultKeyBuilder(prefix="~fsm", with_bot_id=True), KEY, "~fsm:42:-100:7:data"),
        (
            DefaultKeyBuilder(prefix="~fsm", with_destiny=True),
            odd,
            "~~fsm:-100:7:my%20flow%2F%C3%B1:data",
        ),
    ]
    for builder, key, stored_as in cases:
        storage = SessionkitStorage(store, key_builder=builder)
        await storage.set_data(key, {"n": 1})
        assert await store.get(stored_as) == {"n": 1}, builder
        assert await storage.get_data(key) == {"n": 1}
        isolation = SessionkitEventIsolation(store, key_builder=builder)
        async with isolation.lock(key):
            assert (await store.get(stored_as.rsplit(":", 1)[0] + ":lock") or {})["owner"]


async def test_state_and_data_ttl() -> None:
    clock = FakeClock()
    storage = SessionkitStorage(AsyncMemoryStore(clock=clock), state_ttl=60, data_ttl=120)
    await storage.set_state(KEY, Form.name)
    await storage.update_data(KEY, {"price": 990})
    clock.advance(61)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {"price": 990}
    await storage.update_data(KEY, {"name": "Gold"})  # a write restarts the data TTL
    clock.advance(119)
    assert await storage.get_data(KEY) == {"price": 990, "name": "Gold"}
    clock.advance(2)
    assert await storage.get_data(KEY) == {}


async def test_fsm_context_on_top(storage: SessionkitStorage) -> None:
    context = FSMContext(storage=storage, key=KEY)
    await context.set_state(Form.price)
    await context.update_data(price=990)
    assert await context.get_state() == "Form:price"
    assert await context.get_value("price") == 990
    await context.clear()
    assert await context.get_state() is None
    assert await context.get_data() == {}


async def test_close_closes_only_what_it_opened() -> None:
    passed_in = AsyncMemoryStore()
    await SessionkitStorage(passed_in).close()
    assert await passed_in.get("anything") is None  # still open

    owned = SessionkitStorage.from_url("memory://")
    await owned.set_state(KEY, "x")
    await owned.close()
    with pytest.raises(StoreClosed):
        await owned.get_state(KEY)


async def test_event_isolation_serialises_one_key(backend_store: AsyncSessionStore) -> None:
    isolation = SessionkitEventIsolation(backend_store, lock_ttl=30, wait_timeout=20)
    inside = 0
    most_inside = 0

    async def handler() -> None:
        nonlocal inside, most_inside
        async with isolation.lock(KEY):
            inside += 1
            most_inside = max(most_inside, inside)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(handler() for _ in range(5)))
    assert most_inside == 1
    # Every lock released: an entry left is marked free (and expires within a millisecond).
    keys = [key async for key in backend_store.scan()]
    held = [value for value in (await backend_store.get_many(keys)).values() if value["owner"]]
    assert held == []
    async with isolation.lock(KEY):  # and free to take again at once
        pass


async def test_releasing_an_expired_lock_never_frees_the_next_holders() -> None:
    """The race of a read-then-delete release: between the release's store calls, the lock
    expires and another process takes it. Its lock must survive the first one's release."""
    clock = FakeClock()
    store = CountingStore(clock=clock)
    isolation = SessionkitEventIsolation(store, lock_ttl=30, wait_timeout=1)
    lock_key = isolation.key_builder.build(KEY, "lock")
    async with AsyncExitStack() as second:

        async def expire_and_take_over() -> None:
            clock.advance(31)  # the first handler outlived lock_ttl
            await second.enter_async_context(isolation.lock(KEY))
            store.after_next_call = None

        async with isolation.lock(KEY):
            store.after_next_call = expire_and_take_over  # runs after the release's 1st call
        held = await store.get(lock_key)
        assert held is not None
        assert held["owner"] is not None  # the second holder still has it
        with pytest.raises(TimeoutError):
            async with isolation.lock(KEY):
                pass
    assert (await store.get(lock_key) or {}).get("owner") is None  # released by the second


async def test_event_isolation_times_out_while_held() -> None:
    store = AsyncMemoryStore()
    isolation = SessionkitEventIsolation(store, wait_timeout=0.05)
    async with isolation.lock(KEY):
        with pytest.raises(TimeoutError):
            async with isolation.lock(KEY):
                pass
    async with isolation.lock(KEY):  # released, so free again
        pass
