# Generated from src/sessionkit/stores/_async/redis.py by scripts/unasync.py: edit that file, not this one.
"""The Redis store (standalone, TLS, unix socket, Sentinel, Cluster) on redis-py.

Only I/O lives here; key layout, Lua, envelopes, URL parsing and error mapping are in
the `sessionkit.stores._redis` package, shared with the generated sync twin.
"""

from __future__ import annotations

import time
import inspect
import random
from collections.abc import Iterator, Iterable, Mapping
from typing import Any

from redis import BlockingConnectionPool, Redis
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff

from ..._sync.base import StoreBase
from ..._update import apply_update, starting_value
from ...clock import system_clock
from ...codec import JSONCodec, check_items, check_value, default_codec
from ...entry import TTL, Entry, UpdateFunction, to_seconds
from ...errors import ConfigurationError, ConflictError, InvalidKey
from ...keys import validate_key, validate_keys, validate_prefix
from ...stamped import (
    DEFAULT_TOMBSTONE_TTL,
    CheckedWrite,
    ReplayOutcome,
    StampedWrite,
    stamp_of,
)
from .._redis.client_cache import ClientCache, cache_settings, tracking_connector
from .._redis.envelope import decode_value, envelope, open_envelope, patch_arguments
from .._redis.errors import REDIS_ERRORS, store_error
from .._redis.keyspace import DEFAULT_PREFIX, match_pattern, store_key, tombstone_name
from .._redis.pools import (
    DEFAULT_TIMEOUT,
    Gate,
    LoopBinding,
    abandon,
    bound_to_closed_loop,
    cluster_pool_settings,
    release_node_pools,
    store_options,
)
from .._redis.scripts import (
    APPLY_IF_NEWER,
    CAS,
    DELETE,
    GET_ENTRY,
    MERGE,
    PERSIST_IF_EXISTS,
    SCRIPTS,
    SET,
    LuaScript,
)
from .._redis.ttls import expires_at_from, remaining_from_pttl, ttl_ms
from .._redis.urls import check_tls_files, checked_url, parse_multi_host_url, tombstone_setting
from .redis_client_cache import cached_get, cached_get_many

__all__ = ["RedisStore"]

# redis-py types these in one flavour and not in the other; Any keeps the twins identical.
_ClusterNode: Any = ClusterNode
_Sentinel: Any = Sentinel

# set_many sends at most this many keys per script call, so one call never blocks the
# server for long.
_SET_MANY_CHUNK = 500


def _stamp_now() -> int:
    """A write's stamp: now by this client's clock (see sessionkit.stamped)."""
    return stamp_of(system_clock.now())


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool (connections go to the current master) with the blocking
    pool's wait for a free connection: redis-py has the two, not the pair."""


class RedisStore(StoreBase):
    """Sessions in Redis, with native expiry and atomic ``update``/``merge``.

    Open one by URL (``redis://``, ``rediss://``, ``unix://``,
    ``redis+sentinel://host:port,host:port/service_name``,
    ``redis+cluster://host:port,host:port``) or pass an existing ``redis`` client.

    ``prefix`` is put before every key. ``update`` is an optimistic compare-and-set that
    tries ``update_attempts`` times before `ConflictError`.

    ``timeout`` (default 5 s, or ``?timeout=`` in the URL) bounds each wait of an
    operation: connecting, waiting for a free pooled connection and each reply; a server
    that does not answer within it is `StoreUnavailable`. ``max_connections`` (default 50,
    or ``?max_connections=``) is the pool size per server; a call that finds every
    connection busy waits for one, within ``timeout``. ``socket_timeout`` and
    ``socket_connect_timeout`` override ``timeout`` for the reply and the connect alone.
    redis-py's own retries are off in the clients this store creates: the resilience layer
    is the one place that retries (see docs/backends/redis.md).

    Every write stamps its key with the client's clock (in the stored envelope), and a
    ``delete`` leaves a tombstone key for ``tombstone_ttl`` seconds (default one day, or
    ``?tombstone_ttl=``; 0: none), so that `apply_if_newer` (a journal replay) never
    overwrites a newer write or undoes a newer delete.
    """

    def __init__(
        self,
        client: Redis | RedisCluster | None = None,
        *,
        url: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        codec: JSONCodec = default_codec,
        default_ttl: TTL | None = None,
        update_attempts: int = 100,
        timeout: float | None = None,
        max_connections: int | None = None,
        socket_timeout: float | None = None,
        socket_connect_timeout: float | None = None,
        client_options: Mapping[str, Any] | None = None,
        close_client: bool | None = None,
        client_cache: bool | None = None,
        client_cache_size: int | None = None,
        client_cache_max_ttl: float | None = None,
        tombstone_ttl: TTL | None = None,
    ) -> None:
        url, cache_on, cache_size, cache_max_ttl = cache_settings(
            url, client_cache, client_cache_size, client_cache_max_ttl
        )
        url, tombstone_ttl = tombstone_setting(url, tombstone_ttl, DEFAULT_TOMBSTONE_TTL)
        if (client is None) == (url is None):
            raise ConfigurationError("a Redis store needs exactly one of client= and url=")
        try:
            validate_prefix(prefix)
        except InvalidKey:
            raise ConfigurationError(f"prefix must be visible ASCII, not {prefix!r}") from None
        if not isinstance(update_attempts, int) or update_attempts < 1:
            raise ConfigurationError(f"update_attempts must be >= 1, not {update_attempts!r}")
        self._prefix = prefix
        self._codec = codec
        self._default_ttl = None if default_ttl is None else to_seconds(default_ttl)
        self._update_attempts = update_attempts
        self._tombstone_ttl = 0.0 if tombstone_ttl == 0 else to_seconds(tombstone_ttl)
        self._tombstone_px = ttl_ms(self._tombstone_ttl or None, None)
        self._owned: list[Any] = []  # clients this store made, closed by close()
        self._url: str | None = None
        self._settings: dict[str, Any] = {}
        self._binding = LoopBinding()
        self._gate = Gate(None, DEFAULT_TIMEOUT)
        self._client_cache: ClientCache | None = None
        if cache_on and url is None:
            raise ConfigurationError("client_cache needs url= (the store opens its own clients)")
        if url is not None:
            url, (deadline, pool_size) = store_options(url, timeout, max_connections)
            check_tls_files(url, client_options or {})
            self._url = url
            self._settings = {
                "socket_timeout": deadline if socket_timeout is None else socket_timeout,
                "socket_connect_timeout": (
                    deadline if socket_connect_timeout is None else socket_connect_timeout
                ),
                **(client_options or {}),
            }
            self._deadline, self._pool_size = deadline, pool_size
            if cache_on:  # see _redis/client_cache.py; refused for a cluster
                connect, release = tracking_connector(*checked_url(url), dict(self._settings))
                self._client_cache = ClientCache(
                    connect, prefix, size=cache_size, max_ttl=cache_max_ttl, release=release
                )
            client = self._connect()
        elif close_client:
            self._owned.append(client)
        assert client is not None
        self._use(client)

    def _use(self, client: Any) -> None:
        self._client: Any = client  # redis-py's typing of command results is too loose
        self._cluster = isinstance(client, RedisCluster)
        if self._cluster and self._url is not None:
            self._gate = Gate(self._pool_size, self._deadline)
        # redis-py Script objects: EVALSHA, and on NOSCRIPT (first use on a server, a
        # SCRIPT FLUSH, a restart, a failover) SCRIPT LOAD and EVALSHA again.
        self._scripts = {name: client.register_script(s.source) for name, s in SCRIPTS.items()}
        # redis's cluster client discovers the topology on first use, and tasks that
        # race into that first use can have connections closed under them (redis-py 8.1):
        # the store discovers it once, before any command. Sync cluster clients do it in
        # their constructor.
        self._needs_initialize = self._cluster and inspect.iscoroutinefunction(
            getattr(client, "initialize", None)
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """Open a store for ``url``; ``options`` are the constructor's keyword arguments."""
        return cls(url=url, **options)

    def _connect(self) -> Redis | RedisCluster:
        assert self._url is not None
        settings = dict(self._settings)
        # One retry layer: redis-py must not retry underneath the resilience wrappers.
        settings.setdefault("retry", Retry(NoBackoff(), 0))
        deadline, pool_size = self._deadline, self._pool_size
        scheme, url = checked_url(self._url)
        owned: list[Any] = []
        try:
            if scheme in ("redis", "rediss", "unix"):
                # A pool that makes callers wait (within the deadline) for a free
                # connection instead of failing at once: a burst is not an outage.
                pool = BlockingConnectionPool.from_url(
                    url, max_connections=pool_size, timeout=deadline, **settings
                )
                client: Redis | RedisCluster = Redis.from_pool(pool)
            elif scheme == "redis+cluster":
                parsed = parse_multi_host_url(url)
                nodes = cluster_pool_settings(
                    RedisCluster, _ClusterNode, parsed.hosts, pool_size, deadline
                )
                client = RedisCluster(
                    username=parsed.username, password=parsed.password, **nodes, **settings
                )
            else:  # redis+sentinel (checked_url let no other scheme through)
                parsed = parse_multi_host_url(url)
                sentinel_settings = {
                    "socket_timeout": settings["socket_timeout"],
                    "socket_connect_timeout": settings["socket_connect_timeout"],
                    "retry": settings["retry"],
                    "username": parsed.query.get("sentinel_username"),
                    "password": parsed.query.get("sentinel_password"),
                }
                sentinel = _Sentinel(list(parsed.hosts), sentinel_kwargs=sentinel_settings)
                owned.extend(sentinel.sentinels)
                assert parsed.service_name is not None
                client = sentinel.master_for(
                    parsed.service_name,
                    connection_pool_class=_BlockingSentinelPool,
                    max_connections=pool_size,
                    timeout=deadline,
                    db=parsed.db,
                    username=parsed.username,
                    password=parsed.password,
                    **settings,
                )
        except REDIS_ERRORS as error:
            raise store_error(error) from error
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"bad Redis URL or option: {error}") from error
        self._owned[:0] = [client, *owned]
        return client

    @property
    def default_ttl(self) -> float | None:
        """Seconds a write with ``ttl=None`` lives (None: never expires)."""
        return self._default_ttl

    @property
    def tombstone_ttl(self) -> float:
        """Seconds a delete's tombstone lives (0: deletes leave none)."""
        return self._tombstone_ttl

    @property
    def client(self) -> Redis | RedisCluster:
        """The redis-py client underneath (for what the store does not do)."""
        return self._client  # type: ignore[no-any-return]

    @property
    def prefix(self) -> str:
        """What every key is stored under: Redis key = prefix + key."""
        return self._prefix

    # -- helpers --------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Before the first command, and under a new event loop: a client for this loop,
        a cluster's topology discovered once."""
        if self._binding.moved():
            if self._binding.previous_still_running():
                raise ConfigurationError(
                    "this RedisStore is in use in another running event loop: a store "
                    "(like a redis client) serves one event loop at a time"
                )
            if self._url is not None and not self._binding.first_use:
                # A new loop (a second asyncio.run()): the old loop's connections cannot
                # be used or closed here, so the store starts over with a new client. (A
                # loop that is only stopped keeps its client: it may run again and close it.)
                stale, self._owned = self._owned, []
                if self._binding.previous_closed():
                    for client in stale:
                        abandon(client)
                self._use(self._connect())
            elif self._url is None and bound_to_closed_loop(self._client):
                raise ConfigurationError(
                    "the redis client given to RedisStore holds connections of "
                    "an event loop that is closed (an earlier asyncio.run()?), and redis-py "
                    "cannot move them: create the client inside the loop that uses it, or "
                    "open the store by URL, which makes a new client for each new loop"
                )
            self._binding.record()
        if self._needs_initialize:
            try:
                self._client.initialize()
            except REDIS_ERRORS as error:
                raise store_error(error) from error
            self._needs_initialize = False

    def _run(self, script: LuaScript, numkeys: int, *keys_and_args: Any) -> Any:
        registered = self._scripts[script.name]
        return registered(keys_and_args[:numkeys], keys_and_args[numkeys:])

    def _modify_ttls(self, ttl: TTL | None) -> tuple[int, int]:
        """PX for (an existing entry, a new entry); 0 keeps / sets no expiry."""
        if ttl is None:
            return 0, ttl_ms(None, self._default_ttl)
        milliseconds = ttl_ms(ttl, None)
        return milliseconds, milliseconds

    # -- reads ----------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        if self._client_cache is not None:
            return cached_get(self, self._client_cache, name, key)
        try:
            with self._gate:
                raw = self._client.get(name)
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error
        return None if raw is None else decode_value(self._codec, raw, key)

    def get_entry(self, key: str) -> Entry | None:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        try:
            with self._gate:
                reply = self._run(GET_ENTRY, 1, name)
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error
        if reply is None:
            return None
        raw, pttl, seconds, microseconds = reply
        version, data = open_envelope(raw, key)
        value = self._codec.decode(data, key=key)
        return Entry(value, version, expires_at_from(pttl, seconds, microseconds))

    def exists(self, key: str) -> bool:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        try:
            with self._gate:
                return bool(self._client.exists(name))
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error

    def ttl(self, key: str) -> float | None:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        try:
            with self._gate:
                pttl = self._client.pttl(name)
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error
        return remaining_from_pttl(pttl)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        wanted = list(dict.fromkeys(validate_keys(keys)))
        if not wanted:
            return {}
        if self._client_cache is not None:
            return cached_get_many(self, self._client_cache, wanted)
        names = [self._prefix + key for key in wanted]
        try:
            with self._gate:
                # A cluster client sends one MGET per hash slot, pipelined.
                mget = self._client.mget_nonatomic if self._cluster else self._client.mget
                raws = mget(names)
        except REDIS_ERRORS as error:
            raise store_error(error) from error
        codec = self._codec
        return {
            key: decode_value(codec, raw, key)
            for key, raw in zip(wanted, raws, strict=True)
            if raw is not None
        }

    # -- writes ---------------------------------------------------------------------------

    def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        data = self._codec.encode(value)
        px = ttl_ms(ttl, self._default_ttl)
        try:
            with self._gate:
                self._run(SET, 1, name, px, _stamp_now(), data)
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error

    def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        # a new entry is always version 1
        stored = envelope(1, self._codec.encode(value), _stamp_now())
        px = ttl_ms(ttl, self._default_ttl)
        try:
            with self._gate:
                written = self._client.set(name, stored, px=px or None, nx=True)
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error
        return bool(written)

    def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        px_existing, px_new = self._modify_ttls(ttl)  # a bad TTL fails before fn runs
        for attempt in range(self._update_attempts):
            try:
                with self._gate:
                    raw = self._client.get(name)
            except REDIS_ERRORS as error:
                raise store_error(error, key) from error
            current = None if raw is None else decode_value(self._codec, raw, key)
            value, data = apply_update(
                self._codec, key, fn, starting_value(key, current, default)
            )
            try:
                with self._gate:
                    written = self._run(
                        CAS, 1, name, raw or b"", data, px_existing, px_new, _stamp_now()
                    )
            except REDIS_ERRORS as error:
                raise store_error(error, key) from error
            if written:
                return value
            # Lost to another writer: back off a little, with jitter, so that contenders
            # spread out instead of colliding again in lockstep.
            time.sleep(random.uniform(0, min(0.02, 0.0005 * 2**attempt)))
        raise ConflictError(key, self._update_attempts)

    def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        fields = patch_arguments(self._codec, check_value(patch))
        px_existing, px_new = self._modify_ttls(ttl)
        limit = self._codec.max_payload_bytes
        try:
            with self._gate:
                merged = self._run(
                    MERGE, 1, name, px_existing, px_new, limit or 0, _stamp_now(), *fields
                )
        except REDIS_ERRORS as error:
            raise store_error(error, key, limit) from error
        return self._codec.decode(merged, key=key)

    def delete(self, key: str) -> bool:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        stamp = _stamp_now()
        try:
            with self._gate:
                deleted = self._run(
                    DELETE, 2, name, tombstone_name(name), stamp, self._tombstone_px
                )
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error
        return bool(deleted)

    def touch(self, key: str, ttl: TTL | None = None) -> bool:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        name = self._prefix + validate_key(key)
        px = ttl_ms(ttl, self._default_ttl)
        try:
            with self._gate:
                if px:
                    return bool(self._client.pexpire(name, px))
                return bool(self._run(PERSIST_IF_EXISTS, 1, name))
        except REDIS_ERRORS as error:
            raise store_error(error, key) from error

    def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._check_open()
        items = check_items(items)
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        encoded = {
            self._prefix + validate_key(key): self._codec.encode(value)
            for key, value in items.items()
        }  # every key and value checked before anything is sent
        px = ttl_ms(ttl, self._default_ttl)
        if not encoded:
            return
        groups = self._set_many_groups(list(encoded))
        stamp = _stamp_now()
        try:
            with self._gate:
                if len(groups) == 1 and not self._cluster:
                    names = groups[0]
                    values = (encoded[n] for n in names)
                    self._run(SET, len(names), *names, px, stamp, *values)
                else:
                    # One script call per chunk (per hash slot in a cluster), all in one
                    # pipeline: one round trip. redis-py refuses EVALSHA in cluster pipelines,
                    # and a NOSCRIPT inside a pipeline cannot be retried alone, so these send
                    # the source (the server still compiles it only once).
                    with self._client.pipeline(transaction=False) as pipe:
                        for names in groups:
                            values = (encoded[n] for n in names)
                            pipe.execute_command(
                                "EVAL", SET.source, len(names), *names, px, stamp, *values
                            )
                        pipe.execute()
        except REDIS_ERRORS as error:
            raise store_error(error) from error

    def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        """A journaled write, applied only if newer than the stamp the key holds (the live
        entry's, else its tombstone's); see `sessionkit.stamped`. One atomic script."""
        self._check_open()
        checked = CheckedWrite.of(write, self._codec)
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        key = checked.key
        name = self._prefix + key
        px = ttl_ms(checked.ttl, None)  # None: no expiry (the journal resolved any default)
        arguments: list[bytes] = []
        if write.op in ("set", "create"):
            arguments = [checked.data]
        elif write.op == "merge":
            arguments = patch_arguments(self._codec, checked.patch)
        limit = self._codec.max_payload_bytes
        try:
            with self._gate:
                reply = self._run(
                    APPLY_IF_NEWER,
                    2,
                    name,
                    tombstone_name(name),
                    write.op,
                    write.stamp,
                    px,
                    int(write.keep_expiry),
                    self._tombstone_px,
                    limit or 0,
                    *arguments,
                )
        except REDIS_ERRORS as error:
            raise store_error(error, key, limit) from error
        if isinstance(reply, list):  # a create over a live entry: first writer wins
            same = decode_value(self._codec, reply[1], key) == write.value
            return ReplayOutcome.APPLIED if same else ReplayOutcome.LOST
        return ReplayOutcome(reply.decode() if isinstance(reply, bytes) else reply)

    def _set_many_groups(self, names: list[str]) -> list[list[str]]:
        """Keys that one script call may write together: same hash slot in a cluster."""
        if not self._cluster:
            return [names[i : i + _SET_MANY_CHUNK] for i in range(0, len(names), _SET_MANY_CHUNK)]
        by_slot: dict[int, list[str]] = {}
        for name in names:
            by_slot.setdefault(self._client.keyslot(name), []).append(name)
        return list(by_slot.values())

    # -- many keys ------------------------------------------------------------------------

    def scan(self, prefix: str = "", *, batch_size: int = 500) -> Iterator[str]:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        pattern = match_pattern(self._prefix + validate_prefix(prefix))
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")
        start = len(self._prefix)
        # SCAN may return a key twice; callers see it once. The set holds every key seen,
        # so a scan (and count) takes memory in proportion to the number of keys.
        seen: set[bytes] = set()
        try:
            for name in self._scan_names(pattern, batch_size):
                if name not in seen:
                    seen.add(name)
                    key = store_key(name, start)
                    if key is not None:  # another program's key under our prefix: skipped
                        yield key
        except REDIS_ERRORS as error:
            raise store_error(error) from error

    def _scan_names(self, pattern: str, count: int) -> Iterator[bytes]:
        """SCAN's names for ``pattern``. A cluster client scans every primary in turn; each
        step passes the gate on its own, so a consumer that stops between keys holds no
        permit."""
        names = self._client.scan_iter(match=pattern, count=count)
        while True:
            try:
                with self._gate:
                    name = names.__next__()
            except StopIteration:
                return
            yield name

    def count(self, prefix: str = "") -> int:
        """How many keys ``scan`` would yield; it holds them all in a set meanwhile
        (SCAN may repeat a key), so memory grows with the number of keys."""
        found = 0
        for _ in self.scan(prefix, batch_size=1000):
            found += 1
        return found

    def purge(self, prefix: str = "") -> int:
        self._check_open()
        if self._needs_initialize or self._binding.moved():
            self._prepare()
        pattern = match_pattern(self._prefix + validate_prefix(prefix))
        deleted = 0
        batch: list[bytes] = []
        try:
            start = len(self._prefix)
            for name in self._scan_names(pattern, 1000):
                if store_key(name, start) is None:
                    continue  # not a store key (another program's): left alone, as scan skips it
                batch.append(name)
                if len(batch) >= 1000:
                    with self._gate:
                        deleted += self._client.unlink(*batch)
                    batch.clear()
            if batch:
                with self._gate:
                    deleted += self._client.unlink(*batch)
        except REDIS_ERRORS as error:
            raise store_error(error) from error
        return deleted  # UNLINK counts each key once, and expired keys not at all

    def sweep(self) -> int:
        """Nothing to do: Redis expires keys itself. Always 0."""
        self._check_open()
        return 0

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        failure: Exception | None = None
        if self._client_cache is not None:
            self._client_cache.close()
        for client in self._owned:  # every client is closed, even after one fails
            try:
                client.close()
                release_node_pools(client)
            except Exception as error:
                failure = failure or error
        if failure is not None:  # then the first failure is raised
            if isinstance(failure, REDIS_ERRORS):
                raise store_error(failure) from failure
            raise failure

    def __repr__(self) -> str:
        kind = "cluster" if self._cluster else "redis"
        return f"RedisStore({kind}, prefix={self._prefix!r})"
