"""Background replay of a fallback journal: an asyncio task or a daemon thread.

The one piece of `AsyncWithFallback` / `WithFallback` that differs between the flavours
beyond ``await`` (like the manager's sweeper, ``sessionkit._sweeper``), so it is written by
hand for each here, outside the generated ``_async``/``_sync`` folders. The async code
names `AsyncBackgroundReplay`; scripts/unasync.py turns that into `BackgroundReplay`.

While started, it calls ``step()`` every ``interval`` seconds (at once again when the step
says more is waiting); a step is one bounded replay chunk, so the request path never waits
for it. A failing step is logged (logger ``sessionkit.resilience``) and tried again at the
next interval; `StoreClosed` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable

from ..errors import StoreClosed
from ..observability.events import EventLogger

__all__ = ["DEFAULT_REPLAY_INTERVAL", "AsyncBackgroundReplay", "BackgroundReplay"]

#: Seconds between two background replay attempts while the journal holds records.
DEFAULT_REPLAY_INTERVAL = 1.0

_log = EventLogger("sessionkit.resilience")

#: ``step()`` returns True when it did a full chunk and more may wait (go on at once).
_Step = Callable[[], bool]


def check_replay_interval(interval: float | None) -> float | None:
    """``interval`` in seconds, ``None`` for no background replay (0 or None)."""
    if interval is None or interval == 0:
        return None
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
        raise ValueError(f"replay_interval is seconds (0 or None: off), not {interval!r}")
    return float(interval)


class AsyncBackgroundReplay:
    """An asyncio task in the loop that last called `wake`; none at construction."""

    def __init__(self, step: Callable[[], Awaitable[bool]], interval: float | None) -> None:
        self._step = step
        self.interval = check_replay_interval(interval)
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        """Whether a task is alive in the running loop."""
        task = self._task
        if task is None or task.done():
            return False
        try:
            return task.get_loop() is asyncio.get_running_loop()
        except RuntimeError:
            return False

    def wake(self) -> None:
        """Start the task in the running loop unless it runs there already (no loop: no-op;
        a task left in an earlier, finished loop is replaced)."""
        if self.interval is None or self._stopped or self.running:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._run(self.interval), name="sessionkit-replay")

    async def _run(self, interval: float) -> None:
        while not self._stopped:
            more = False
            try:
                more = await self._step()
            except StoreClosed:
                return
            except Exception as error:  # logged; the next interval tries again
                _log.warning("sessionkit.fallback.background_failed", error=repr(error))
            await asyncio.sleep(0 if more else interval)

    async def stop(self) -> None:
        """Stop the task: cancelled and awaited in its loop, cancelled from elsewhere."""
        self._stopped = True
        task, self._task = self._task, None
        if task is None or task.done():
            return
        loop = task.get_loop()
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is current:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)


class BackgroundReplay:
    """A daemon thread, started by `wake`, stopped and joined by `stop`."""

    def __init__(self, step: _Step, interval: float | None) -> None:
        # Weakly, when a store's method: a store dropped without close() is collected, and
        # its thread ends at its next interval instead of replaying for ever.
        self._step: Callable[[], _Step | None] = (
            weakref.WeakMethod(step) if hasattr(step, "__self__") else lambda: step
        )
        self.interval = check_replay_interval(interval)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def wake(self) -> None:
        """Start the thread unless it runs (or background replay is off or stopped)."""
        if self.interval is None or self._stop.is_set() or self.running:
            return
        with self._lock:
            if self._stop.is_set() or self.running:
                return
            self._thread = threading.Thread(
                target=self._run, args=(self.interval,), name="sessionkit-replay", daemon=True
            )
            self._thread.start()

    def _run(self, interval: float) -> None:
        more = False
        while not self._stop.wait(0 if more else interval):
            more = False
            step = self._step()
            if step is None:  # its store was collected without close()
                return
            try:
                more = step()
            except StoreClosed:
                return
            except Exception as error:  # logged; the next interval tries again
                _log.warning("sessionkit.fallback.background_failed", error=repr(error))
            del step  # not held while waiting: that would keep the store alive

    def stop(self) -> None:
        """Stop the thread and join it (it ends its current step first)."""
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
