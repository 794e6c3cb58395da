"""A chat app's conversation with a 2 h sliding expiry, on the asyncio API.

Run: python examples/quickstart_async.py [STORE_URL]   (default: memory://)
"""

from __future__ import annotations

import asyncio
import sys

import sessionkit

TWO_HOURS = 2 * 3600


async def add_message(store: sessionkit.AsyncSessionStore, chat: str, text: str) -> int:
    # Append atomically and renew the 2 h expiry on every write.
    conversation = await store.update(
        f"conversation:{chat}",
        lambda c: {**c, "messages": [*c["messages"], text]},
        ttl=TWO_HOURS,
        default={"messages": []},
    )
    return len(conversation["messages"])


async def main(url: str) -> None:
    async with sessionkit.open_async_store(url) as store:
        # Ten handlers at once: every message lands, none overwrites another.
        await asyncio.gather(*(add_message(store, "42", f"message {i}") for i in range(10)))
        conversation = await store.get("conversation:42")
        assert conversation is not None
        print("messages stored:", len(conversation["messages"]))
        print(f"expires in {await store.ttl('conversation:42'):.0f} s")
        await store.purge("conversation:")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "memory://"))
