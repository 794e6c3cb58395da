# Generated from src/sessionkit/_async/protocol.py by scripts/unasync.py: edit that file, not this one.
"""The store contract: what every backend and every wrapper promises.

Values in and out are JSON-compatible mappings (see `sessionkit.codec`); keys are
validated by `sessionkit.keys.validate_key`. The semantics are tested, unchanged, by
one contract suite against every backend.

TTL rules, the same everywhere: ``ttl=None`` on `set`, `create`,
`set_many` and `touch` means the store's ``default_ttl`` (which may itself be
``None``: never expire). On `update` and `merge`, ``ttl=None`` keeps the
expiry the entry already has; a new entry gets the default.
"""

from __future__ import annotations

from collections.abc import Iterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from ..entry import TTL, Entry, UpdateFunction

__all__ = ["SessionStore"]

_Store = TypeVar("_Store", bound="SessionStore")


@runtime_checkable
class SessionStore(Protocol):
    """A key-value store of sessions with expiry and atomic read-modify-write."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The value under ``key``, or ``None`` if there is none or it expired."""
        ...

    def get_entry(self, key: str) -> Entry | None:
        """Like `get`, with the entry's version and expiry instant."""
        ...

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        """Write the whole value, replacing any previous one."""
        ...

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        """Write only if ``key`` is absent (or expired); return whether it wrote."""
        ...

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Atomically replace the value with ``fn(value)`` and return the new value.

        If ``key`` is absent, ``fn`` gets a copy of ``default``; with no default,
        `SessionNotFound` is raised. An exception from ``fn``
        propagates unchanged and nothing is written. Concurrent writers never lose an
        update: backends compare versions and retry a bounded number of times, then raise
        `ConflictError`.
        """
        ...

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        """Atomically set the top-level fields of ``patch`` (creating the entry if absent)."""
        ...

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a live entry is stored under ``key``."""
        ...

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        """Restart the entry's expiry at ``ttl`` from now; return whether it existed."""
        ...

    def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires; ``math.inf`` if never; ``None`` if absent."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The live values among ``keys`` (absent keys are left out), in one round trip."""
        ...

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        """Write several values in one round trip; all are checked before any is written."""
        ...

    def scan(self, prefix: str = "", *, batch_size: int = 500) -> Iterator[str]:
        """Iterate the live keys starting with ``prefix``, fetched in batches."""
        ...

    def count(self, prefix: str = "") -> int:
        """How many live keys start with ``prefix``."""
        ...

    def purge(self, prefix: str = "") -> int:
        """Delete every key starting with ``prefix`` (``""``: all); return how many."""
        ...

    def sweep(self) -> int:
        """Reclaim expired entries; return how many (0 where the backend expires natively)."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent; any other call afterwards raises StoreClosed."""
        ...

    def __enter__(self: _Store) -> _Store: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        ...
