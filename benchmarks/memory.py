"""The memory store against the obvious hand-rolled alternative: a locked dict of JSON copies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.core import Pair
from sessionkit import MemoryStore

SESSION: dict[str, Any] = {
    "user_id": 123456789,
    "flow": "tariff_create",
    "step": "price",
    "data": {"price": 990, "currency": "RUB", "name": "Premium 30 días", "channels": [1, 2, 3]},
    "history": [{"step": s, "at": 1_700_000_000 + i} for i, s in enumerate("abcdefghij")],
}


class LockedDict:
    """What the seeds' apps had: a dict, a lock, and a JSON round trip to avoid aliasing."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            raw = self._data.get(key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        raw = json.dumps(value)
        with self._lock:
            self._data[key] = raw

    def merge(self, key: str, patch: dict[str, Any]) -> Any:
        with self._lock:
            value = {**json.loads(self._data[key]), **patch}
            self._data[key] = json.dumps(value)
        return value


@contextmanager
def pairs() -> Iterator[list[Pair]]:
    store, plain = MemoryStore(), LockedDict()
    store.set("s", SESSION)
    plain.set("s", SESSION)
    yield [
        Pair("memory get", lambda: store.get("s"), lambda: plain.get("s"), "locked dict + json"),
        Pair(
            "memory set",
            lambda: store.set("s", SESSION),
            lambda: plain.set("s", SESSION),
            "locked dict + json",
        ),
        Pair(
            "memory merge",
            lambda: store.merge("s", {"step": "name"}),
            lambda: plain.merge("s", {"step": "name"}),
            "locked dict + json",
        ),
    ]
    store.close()
