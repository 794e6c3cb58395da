# Generated from src/sessionkit/resilience/_async/retrying.py by scripts/unasync.py: edit that file, not this one.
"""A store that retries the calls a backend failed with StoreUnavailable."""

from __future__ import annotations

import time
from collections.abc import Iterator, Callable, Iterable, Mapping
from time import monotonic
from typing import Any, TypeVar

import tenacity

from ..._sync.base import StoreBase
from ..._sync.protocol import SessionStore
from ...entry import TTL, Entry, UpdateFunction
from ...errors import StoreUnavailable
from .._types import Operation, Sleep
from ..events import Emitter, ResilienceObserver
from ..retry_policy import RetryPolicy

__all__ = ["Retrying"]

_T = TypeVar("_T")


class Retrying(StoreBase):
    """Wraps a store; retries its idempotent calls on :class:`StoreUnavailable`.

    The first attempt runs outside tenacity (the healthy path costs one ``try``); after a
    failure a fresh ``tenacity`` loop makes the remaining attempts, waiting per ``policy``.
    Only the operations in
    :data:`~sessionkit.resilience.retry_policy.IDEMPOTENT_OPERATIONS` are retried
    (``update``, ``create`` and ``scan`` are not), and only on :class:`StoreUnavailable`.
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
        self._store = store
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._emitter = emitter or Emitter(observers)

    @property
    def inner(self) -> SessionStore:
        """The wrapped store."""
        return self._store

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

    def get(self, key: str) -> dict[str, Any] | None:
        return self._call("get", lambda: self._store.get(key))

    def get_entry(self, key: str) -> Entry | None:
        return self._call("get_entry", lambda: self._store.get_entry(key))

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._call("set", lambda: self._store.set(key, value, ttl))

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        return self._call("create", lambda: self._store.create(key, value, ttl))

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self._call(
            "update", lambda: self._store.update(key, fn, ttl, default=default)
        )

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        return self._call("merge", lambda: self._store.merge(key, patch, ttl))

    def delete(self, key: str) -> bool:
        return self._call("delete", lambda: self._store.delete(key))

    def exists(self, key: str) -> bool:
        return self._call("exists", lambda: self._store.exists(key))

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        return self._call("touch", lambda: self._store.touch(key, ttl))

    def ttl(self, key: str) -> float | None:
        return self._call("ttl", lambda: self._store.ttl(key))

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)  # an iterator would be used up by the first attempt
        return self._call("get_many", lambda: self._store.get_many(keys))

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._call("set_many", lambda: self._store.set_many(items, ttl))

    def scan(self, prefix: str = "", *, batch_size: int = 500) -> Iterator[str]:
        # Never retried (not in IDEMPOTENT_OPERATIONS): a half-read iteration cannot be
        # repeated unseen by its consumer.
        self._check_open()
        for key in self._store.scan(prefix, batch_size=batch_size):
            yield key

    def count(self, prefix: str = "") -> int:
        return self._call("count", lambda: self._store.count(prefix))

    def purge(self, prefix: str = "") -> int:
        return self._call("purge", lambda: self._store.purge(prefix))

    def sweep(self) -> int:
        return self._call("sweep", self._store.sweep)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._store.close()

    def __repr__(self) -> str:
        return f"Retrying({self._store!r}, attempts={self.policy.attempts})"
