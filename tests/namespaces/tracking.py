"""Memory stores opened by ``tracked://`` that remember every instance (tests only), so a
test can check that what a failed constructor opened was closed again."""

from __future__ import annotations

from typing import Any

from sessionkit.registry import register_scheme
from sessionkit.stores.memory import AsyncMemoryStore, MemoryStore

#: Every store ``tracked://`` opened, in order.
OPENED: list[TrackedMemoryStore | TrackedAsyncMemoryStore] = []


class TrackedMemoryStore(MemoryStore):
    @classmethod
    def from_url(cls, url: str, **options: Any) -> TrackedMemoryStore:
        store = cls(**options)
        OPENED.append(store)
        return store

    @property
    def closed(self) -> bool:
        return self._closed


class TrackedAsyncMemoryStore(AsyncMemoryStore):
    @classmethod
    def from_url(cls, url: str, **options: Any) -> TrackedAsyncMemoryStore:
        store = cls(**options)
        OPENED.append(store)
        return store

    @property
    def closed(self) -> bool:
        return self._closed


register_scheme(
    "tracked",
    sync="tests.namespaces.tracking:TrackedMemoryStore",
    async_="tests.namespaces.tracking:TrackedAsyncMemoryStore",
)
