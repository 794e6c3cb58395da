# Generated from src/sessionkit/manager/_async/manager.py by scripts/unasync.py: edit that file, not this one.
"""The session manager: one store, its typed namespaces, tenants and a sweeper."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

import cattrs

from ..._sync.protocol import SessionStore
from ..._sweeper import Sweeper, check_interval
from ...clock import Clock, system_clock
from ...errors import ConfigurationError
from ...namespaces._sync.namespace import Namespace
from ...namespaces.keyspace import (
    TENANT_KEYS_PREFIX,
    KeySpace,
    SessionId,
    namespace_of,
    namespace_prefix,
    normalize_id,
    tenant_prefix,
    validate_namespace_name,
)
from ...namespaces.policy import TTLPolicy
from ...registry import open_store
from ..definitions import NamespaceRegistry
from ..environment import DEFAULT_SWEEP_INTERVAL, options_from_env
from ..stats import SessionStats, StatsTally

__all__ = ["SessionManager"]

T = TypeVar("T")
_Manager = TypeVar("_Manager", bound="SessionManager")


class SessionManager:
    """Typed namespaces over one store, for one tenant (or the default one).

    Open one per process with `from_url` or `from_env` and use it as an async
    context manager: entering starts the background sweeper, leaving stops it and closes
    the store.

    The manager only ever counts and purges namespace sessions (keys under a namespace's
    prefix): keys of the integrations (``~websession:...``, ``~aiogram:...``) and any other
    key are left alone.

    ```pycon
    >>> import time, attrs
    >>> @attrs.define
    ... class Cart:
    ...     items: list[str] = attrs.Factory(list)
    >>> def main() -> int:
    ...     with SessionManager.from_url("memory://") as sessions:
    ...         carts = sessions.namespace("carts", Cart, policy=TTLPolicy.absolute(3600))
    ...         carts.put("u1", Cart(["tea"]))
    ...         sessions.for_tenant("acme").namespace("carts", Cart).put("u1", Cart())
    ...         return (sessions.stats()).total
    >>> main()
    2

    ```
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        clock: Clock = system_clock,
        policies: Mapping[str, TTLPolicy] | None = None,
        sweep_interval: float | None = DEFAULT_SWEEP_INTERVAL,
        tenant: SessionId | None = None,
        _registry: NamespaceRegistry | None = None,
        _view: bool = False,
    ) -> None:
        """Manage ``store``. ``policies`` maps namespace names to TTL policies that win over
        the one a namespace is defined with (an application pack's default, say);
        ``sweep_interval=None`` turns the background sweeper off."""
        self._store = store
        self._registry = _registry or NamespaceRegistry(clock, policies)
        self._clock = self._registry.clock
        self._tenant = None if tenant is None else normalize_id(tenant, "tenant id")
        self._owns_store = not _view  # tenant views share their root's store
        self._sweeper = (
            Sweeper(self._store.sweep, sweep_interval)
            if sweep_interval is not None and self._owns_store
            else None
        )
        # Built on first use: a tenant view per request costs no namespace it does not use.
        self._namespaces: dict[str, Namespace[Any]] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        policies: Mapping[str, TTLPolicy] | None = None,
        sweep_interval: float | None = DEFAULT_SWEEP_INTERVAL,
        **options: Any,
    ) -> SessionManager:
        """Open the store for ``url`` (``options`` go to it) and manage it.

        A ``clock`` option is also the manager's clock (session creation instants). The
        manager's own arguments are checked before the store is opened, so a bad one
        leaves no connection behind.
        """
        clock = options.get("clock") or system_clock
        registry = NamespaceRegistry(clock, policies)
        if sweep_interval is not None:
            check_interval(sweep_interval)
        store = open_store(url, **options)
        return cls(store, sweep_interval=sweep_interval, _registry=registry)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: Any
    ) -> SessionManager:
        """Configure from ``SESSIONKIT_URL`` and ``SESSIONKIT_*`` options.

        ``SESSIONKIT_SWEEP_INTERVAL`` sets the sweeper (seconds; ``0``/``off``: none);
        every other ``SESSIONKIT_<NAME>`` is the store option ``<name>``, its value read as
        JSON if it parses (``SESSIONKIT_DEFAULT_TTL=86400``). Keyword ``options`` win over
        the environment.
        """
        url, sweep_interval, env_options = options_from_env(environ)
        merged = {"sweep_interval": sweep_interval, **env_options, **options}
        return cls.from_url(url, **merged)

    # -- namespaces and tenants ------------------------------------------------------------

    @property
    def store(self) -> SessionStore:
        return self._store

    @property
    def tenant(self) -> str | None:
        """This view's tenant (``None``: the default tenant, on the root manager)."""
        return self._tenant

    @property
    def sweeper(self) -> Sweeper | None:
        """The background sweeper (``None`` when turned off, and on tenant views)."""
        return self._sweeper

    def namespace(
        self,
        name: str,
        model: type[T],
        *,
        policy: TTLPolicy | None = None,
        converter: cattrs.Converter | None = None,
        namespace_class: type[Namespace[T]] | None = None,
    ) -> Namespace[T]:
        """The namespace ``name`` of ``model`` objects, defined on first use.

        One name holds one class, in every tenant; asking again with the same class (and no
        other policy) returns the same namespace. A ``policies=`` entry of the manager for
        ``name`` wins over ``policy``. ``namespace_class`` is the registration hook of
        application packs: an `Namespace` subclass with helpers of its own
        (``sessionkit.presets.AdminSessions``), built as
        ``namespace_class(store, name, policy=, tenant=, clock=, converter=)``.
        """
        definition = self._registry.define(name, model, policy, converter, namespace_class)
        existing = self._namespaces.get(name)
        if existing is not None:
            return existing
        namespace: Namespace[T]
        if definition.namespace_class is None:
            namespace = Namespace(
                self._store, name, model, policy=definition.policy, tenant=self._tenant,
                clock=self._clock, converter=definition.converter,
            )
        else:
            namespace = definition.namespace_class(
                self._store, name, policy=definition.policy, tenant=self._tenant,
                clock=self._clock, converter=definition.converter,
            )
        return self._namespaces.setdefault(name, namespace)  # one object, even across threads

    def for_tenant(self: _Manager, tenant_id: SessionId) -> _Manager:
        """A view of the same store whose namespaces hold only ``tenant_id``'s sessions.

        Views share the store, the namespace definitions and the sweeper of the manager they
        came from; closing a view does nothing. A view reaches its own tenant only: on a
        view, another tenant is a `ConfigurationError` (its own tenant: the view).
        """
        tenant = normalize_id(tenant_id, "tenant id")
        if self._tenant is not None:
            if tenant == self._tenant:
                return self
            raise ConfigurationError(
                f"a view of tenant {self._tenant!r} cannot reach tenant {tenant!r}: call "
                "for_tenant() on the root manager"
            )
        return type(self)(self._store, tenant=tenant, _registry=self._registry, _view=True)

    # -- across namespaces -------------------------------------------------------------------

    def stats(self) -> SessionStats:
        """Live sessions per tenant and namespace (this view's tenant only, on a view).

        Counts namespace sessions only; other keys (the integrations' ``~...`` keys, keys
        written to the store directly) are in ``other``, not in ``total``.
        """
        tally = StatsTally()
        for key in self._store.scan(tenant_prefix(self._tenant)):
            tally.add(key)
        return tally.stats()

    def purge(self, namespace: str | None = None, tenant: SessionId | None = None) -> int:
        """Delete sessions: of one ``namespace`` and/or one ``tenant``; return how many.

        On the root manager, ``tenant=None`` means every tenant: ``purge()`` deletes every
        namespace session of every tenant (an admin's "clear all sessions"). On a tenant
        view, only that tenant's sessions are ever purged. Keys outside namespaces (the
        integrations' ``~...`` keys, say) are never deleted.
        """
        if namespace is not None:
            validate_namespace_name(namespace)
        if self._tenant is not None:
            if tenant is not None and normalize_id(tenant, "tenant id") != self._tenant:
                raise ConfigurationError(
                    f"a view of tenant {self._tenant!r} cannot purge tenant {tenant!r}"
                )
            tenant = self._tenant
        if namespace is not None and tenant is not None:
            return self._store.purge(KeySpace(namespace, tenant).prefix)
        # One scan finds the namespace prefixes in scope; each is purged whole, as that
        # namespace's own purge() would. Nothing outside a namespace prefix is touched.
        prefixes: set[str] = set()
        if namespace is None:
            for key in self._store.scan(tenant_prefix(tenant)):
                prefix = namespace_prefix(key)
                if prefix is not None:
                    prefixes.add(prefix)
        else:
            prefixes.add(KeySpace(namespace).prefix)
            for key in self._store.scan(TENANT_KEYS_PREFIX):
                found = namespace_of(key)
                prefix = namespace_prefix(key)
                if found is not None and found[1] == namespace and prefix is not None:
                    prefixes.add(prefix)
        total = 0
        for prefix in sorted(prefixes):
            total += self._store.purge(prefix)
        return total

    def sweep(self) -> int:
        """Reclaim expired sessions now (the sweeper does this every interval)."""
        return self._store.sweep()

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self: _Manager) -> _Manager:
        if self._sweeper is not None:
            self._sweeper.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the sweeper and close the store (a tenant view: nothing). Idempotent."""
        if not self._owns_store:
            return
        if self._sweeper is not None:
            self._sweeper.stop()
        self._store.close()

    def __repr__(self) -> str:
        tenant = "" if self._tenant is None else f", tenant={self._tenant!r}"
        return f"{type(self).__name__}({self._store!r}{tenant})"
