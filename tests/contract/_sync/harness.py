# Generated from tests/contract/_async/harness.py by scripts/unasync.py: edit that file, not this one.
"""One store under test, with a clock the test can move."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import attrs

from sessionkit import SessionStore, FakeClock, open_store
from tests.backends import BackendSpec
from tests.contract._sync.wrappers import wrap_store


@attrs.define
class Harness:
    spec: BackendSpec
    store: SessionStore
    clock: FakeClock | None

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the store: move the fake clock, or really wait."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)


def open_harness(spec: BackendSpec, tmp_path: Path, **extra: Any) -> Harness:
    """Open ``spec``'s store for one test; ``extra`` options go to the store."""
    spec.require()
    tmp_path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test setup, before any I/O
    token = uuid.uuid4().hex[:12]
    options = {**spec.options(token), **extra}
    clock = FakeClock() if spec.fake_clock else None
    if clock is not None:
        options["clock"] = clock
    store = open_store(spec.url(tmp_path), **options)
    if spec.wrap is not None:
        journal = tmp_path / f"journal-{token}.jsonl"
        store = wrap_store(spec.wrap, store, journal, clock, options.get("default_ttl"))
    return Harness(spec, store, clock)


def close_harness(harness: Harness) -> None:
    try:
        harness.store.purge("")
    finally:
        harness.store.close()
