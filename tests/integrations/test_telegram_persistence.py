"""SessionkitPersistence: every BasePersistence method; a conversation survives a restart."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from telegram.ext import PersistenceInput

from sessionkit import (
    AsyncMemoryStore,
    AsyncSessionManager,
    AsyncSessionStore,
    ConfigurationError,
    CorruptValue,
    StoreClosed,
)
from sessionkit.integrations.telegram import SessionkitPersistence
from tests.integrations.examples import load_example
from tests.integrations.telegram_doubles import TOKEN, RecordingRequest, text_update

example = load_example("ptb_conversation/conversation_bot.py")


def persistence_on(store: AsyncSessionStore, namespace: str = "bot1") -> SessionkitPersistence:
    return SessionkitPersistence(store, namespace=namespace)


async def test_user_chat_and_bot_data_round_trip(backend_store: AsyncSessionStore) -> None:
    persistence = persistence_on(backend_store)
    assert await persistence.get_user_data() == {}
    assert await persistence.get_chat_data() == {}
    assert await persistence.get_bot_data() == {}

    await persistence.update_user_data(7, {"name": "Ana", "tags": ["a"]})
    await persistence.update_user_data(-8, {"name": "Bo"})
    await persistence.update_chat_data(-100123, {"title": "group"})
    await persistence.update_bot_data({"started": 3})

    reloaded = persistence_on(backend_store)
    assert await reloaded.get_user_data() == {7: {"name": "Ana", "tags": ["a"]}, -8: {"name": "Bo"}}
    assert await reloaded.get_chat_data() == {-100123: {"title": "group"}}
    assert await reloaded.get_bot_data() == {"started": 3}

    await reloaded.drop_user_data(7)
    await reloaded.drop_chat_data(-100123)
    assert await persistence.get_user_data() == {-8: {"name": "Bo"}}
    assert await persistence.get_chat_data() == {}


async def test_refresh_reads_other_processes_writes_but_keeps_local_changes(
    backend_store: AsyncSessionStore,
) -> None:
    here, there = persistence_on(backend_store), persistence_on(backend_store)
    await here.update_user_data(7, {"step": 1, "name": "Ana", "gone": True})
    in_memory = (await there.get_user_data())[7]
    in_memory["name"] = "Bo"  # changed in memory there, not yet handed over
    await here.update_user_data(7, {"step": 2, "name": "Ana", "cart": [1]})  # "gone" deleted
    await there.refresh_user_data(7, in_memory)
    assert in_memory == {"step": 2, "name": "Bo", "cart": [1]}

    await here.update_chat_data(-5, {"title": "x"})
    chat: dict[object, object] = {}
    await there.refresh_chat_data(-5, chat)
    assert chat == {"title": "x"}
    await here.update_bot_data({"n": 1})
    bot: dict[object, object] = {}
    await there.refresh_bot_data(bot)
    assert bot == {"n": 1}


async def test_refresh_false_leaves_the_in_memory_data_alone() -> None:
    store = AsyncMemoryStore()
    await persistence_on(store).update_user_data(7, {"step": 1})
    quiet = SessionkitPersistence(store, namespace="bot1", refresh=False)
    in_memory = {"step": 2}
    await quiet.refresh_user_data(7, in_memory)
    await quiet.refresh_chat_data(7, in_memory)
    await quiet.refresh_bot_data(in_memory)
    assert in_memory == {"step": 2}


async def test_concurrent_writers_merge_per_top_level_key(
    backend_store: AsyncSessionStore,
) -> None:
    first, second = persistence_on(backend_store), persistence_on(backend_store)
    await first.update_user_data(7, {"a": 1, "b": 1})
    loaded = (await second.get_user_data())[7]
    await first.update_user_data(7, {"a": 2, "b": 1})
    await second.update_user_data(7, {**loaded, "b": 2, "c": 3})
    assert (await persistence_on(backend_store).get_user_data())[7] == {"a": 2, "b": 2, "c": 3}


async def test_callback_data_round_trip(backend_store: AsyncSessionStore) -> None:
    persistence = persistence_on(backend_store)
    assert await persistence.get_callback_data() is None
    data = (
        [("kb-uuid", 1700000000.5, {"btn-1": "pay", "btn-2": {"tariff": 3}})],
        {"q1": "kb-uuid"},
    )
    await persistence.update_callback_data(data)
    assert await persistence_on(backend_store).get_callback_data() == data


async def test_conversations_restore_int_and_str_keys(backend_store: AsyncSessionStore) -> None:
    persistence = persistence_on(backend_store)
    assert await persistence.get_conversations("profile") == {}
    await persistence.update_conversation("profile", (7, 7), "age")
    await persistence.update_conversation("profile", (-100, "7"), 2)
    await persistence.update_conversation("other flow/ñ", (7, 7), "elsewhere")
    long_key = tuple(range(10**15, 10**15 + 20))  # too long for a store key: hashed
    await persistence.update_conversation("profile", long_key, "deep")

    conversations = await persistence_on(backend_store).get_conversations("profile")
    assert conversations == {(7, 7): "age", (-100, "7"): 2, long_key: "deep"}
    part_types = {key: tuple(type(part) for part in key) for key in conversations}
    assert part_types[7, 7] == (int, int)
    assert part_types[-100, "7"] == (int, str)

    await persistence.update_conversation("profile", (7, 7), None)  # ended
    assert (7, 7) not in await persistence.get_conversations("profile")
    assert await persistence.get_conversations("other flow/ñ") == {(7, 7): "elsewhere"}


async def test_bots_sharing_a_store_are_kept_apart(backend_store: AsyncSessionStore) -> None:
    first, second = persistence_on(backend_store, "bot1"), persistence_on(backend_store, "bot2")
    await first.update_user_data(7, {"bot": 1})
    await first.update_bot_data({"bot": 1})
    await first.update_conversation("profile", (7, 7), "age")
    assert await second.get_user_data() == {}
    assert await second.get_bot_data() == {}
    assert await second.get_conversations("profile") == {}


@pytest.mark.parametrize("interval", [-1, math.nan, math.inf, True, "60"])
def test_refuses_update_interval_that_is_not_a_duration(interval: object) -> None:
    with pytest.raises(ValueError, match="update_interval"):
        SessionkitPersistence(AsyncMemoryStore(), update_interval=interval)  # type: ignore[arg-type]


def test_update_interval_zero_is_accepted_like_ptb_does() -> None:
    assert SessionkitPersistence(AsyncMemoryStore(), update_interval=0).update_interval == 0


def test_declares_slots() -> None:
    persistence = SessionkitPersistence(AsyncMemoryStore(), namespace="bot1")
    assert not hasattr(persistence, "__dict__")
    assert len(SessionkitPersistence.__slots__) == len(set(SessionkitPersistence.__slots__))


def test_namespace_must_be_plain() -> None:
    with pytest.raises(ConfigurationError, match="namespace"):
        SessionkitPersistence(AsyncMemoryStore(), namespace="a:b")


async def test_namespace_defaults_to_the_bot_id() -> None:
    store = AsyncMemoryStore()
    persistence = SessionkitPersistence(store)
    application = example.build_application(persistence, token=TOKEN, request=RecordingRequest())
    async with application:
        await application.process_update(text_update(application, 1, 7, "/start"))
    assert persistence.namespace == TOKEN.split(":")[0]
    assert [key async for key in store.scan("~ptb:123456:conversation:")]


async def test_conversation_resumes_after_restart(backend_store: AsyncSessionStore) -> None:
    request = RecordingRequest()
    first_run = example.build_application(
        persistence_on(backend_store), token=TOKEN, request=request
    )
    async with first_run:  # initialize ... shutdown, which hands everything to persistence
        await first_run.process_update(text_update(first_run, 1, 7, "/start"))
        await first_run.process_update(text_update(first_run, 2, 7, "Ana"))
    assert request.sent_texts() == ["Hi! What's your name?", "Nice to meet you, Ana. Age?"]

    second_run = example.build_application(
        persistence_on(backend_store), token=TOKEN, request=request
    )
    async with second_run:
        assert second_run.user_data[7] == {"name": "Ana"}
        await second_run.process_update(text_update(second_run, 3, 7, "thirty"))
        await second_run.process_update(text_update(second_run, 4, 7, "30"))
    assert request.sent_texts()[2:] == [
        "Your age in years, please (digits only).",
        "Thanks! Saved: Ana, 30.",
    ]
    reloaded = persistence_on(backend_store)
    assert await reloaded.get_user_data() == {7: {"name": "Ana", "age": 30}}
    assert await reloaded.get_conversations("profile") == {}  # the conversation ended


async def test_from_url_opens_at_construction_and_closes_on_flush(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="nope"):  # a wrong URL fails right here
        SessionkitPersistence.from_url("nope://bots", namespace="bot1")
    store_file = tmp_path / "bots.db"
    on_file = SessionkitPersistence.from_url(f"sqlite:///{store_file}", namespace="bot1")
    await on_file.update_bot_data({"n": 1})
    await on_file.flush()

    persistence = SessionkitPersistence.from_url(
        "memory://", namespace="bot1", store_data=PersistenceInput(callback_data=False)
    )
    first_store = persistence.store
    await persistence.update_bot_data({"n": 1})
    await persistence.flush()
    with pytest.raises(StoreClosed):
        await first_store.get("anything")
    # After a flush (application shutdown), the next use opens the URL again.
    assert await persistence.get_bot_data() == {}  # memory:// is a new, empty store
    await persistence.flush()


async def test_passed_in_store_stays_open_after_flush() -> None:
    store = AsyncMemoryStore()
    persistence = persistence_on(store)
    await persistence.update_bot_data({"n": 1})
    await persistence.flush()
    assert await store.count() == 1


async def test_keys_stay_out_of_the_namespaces(backend_store: AsyncSessionStore) -> None:
    persistence = persistence_on(backend_store)
    await persistence.update_user_data(7, {"name": "Ana"})
    await persistence.update_chat_data(7, {"title": "chat"})
    await persistence.update_bot_data({"n": 1})
    await persistence.update_callback_data(([], {}))
    await persistence.update_conversation("profile", (7, 7), "age")
    keys = [key async for key in backend_store.scan()]
    assert len(keys) == 5
    assert all(key.startswith("~ptb:bot1:") for key in keys)
    manager = AsyncSessionManager(backend_store, sweep_interval=None)
    assert (await manager.stats()).by_namespace() == {}
    assert await backend_store.purge("~ptb:bot1:") == 5  # how to clear one bot's persistence


@pytest.mark.parametrize(
    ("suffix", "value", "load"),
    [
        ("conversation:profile:x", {"state": "age"}, "conversations"),
        ("conversation:profile:x", {"key": [7, 7]}, "conversations"),
        ("conversation:profile:x", {"key": "7,7", "state": "age"}, "conversations"),
        ("user:not-an-id", {"name": "Ana"}, "users"),
        ("chat:7.5", {"title": "chat"}, "chats"),
        ("callback_data", {"keyboards": 3, "callback_queries": {}}, "callback_data"),
        ("callback_data", {"keyboards": []}, "callback_data"),
    ],
)
async def test_corrupt_records_raise_corrupt_value(
    suffix: str, value: dict[str, object], load: str
) -> None:
    store = AsyncMemoryStore()
    await store.set(f"~ptb:bot1:{suffix}", value)
    persistence = persistence_on(store)
    loaders = {
        "conversations": lambda: persistence.get_conversations("profile"),
        "users": persistence.get_user_data,
        "chats": persistence.get_chat_data,
        "callback_data": persistence.get_callback_data,
    }
    with pytest.raises(CorruptValue, match=suffix.replace(".", r"\.")):
        await loaders[load]()
