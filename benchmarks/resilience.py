"""The whole resilience stack (fallback, breaker, retry) against the bare store it wraps,
on the healthy path: what the wrappers cost when nothing fails. Goal: within 5% of the
bare store on a networked backend (Redis, when one answers on 127.0.0.1:6379); over the
memory store, where a call costs about a microsecond, the ratio shows the absolute cost.
"""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.core import Pair, skip
from benchmarks.memory import SESSION
from sessionkit import MemoryStore, SessionStore, open_store
from sessionkit.resilience import resilient


def _pairs_for(
    label: str, bare: SessionStore, wrapped: SessionStore, goal: float | None
) -> list[Pair]:
    bare.set("s", SESSION)
    baseline = f"bare {label}"
    return [
        Pair(
            f"resilient {label} get",
            lambda: wrapped.get("s"),
            lambda: bare.get("s"),
            baseline,
            goal,
        ),
        Pair(
            f"resilient {label} set",
            lambda: wrapped.set("s", SESSION),
            lambda: bare.set("s", SESSION),
            baseline,
            goal,
        ),
        Pair(
            f"resilient {label} merge",
            lambda: wrapped.merge("s", {"step": "name"}),
            lambda: bare.merge("s", {"step": "name"}),
            baseline,
            goal,
        ),
    ]


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def pairs() -> Iterator[list[Pair]]:
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        memory = MemoryStore()
        # One store, two views: the wrapped one and the bare one share the data.
        found = _pairs_for("memory", memory, resilient(memory, directory / "memory.journal"), None)
        if _redis_answers():
            prefix = f"skbench:{uuid.uuid4().hex[:8]}:"
            bare = open_store("redis://127.0.0.1:6379/0", prefix=prefix)
            stack.callback(bare.close)
            stack.callback(bare.purge, "")
            wrapped = resilient(
                open_store("redis://127.0.0.1:6379/0", prefix=prefix), directory / "redis.journal"
            )
            stack.callback(wrapped.close)
            found += _pairs_for("redis", bare, wrapped, 1.05)
        else:
            skip("benchmarks.resilience (redis)", "Redis is not running on 127.0.0.1:6379")
        yield found
