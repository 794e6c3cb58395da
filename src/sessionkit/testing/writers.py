"""Concurrent writers for the contract's atomicity tests, one spelling per flavour.

The async contract runs its writers as tasks on one event loop; the sync contract (its
generated twin, where every ``AsyncName`` becomes ``Name``) as threads. Threads are made to
interleave: the interpreter's switch interval is cut to a microsecond while they run, so a
thread is preempted inside a read-modify-write instead of finishing its whole loop within
one 5 ms time slice (which would let a store that is not atomic pass).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["AsyncRunWriters", "RunWriters", "increment", "tiny_switch_interval"]

#: The switch interval the threads run with (seconds; the interpreter's default is 0.005).
SWITCH_INTERVAL = 1e-6


def increment(value: dict[str, Any]) -> dict[str, Any]:
    """An update function adding 1 to ``value["n"]``, letting other threads run between
    its read and its return (``time.sleep(0)`` releases the GIL): inside the window a store
    that is not atomic would lose another writer's increment. A no-op pause on one loop."""
    n = value["n"]
    time.sleep(0)
    return {**value, "n": n + 1}


@contextmanager
def tiny_switch_interval(seconds: float = SWITCH_INTERVAL) -> Iterator[None]:
    """Run the block with ``sys.setswitchinterval(seconds)``, restored after."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


async def AsyncRunWriters(writers: int, write: Callable[[], Awaitable[None]]) -> None:
    """Run ``writers`` calls of ``write`` at once, as tasks; the first error is raised."""
    await asyncio.wait_for(asyncio.gather(*(write() for _ in range(writers))), 120)


def RunWriters(writers: int, write: Callable[[], None]) -> None:
    """Run ``writers`` calls of ``write`` at once, as threads released together by a
    barrier and forced to interleave; the first error is raised."""
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            write()
        except BaseException as error:  # raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(writers)]
    with tiny_switch_interval():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    if errors:
        raise errors[0]
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError("a writer thread did not finish within 120 s")
