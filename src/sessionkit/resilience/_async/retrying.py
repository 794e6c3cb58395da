"""A store that retries the calls a backend failed with StoreUnavailable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from time import monotonic
from typing import TypeVar

import tenacity

from ..._async.delegating import AsyncDelegatingStore
from ..._async.protocol import AsyncSessionStore
from ...errors import StoreUnavailable
from .._types import AsyncOperation, AsyncSleep
from ..events import Emitter, ResilienceObserver
from ..retry_policy import RetryPolicy

__all__ = ["AsyncRetryingStore"]

_T = TypeVar("_T")


class AsyncRetryingStore(AsyncDelegatingStore):
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
        store: AsyncSessionStore,
        *,
        policy: RetryPolicy | None = None,
        sleep: AsyncSleep = asyncio.sleep,
        clock: Callable[[], float] = monotonic,
        observers: Iterable[ResilienceObserver] = (),
        emitter: Emitter | None = None,
    ) -> None:
        super().__init__(store)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._emitter = emitter or Emitter(observers)

    async def _call(self, operation_name: str, operation: AsyncOperation[_T]) -> _T:
        self._check_open()
        try:
            return await operation()
        except StoreUnavailable as error:
            if not self.policy.retries(operation_name):
                raise
            first_failure = error
        return await self._retry(operation_name, operation, first_failure)

    async def _retry(
        self, operation_name: str, operation: AsyncOperation[_T], first_failure: StoreUnavailable
    ) -> _T:
        pending: list[BaseException] = [first_failure]  # attempt 1 already happened
        options = self.policy.tenacity_options(operation_name, self._emitter, clock=self._clock)
        retrying = tenacity.AsyncRetrying(sleep=self._sleep, **options)
        async for attempt in retrying:
            with attempt:
                if pending:
                    raise pending.pop()
                return await operation()
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def _around(self, operation: str, key: str | None, call: AsyncOperation[_T]) -> _T:
        return await self._call(operation, call)

    # scan: the base's pass-through. Never retried (not in IDEMPOTENT_OPERATIONS): a
    # half-read iteration cannot be repeated unseen by its consumer.

    def __repr__(self) -> str:
        return f"AsyncRetryingStore({self._store!r}, attempts={self.policy.attempts})"
