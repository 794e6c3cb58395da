"""An aiogram session that answers the Bot API locally and records every request."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, Update, User

BOT_TOKEN = "42:TEST-not-a-real-token"
EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


class RecordingSession(BaseSession):
    """Never touches the network: ``sendMessage`` gets a plausible Message, the rest True."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self._message_id = 1000

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        if isinstance(method, SendMessage):
            self._message_id += 1
            sent = Message(
                message_id=self._message_id,
                date=EPOCH,
                chat=Chat(id=int(method.chat_id), type="private"),
                text=method.text,
            )
            return cast(TelegramType, sent)
        return cast(TelegramType, True)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    async def close(self) -> None:
        pass

    def sent_texts(self) -> list[str]:
        return [str(r.text) for r in self.requests if isinstance(r, SendMessage)]


def text_update(update_id: int, user_id: int, text: str) -> Update:
    """A private-chat text message from ``user_id``."""
    return Update(
        update_id=update_id,
        message=Message(
            message_id=update_id,
            date=EPOCH,
            chat=Chat(id=user_id, type="private"),
            from_user=User(id=user_id, is_bot=False, first_name="Ana"),
            text=text,
        ),
    )
