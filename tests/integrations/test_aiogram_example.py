"""The aiogram admin wizard example: a restart mid-wizard, timeouts, concurrent admins."""

from __future__ import annotations

import asyncio

from aiogram import Bot

from sessionkit import AsyncMemoryStore, AsyncSessionStore, FakeClock
from sessionkit.integrations.aiogram import SessionkitStorage
from tests.integrations.aiogram_doubles import BOT_TOKEN, RecordingSession, text_update
from tests.integrations.examples import load_example

example = load_example("aiogram_admin_bot/admin_bot.py")
ADMIN = 7


async def run_bot(
    store: AsyncSessionStore, book: object, messages: list[str], **ttl: float
) -> list[str]:
    """Start the bot on ``store``, feed it ``messages`` from ADMIN, stop it; return its replies."""
    session = RecordingSession()
    bot = Bot(BOT_TOKEN, session=session)
    dispatcher = example.build_dispatcher(SessionkitStorage(store, **ttl), book)
    for update_id, text in enumerate(messages, start=1):
        await dispatcher.feed_update(bot, text_update(update_id, ADMIN, text))
    await dispatcher.emit_shutdown(bot=bot)  # what polling does on stop: closes the storage
    return session.sent_texts()


async def test_wizard_resumes_after_a_restart(backend_store: AsyncSessionStore) -> None:
    book = example.TariffBook()
    first = await run_bot(backend_store, book, ["/new_tariff", "990", "thirty", "30"])
    assert first == [
        "New tariff. Price, in cents?",
        "Duration, in days?",
        "The duration is a whole number of days, e.g. 30.",
        "Name of the tariff?",
    ]
    second = await run_bot(backend_store, book, ["Gold", "yes"])  # a new process, same store
    assert second == [
        "Create 'Gold': 990 cents for 30 days? yes/no",
        "Tariff 'Gold' created.",
    ]
    assert book.tariffs == [example.Tariff("Gold", 990, 30)]
    assert await backend_store.count() == 0  # finished: nothing left behind


async def test_abandoned_wizard_times_out() -> None:
    clock = FakeClock()
    store = AsyncMemoryStore(clock=clock)
    book = example.TariffBook()
    timeout = example.WIZARD_TIMEOUT
    await run_bot(store, book, ["/new_tariff", "990"], state_ttl=timeout, data_ttl=timeout)
    clock.advance(timeout + 1)
    replies = await run_bot(store, book, ["30"], state_ttl=timeout, data_ttl=timeout)
    assert replies == ["Send /new_tariff to create a tariff."]
    assert await store.count() == 0


async def test_cancel_clears_the_wizard(backend_store: AsyncSessionStore) -> None:
    book = example.TariffBook()
    replies = await run_bot(backend_store, book, ["/new_tariff", "990", "/cancel", "30"])
    assert replies[-2:] == ["Cancelled. Nothing was saved.", "Send /new_tariff to create a tariff."]
    assert book.tariffs == []


async def test_admins_do_not_share_a_wizard() -> None:
    store = AsyncMemoryStore()
    book = example.TariffBook()
    session = RecordingSession()
    bot = Bot(BOT_TOKEN, session=session)
    dispatcher = example.build_dispatcher(SessionkitStorage(store), book)
    script = ["/new_tariff", "100", "1", "Basic {admin}", "yes"]
    for step, text in enumerate(script):  # three admins, each step at the same time
        await asyncio.gather(
            *(
                dispatcher.feed_update(
                    bot, text_update(step * 10 + admin, admin, text.format(admin=admin))
                )
                for admin in (1, 2, 3)
            )
        )
    assert sorted(tariff.name for tariff in book.tariffs) == ["Basic 1", "Basic 2", "Basic 3"]
