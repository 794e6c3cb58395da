"""Stores chosen by URL: one registry of schemes, sync and async, loaded lazily.

A backend module is imported only when its URL is opened, so a missing driver costs
nothing until it is needed, and then fails with a `ConfigurationError` that names
the extra to install.

```pycon
>>> store = open_store("memory://")
>>> store.set("k", {"n": 1}); store.get("k")
{'n': 1}
>>> open_store("mongodb://localhost")
Traceback (most recent call last):
...
sessionkit.errors.ConfigurationError: no store for URL scheme 'mongodb' (known: ...)

```
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import attrs

from ._async.protocol import AsyncSessionStore
from ._sync.protocol import SessionStore
from .errors import ConfigurationError

__all__ = ["open_async_store", "open_store", "redact_url", "register_scheme"]


@attrs.frozen
class _Backend:
    sync: str  # "module:Class"; the class has a from_url(url, **options) classmethod
    async_: str
    extra: str | None  # the pip extra that brings its driver, if any
    # "module:function(url, *, asynchronous) -> str | None": the one-sentence fix for an
    # import that failed (None: the generic message). The module must import without the
    # backend's drivers.
    explain_missing: str | None = None


_MEMORY = _Backend(
    "sessionkit.stores.memory:MemoryStore", "sessionkit.stores.memory:AsyncMemoryStore", None
)
_REDIS = _Backend(
    "sessionkit.stores.redis:RedisStore", "sessionkit.stores.redis:AsyncRedisStore", None
)


def _sql(extra: str) -> _Backend:
    return _Backend(
        "sessionkit.stores.sql:SQLStore",
        "sessionkit.stores.sql:AsyncSQLStore",
        extra,
        "sessionkit.stores._sql.drivers:explain_missing_driver",
    )


# A scheme "a+b" that is not listed falls back to "a" (postgresql+asyncpg -> postgresql).
_BACKENDS: dict[str, _Backend] = {
    "memory": _MEMORY,
    "sqlite": _sql("sqlite"),
    "postgresql": _sql("postgres"),
    "postgres": _sql("postgres"),
    "mysql": _sql("mysql"),
    "mariadb": _sql("mysql"),
    "redis": _REDIS,
    "rediss": _REDIS,
    "unix": _REDIS,
    "redis+sentinel": _REDIS,
    "redis+cluster": _REDIS,
}


def register_scheme(scheme: str, *, sync: str, async_: str, extra: str | None = None) -> None:
    """Make ``scheme://`` URLs open the given classes (``"package.module:Class"``).

    A scheme ``a+b`` that is not registered itself falls back to ``a``'s backend, so
    ``postgresql+asyncpg://`` reaches whatever handles ``postgresql://``.
    """
    _BACKENDS[scheme.lower()] = _Backend(sync, async_, extra)


def open_store(url: str, **options: Any) -> SessionStore:
    """Open the sync store for ``url``; ``options`` go to the store's constructor."""
    return cast(SessionStore, _open(url, options, asynchronous=False))


def open_async_store(url: str, **options: Any) -> AsyncSessionStore:
    """Open the async store for ``url``; ``options`` go to the store's constructor."""
    return cast(AsyncSessionStore, _open(url, options, asynchronous=True))


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs.

    ```pycon
    >>> redact_url("redis://:hunter2@cache:6379/0")
    'redis://:***@cache:6379/0'

    ```
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _open(url: str, options: dict[str, Any], *, asynchronous: bool) -> object:
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"a store URL looks like 'scheme://...', not {url!r}")
    written_scheme, rest = url.split("://", 1)
    scheme = written_scheme.lower()  # schemes are case-insensitive (RFC 3986, 3.1)
    url = f"{scheme}://{rest}"
    backend = _BACKENDS.get(scheme) or _BACKENDS.get(scheme.split("+", 1)[0])
    if backend is None:
        known = ", ".join(sorted(_BACKENDS))
        raise ConfigurationError(f"no store for URL scheme {scheme!r} (known: {known})")
    target = backend.async_ if asynchronous else backend.sync
    try:
        module_name, class_name = target.split(":")
        store_class = getattr(importlib.import_module(module_name), class_name)
        _check_options(store_class, scheme, options)
        return store_class.from_url(url, **options)
    except ImportError as error:
        message = _missing_module(backend, scheme, url, error, asynchronous)
        raise ConfigurationError(message) from error


def _missing_module(
    backend: _Backend, scheme: str, url: str, error: ImportError, asynchronous: bool
) -> str:
    if backend.explain_missing is not None:
        module_name, function_name = backend.explain_missing.split(":")
        explain = getattr(importlib.import_module(module_name), function_name)
        explained: str | None = explain(url, asynchronous=asynchronous)
        if explained is not None:
            return explained
    missing = error.name or str(error)
    hint = f"pip install 'sessionkit[{backend.extra}]'" if backend.extra else "check the install"
    return f"{scheme}:// needs {missing!r}, which is not installed: {hint}"


def _check_options(store_class: type, scheme: str, options: dict[str, Any]) -> None:
    parameters = inspect.signature(store_class).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        accepted = ", ".join(name for name in parameters if not name.startswith("_"))
        raise ConfigurationError(
            f"unknown option(s) for {scheme}:// stores: {', '.join(unknown)} (accepted: {accepted})"
        )
