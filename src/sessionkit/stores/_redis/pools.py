"""Connection pools that wait, the per-operation deadline, and the event loop a store runs in.

The parts of this that differ between the asyncio and the sync store are `AsyncX`/`X`
pairs, so that the generated sync store spells them without ``Async``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from ...errors import ConfigurationError, StoreUnavailable
from ...registry import redact_url

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "AsyncGate",
    "AsyncLoopBinding",
    "Gate",
    "LoopBinding",
    "StoreOptions",
    "abandon",
    "bound_to_closed_loop",
    "cluster_pool_settings",
    "store_options",
]

#: Seconds each wait of one operation may last: connect, a free pooled connection, a reply.
DEFAULT_TIMEOUT = 5.0
#: Connections per pool (per server: a Cluster has one pool per node).
DEFAULT_MAX_CONNECTIONS = 50

# The store's options that may also be written in the URL's query string.
_URL_OPTIONS = ("timeout", "max_connections")

StoreOptions = tuple[float, int]  # (timeout, max_connections)


def _checked_timeout(value: object, where: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"timeout must be a positive number of seconds, not {value!r}{where}"
        )
    return float(value)


def _checked_size(value: object, where: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"max_connections must be an int >= 1, not {value!r}{where}")
    return value


def store_options(
    url: str, timeout: float | None, max_connections: int | None
) -> tuple[str, StoreOptions]:
    """(the URL without ``timeout``/``max_connections``, (timeout, max_connections)).

    Each comes from the keyword, else the URL's query string, else the default; given both
    ways with different values is a `ConfigurationError`.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    in_url = {name: value for name, value in query if name in _URL_OPTIONS}
    rest = [(name, value) for name, value in query if name not in _URL_OPTIONS]
    where = f" (in {redact_url(url)!r})"
    chosen_timeout = DEFAULT_TIMEOUT if timeout is None else _checked_timeout(timeout, "")
    chosen_size = (
        DEFAULT_MAX_CONNECTIONS if max_connections is None else _checked_size(max_connections, "")
    )
    if "timeout" in in_url:
        from_url = _checked_timeout(in_url["timeout"], where)
        if timeout is not None and from_url != chosen_timeout:
            raise ConfigurationError(f"timeout given twice, as {timeout!r} and in the URL{where}")
        chosen_timeout = from_url
    if "max_connections" in in_url:
        size = _checked_size(in_url["max_connections"], where)
        if max_connections is not None and size != chosen_size:
            raise ConfigurationError(
                f"max_connections given twice, as {max_connections!r} and in the URL{where}"
            )
        chosen_size = size
    if in_url:
        url = urlunsplit(parts._replace(query=urlencode(rest)))
    return url, (chosen_timeout, chosen_size)


def cluster_pool_settings(
    cluster_class: type[Any],
    node_class: type[Any],
    hosts: tuple[tuple[str, int], ...],
    max_connections: int,
    timeout: float,
) -> dict[str, Any]:
    """Keyword arguments for ``RedisCluster``: startup nodes and a pool per node that waits.

    The sync cluster client builds its nodes' pools from ``connection_pool_class`` only
    when it is given a ``url``, so the first host goes in as one. The asyncio cluster client
    has no pool that waits (its nodes raise ``MaxConnectionsError`` when full): the store's
    `AsyncGate` makes callers wait instead, and the nodes get the same size.
    """
    nodes = [node_class(host, port) for host, port in hosts]
    if cluster_class.__module__.startswith("redis.asyncio"):
        return {"startup_nodes": nodes, "max_connections": max_connections}
    host, port = hosts[0]
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "url": f"redis://{netloc}/0",
        "startup_nodes": nodes[1:],
        "connection_pool_class": redis.BlockingConnectionPool,
        "max_connections": max_connections,
        "timeout": timeout,
    }


class AsyncGate:
    """At most ``size`` operations at a time; the others wait up to ``timeout`` seconds.

    Only for the asyncio cluster client, whose per-node pools cannot wait: each operation
    holds one permit and at most one connection per node, so no node's pool overflows.
    ``size=None`` lets everything through at once (the other clients' pools wait).
    """

    def __init__(self, size: int | None, timeout: float) -> None:
        self._size = size
        self._timeout = timeout
        self._semaphore = None if size is None else asyncio.Semaphore(size)

    def renewed(self) -> AsyncGate:
        """A fresh gate of the same size (a semaphore belongs to one event loop)."""
        return AsyncGate(self._size, self._timeout)

    async def __aenter__(self) -> None:
        if self._semaphore is None:
            return
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self._timeout)
        except asyncio.TimeoutError:
            raise StoreUnavailable(_pool_full(self._size, self._timeout)) from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._semaphore is not None:
            self._semaphore.release()


class Gate:
    """The sync store's twin of `AsyncGate`: every sync client's pool waits by itself."""

    def __init__(self, size: int | None, timeout: float) -> None:
        del size, timeout

    def renewed(self) -> Gate:
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def _pool_full(size: int | None, timeout: float) -> str:
    return (
        f"Redis is unavailable: every connection of the pool (max_connections={size}) stayed "
        f"in use for the {timeout:g} s timeout"
    )


class AsyncLoopBinding:
    """Which event loop the store's client belongs to.

    redis.asyncio connections (and a blocking pool's condition) belong to the loop they
    were made in; a store used again under a new loop (a second ``asyncio.run()``) must
    get a new client.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def moved(self) -> bool:
        """True on first use and whenever the running loop is not the recorded one."""
        return asyncio.get_running_loop() is not self.loop

    def previous_still_running(self) -> bool:
        return self.loop is not None and not self.loop.is_closed() and self.loop.is_running()

    def previous_closed(self) -> bool:
        return self.loop is not None and self.loop.is_closed()

    @property
    def first_use(self) -> bool:
        return self.loop is None

    def record(self) -> None:
        self.loop = asyncio.get_running_loop()


class LoopBinding:
    """The sync store's twin of `AsyncLoopBinding`: no event loop, never moves."""

    loop = None
    first_use = False

    def moved(self) -> bool:
        return False

    def previous_still_running(self) -> bool:
        return False

    def previous_closed(self) -> bool:
        return False

    def record(self) -> None:
        return None


def _connections(client: Any) -> Iterator[Any]:
    """The connections a redis.asyncio client holds (standalone, Sentinel or Cluster)."""
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        yield from list(getattr(pool, "_available_connections", ()))
        yield from list(getattr(pool, "_in_use_connections", ()))
    manager = getattr(client, "nodes_manager", None)
    for nodes in ("nodes_cache", "startup_nodes"):
        for node in list(getattr(manager, nodes, {}).values()):
            yield from list(getattr(node, "_connections", ()))


def bound_to_closed_loop(client: Any) -> bool:
    """Whether ``client`` holds a connection made in an event loop that is now closed."""
    for connection in _connections(client):
        loop = getattr(getattr(connection, "_writer", None), "_loop", None)
        if loop is not None and loop.is_closed():
            return True
    return False


def abandon(client: Any) -> None:
    """Let go of a client whose event loop is closed.

    It cannot be closed the asyncio way (that schedules work on its loop), so each
    connection's socket is closed directly, and its transport and redis-py connection are
    marked closed so that nothing warns about them later. asyncio's own transports keep
    the socket as ``_sock`` (TLS ones wrap such a transport); a transport of another shape
    is left to the garbage collector.
    """
    for connection in _connections(client):
        writer = getattr(connection, "_writer", None)
        transport = getattr(writer, "transport", None)
        inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
        for each in (transport, inner):
            sock = getattr(each, "_sock", None)
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.close()
                each._sock = None  # type: ignore[union-attr]
            if isinstance(getattr(each, "_closing", None), bool):
                each._closing = True  # type: ignore[union-attr]
        if isinstance(getattr(transport, "_closed", None), bool):
            transport._closed = True  # type: ignore[union-attr]
        if writer is not None:
            connection._writer = connection._reader = None
    # A cluster client, marked closed as its aclose() leaves it, or it warns when collected:
    # redis-py 8.1 looks at _initialize, 8.2 at the node manager's default node.
    if getattr(client, "_initialize", None) is False:
        client._initialize = True
    manager: Any = getattr(client, "nodes_manager", None)
    if getattr(manager, "default_node", None) is not None:
        manager.default_node = None


def release_node_pools(client: Any) -> None:
    """Disconnect the blocking pools `cluster_pool_settings` gave a sync cluster's nodes.

    redis-py's node clients are built around a pool passed in, so closing the cluster does
    not disconnect it: its sockets would stay open until garbage collection.
    """
    if not isinstance(client, redis.RedisCluster):
        return
    for node in client.get_nodes():  # type: ignore[no-untyped-call]
        node_client = getattr(node, "redis_connection", None)
        pool = getattr(node_client, "connection_pool", None)
        if isinstance(pool, redis.BlockingConnectionPool):
            pool.disconnect()
