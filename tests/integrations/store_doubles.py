"""A real memory store that counts its calls and can run a hook after one (a backend double)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sessionkit import AsyncMemoryStore
from sessionkit.entry import TTL, Entry, UpdateFunction


class CountingStore(AsyncMemoryStore):
    """:class:`AsyncMemoryStore`, counting ``get``, ``get_entry``, ``touch``, ``create``,
    ``update`` and ``delete`` calls per method name in :attr:`calls`.

    :attr:`after_next_call`, when set, is awaited once right after the next of those calls
    returns (then cleared): a way to make "something else happens between two store calls"
    deterministic.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls: Counter[str] = Counter()
        self.after_next_call: Callable[[], Awaitable[None]] | None = None

    async def _called(self, name: str) -> None:
        self.calls[name] += 1
        hook, self.after_next_call = self.after_next_call, None
        if hook is not None:
            await hook()

    def lookups(self) -> int:
        """Reads of one entry (``get`` and ``get_entry``)."""
        return self.calls["get"] + self.calls["get_entry"]

    async def get(self, key: str) -> dict[str, Any] | None:
        value = await super().get(key)
        await self._called("get")
        return value

    async def get_entry(self, key: str) -> Entry | None:
        entry = await super().get_entry(key)
        await self._called("get_entry")
        return entry

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        touched = await super().touch(key, ttl)
        await self._called("touch")
        return touched

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        created = await super().create(key, value, ttl)
        await self._called("create")
        return created

    async def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            return await super().update(key, fn, ttl, default=default)
        finally:
            await self._called("update")

    async def delete(self, key: str) -> bool:
        deleted = await super().delete(key)
        await self._called("delete")
        return deleted
