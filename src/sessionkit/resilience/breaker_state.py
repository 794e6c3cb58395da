"""The circuit breaker's bookkeeping, shared by the sync and async wrappers.

pybreaker is the state machine: its storage keeps the state and the consecutive-failure
count, its ``open()``/``half_open()``/``close()`` make the transitions and notify its
listeners, and its exclusion list decides which errors are not the backend's fault. What
pybreaker's own ``call()``/``calling()`` would also decide is done here instead, because
under asyncio they get it wrong:

* ``call()`` on a coroutine function only creates the coroutine, so it never sees the
  failure; ``calling()`` sees it, but counts a cancelled task (``CancelledError``) as a
  failure, and in the half-open state lets every caller through.
* Here a call is *admitted* before it starts and its outcome is *recorded* when it ends.
  Only `StoreUnavailable` counts as a failure, and only a call
  that returns counts as a success; cancellation, ``GeneratorExit`` and every other error
  leave the counts alone. In the half-open state exactly one call, the probe, is admitted;
  the others fail fast with `CircuitOpen` until it ends.
* The reset timeout is measured with an injectable monotonic clock, so tests do not wait.

Events and observers run after the breaker's lock is released: pybreaker notifies its
listeners inside the transition (under its lock and ours), so the listener here only
queues the change, and the queue is drained once the locks are gone. A slow or
re-entrant observer cannot stall or deadlock other calls.

The state lives in this process (a `pybreaker.CircuitMemoryStorage`), never in the
store the breaker protects: a breaker that needs the backend to decide whether the
backend is up would fail with it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import NoReturn

import pybreaker

from ..errors import CircuitOpen, StoreUnavailable
from .events import Emitter, Event

__all__ = ["BreakerState", "CallGuard", "State"]

Exclusion = type[BaseException] | Callable[[BaseException], bool]


class State:
    """The breaker states, as pybreaker names them."""

    CLOSED = pybreaker.STATE_CLOSED
    OPEN = pybreaker.STATE_OPEN
    HALF_OPEN = pybreaker.STATE_HALF_OPEN


class _StateRelay(pybreaker.CircuitBreakerListener):
    """Queues pybreaker's state-change notifications; `flush` emits them as events.

    pybreaker calls `state_change` under its own lock (and ours); `flush` runs
    after both are released.
    """

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter
        self._queue: deque[tuple[str | None, str | None, str]] = deque()

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        old = None if old_state is None else old_state.name
        self._queue.append((cb.name, old, new_state.name))

    def flush(self) -> None:
        while True:
            try:
                name, old, new = self._queue.popleft()  # atomic: threads may flush together
            except IndexError:
                return
            self._emitter.emit(Event.BREAKER_STATE_CHANGED, breaker=name, old=old, new=new)


class BreakerState:
    """One breaker's state: thread-safe and task-safe (no lock is held across an await).

    ``clock`` returns monotonic seconds (default `time.monotonic`).
    """

    def __init__(
        self,
        *,
        name: str = "sessionkit",
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        exclude: Iterable[Exclusion] = (),
        clock: Callable[[], float] | None = None,
        emitter: Emitter | None = None,
    ) -> None:
        if fail_max < 1:
            raise ValueError("fail_max must be at least 1")
        if not reset_timeout > 0:
            raise ValueError("reset_timeout must be a positive number of seconds")
        self.name = name
        self.reset_timeout = float(reset_timeout)
        self._emitter = emitter or Emitter()
        self._storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._relay = _StateRelay(self._emitter)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            exclude=list(exclude),
            listeners=[self._relay],
            state_storage=self._storage,
            name=name,
        )
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        return self._storage.state

    @property
    def fail_counter(self) -> int:
        """Consecutive failures counted while closed."""
        return self._storage.counter

    def guard(self, operation: str) -> CallGuard:
        """A context manager around one backend call: ``with state.guard("get"): ...``."""
        return CallGuard(self, operation)

    # -- admission and outcomes ------------------------------------------------------------

    def admit(self, operation: str) -> bool:
        """Let a call start, or raise `CircuitOpen`. Returns whether it is the probe."""
        if self._storage.state == State.CLOSED:  # the healthy path takes no lock
            return False
        rejected: tuple[str, float] | None = None
        with self._lock:
            state = self._storage.state
            if state == State.CLOSED:
                return False
            if state == State.OPEN:
                remaining = self._opened_at + self.reset_timeout - self._clock()
                if remaining > 0:
                    rejected = (state, remaining)
                else:
                    self._breaker.half_open()
            if rejected is None and self._probing:  # half-open: one probe at a time
                rejected = (State.HALF_OPEN, 0.0)
            if rejected is None:
                self._probing = True
        self._relay.flush()
        if rejected is not None:
            self._reject(operation, *rejected)
        return True

    def succeeded(self, probe: bool) -> None:
        if not probe and self._storage.counter == 0:
            return  # the healthy path takes no lock
        with self._lock:
            if probe:
                self._probing = False
                self._breaker.close()
            elif self._storage.state == State.CLOSED:
                self._storage.reset_counter()
            # A success admitted before the breaker opened proves nothing about now.
        self._relay.flush()

    def failed(self, probe: bool, error: BaseException) -> None:
        if not self._is_failure(error):
            self.abandoned(probe)
            return
        with self._lock:
            if probe:
                self._probing = False
                self._trip()
            elif self._storage.state == State.CLOSED:
                self._storage.increment_counter()
                if self._storage.counter >= self._breaker.fail_max:
                    self._trip()
            # A failure admitted before the breaker opened is already accounted for.
        self._relay.flush()

    def abandoned(self, probe: bool) -> None:
        """The call ended with no verdict on the backend (cancelled, or not its fault)."""
        if probe:
            with self._lock:
                self._probing = False  # the next caller probes instead

    def _is_failure(self, error: BaseException) -> bool:
        return (
            isinstance(error, StoreUnavailable)
            and not isinstance(error, CircuitOpen)
            and self._breaker.is_system_error(error)
        )

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self._breaker.open()

    def _reject(self, operation: str, state: str, retry_after: float) -> NoReturn:
        self._emitter.emit(
            Event.BREAKER_REJECTED, breaker=self.name, operation=operation, state=state
        )
        raise CircuitOpen(self.name, retry_after)

    def __repr__(self) -> str:
        return f"BreakerState(name={self.name!r}, state={self.state!r})"


class CallGuard:
    """Admits one call on entry and records its outcome on exit."""

    __slots__ = ("_breaker", "_operation", "_probe")

    def __init__(self, breaker: BreakerState, operation: str) -> None:
        self._breaker = breaker
        self._operation = operation
        self._probe = False

    def __enter__(self) -> None:
        self._probe = self._breaker.admit(self._operation)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._breaker.succeeded(self._probe)
        elif isinstance(exc, Exception):
            self._breaker.failed(self._probe, exc)
        else:  # CancelledError, KeyboardInterrupt, GeneratorExit: no verdict
            self._breaker.abandoned(self._probe)
