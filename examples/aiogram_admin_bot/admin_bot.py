"""A bot's admin wizard on aiogram: create a tariff in steps, price -> duration -> name ->
confirm, with the wizard's state in a sessionkit store.

The state survives a restart of the bot (or moves to another instance), and an abandoned
wizard times out after 10 minutes (``state_ttl``/``data_ttl``) with nothing to clean up.

Run it (needs a bot token from @BotFather)::

    export TELEGRAM_BOT_TOKEN=123:abc SESSIONKIT_URL=sqlite:///admin-bot.db
    python examples/aiogram_admin_bot/admin_bot.py
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import attrs
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from sessionkit.integrations.aiogram import SessionkitStorage

WIZARD_TIMEOUT = 600  # seconds: an admin wizard left alone expires after 10 minutes


class TariffWizard(StatesGroup):
    price = State()
    duration = State()
    name = State()
    confirm = State()


@attrs.frozen
class Tariff:
    name: str
    price: int  # cents
    duration_days: int


@attrs.define
class TariffBook:
    """Stands in for the bot's tariff table (the bot's permanent database)."""

    tariffs: list[Tariff] = attrs.Factory(list)

    def create(self, tariff: Tariff) -> None:
        self.tariffs.append(tariff)


async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer("Cancelled. Nothing was saved.")


async def new_tariff(message: Message, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(TariffWizard.price)
    await message.answer("New tariff. Price, in cents?")


async def got_price(message: Message, state: FSMContext) -> None:
    if not (message.text or "").isdigit():
        await message.answer("The price is a whole number of cents, e.g. 990.")
        return
    await state.update_data(price=int(message.text or "0"))
    await state.set_state(TariffWizard.duration)
    await message.answer("Duration, in days?")


async def got_duration(message: Message, state: FSMContext) -> None:
    if not (message.text or "").isdigit():
        await message.answer("The duration is a whole number of days, e.g. 30.")
        return
    await state.update_data(duration_days=int(message.text or "0"))
    await state.set_state(TariffWizard.name)
    await message.answer("Name of the tariff?")


async def got_name(message: Message, state: FSMContext) -> None:
    data = await state.update_data(name=message.text)
    await state.set_state(TariffWizard.confirm)
    await message.answer(
        f"Create {data['name']!r}: {data['price']} cents for {data['duration_days']} days? yes/no"
    )


async def confirmed(message: Message, state: FSMContext, tariffs: TariffBook) -> None:
    data: dict[str, Any] = await state.get_data()
    tariff = Tariff(data["name"], data["price"], data["duration_days"])
    tariffs.create(tariff)
    await state.clear()
    await message.answer(f"Tariff {tariff.name!r} created.")


async def not_confirmed(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer("Cancelled. Nothing was saved.")


async def no_wizard(message: Message) -> None:
    await message.answer("Send /new_tariff to create a tariff.")


def build_router() -> Router:
    """The wizard's handlers, in the order aiogram tries them (a router joins one dispatcher)."""
    router = Router(name="tariff-wizard")
    router.message.register(cancel, Command("cancel"), StateFilter("*"))
    router.message.register(new_tariff, Command("new_tariff"))
    router.message.register(got_price, TariffWizard.price, F.text)
    router.message.register(got_duration, TariffWizard.duration, F.text)
    router.message.register(got_name, TariffWizard.name, F.text)
    router.message.register(confirmed, TariffWizard.confirm, F.text.lower() == "yes")
    router.message.register(not_confirmed, TariffWizard.confirm)
    router.message.register(no_wizard, StateFilter(None))
    return router


def build_dispatcher(storage: SessionkitStorage, tariffs: TariffBook) -> Dispatcher:
    """The bot's dispatcher; ``tariffs`` reaches the handlers that ask for it by name."""
    dispatcher = Dispatcher(storage=storage, tariffs=tariffs)
    dispatcher.include_router(build_router())
    return dispatcher


async def main() -> None:
    url = os.environ.get("SESSIONKIT_URL", "sqlite:///admin-bot.db")
    storage = SessionkitStorage.from_url(url, state_ttl=WIZARD_TIMEOUT, data_ttl=WIZARD_TIMEOUT)
    dispatcher = build_dispatcher(storage, TariffBook())
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"])
    await dispatcher.start_polling(bot)  # closes the storage when polling stops


if __name__ == "__main__":
    asyncio.run(main())
