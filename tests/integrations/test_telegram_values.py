"""What PTB apps store every day comes back exactly after a restart; a bad value blocks
nothing else."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application

from sessionkit import AsyncMemoryStore, AsyncSessionStore, CorruptValue
from sessionkit.integrations.tagged_json import TaggedJSONError
from sessionkit.integrations.telegram import SessionkitPersistence, TelegramEvent
from tests.integrations.conftest import isolated_store
from tests.integrations.telegram_doubles import TOKEN, RecordingRequest


class Step(enum.Enum):
    NAME = 1
    AGE = 2


@dataclasses.dataclass(frozen=True)
class Pick:
    product: uuid.UUID
    qty: int


class Unregistered:
    pass


def persistence_on(store: AsyncSessionStore) -> SessionkitPersistence:
    return SessionkitPersistence(store, namespace="bot1", types=[Step, Pick])


@pytest.fixture(params=["sqlite", "redis", "postgresql"])
async def real_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncSessionStore]:
    async for store in isolated_store(request.param, tmp_path):
        yield store


PRODUCT = uuid.UUID("12345678-1234-5678-1234-567812345678")
USER_DATA = {
    "last": ("tea", 2),
    "seen": {1, 2, 3},
    "when": datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.timezone.utc),
    "day": datetime.date(2024, 5, 1),
    "cart": {101: 2, 102: 1},
    "by_pair": {(1, 2): "x"},
    "order": PRODUCT,
    "total": decimal.Decimal("12.30"),
    "step": Step.AGE,
    "pick": Pick(PRODUCT, 3),
}


def build(persistence: SessionkitPersistence) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        Application.builder()
        .token(TOKEN)
        .request(RecordingRequest())
        .persistence(persistence)
        .arbitrary_callback_data(True)
        .build()
    )


async def test_an_application_restores_everyday_values_exactly(
    real_store: AsyncSessionStore,
) -> None:
    first = build(persistence_on(real_store))
    async with first:
        first.user_data[7].update(USER_DATA)
        first.chat_data[-100].update({"members": frozenset({7, 8})})
        first.bot_data["started"] = datetime.timedelta(hours=1)
        first.mark_data_for_update_persistence(user_ids=7, chat_ids=-100)
        markup = first.bot.callback_data_cache.process_keyboard(
            InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton("buy", callback_data=Pick(PRODUCT, 1))],
                    [InlineKeyboardButton("plain", callback_data={"page": 2})],
                ]
            )
        )
        assert first.persistence is not None
        await first.persistence.update_conversation("shop", (7, 7), Step.NAME)
        before = first.bot.callback_data_cache.persistence_data
    # (shutdown handed everything over)

    persistence = persistence_on(real_store)
    second = build(persistence)
    async with second:
        assert second.user_data[7] == USER_DATA
        assert {key: type(value) for key, value in second.user_data[7].items()} == {
            key: type(value) for key, value in USER_DATA.items()
        }
        assert second.chat_data[-100] == {"members": frozenset({7, 8})}
        assert second.bot_data == {"started": datetime.timedelta(hours=1)}
        assert second.bot.callback_data_cache.persistence_data == before
        button = markup.inline_keyboard[0][0].callback_data
        assert isinstance(button, str)
        keyboard_uuid, button_uuid = button[:32], button[32:]
        assert second.bot.callback_data_cache.persistence_data[0][0][2][button_uuid] == Pick(
            PRODUCT, 1
        ), keyboard_uuid
        assert await persistence.get_conversations("shop") == {(7, 7): Step.NAME}


async def test_a_bad_value_blocks_only_its_own_key(real_store: AsyncSessionStore) -> None:
    persistence = persistence_on(real_store)
    await persistence.update_user_data(7, {"ok": 1, "bad": 1})
    with pytest.raises(TaggedJSONError, match=r"user_data\[7\]\['bad'\]\[0\]") as caught:
        await persistence.update_user_data(7, {"ok": 2, "bad": [Unregistered()], "new": (3,)})
    assert "Unregistered" in str(caught.value)
    await persistence.update_user_data(8, {"fine": True})  # other users are unaffected
    with pytest.raises(TaggedJSONError, match="bad"):
        await persistence.update_user_data(7, {"ok": 3, "bad": [Unregistered()], "new": (3,)})
    stored = await persistence_on(real_store).get_user_data()
    assert stored == {7: {"ok": 3, "bad": 1, "new": (3,)}, 8: {"fine": True}}

    # Once fixed, the key is written again; a deleted key is deleted.
    await persistence.update_user_data(7, {"ok": 3, "bad": 2})
    assert (await persistence_on(real_store).get_user_data())[7] == {"ok": 3, "bad": 2}


async def test_bad_chat_bot_and_conversation_values_name_where_they_are() -> None:
    persistence = persistence_on(AsyncMemoryStore())
    with pytest.raises(TaggedJSONError, match=r"chat_data\[-5\]\['x'\]"):
        await persistence.update_chat_data(-5, {"x": Unregistered()})
    with pytest.raises(TaggedJSONError, match=r"bot_data\[3\]"):
        await persistence.update_bot_data({3: Unregistered(), "y": 1})
    assert await persistence_on(persistence.store).get_bot_data() == {"y": 1}
    with pytest.raises(TaggedJSONError, match=r"conversation\['shop'\]\[\(7, 7\)\]"):
        await persistence.update_conversation("shop", (7, 7), Unregistered())


async def test_a_bad_callback_button_is_skipped_and_reported(
    real_store: AsyncSessionStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    persistence = persistence_on(real_store)
    data = (
        [
            ("kb1", 1700000000.5, {"b1": Pick(PRODUCT, 1), "b2": Unregistered()}),
            ("kb2", 1700000001.0, {"b3": {"page": 2}}),
        ],
        {"q1": "kb1"},
    )
    with caplog.at_level(logging.ERROR, logger="sessionkit.telegram"):
        await persistence.update_callback_data(data)  # type: ignore[arg-type]
    assert [record.message for record in caplog.records] == [TelegramEvent.CALLBACK_DATA_SKIPPED]
    assert caplog.records[0].path == "callback_data['kb1']['b2']"
    assert capsys.readouterr() == ("", "")  # silent unless the app configures logging
    restored = await persistence_on(real_store).get_callback_data()
    assert restored == (
        [
            ("kb1", 1700000000.5, {"b1": Pick(PRODUCT, 1)}),
            ("kb2", 1700000001.0, {"b3": {"page": 2}}),
        ],
        {"q1": "kb1"},
    )

    # Later writes of the cache go on; a keyboard PTB dropped is deleted.
    await persistence.update_callback_data(([("kb2", 1700000001.0, {"b3": {"page": 3}})], {}))
    assert await persistence_on(real_store).get_callback_data() == (
        [("kb2", 1700000001.0, {"b3": {"page": 3}})],
        {},
    )
    assert await real_store.count("~ptb:bot1:callback_data") == 2  # the order + kb2


async def test_a_class_no_longer_registered_is_corrupt_value_naming_the_key() -> None:
    store = AsyncMemoryStore()
    await persistence_on(store).update_user_data(7, {"step": Step.NAME})
    with pytest.raises(CorruptValue, match="~ptb:bot1:user:7"):
        await SessionkitPersistence(store, namespace="bot1").get_user_data()


async def test_records_of_the_earlier_layout_still_load() -> None:
    store = AsyncMemoryStore()
    await store.set(
        "~ptb:bot1:callback_data",
        {"keyboards": [["kb", 1.5, {"b": "x"}]], "callback_queries": {"q": "kb"}},
    )
    await store.set("~ptb:bot1:user:7", {"name": "Ana", "tags": ["a"]})
    persistence = persistence_on(store)
    assert await persistence.get_callback_data() == ([("kb", 1.5, {"b": "x"})], {"q": "kb"})
    assert await persistence.get_user_data() == {7: {"name": "Ana", "tags": ["a"]}}
