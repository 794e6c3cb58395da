# Generated from src/sessionkit/resilience/_async/breaker.py by scripts/unasync.py: edit that file, not this one.
"""A store behind a circuit breaker: after repeated outages it fails fast for a while."""

from __future__ import annotations

from collections.abc import Iterator, Callable, Iterable, Mapping
from typing import Any

from ..._sync.base import StoreBase
from ..._sync.protocol import SessionStore
from ...entry import TTL, Entry, UpdateFunction
from ..breaker_state import BreakerState
from ..events import Emitter, ResilienceObserver

__all__ = ["CircuitBreaking"]


class CircuitBreaking(StoreBase):
    """Wraps a store with a circuit breaker (see :mod:`sessionkit.resilience.breaker_state`).

    After ``fail_max`` consecutive :class:`~sessionkit.errors.StoreUnavailable` failures
    the breaker opens: calls raise :class:`~sessionkit.errors.CircuitOpen` (a
    ``StoreUnavailable``) without touching the backend. After ``reset_timeout`` seconds
    one call probes; its success closes the breaker, its failure opens it again. Pass
    ``breaker=`` to share one :class:`BreakerState` between several wrappers of the same
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
        self._store = store
        self.breaker = breaker or BreakerState(
            name=name,
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            exclude=exclude,
            clock=clock,
            emitter=emitter or Emitter(observers),
        )

    @property
    def inner(self) -> SessionStore:
        """The wrapped store."""
        return self._store

    def get(self, key: str) -> dict[str, Any] | None:
        self._check_open()
        with self.breaker.guard("get"):
            return self._store.get(key)

    def get_entry(self, key: str) -> Entry | None:
        self._check_open()
        with self.breaker.guard("get_entry"):
            return self._store.get_entry(key)

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._check_open()
        with self.breaker.guard("set"):
            self._store.set(key, value, ttl)

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        self._check_open()
        with self.breaker.guard("create"):
            return self._store.create(key, value, ttl)

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._check_open()
        with self.breaker.guard("update"):
            return self._store.update(key, fn, ttl, default=default)

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        self._check_open()
        with self.breaker.guard("merge"):
            return self._store.merge(key, patch, ttl)

    def delete(self, key: str) -> bool:
        self._check_open()
        with self.breaker.guard("delete"):
            return self._store.delete(key)

    def exists(self, key: str) -> bool:
        self._check_open()
        with self.breaker.guard("exists"):
            return self._store.exists(key)

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        self._check_open()
        with self.breaker.guard("touch"):
            return self._store.touch(key, ttl)

    def ttl(self, key: str) -> float | None:
        self._check_open()
        with self.breaker.guard("ttl"):
            return self._store.ttl(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._check_open()
        with self.breaker.guard("get_many"):
            return self._store.get_many(keys)

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._check_open()
        with self.breaker.guard("set_many"):
            self._store.set_many(items, ttl)

    def scan(self, prefix: str = "", *, batch_size: int = 500) -> Iterator[str]:
        self._check_open()
        # One admission for the whole iteration, judged when the first batch arrives (or
        # the scan ends): a half-open probe must not wait for a consumer that may never
        # finish, or never close, the iteration. A later outage counts as a failure of
        # an ordinary call; a consumer that stops early (GeneratorExit) is no verdict.
        breaker = self.breaker
        probe = breaker.admit("scan")
        judged = False
        try:
            for key in self._store.scan(prefix, batch_size=batch_size):
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

    def count(self, prefix: str = "") -> int:
        self._check_open()
        with self.breaker.guard("count"):
            return self._store.count(prefix)

    def purge(self, prefix: str = "") -> int:
        self._check_open()
        with self.breaker.guard("purge"):
            return self._store.purge(prefix)

    def sweep(self) -> int:
        self._check_open()
        with self.breaker.guard("sweep"):
            return self._store.sweep()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._store.close()

    def __repr__(self) -> str:
        return f"CircuitBreaking({self._store!r}, state={self.breaker.state!r})"
