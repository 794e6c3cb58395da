"""What sessionkit tells an operator: stable event names, keyed digests, observer hooks.

Events go to structlog (sessionkit never configures it: the application decides where
they go and at what level) and to the observers a wrapper was given, with the same name
and fields, so a metrics exporter counts them without parsing logs.

Session ids are secrets (whoever holds one *is* the user), so keys, session ids and tenant
ids are never logged in clear: :func:`key_digest` gives a short keyed hash, stable within
a process, that correlates events about the same key without revealing it.

>>> digest = key_digest("templates:4f1c")
>>> len(digest), digest == key_digest("templates:4f1c"), "4f1c" in digest
(16, True, False)
>>> split_key("@acme:templates:4f1c")
('acme', 'templates')
>>> split_key("templates:4f1c"), split_key("loose-key"), split_key("")
((None, 'templates'), (None, None), (None, None))
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

__all__ = ["Observer", "StoreEvent", "key_digest", "notify_all", "split_key"]

_DIGEST_KEY = os.urandom(16)  # per process: digests cannot be matched across processes


def key_digest(key: str) -> str:
    """A 16-hex-digit keyed BLAKE2b digest of ``key``, for logs (never the key itself)."""
    return hashlib.blake2b(key.encode(), key=_DIGEST_KEY, digest_size=8).hexdigest()


class StoreEvent:
    """The stable names of the events an :class:`~sessionkit.observability.Observed` store
    emits (logger ``sessionkit.store``). Dashboards and alerts may rely on them."""

    #: debug: a read found the key (``get``, ``get_entry``, ``exists``).
    HIT = "sessionkit.store.hit"
    #: debug: a read found nothing (absent or expired).
    MISS = "sessionkit.store.miss"
    #: warning: the backend could not be reached or did not answer in time.
    UNAVAILABLE = "sessionkit.store.unavailable"
    #: warning: an atomic update kept losing to concurrent writers and gave up.
    CONFLICT = "sessionkit.store.conflict"
    #: error: a stored value cannot be decoded; only that key's operation fails.
    CORRUPT_VALUE = "sessionkit.store.corrupt_value"
    #: info (debug when nothing expired): a sweep reclaimed expired entries.
    SWEPT = "sessionkit.store.swept"
    #: info: entries were deleted in bulk by ``purge``.
    PURGED = "sessionkit.store.purged"
    #: error (logger ``sessionkit.namespace``): a stored session does not fit its
    #: namespace's class (:class:`~sessionkit.CorruptSession`); fields namespace, key, field.
    CORRUPT_SESSION = "sessionkit.namespace.corrupt_session"


@runtime_checkable
class Observer(Protocol):
    """Receives events by name with their fields; must be fast and must not raise.

    The resilience wrappers' ``observers=`` take the same protocol
    (:class:`~sessionkit.resilience.ResilienceObserver`), so one object (such as
    :class:`~sessionkit.metrics.SessionMetrics`) can watch a whole stack.
    """

    def notify(self, event: str, fields: dict[str, Any]) -> None:
        """Called once per event, with the same fields as the log line."""
        ...


def notify_all(observers: Iterable[Observer], event: str, fields: dict[str, Any], log: Any) -> None:
    """Hand ``event`` to every observer; a failing observer is logged, never raised."""
    for observer in observers:
        try:
            observer.notify(event, fields)
        except Exception:  # a broken metrics hook must not break a store call
            log.exception("sessionkit.observer_failed", observed_event=event)


_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def split_key(key: str) -> tuple[str | None, str | None]:
    """``(tenant, namespace)`` of a store key or prefix, as far as it names them.

    Cheap (no validation beyond the namespace name's shape): it runs on every observed
    operation. The tenant comes back as encoded in the key; a key that no namespace wrote
    has namespace ``None``.
    """
    tenant: str | None = None
    rest = key
    if key.startswith("@"):
        encoded, separator, rest = key[1:].partition(":")
        if not separator:
            return None, None
        tenant = encoded
    namespace, separator, _ = rest.partition(":")
    if not separator or not _NAMESPACE.fullmatch(namespace):
        return tenant, None
    return tenant, namespace
