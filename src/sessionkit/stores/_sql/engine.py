"""The SQL store's options, and the engine a URL opens: driver choice and connect arguments.

Nothing here imports SQLAlchemy's asyncio layer: the async store passes its engine factory
in, so the sync SQLite path loads without greenlet.
"""

from __future__ import annotations

import importlib
import math
import uuid
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from ...entry import TTL, to_seconds
from ...errors import ConfigurationError
from ...stamped import DEFAULT_TOMBSTONE_TTL
from .deadline import instrument
from .drivers import SYNC_DRIVERS, check_driver_installed, choose_driver
from .schema import DEFAULT_TABLE_NAME

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "DEFAULT_TIMEOUT",
    "URL_OPTIONS",
    "EngineSpec",
    "SQLOptions",
    "configure_sqlite",
    "engine_spec",
    "make_engine",
    "split_url_options",
]


#: The per-operation deadline, in seconds, when none is given.
DEFAULT_TIMEOUT = 5.0
#: Connections a pool keeps open, and how many more it may open under a burst.
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_OVERFLOW = 20

#: Store options a SQL URL may carry in its query (``?timeout=2&pool_size=20``); the rest
#: of the query goes to the driver.
URL_OPTIONS = {
    "timeout": float,
    "pool_size": int,
    "max_overflow": int,
    "pool_timeout": float,
    "tombstone_ttl": float,
}


@attrs.frozen
class SQLOptions:
    """The SQL store's own settings, checked once.

    ``timeout`` is the one per-operation deadline. ``connect_timeout``,
    ``statement_timeout`` (server-side), ``lock_timeout`` and ``pool_timeout`` default to
    it (None) and never extend it: an operation past its deadline is cut client-side.
    """

    table_name: str = DEFAULT_TABLE_NAME
    auto_create_schema: bool = True
    pgbouncer: bool = False
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float | None = None
    statement_timeout: float | None = None
    lock_timeout: float | None = None
    pool_size: int = DEFAULT_POOL_SIZE
    max_overflow: int = DEFAULT_MAX_OVERFLOW
    pool_timeout: float | None = None
    max_attempts: int = 10
    batch_size: int = 1000
    tombstone_ttl: TTL = DEFAULT_TOMBSTONE_TTL

    def __attrs_post_init__(self) -> None:
        if not (isinstance(self.table_name, str) and self.table_name.isidentifier()):
            raise ConfigurationError(
                f"table_name must be a plain SQL identifier, not {self.table_name!r}"
            )
        if len(self.table_name) > 40:  # leaves room for index names within 63 characters
            raise ConfigurationError(f"table_name is over 40 characters: {self.table_name!r}")
        _positive_seconds("timeout", self.timeout)
        for name in ("connect_timeout", "statement_timeout", "lock_timeout", "pool_timeout"):
            if getattr(self, name) is not None:
                _positive_seconds(name, getattr(self, name))
        if self.max_attempts < 1 or self.batch_size < 1:
            raise ConfigurationError("max_attempts and batch_size must be at least 1")
        if self.tombstone_ttl != 0:
            _positive_seconds("tombstone_ttl", self.tombstone_ttl)
        _count("pool_size", self.pool_size, minimum=1)
        _count("max_overflow", self.max_overflow, minimum=0)

    def bound(self, name: str) -> float:
        """A per-step bound: its own value, never more than the deadline."""
        deadline = self.deadline()
        value: Any = getattr(self, name)
        return deadline if value is None else min(to_seconds(value), deadline)

    def deadline(self) -> float:
        """The per-operation deadline in seconds."""
        return to_seconds(self.timeout)


def _count(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer of at least {minimum}, not {value!r}")


def _positive_seconds(name: str, value: object) -> None:
    try:
        to_seconds(value)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a positive number of seconds, not {value!r}"
        ) from None


def split_url_options(url: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Take the store options out of a SQL URL's query into ``options``.

    A keyword argument and a URL option for the same setting must agree.
    """
    if "?" not in url:
        return url, options
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        return url, options  # engine_spec names the problem
    found = [name for name in URL_OPTIONS if name in parsed.query]
    if not found:
        return url, options
    merged = dict(options)
    for name in found:
        text = parsed.query[name]
        if not isinstance(text, str):
            raise ConfigurationError(f"URL option {name} is given more than once")
        try:
            value = URL_OPTIONS[name](text)
        except ValueError:
            raise ConfigurationError(f"URL option {name}={text!r} is not a number") from None
        if merged.get(name) is not None and merged[name] != value:
            raise ConfigurationError(
                f"{name} is given twice with different values: {merged[name]!r} as an "
                f"option and {value!r} in the URL"
            )
        merged[name] = value
    rest = parsed.difference_update_query(found)
    return rest.render_as_string(hide_password=False), merged


@attrs.frozen
class EngineSpec:
    """What ``create_engine``/``create_async_engine`` is called with."""

    url: URL
    kwargs: dict[str, Any]
    sqlite_file: bool


def make_engine(url: str, options: SQLOptions, factory: str) -> Any:
    """Create the engine for a store URL with ``factory``, ``"module:function"``: SQLAlchemy's
    ``create_engine`` or ``create_async_engine`` (which also says the mode: one call site
    serves the sync and async stores). The factory is imported only after the driver
    check, so a missing greenlet is named here rather than failing SQLAlchemy's import."""
    module_name, _, function_name = factory.partition(":")
    asynchronous = function_name == "create_async_engine"
    spec = engine_spec(url, options, asynchronous=asynchronous)
    check_driver_installed(spec.url.drivername, asynchronous=asynchronous)
    create = getattr(importlib.import_module(module_name), function_name)
    try:
        engine = create(spec.url, **spec.kwargs)
    except sa_exc.NoSuchModuleError:
        raise ConfigurationError(
            f"SQLAlchemy has no driver {spec.url.drivername!r}: see the URL table in "
            "docs/backends/sql.md for the supported ones"
        ) from None
    if spec.sqlite_file:
        configure_sqlite(engine)
    instrument_engine(engine, own_ping=pings_at_checkout(spec, options))
    return engine


def instrument_engine(engine: sa.Engine | AsyncEngine, *, own_ping: bool) -> None:
    """Hook the per-operation deadline into an engine (the store's own or an app's)."""
    sync_engine = sync_engine_of(engine)
    threaded = sync_engine is engine and sync_engine.dialect.name != "sqlite"
    instrument(sync_engine, own_ping=own_ping, threaded_connect=threaded)


def engine_spec(url: str, options: SQLOptions, *, asynchronous: bool) -> EngineSpec:
    """Turn a sessionkit SQL URL into an engine URL and keyword arguments.

    The driver named in the URL is used when it fits the mode; otherwise (or when none is
    named) the mode's default is, so one URL opens both the sync and the async store:
    ``postgresql+asyncpg://`` gives asyncpg to the async store and psycopg to the sync one.
    """
    scheme, separator, rest = url.partition("://")
    url = scheme.lower() + separator + rest  # schemes are case-insensitive (RFC 3986)
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except sa_exc.ArgumentError as error:
        raise ConfigurationError(f"not a SQL store URL: {url!r} ({error})") from None
    backend, _, driver = parsed.drivername.partition("+")
    family = "mysql" if backend == "mariadb" else backend
    if family not in SYNC_DRIVERS:
        raise ConfigurationError(f"no SQL store for {backend!r} URLs")
    driver = choose_driver(backend, driver, asynchronous=asynchronous)
    parsed = parsed.set(drivername=f"{backend}+{driver}")
    kwargs: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    sqlite_file = False
    if family == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(parsed.query):
            raise ConfigurationError(
                "an in-memory SQLite database lives in one connection and vanishes with it: "
                "use a file (sqlite:///sessions.db) or the memory:// store"
            )
        sqlite_file = True
        connect_args["timeout"] = options.bound("lock_timeout")  # the busy timeout
    elif family == "postgresql":
        connect_args.update(_postgres_connect_args(driver, options))
        if options.pgbouncer:
            kwargs["poolclass"] = NullPool
    else:
        connect_args.update(_mysql_connect_args(driver, options))
        kwargs["isolation_level"] = "READ COMMITTED"  # no gap locks: fewer deadlocks
    kwargs["connect_args"] = connect_args
    if "poolclass" not in kwargs:
        # A pool that waits for a free connection, within the operation's deadline; a
        # wait past it is StoreUnavailable (SQLAlchemy's pool TimeoutError).
        kwargs["pool_size"] = options.pool_size
        kwargs["max_overflow"] = options.max_overflow
        kwargs["pool_timeout"] = options.bound("pool_timeout")
    # A pooled server connection may have died since its last use (a restart, a failover):
    # a ping at checkout replaces it quietly. The store pings itself (see deadline.py), so
    # that the ping is within the operation's deadline; SQLAlchemy's pre-ping is not.
    kwargs["pool_pre_ping"] = False
    return EngineSpec(parsed, kwargs, sqlite_file)


def pings_at_checkout(spec: EngineSpec, options: SQLOptions) -> bool:
    """Whether the store pings connections at checkout (servers behind a pool of ours)."""
    return not spec.sqlite_file and not options.pgbouncer


def _postgres_connect_args(driver: str, options: SQLOptions) -> dict[str, Any]:
    lock_timeout = options.bound("lock_timeout")
    statement_timeout = options.bound("statement_timeout")
    settings: dict[str, str] = {
        "lock_timeout": str(math.ceil(lock_timeout * 1000)),
        "statement_timeout": str(math.ceil(statement_timeout * 1000)),
    }
    connect_timeout = options.bound("connect_timeout")
    if driver == "asyncpg":
        # The deadline cuts a hung command anyway; these make asyncpg's own errors early.
        args: dict[str, Any] = {"timeout": connect_timeout, "command_timeout": options.deadline()}
        if options.pgbouncer:
            # PgBouncer in transaction mode hands each transaction any server connection:
            # a named prepared statement made on one is missing (or a duplicate) on the
            # next. No statement caches, and unique names for the ones asyncpg must make.
            args["statement_cache_size"] = 0
            args["prepared_statement_cache_size"] = 0
            args["prepared_statement_name_func"] = _unique_statement_name
        else:
            args["server_settings"] = settings
        return args
    # libpq takes whole seconds, and treats 1 as 2: the deadline bounds the rest.
    args = {"connect_timeout": max(2, math.ceil(connect_timeout))}
    if options.pgbouncer:
        args["prepare_threshold"] = None  # psycopg: never prepare server-side
    else:
        args["options"] = " ".join(f"-c {name}={value}" for name, value in settings.items())
    return args


def _unique_statement_name() -> str:
    return f"__sessionkit_{uuid.uuid4().hex}__"


def _mysql_connect_args(driver: str, options: SQLOptions) -> dict[str, Any]:
    lock_wait = max(1, math.ceil(options.bound("lock_timeout")))  # InnoDB: whole seconds
    statement_timeout = options.bound("statement_timeout")
    # An executable comment: MariaDB runs it, MySQL (which has no such variable) not.
    init = (
        f"SET SESSION innodb_lock_wait_timeout={lock_wait}"
        f" /*M!, max_statement_time={statement_timeout:g} */"
    )
    args: dict[str, Any] = {
        "connect_timeout": options.bound("connect_timeout"),
        "init_command": init,
    }
    if driver in ("pymysql", "asyncmy"):
        # Client-side read bounds, which also cover the handshake; the deadline cuts
        # a slower operation as a whole.
        args["read_timeout"] = options.deadline()
        if driver == "pymysql":
            args["write_timeout"] = options.deadline()
    return args


def sync_engine_of(engine: sa.Engine | AsyncEngine) -> sa.Engine:
    # An AsyncEngine wraps a sync one (tested this way round: no asyncio import here).
    return engine if isinstance(engine, sa.Engine) else engine.sync_engine


def configure_sqlite(engine: sa.Engine | AsyncEngine) -> None:
    """WAL (readers never wait for the writer) on every new connection of our engine."""

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; fsync per checkpoint
        cursor.close()

    sa.event.listen(sync_engine_of(engine), "connect", on_connect)
