"""The fallback stores a test opened: this folder's conftest closes them after each test."""

from __future__ import annotations

from sessionkit.resilience import AsyncWithFallback

OPENED: list[AsyncWithFallback] = []


async def close_opened() -> None:
    while OPENED:
        await OPENED.pop().close()  # closing twice is a no-op
