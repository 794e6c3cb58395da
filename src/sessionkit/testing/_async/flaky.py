"""A test double for a *backend*: a memory store that can be switched down.

The wrappers under test are real; only the backend they wrap is replaced, so that a test
can say "the server is down now" and "it is back" deterministically.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from ...entry import TTL, Entry, UpdateFunction
from ...errors import StoreUnavailable
from ...stamped import ReplayOutcome, StampedWrite
from ...stores.memory import AsyncMemoryStore


class AsyncFlakyStore(AsyncMemoryStore):
    """A memory store that raises StoreUnavailable while ``down``.

    ``fail_after``: allow that many more calls, then go down (a server dying mid-replay).
    ``lose_replies``: apply writes, then raise anyway (the reply lost on the wire).
    ``calls`` counts every call that reached the data, by operation name.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.down = False
        self.fail_after: int | None = None
        self.lose_replies = False
        self.calls: dict[str, int] = {}

    def _enter(self, operation: str) -> None:
        if self.fail_after is not None:
            if self.fail_after <= 0:
                self.down = True
                self.fail_after = None
            else:
                self.fail_after -= 1
        if self.down:
            raise StoreUnavailable(f"{operation}: the test backend is down")
        self.calls[operation] = self.calls.get(operation, 0) + 1

    def _reply(self, operation: str) -> None:
        if self.lose_replies:
            raise StoreUnavailable(f"{operation}: applied, but the reply was lost")

    async def get(self, key: str) -> dict[str, Any] | None:
        self._enter("get")
        return await super().get(key)

    async def get_entry(self, key: str) -> Entry | None:
        self._enter("get_entry")
        return await super().get_entry(key)

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._enter("set")
        await super().set(key, value, ttl)
        self._reply("set")

    async def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        self._enter("apply_if_newer")
        outcome = await super().apply_if_newer(write)
        self._reply("apply_if_newer")
        return outcome

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        self._enter("create")
        created = await super().create(key, value, ttl)
        self._reply("create")
        return created

    async def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._enter("update")
        value = await super().update(key, fn, ttl, default=default)
        self._reply("update")
        return value

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        self._enter("merge")
        value = await super().merge(key, patch, ttl)
        self._reply("merge")
        return value

    async def delete(self, key: str) -> bool:
        self._enter("delete")
        existed = await super().delete(key)
        self._reply("delete")
        return existed

    async def exists(self, key: str) -> bool:
        self._enter("exists")
        return await super().exists(key)

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        self._enter("touch")
        existed = await super().touch(key, ttl)
        self._reply("touch")
        return existed

    async def ttl(self, key: str) -> float | None:
        self._enter("ttl")
        return await super().ttl(key)

    async def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._enter("get_many")
        return await super().get_many(keys)

    async def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._enter("set_many")
        await super().set_many(items, ttl)
        self._reply("set_many")

    async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
        self._enter("scan")
        async for key in super().scan(prefix, batch_size=batch_size):
            yield key

    async def count(self, prefix: str = "") -> int:
        self._enter("count")
        return await super().count(prefix)

    async def purge(self, prefix: str = "") -> int:
        self._enter("purge")
        return await super().purge(prefix)
