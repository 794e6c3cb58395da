"""One store under a contract test, with the time it lives in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..._async.protocol import AsyncSessionStore
from ...clock import FakeClock
from ..cases import ORIGINAL

__all__ = ["AsyncContractHarness", "assert_unchanged"]


class AsyncContractHarness:
    """The store a contract test runs against, and how to let time pass for it."""

    def __init__(
        self,
        store: AsyncSessionStore,
        clock: FakeClock | None,
        opener: Callable[..., Any],  # the contract's open_harness
    ) -> None:
        self.store = store
        #: The fake clock the store reads, or ``None`` when real time passes.
        self.clock = clock
        self._opener = opener

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the store: move the fake clock, or really wait."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)

    async def reopen(self, **options: Any) -> AsyncContractHarness:
        """Another store from the same factory (``options`` such as ``default_ttl``)."""
        harness: AsyncContractHarness = await self._opener(**options)
        return harness

    async def close(self) -> None:
        """Remove what the test wrote, then close the store."""
        try:
            await self.store.purge("")
        finally:
            await self.store.close()


async def assert_unchanged(h: AsyncContractHarness, key: str, version: int) -> None:
    entry = await h.store.get_entry(key)
    assert entry is not None
    assert entry.value == ORIGINAL
    assert entry.version == version
