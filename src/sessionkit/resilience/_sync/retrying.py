# Generated from src/sessionkit/resilience/_async/retrying.py by scripts/unasync.py: edit that file, not this one.
"""A store that retries the calls a backend failed with StoreUnavailable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from time import monotonic
from typing import TypeVar

import tenacity

from ..._sync.delegating import DelegatingStore
from ..._sync.protocol import SessionStore
from ...errors import StoreUnavailable
from .._types import Operation, Sleep
from ..events import Emitter, ResilienceObserver
from ..retry_policy import RetryPolicy

__all__ = ["RetryingStore"]

_T = TypeVar("_T")


class RetryingStore(DelegatingStore):
    """Wraps a store; retries its idempotent calls on `StoreUnavailable`.

    The first attempt runs outside tenacity (the healthy path costs one ``try``); after a
    failure a fresh ``tenacity`` loop makes the remaining attempts, waiting per ``policy``.
    Only the operations in
    `IDEMPOTENT_OPERATIONS` are retried
    (``update``, ``create`` and ``scan`` are not), and only on `StoreUnavailable`.
    ``sleep`` and ``clock`` (monotonic seconds, which time ``max_delay``) are injectable
    so tests do not wait.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = monotonic,
        observers: Iterable[ResilienceObserver] = (),
        emitter: Emitter | None = None,
    ) -> None:
        super().__init__(store)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._emitter = emitter or Emitter(observers)

    def _call(self, operation_name: str, operation: Operation[_T]) -> _T:
        self._check_open()
        try:
            return operation()
        except StoreUnavailable as error:
            if not self.policy.retries(operation_name):
                raise
            first_failure = error
        return self._retry(operation_name, operation, first_failure)

    def _retry(
        self, operation_name: str, operation: Operation[_T], first_failure: StoreUnavailable
    ) -> _T:
        pending: list[BaseException] = [first_failure]  # attempt 1 already happened
        options = self.policy.tenacity_options(operation_name, self._emitter, clock=self._clock)
        retrying = tenacity.Retrying(sleep=self._sleep, **options)
        for attempt in retrying:
            with attempt:
                if pending:
                    raise pending.pop()
                return operation()
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    def _around(self, operation: str, key: str | None, call: Operation[_T]) -> _T:
        return self._call(operation, call)

    # scan: the base's pass-through. Never retried (not in IDEMPOTENT_OPERATIONS): a
    # half-read iteration cannot be repeated unseen by its consumer.

    def __repr__(self) -> str:
        return f"RetryingStore({self._store!r}, attempts={self.policy.attempts})"
