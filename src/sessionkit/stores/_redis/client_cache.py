"""The Redis store's client-side cache: hot sessions served from process memory, kept
true by Redis's server-assisted invalidation (RESP3 client tracking, broadcast mode).

One dedicated RESP3 connection per store runs ``CLIENT TRACKING ON BCAST PREFIX <store
prefix>``: the server then pushes an ``invalidate`` message on it for every key under the
prefix that anyone modifies (a write, a merge, a delete, an expiry, an eviction, a Lua
script, and ``FLUSHDB``/``FLUSHALL`` as "everything"). That connection only listens; it is
read without blocking, by the caller, before every cached answer, so an invalidation the
server has sent is always applied before the next read is served.

The rules (see docs/backends/redis.md, "Client-side cache"):

* a cached answer is given only while the tracking connection has proved alive in the
  last ``HEARTBEAT`` seconds: a ``PING`` goes out on it after half that silence, and an
  unanswered one drops the cache (a half-open connection cannot hide invalidations for
  longer than that);
* on any error on that connection (reset, EOF, a bad reply) the whole cache is dropped,
  and it is rebuilt only on a fresh connection;
* a fetch that raced an invalidation of its key (or a drop) is not stored: each fill
  is bracketed by `begin`/`finish`, and an invalidation in between marks it dirty;
* an entry keeps the key's expiry deadline (from PTTL, measured from before the read
  was sent) and never outlives it, nor ``max_ttl``;
* at most ``size`` entries, least recently used evicted first.

redis-py 8.1 has a client-side cache for its sync client only (``cache_config=``, RESP3,
default tracking mode), none for ``redis.asyncio``, and its cache knows neither key
expiry nor this store's races; this module serves both flavours the same way. The
tracking connection is a sync redis-py connection in both: it is only polled with a zero
timeout, and the async store opens it in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel as _SentinelClass

from ...errors import ConfigurationError
from .urls import parse_multi_host_url

__all__ = [
    "DEFAULT_CACHE_MAX_TTL",
    "DEFAULT_CACHE_SIZE",
    "AsyncOpener",
    "ClientCache",
    "Opener",
    "cache_settings",
    "tracking_connector",
]

#: Entries a cache holds unless ``client_cache_size`` says otherwise.
DEFAULT_CACHE_SIZE = 10_000
#: Seconds an entry lives at most unless ``client_cache_max_ttl`` says otherwise.
DEFAULT_CACHE_MAX_TTL = 60.0
#: Seconds of silence on the tracking connection before it is PINGed; the cache is not
#: used while a PING is unanswered.
HEARTBEAT = 1.0
# After the tracking connection fails, how long before the next attempt to open one.
_RECONNECT_DELAY = 0.5

_URL_OPTIONS = ("client_cache", "client_cache_size", "client_cache_max_ttl")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def cache_settings(
    url: str | None,
    enabled: bool | None,
    size: int | None,
    max_ttl: float | None,
) -> tuple[str | None, bool, int, float]:
    """(url without the cache options, enabled, size, max_ttl): keyword arguments win over
    the URL's ``?client_cache=true&client_cache_size=N&client_cache_max_ttl=S``."""
    found: dict[str, str] = {}
    if url is not None and "?" in url:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        found = {name: value for name, value in query if name in _URL_OPTIONS}
        if found:
            rest = [(name, value) for name, value in query if name not in _URL_OPTIONS]
            url = urlunsplit(parts._replace(query=urlencode(rest)))
    if enabled is None:
        text = found.get("client_cache", "false").lower()
        if text not in _TRUE | _FALSE:
            raise ConfigurationError(f"client_cache must be true or false, not {text!r}")
        enabled = text in _TRUE
    try:
        if size is None:
            size = int(found.get("client_cache_size", DEFAULT_CACHE_SIZE))
        if max_ttl is None:
            max_ttl = float(found.get("client_cache_max_ttl", DEFAULT_CACHE_MAX_TTL))
    except ValueError as error:
        raise ConfigurationError(f"bad client cache option: {error}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ConfigurationError(f"client_cache_size must be an int >= 1, not {size!r}")
    if not isinstance(max_ttl, (int, float)) or not 0 < max_ttl < float("inf"):
        raise ConfigurationError(f"client_cache_max_ttl must be > 0 seconds, not {max_ttl!r}")
    return url, enabled, size, float(max_ttl)


class ClientCache:
    """Cached stored values (the JSON after the envelope) by Redis key name.

    ``connect`` returns a fresh, connected sync redis-py RESP3 connection to the server
    the store writes to. Thread-safe: one lock guards the entries and the connection.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        prefix: str,
        *,
        size: int = DEFAULT_CACHE_SIZE,
        max_ttl: float = DEFAULT_CACHE_MAX_TTL,
        heartbeat: float = HEARTBEAT,
        clock: Callable[[], float] = time.monotonic,
        release: Callable[[], None] | None = None,
    ) -> None:
        self._open = connect
        self._release = release
        self._prefix = prefix
        self._size = size
        self._max_ttl = max_ttl
        self._heartbeat = heartbeat
        self._clock = clock
        self._lock = threading.RLock()
        self._entries: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        # key name -> [fetches in flight, invalidated since the oldest began]
        self._fills: dict[bytes, list[Any]] = {}
        self._connection: Any = None
        self._epoch = 0  # bumped on every drop and connect: a fill across one is void
        self._alive_at = 0.0  # when the connection last proved alive (a reply to us)
        self._ping_sent_at: float | None = None
        self._connecting = False
        self._retry_at = 0.0
        self._closed = False
        #: Counters, for tests and metrics: answers from memory, fetches, whole drops.
        self.hits = 0
        self.misses = 0
        self.drops = 0

    # -- the tracking connection ----------------------------------------------------------

    def needs_connect(self) -> bool:
        """Whether the caller should run `connect` (no connection, none being opened)."""
        return (
            self._connection is None
            and not self._connecting
            and not self._closed
            and self._clock() >= self._retry_at
        )

    def connect(self) -> None:
        """Open the tracking connection (blocking; errors leave the cache unused)."""
        with self._lock:
            if not self.needs_connect():
                return
            self._connecting = True
        connection: Any = None
        try:
            connection = self._open()
            connection._parser.set_invalidation_push_handler(self._on_push)
            connection.send_command(
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self._prefix, check_health=False
            )
            if connection.read_response() != b"OK":
                raise ConnectionError("CLIENT TRACKING was refused")
        except Exception:
            # The cache is an optimisation: without it every read goes to the server,
            # which reports its own errors. Try again a little later.
            if connection is not None:
                _disconnect(connection)
            with self._lock:
                self._connecting = False
                self._retry_at = self._clock() + _RECONNECT_DELAY
            return
        with self._lock:
            self._connecting = False
            if self._closed:
                _disconnect(connection)
                return
            self._entries.clear()
            self._epoch += 1
            self._connection = connection
            self._alive_at = self._clock()
            self._ping_sent_at = None

    def _on_push(self, message: list[Any]) -> None:
        # [b"invalidate", [key, ...]], or [b"invalidate", None] after FLUSHDB/FLUSHALL.
        if not message or message[0] != b"invalidate":
            return
        keys = message[1] if len(message) > 1 else None
        if keys is None:
            self._entries.clear()
            for pending in self._fills.values():
                pending[1] = True
            return
        for name in keys:
            self._entries.pop(name, None)
            fill = self._fills.get(name)
            if fill is not None:
                fill[1] = True

    def _drop(self) -> None:
        """Forget everything and close the connection: nothing cached is trusted."""
        self.drops += 1
        self._entries.clear()
        for pending in self._fills.values():
            pending[1] = True
        self._epoch += 1
        if self._connection is not None:
            _disconnect(self._connection)
            self._connection = None
        self._retry_at = self._clock() + _RECONNECT_DELAY

    def _poll(self) -> bool:
        """Apply every invalidation the server has sent; True if the cache may answer."""
        connection = self._connection
        if connection is None:
            return False
        now = self._clock()
        try:
            while connection.can_read(timeout=0):
                reply = connection.read_response(push_request=True)
                self._alive_at = now  # anything read proves the connection alive
                if reply == b"PONG":
                    self._ping_sent_at = None
                elif reply is not None:
                    raise ConnectionError(f"unexpected reply on the tracking connection: {reply!r}")
            if self._ping_sent_at is not None:
                if now - self._ping_sent_at > self._heartbeat:
                    raise ConnectionError("the tracking connection does not answer PING")
            elif now - self._alive_at > self._heartbeat / 2:
                # Asked early, so that under steady use the answer is back before the
                # cache would have to stop answering.
                connection.send_command("PING", check_health=False)
                self._ping_sent_at = now
        except Exception:
            self._drop()
            return False
        return now - self._alive_at <= self._heartbeat

    # -- entries --------------------------------------------------------------------------

    def lookup(self, name: bytes) -> bytes | None:
        """The cached JSON for ``name`` if it is known fresh, else None (then fetch it,
        bracketed by `begin` and `finish`)."""
        with self._lock:
            if not self._poll():
                self.misses += 1
                return None
            found = self._entries.get(name)
            if found is None:
                self.misses += 1
                return None
            data, deadline = found
            if self._clock() >= deadline:
                del self._entries[name]
                self.misses += 1
                return None
            self._entries.move_to_end(name)
            self.hits += 1
            return data

    def begin(self, name: bytes) -> tuple[int, float] | None:
        """Before a fetch of ``name``: a token for `finish`, or None if it cannot be stored."""
        with self._lock:
            if self._connection is None:
                return None
            fill = self._fills.get(name)
            if fill is None:
                self._fills[name] = [1, False]
            else:
                fill[0] += 1
            return self._epoch, self._clock()

    def finish(self, name: bytes, token: tuple[int, float], data: bytes | None, pttl: int) -> None:
        """After the fetch begun with ``token``: store ``data`` (None: the key is absent, or
        the fetch failed) unless an invalidation or a drop came in between."""
        epoch, started = token
        with self._lock:
            fill = self._fills[name]
            fill[0] -= 1
            trusted = self._poll()  # invalidations sent before the reply: applied now
            dirty = fill[1]
            if fill[0] == 0:
                del self._fills[name]
            if data is None or dirty or not trusted or epoch != self._epoch or pttl == -2:
                return
            lifetime = self._max_ttl if pttl < 0 else min(self._max_ttl, pttl / 1000)
            self._entries[name] = (data, started + lifetime)
            self._entries.move_to_end(name)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._entries.clear()
            if self._connection is not None:
                _disconnect(self._connection)
                self._connection = None
        if self._release is not None:
            self._release()


def _disconnect(connection: Any) -> None:
    with contextlib.suppress(Exception):  # closing a connection that is already broken
        connection.disconnect()


class Opener:
    """How the sync store opens the tracking connection: in the calling thread."""

    @staticmethod
    def connect(cache: ClientCache) -> None:
        cache.connect()


class AsyncOpener:
    """How the async store opens it: in a worker thread, off the event loop."""

    @staticmethod
    async def connect(cache: ClientCache) -> None:
        await asyncio.to_thread(cache.connect)


def tracking_connector(
    scheme: str, url: str, settings: dict[str, Any]
) -> tuple[Callable[[], Any], Callable[[], None]]:
    """(open a tracking connection, close what it uses) for the server behind ``url``.

    Both flavours use a sync redis-py client here, RESP3, on its own pool, with the
    store's socket settings; under Sentinel it follows the current master.
    """
    options = {
        name: value
        for name, value in settings.items()
        if name not in ("retry", "max_connections", "protocol")
    }
    options.update(protocol=3, retry=Retry(NoBackoff(), 0))
    client: Any
    sentinel: Any = None
    sentinel_class: Any = _SentinelClass  # untyped in redis-py
    if scheme in ("redis", "rediss", "unix"):
        client = redis.Redis.from_url(url, **options)
    elif scheme == "redis+sentinel":
        parsed = parse_multi_host_url(url)
        sentinel = sentinel_class(
            list(parsed.hosts),
            sentinel_kwargs={
                "socket_timeout": options.get("socket_timeout"),
                "socket_connect_timeout": options.get("socket_connect_timeout"),
                "retry": Retry(NoBackoff(), 0),
                "username": parsed.query.get("sentinel_username"),
                "password": parsed.query.get("sentinel_password"),
            },
        )
        assert parsed.service_name is not None
        client = sentinel.master_for(
            parsed.service_name,
            db=parsed.db,
            username=parsed.username,
            password=parsed.password,
            **options,
        )
    else:
        raise ConfigurationError(
            "client_cache is not available for redis+cluster:// stores (one tracking "
            "connection per node is not implemented): use it with redis://, rediss://, "
            "unix:// or redis+sentinel://"
        )
    pool = client.connection_pool

    def open_connection() -> Any:
        return pool.get_connection()

    def close() -> None:
        pool.disconnect()
        if sentinel is not None:
            for node in sentinel.sentinels:
                node.close()

    return open_connection, close
