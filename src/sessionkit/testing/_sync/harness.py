# Generated from src/sessionkit/testing/_async/harness.py by scripts/unasync.py: edit that file, not this one.
"""One store under a contract test, with the time it lives in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..._sync.protocol import SessionStore
from ...clock import FakeClock
from ..cases import ORIGINAL

__all__ = ["ContractHarness", "assert_unchanged"]


class ContractHarness:
    """The store a contract test runs against, and how to let time pass for it."""

    def __init__(
        self,
        store: SessionStore,
        clock: FakeClock | None,
        opener: Callable[..., Any],  # the contract's open_harness
    ) -> None:
        self.store = store
        #: The fake clock the store reads, or ``None`` when real time passes.
        self.clock = clock
        self._opener = opener

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the store: move the fake clock, or really wait."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)

    def reopen(self, **options: Any) -> ContractHarness:
        """Another store from the same factory (``options`` such as ``default_ttl``)."""
        harness: ContractHarness = self._opener(**options)
        return harness

    def close(self) -> None:
        """Remove what the test wrote, then close the store."""
        try:
            self.store.purge("")
        finally:
            self.store.close()


def assert_unchanged(h: ContractHarness, key: str, version: int) -> None:
    entry = h.store.get_entry(key)
    assert entry is not None
    assert entry.value == ORIGINAL
    assert entry.version == version
