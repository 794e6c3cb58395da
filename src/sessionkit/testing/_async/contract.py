"""The store contract as a class a backend's test suite subclasses (the Django way)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ..._async.protocol import AsyncSessionStore
from ...clock import FakeClock
from ..pytest_glue import AsyncContractMarks, AsyncFixture
from .data_cases import AsyncDataCases
from .harness import AsyncContractHarness
from .limit_cases import AsyncLimitCases
from .replay_cases import AsyncReplayCases

__all__ = ["AsyncStoreContract"]


class AsyncStoreContract(AsyncDataCases, AsyncLimitCases, AsyncReplayCases):
    """Every behaviour a sessionkit store promises, as tests. Subclass it in a test module
    whose class name starts with ``Test`` and implement `make_store`::

        class TestMyStore(AsyncStoreContract):
            async def make_store(self, **options):
                return AsyncMyStore(url, **options)

    ``options`` are what a test needs from the store: ``clock`` (a
    `FakeClock` the store must read time from, so TTL tests move it
    instead of sleeping) and, for one test, ``default_ttl``. A ``make_store`` that takes
    neither gets none: TTL tests then wait in real time (fractions of a second) and the
    default-TTL test is skipped. Set ``fake_clock = False`` for a store whose server keeps
    time (Redis) even though it accepts ``clock``, and ``sweeps = False`` for one whose
    backend expires entries natively (its ``sweep()`` reclaims nothing and returns 0).
    ``self.tmp_path`` is the test's temporary directory (for a database file, say).

    Each test runs on a fresh store and then purges it (``purge("")``) and closes it.
    """

    #: False if the store cannot take its time from an injected clock.
    fake_clock: bool = True
    #: The test's temporary directory, set before `make_store` is called.
    tmp_path: Path

    pytestmark = AsyncContractMarks

    async def make_store(self, **options: Any) -> AsyncSessionStore:
        """A new, empty store for one test."""
        raise NotImplementedError(f"{type(self).__name__} must define make_store()")

    def _accepts(self, option: str) -> bool:
        parameters = inspect.signature(self.make_store).parameters.values()
        return any(
            p.kind is inspect.Parameter.VAR_KEYWORD
            or (p.name == option and p.kind.name != "VAR_POSITIONAL")
            for p in parameters
        )

    async def open_harness(self, **options: Any) -> AsyncContractHarness:
        """A store from `make_store` with what the contract needs of it."""
        for option in options:
            if not self._accepts(option):
                pytest.skip(f"make_store() takes no {option!r}")
        clock = FakeClock() if self.fake_clock and self._accepts("clock") else None
        if clock is not None:
            options["clock"] = clock
        store = await self.make_store(**options)
        return AsyncContractHarness(store, clock, self.open_harness)

    @AsyncFixture
    async def harness(self, tmp_path: Path) -> AsyncIterator[AsyncContractHarness]:
        self.tmp_path = tmp_path
        h = await self.open_harness()
        try:
            yield h
        finally:
            await h.close()
