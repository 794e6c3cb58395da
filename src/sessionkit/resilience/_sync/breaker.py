# Generated from src/sessionkit/resilience/_async/breaker.py by scripts/unasync.py: edit that file, not this one.
"""A store behind a circuit breaker: after repeated outages it fails fast for a while."""

from __future__ import annotations

from collections.abc import Iterator, Callable, Iterable
from typing import TypeVar

from ..._sync.delegating import DelegatingStore
from ..._sync.protocol import SessionStore
from .._types import Operation
from ..breaker_state import BreakerState
from ..events import Emitter, ResilienceObserver

__all__ = ["CircuitBreaking"]

_T = TypeVar("_T")


class CircuitBreaking(DelegatingStore):
    """Wraps a store with a circuit breaker (see `sessionkit.resilience.breaker_state`).

    After ``fail_max`` consecutive `StoreUnavailable` failures
    the breaker opens: calls raise `CircuitOpen` (a
    ``StoreUnavailable``) without touching the backend. After ``reset_timeout`` seconds
    one call probes; its success closes the breaker, its failure opens it again. Pass
    ``breaker=`` to share one `BreakerState` between several wrappers of the same
    backend (a sync and an async view, say). ``clock`` (monotonic seconds) times the
    reset timeout; tests pass a fake one.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        fail_max: int = 5,
        reset_timeout: float = 30.0,
        exclude: Iterable[type[BaseException]] = (),
        name: str = "sessionkit",
        clock: Callable[[], float] | None = None,
        breaker: BreakerState | None = None,
        observers: Iterable[ResilienceObserver] = (),
        emitter: Emitter | None = None,
    ) -> None:
        super().__init__(store)
        self.breaker = breaker or BreakerState(
            name=name,
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            exclude=exclude,
            clock=clock,
            emitter=emitter or Emitter(observers),
        )

    def _around(self, operation: str, key: str | None, call: Operation[_T]) -> _T:
        self._check_open()
        with self.breaker.guard(operation):
            return call()

    def _around_scan(self, prefix: str, keys: Iterator[str]) -> Iterator[str]:
        self._check_open()
        # One admission for the whole iteration, judged when the first batch arrives (or
        # the scan ends): a half-open probe must not wait for a consumer that may never
        # finish, or never close, the iteration. A later outage counts as a failure of
        # an ordinary call; a consumer that stops early (GeneratorExit) is no verdict.
        breaker = self.breaker
        probe = breaker.admit("scan")
        judged = False
        try:
            for key in keys:
                if not judged:
                    judged = True
                    breaker.succeeded(probe)
                yield key
        except Exception as error:
            breaker.failed(probe and not judged, error)
            raise
        except BaseException:
            if not judged:
                breaker.abandoned(probe)
            raise
        if not judged:
            breaker.succeeded(probe)

    def __repr__(self) -> str:
        return f"CircuitBreaking({self._store!r}, state={self.breaker.state!r})"
