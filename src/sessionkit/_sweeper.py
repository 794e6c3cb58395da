"""The background sweeper: calls ``store.sweep()`` every ``interval`` seconds.

The one piece of the manager that differs between sync and async beyond ``await``: a
daemon thread (`Sweeper`) or an asyncio task (`AsyncSweeper`). A failing
sweep is logged and retried at the next interval; it never stops the sweeper or the app.

Events go to stdlib logging, logger ``sessionkit.sweeper`` (sessionkit configures nothing):
`SweeperEvent.FAILED` and `SweeperEvent.STOP_TIMED_OUT`.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Awaitable, Callable

from .observability.events import EventLogger, SweeperEvent

__all__ = ["DEFAULT_STOP_TIMEOUT", "AsyncSweeper", "Sweeper", "SweeperEvent", "check_interval"]

_log = EventLogger("sessionkit.sweeper")

#: Seconds `Sweeper.stop` waits for a sweep in progress before giving up on it.
DEFAULT_STOP_TIMEOUT = 10.0


def check_interval(interval: object) -> float:
    """``interval`` as seconds between sweeps; `ValueError` unless positive."""
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not (interval > 0 and math.isfinite(interval))
    ):
        raise ValueError(
            f"a sweep interval is a positive number of seconds, not {interval!r}"
        )
    return float(interval)


class _Counters:
    def __init__(self, interval: float) -> None:
        self.interval = check_interval(interval)
        #: Sweeps completed (successfully or not) since start; for monitoring and tests.
        self.runs = 0
        #: Entries reclaimed by all sweeps so far.
        self.swept = 0
        #: The error of the last sweep if it failed; ``None`` once a sweep succeeds again.
        self.last_error: BaseException | None = None

    def record(self, swept: int | None, error: Exception | None) -> None:
        self.runs += 1
        if error is not None:
            self.last_error = error
            _log.warning(SweeperEvent.FAILED, error=repr(error), retry_in=self.interval)
        else:
            self.last_error = None
            self.swept += swept or 0


class Sweeper(_Counters):
    """Sweeps from a daemon thread until `stop`.

    `stop` waits at most ``stop_timeout`` seconds for a sweep in progress: a sweep
    stuck on an unresponsive backend must not block the app's shutdown forever.
    """

    def __init__(
        self,
        sweep: Callable[[], int],
        interval: float,
        *,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        super().__init__(interval)
        if not (stop_timeout >= 0 and math.isfinite(stop_timeout)):
            raise ValueError(f"a stop timeout is seconds (>= 0), not {stop_timeout!r}")
        self.stop_timeout = float(stop_timeout)
        self._sweep = sweep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop = threading.Event()  # a thread left over from a timed-out stop keeps its own
        self._thread = threading.Thread(target=self._loop, name="sessionkit-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sweeping: wait for a sweep in progress, at most ``stop_timeout`` seconds."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(self.stop_timeout)
        if thread.is_alive():  # a hung sweep: the daemon thread ends when it returns
            _log.warning(SweeperEvent.STOP_TIMED_OUT, timeout=self.stop_timeout)

    def _loop(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval):
            try:
                swept = self._sweep()
            except Exception as error:  # keep sweeping: the next run may succeed
                self.record(None, error)
            else:
                self.record(swept, None)


class AsyncSweeper(_Counters):
    """Sweeps from an asyncio task (of the running loop) until `stop`."""

    def __init__(self, sweep: Callable[[], Awaitable[int]], interval: float) -> None:
        super().__init__(interval)
        self._sweep = sweep
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="sessionkit-sweeper"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # gather hands the task's CancelledError back as a result, while a cancellation
        # of the caller itself still propagates.
        await asyncio.gather(task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                swept = await self._sweep()
            except Exception as error:  # keep sweeping: the next run may succeed
                self.record(None, error)
            else:
                self.record(swept, None)
