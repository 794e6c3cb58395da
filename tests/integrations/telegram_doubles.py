"""A python-telegram-bot request object that answers the Bot API locally and records calls."""

from __future__ import annotations

import json
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT_ID = 123456
TOKEN = f"{BOT_ID}:TEST-not-a-real-token"


class RecordingRequest(BaseRequest):
    """Answers ``getMe`` and ``sendMessage`` like the Bot API would; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._message_id = 1000

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        parameters = request_data.parameters if request_data is not None else {}
        self.calls.append((api_method, dict(parameters)))
        result: object
        if api_method == "getMe":
            result = {"id": BOT_ID, "is_bot": True, "first_name": "Test", "username": "test_bot"}
        elif api_method == "sendMessage":
            self._message_id += 1
            result = {
                "message_id": self._message_id,
                "date": 0,
                "chat": {"id": parameters["chat_id"], "type": "private"},
                "text": parameters.get("text", ""),
            }
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def sent_texts(self) -> list[str]:
        return [str(params["text"]) for method, params in self.calls if method == "sendMessage"]


def text_update(
    application: Application[Any, Any, Any, Any, Any, Any], update_id: int, user_id: int, text: str
) -> Update:
    """A private-chat text message from ``user_id``, as Telegram would deliver it."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Ana"},
        "text": text,
    }
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    update = Update.de_json({"update_id": update_id, "message": message}, application.bot)
    assert update is not None
    return update
