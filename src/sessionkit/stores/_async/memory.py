"""The in-process store. The logic lives in `MemoryState`, once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..._async.base import AsyncStoreBase
from ...clock import Clock, system_clock
from ...codec import JSONCodec, default_codec
from ...entry import TTL, Entry, UpdateFunction
from ...errors import ConfigurationError
from ...stamped import DEFAULT_TOMBSTONE_TTL, ReplayOutcome, StampedWrite
from .._memory_state import MemoryState

__all__ = ["AsyncMemoryStore"]


class AsyncMemoryStore(AsyncStoreBase):
    """Sessions in this process's memory: thread-safe, task-safe, lost on exit.

    Values are stored encoded, so nothing you pass in or get back is shared with the store.
    Two stores given the same ``state`` see the same data (a sync and an async view, say).

    ```pycon
    >>> import asyncio
    >>> async def main() -> dict:
    ...     async with AsyncMemoryStore() as store:
    ...         await store.set("wizard:42", {"step": "price"})
    ...         return await store.merge("wizard:42", {"price": 990})
    >>> asyncio.run(main())
    {'step': 'price', 'price': 990}

    ```
    """

    def __init__(
        self,
        *,
        state: MemoryState | None = None,
        clock: Clock = system_clock,
        codec: JSONCodec = default_codec,
        default_ttl: TTL | None = None,
        tombstone_ttl: TTL = DEFAULT_TOMBSTONE_TTL,
    ) -> None:
        self._state = state or MemoryState(
            clock=clock, codec=codec, default_ttl=default_ttl, tombstone_ttl=tombstone_ttl
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> AsyncMemoryStore:
        """``memory://``: a new, empty store (options: clock, codec, default_ttl,
        tombstone_ttl)."""
        parts = urlsplit(url)
        if parts.scheme != "memory" or parts.netloc or parts.path not in ("", "/"):
            raise ConfigurationError(f"a memory store URL is just 'memory://', not {url!r}")
        return cls(**options)

    @property
    def default_ttl(self) -> float | None:
        """Seconds a write with ``ttl=None`` lives (None: never expires)."""
        return self._state.default_ttl

    @property
    def tombstone_ttl(self) -> float:
        """Seconds a delete is remembered for a journal replay (0: not at all)."""
        return self._state.tombstone_ttl

    @property
    def state(self) -> MemoryState:
        """The shared data; pass it to another store to share it."""
        return self._state

    async def get(self, key: str) -> dict[str, Any] | None:
        self._check_open()
        return self._state.get(key)

    async def get_entry(self, key: str) -> Entry | None:
        self._check_open()
        return self._state.get_entry(key)

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._check_open()
        self._state.set(key, value, ttl)

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        self._check_open()
        return self._state.create(key, value, ttl)

    async def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._check_open()
        return self._state.update(key, fn, ttl, default)

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        self._check_open()
        return self._state.merge(key, patch, ttl)

    async def delete(self, key: str) -> bool:
        self._check_open()
        return self._state.delete(key)

    async def exists(self, key: str) -> bool:
        self._check_open()
        return self._state.exists(key)

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        self._check_open()
        return self._state.touch(key, ttl)

    async def ttl(self, key: str) -> float | None:
        self._check_open()
        return self._state.ttl(key)

    async def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        """A journaled write, applied only if newer than what the key holds."""
        self._check_open()
        return self._state.apply_if_newer(write)

    async def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._check_open()
        return self._state.get_many(keys)

    async def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._check_open()
        self._state.set_many(items, ttl)

    async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
        self._check_open()
        for key in self._state.keys(prefix):  # one snapshot; batch_size has nothing to do
            yield key

    async def count(self, prefix: str = "") -> int:
        self._check_open()
        return self._state.count(prefix)

    async def purge(self, prefix: str = "") -> int:
        self._check_open()
        return self._state.purge(prefix)

    async def sweep(self) -> int:
        self._check_open()
        return self._state.sweep()

    def __repr__(self) -> str:
        return f"AsyncMemoryStore(keys={len(self._state.keys(''))})"
