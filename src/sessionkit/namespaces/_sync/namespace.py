# Generated from src/sessionkit/namespaces/_async/namespace.py by scripts/unasync.py: edit that file, not this one.
"""A typed view of one namespace of a store: attrs objects in, attrs objects out."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Callable, Iterable
from typing import Any, Generic, TypeVar

import attrs
import cattrs

from ..._sync.protocol import SessionStore
from ...clock import Clock, system_clock
from ...errors import ConflictError, SerializationError, SessionNotFound
from ..keyspace import KeySpace, SessionId
from ..model import ModelCodec, default_converter
from ..policy import TTLPolicy

__all__ = ["Namespace"]

T = TypeVar("T")

# How many times an update starts over when the session it planned for was replaced
# meanwhile (deleted and created again, so its lifetime cap changed).
_MAX_ATTEMPTS = 8


class _SessionReplaced(Exception):
    """Raised inside an update function to start over; nothing is written."""


class Namespace(Generic[T]):
    """Sessions of one attrs class under one key prefix, with one TTL policy.

    Keys are ``[@tenant:]name:id`` with the id percent-encoded (see
    `sessionkit.namespaces.keyspace`): any ``str`` or ``int`` id works and stays
    inside this namespace and tenant.

    Writes: `put` and `create` start a session (its lifetime starts now);
    `update` and `merge` change an existing one atomically, keeping its
    creation instant and, under an absolute TTL, its expiry.

    ```pycon
    >>> import time, attrs
    >>> from sessionkit import MemoryStore
    >>> @attrs.define
    ... class Draft:
    ...     title: str
    ...     words: int = 0
    >>> def main() -> Draft:
    ...     drafts = Namespace(MemoryStore(), "drafts", Draft)
    ...     drafts.put("d1", Draft("Lease"))
    ...     return drafts.merge("d1", words=120)
    >>> main()
    Draft(title='Lease', words=120)

    ```
    """

    def __init__(
        self,
        store: SessionStore,
        name: str,
        model: type[T],
        *,
        policy: TTLPolicy | None = None,
        tenant: SessionId | None = None,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
    ) -> None:
        self._store = store
        self._space = KeySpace(name, tenant)
        self._codec = ModelCodec(model, converter)
        self._policy = policy or TTLPolicy.none()
        self._clock = clock
        self._field_names = frozenset(field.alias for field in attrs.fields(model))  # type: ignore[arg-type]

    # -- what this namespace is --------------------------------------------------------

    @property
    def name(self) -> str:
        return self._space.namespace

    @property
    def tenant(self) -> str | None:
        """The tenant whose sessions this view holds (``None``: the default tenant)."""
        return self._space.tenant

    @property
    def model(self) -> type[T]:
        return self._codec.model

    @property
    def policy(self) -> TTLPolicy:
        return self._policy

    @property
    def store(self) -> SessionStore:
        return self._store

    def key(self, session_id: SessionId) -> str:
        """The store key of ``session_id`` (validated; raises `InvalidKey`)."""
        return self._space.key(session_id)

    # -- reads -------------------------------------------------------------------------

    def get(self, session_id: SessionId) -> T | None:
        """The session, or ``None``. Renews a sliding TTL that renews on read."""
        key = self._space.key(session_id)
        raw = self._store.get(key)
        if raw is None:
            return None
        now = self._clock.now()
        created_at = self._codec.created_at(raw)
        if self._policy.expired_at(now, created_at):
            return None
        obj = self._load(key, raw)
        renewal = self._policy.ttl_after_read(now, created_at)
        if renewal is not None and renewal > 0:
            self._store.touch(key, renewal)
        return obj

    def get_many(self, session_ids: Iterable[SessionId]) -> dict[str, T]:
        """The live sessions among ``session_ids``, by id (as ``str``), in one round trip.

        Does not renew sliding TTLs (a bulk read is monitoring, not activity).
        """
        keys = {self._space.key(session_id): session_id for session_id in session_ids}
        found = self._store.get_many(keys)
        now = self._clock.now()
        return {
            str(keys[key]): self._load(key, raw)
            for key, raw in found.items()
            if not self._policy.expired_at(now, self._codec.created_at(raw))
        }

    def exists(self, session_id: SessionId) -> bool:
        """Whether the session exists (does not renew its TTL)."""
        return self._store.exists(self._space.key(session_id))

    def ttl(self, session_id: SessionId) -> float | None:
        """Seconds until the session expires; ``math.inf`` if never; ``None`` if absent."""
        return self._store.ttl(self._space.key(session_id))

    def ids(self, prefix: str = "") -> Iterator[str]:
        """The ids of the live sessions (as ``str``) whose id starts with ``prefix``."""
        key_prefix = self._space.id_prefix(prefix)
        if key_prefix is None:
            return
        for key in self._store.scan(key_prefix):
            yield self._space.session_id(key)

    def count(self, prefix: str = "") -> int:
        """How many live sessions there are (whose id starts with ``prefix``)."""
        key_prefix = self._space.id_prefix(prefix)
        return 0 if key_prefix is None else self._store.count(key_prefix)

    # -- writes ------------------------------------------------------------------------

    def put(self, session_id: SessionId, obj: T) -> None:
        """Write ``obj`` as a new session, replacing any previous one; its lifetime starts now."""
        key = self._space.key(session_id)
        value = self._codec.dump(obj, self._clock.now(), namespace=self.name)
        self._store.set(key, value, self._policy.initial_ttl())

    def create(self, session_id: SessionId, obj: T) -> bool:
        """Write ``obj`` only if there is no session yet; return whether it wrote."""
        key = self._space.key(session_id)
        value = self._codec.dump(obj, self._clock.now(), namespace=self.name)
        return self._store.create(key, value, self._policy.initial_ttl())

    def update(
        self, session_id: SessionId, fn: Callable[[T], T], *, default: T | None = None
    ) -> T:
        """Atomically replace the session with ``fn(session)`` and return the new one.

        ``fn`` must be pure (it runs again if a concurrent writer wins). With no session,
        ``fn`` gets a fresh copy of ``default`` (the caller's object is never handed over)
        and its result is created if ``default`` is given, else `SessionNotFound`.
        A session past its maximum lifetime counts as absent. An exception from ``fn``
        propagates and nothing is written.
        """
        key = self._space.key(session_id)
        if default is not None:
            # A wrong default fails before any I/O.
            self._codec.dump(default, 0.0, namespace=self.name)
        for _ in range(_MAX_ATTEMPTS):
            expected_created: float | None = None
            ttl: float | None = None
            exists = True
            if self._policy.needs_created_at:
                # The cap depends on the creation instant, which is inside the value: read it
                # first; the update below checks it is still the same session.
                entry = self._store.get_entry(key)
                exists = entry is not None
                if entry is not None:
                    expected_created = self._codec.created_at(entry.value)
                    ttl = self._policy.ttl_after_write(self._clock.now(), expected_created)
                    if ttl is not None and ttl <= 0:  # past its maximum lifetime: absent
                        if default is None:
                            raise SessionNotFound(key)
                        replaced = self._restart(key, fn, default, expected_created)
                        if replaced is not None:
                            return replaced
                        continue
            else:
                ttl = self._policy.ttl_after_write(self._clock.now(), None)
            if exists:
                result: list[T] = []
                apply = self._updater(key, fn, expected_created, result)
                try:
                    self._store.update(key, apply, ttl)
                    return result[-1]
                except _SessionReplaced:
                    continue
                except SessionNotFound:
                    if default is None:
                        raise
            if default is None:
                raise SessionNotFound(key)
            new = fn(copy.deepcopy(default))
            if self.create(session_id, new):
                return new
        raise ConflictError(key, _MAX_ATTEMPTS)

    def merge(self, session_id: SessionId, **changes: Any) -> T:
        """Atomically set some fields of an existing session (``attrs.evolve``); return it.

        Not the store's ``merge``: this is `update` with ``attrs.evolve`` (a read,
        the change and a versioned write, retried on a concurrent write), so the fields are
        validated and converted by the class and the TTL policy applies as for any write.
        The store's one-round-trip ``merge`` works on the stored JSON's top-level keys and
        knows nothing of the class; call ``namespace.store.merge(key, patch)`` for it.
        """
        unknown = sorted(set(changes) - self._field_names)
        if unknown:
            raise SerializationError(
                f"{self.model.__name__} has no field(s) {', '.join(unknown)} "
                f"(fields: {', '.join(sorted(self._field_names))}); nothing was written"
            )
        return self.update(session_id, lambda obj: attrs.evolve(obj, **changes))  # type: ignore[misc]

    def touch(self, session_id: SessionId) -> bool:
        """Renew a sliding TTL now (capped by the maximum lifetime); return whether it exists.

        Under an absolute TTL or none, the expiry stays as it is.
        """
        key = self._space.key(session_id)
        ttl = self._policy.ttl
        if self._policy.kind != "sliding" or ttl is None:
            return self._store.exists(key)
        if self._policy.needs_created_at:
            raw = self._store.get(key)
            if raw is None:
                return False
            remaining = self._policy.ttl_after_write(self._clock.now(), self._codec.created_at(raw))
            if remaining is not None:
                if remaining <= 0:
                    return False
                ttl = remaining
        return self._store.touch(key, ttl)

    def delete(self, session_id: SessionId) -> bool:
        """Remove the session; return whether it existed."""
        return self._store.delete(self._space.key(session_id))

    def purge(self) -> int:
        """Delete every session of this namespace (in this tenant); return how many."""
        return self._store.purge(self._space.prefix)

    # -- helpers -----------------------------------------------------------------------

    def _load(self, key: str, raw: dict[str, Any]) -> T:
        return self._codec.load(
            raw, key=key, namespace=self.name, session_id=self._space.session_id(key)
        )

    def _updater(
        self,
        key: str,
        fn: Callable[[T], T],
        expected_created: float | None,
        result: list[T],
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def apply(raw: dict[str, Any]) -> dict[str, Any]:
            if expected_created is not None and self._codec.created_at(raw) != expected_created:
                raise _SessionReplaced
            new = fn(self._load(key, raw))
            fields = self._codec.dump(new, 0.0, namespace=self.name)
            result.append(new)
            return self._codec.with_meta_of(fields, raw, self._clock.now())

        return apply

    def _restart(
        self, key: str, fn: Callable[[T], T], default: T, expected_created: float | None
    ) -> T | None:
        """Replace a session past its maximum lifetime (still stored: the store's expiry
        may lag the namespace's clock) with ``fn(default)``, a new session with a new
        lifetime. ``None``: it was replaced or removed meanwhile; start over."""
        result: list[T] = []

        def apply(raw: dict[str, Any]) -> dict[str, Any]:
            if self._codec.created_at(raw) != expected_created:
                raise _SessionReplaced
            new = fn(copy.deepcopy(default))
            value = self._codec.dump(new, self._clock.now(), namespace=self.name)
            result.append(new)
            return value

        try:
            self._store.update(key, apply, self._policy.initial_ttl())
        except (_SessionReplaced, SessionNotFound):
            return None
        return result[-1]

    def __repr__(self) -> str:
        tenant = "" if self.tenant is None else f", tenant={self.tenant!r}"
        return (
            f"{type(self).__name__}({self.name!r}, {self.model.__name__}{tenant}, "
            f"policy={self._policy!r})"
        )
