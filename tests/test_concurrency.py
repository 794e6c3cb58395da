"""Concurrent read-modify-write never loses an update, on every backend.

16 writers x 250 increments of one counter must end at exactly 4000: with threads on the
sync store, and with tasks on the async store.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from sessionkit import open_async_store, open_store
from tests.backends import SPECS

WRITERS = 16
INCREMENTS = 250


def increment(value: dict[str, Any]) -> dict[str, Any]:
    return {**value, "n": value["n"] + 1}


@pytest.fixture(params=sorted(SPECS))
def spec_name(request: pytest.FixtureRequest) -> str:
    SPECS[request.param].require()
    return str(request.param)


def test_threads_updating_one_key_lose_nothing(spec_name: str, tmp_path: Path) -> None:
    spec = SPECS[spec_name]
    store = open_store(spec.url(tmp_path), **spec.options(uuid.uuid4().hex[:12]))
    try:
        store.set("counter", {"n": 0})
        start = threading.Barrier(WRITERS)
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                start.wait()
                for _ in range(INCREMENTS):
                    store.update("counter", increment)
            except BaseException as error:  # surfaced below, with its traceback
                errors.append(error)

        threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not errors, errors[0]
        assert store.get("counter") == {"n": WRITERS * INCREMENTS}
    finally:
        store.purge("")
        store.close()


async def test_tasks_updating_one_key_lose_nothing(spec_name: str, tmp_path: Path) -> None:
    spec = SPECS[spec_name]
    store = open_async_store(spec.url(tmp_path), **spec.options(uuid.uuid4().hex[:12]))
    try:
        await store.set("counter", {"n": 0})

        async def writer() -> None:
            for _ in range(INCREMENTS):
                await store.update("counter", increment)

        await asyncio.wait_for(asyncio.gather(*(writer() for _ in range(WRITERS))), 300)
        assert await store.get("counter") == {"n": WRITERS * INCREMENTS}
    finally:
        await store.purge("")
        await store.close()


async def test_tasks_merging_distinct_fields_lose_nothing(spec_name: str, tmp_path: Path) -> None:
    spec = SPECS[spec_name]
    store = open_async_store(spec.url(tmp_path), **spec.options(uuid.uuid4().hex[:12]))
    try:

        async def writer(i: int) -> None:
            for j in range(20):
                await store.merge("shared", {f"w{i}": j})

        await asyncio.wait_for(asyncio.gather(*(writer(i) for i in range(WRITERS))), 300)
        assert await store.get("shared") == {f"w{i}": 19 for i in range(WRITERS)}
    finally:
        await store.purge("")
        await store.close()
