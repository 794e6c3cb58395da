# Generated from src/sessionkit/stores/_async/memory.py by scripts/unasync.py: edit that file, not this one.
"""The in-process store. The logic lives in `MemoryState`, once."""

from __future__ import annotations

from collections.abc import Iterator, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..._sync.base import StoreBase
from ...clock import Clock, system_clock
from ...codec import JSONCodec, default_codec
from ...entry import TTL, Entry, UpdateFunction
from ...errors import ConfigurationError
from ...stamped import DEFAULT_TOMBSTONE_TTL, ReplayOutcome, StampedWrite
from .._memory_state import MemoryState

__all__ = ["MemoryStore"]


class MemoryStore(StoreBase):
    """Sessions in this process's memory: thread-safe, task-safe, lost on exit.

    Values are stored encoded, so nothing you pass in or get back is shared with the store.
    Two stores given the same ``state`` see the same data (a sync and an async view, say).

    ```pycon
    >>> import time
    >>> def main() -> dict:
    ...     with MemoryStore() as store:
    ...         store.set("wizard:42", {"step": "price"})
    ...         return store.merge("wizard:42", {"price": 990})
    >>> main()
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
    def from_url(cls, url: str, **options: Any) -> MemoryStore:
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

    def get(self, key: str) -> dict[str, Any] | None:
        self._check_open()
        return self._state.get(key)

    def get_entry(self, key: str) -> Entry | None:
        self._check_open()
        return self._state.get_entry(key)

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._check_open()
        self._state.set(key, value, ttl)

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        self._check_open()
        return self._state.create(key, value, ttl)

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._check_open()
        return self._state.update(key, fn, ttl, default)

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        self._check_open()
        return self._state.merge(key, patch, ttl)

    def delete(self, key: str) -> bool:
        self._check_open()
        return self._state.delete(key)

    def exists(self, key: str) -> bool:
        self._check_open()
        return self._state.exists(key)

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        self._check_open()
        return self._state.touch(key, ttl)

    def ttl(self, key: str) -> float | None:
        self._check_open()
        return self._state.ttl(key)

    def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        """A journaled write, applied only if newer than what the key holds."""
        self._check_open()
        return self._state.apply_if_newer(write)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._check_open()
        return self._state.get_many(keys)

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._check_open()
        self._state.set_many(items, ttl)

    def scan(self, prefix: str = "", *, batch_size: int = 500) -> Iterator[str]:
        self._check_open()
        for key in self._state.keys(prefix):  # one snapshot; batch_size has nothing to do
            yield key

    def count(self, prefix: str = "") -> int:
        self._check_open()
        return self._state.count(prefix)

    def purge(self, prefix: str = "") -> int:
        self._check_open()
        return self._state.purge(prefix)

    def sweep(self) -> int:
        self._check_open()
        return self._state.sweep()

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._state.keys(''))})"
