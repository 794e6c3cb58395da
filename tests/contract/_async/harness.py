"""One store under test, with a clock the test can move."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import attrs

from sessionkit import AsyncSessionStore, FakeClock, open_async_store
from tests.backends import BackendSpec
from tests.contract._async.wrappers import wrap_store


@attrs.define
class AsyncHarness:
    spec: BackendSpec
    store: AsyncSessionStore
    clock: FakeClock | None

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the store: move the fake clock, or really wait."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)


async def open_harness(spec: BackendSpec, tmp_path: Path, **extra: Any) -> AsyncHarness:
    """Open ``spec``'s store for one test; ``extra`` options go to the store."""
    spec.require()
    tmp_path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test setup, before any I/O
    token = uuid.uuid4().hex[:12]
    options = {**spec.options(token), **extra}
    clock = FakeClock() if spec.fake_clock else None
    if clock is not None:
        options["clock"] = clock
    store = open_async_store(spec.url(tmp_path), **options)
    if spec.wrap is not None:
        journal = tmp_path / f"journal-{token}.jsonl"
        store = wrap_store(spec.wrap, store, journal, clock, options.get("default_ttl"))
    return AsyncHarness(spec, store, clock)


async def close_harness(harness: AsyncHarness) -> None:
    try:
        await harness.store.purge("")
    finally:
        await harness.store.close()
