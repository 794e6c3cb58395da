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

from ...entry import to_seconds
from ...errors import ConfigurationError
from .drivers import SYNC_DRIVERS, check_driver_installed, choose_driver
from .schema import DEFAULT_TABLE_NAME

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["EngineSpec", "SQLOptions", "configure_sqlite", "engine_spec", "make_engine"]


@attrs.frozen
class SQLOptions:
    """The SQL store's own settings, checked once."""

    table_name: str = DEFAULT_TABLE_NAME
    auto_create_schema: bool = True
    pgbouncer: bool = False
    connect_timeout: float = 10.0
    statement_timeout: float | None = 30.0
    lock_timeout: float = 10.0
    max_attempts: int = 10
    batch_size: int = 1000

    def __attrs_post_init__(self) -> None:
        if not (isinstance(self.table_name, str) and self.table_name.isidentifier()):
            raise ConfigurationError(
                f"table_name must be a plain SQL identifier, not {self.table_name!r}"
            )
        if len(self.table_name) > 40:  # leaves room for index names within 63 characters
            raise ConfigurationError(f"table_name is over 40 characters: {self.table_name!r}")
        for name in ("connect_timeout", "lock_timeout"):
            _positive_seconds(name, getattr(self, name))
        if self.statement_timeout is not None:
            _positive_seconds("statement_timeout", self.statement_timeout)
        if self.max_attempts < 1 or self.batch_size < 1:
            raise ConfigurationError("max_attempts and batch_size must be at least 1")


def _positive_seconds(name: str, value: object) -> None:
    try:
        to_seconds(value)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a positive number of seconds, not {value!r}"
        ) from None


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
    return engine


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
        connect_args["timeout"] = options.lock_timeout  # the busy timeout
    elif family == "postgresql":
        connect_args.update(_postgres_connect_args(driver, options))
        if options.pgbouncer:
            kwargs["poolclass"] = NullPool
    else:
        connect_args.update(_mysql_connect_args(driver, options))
        kwargs["isolation_level"] = "READ COMMITTED"  # no gap locks: fewer deadlocks
    kwargs["connect_args"] = connect_args
    # A pooled server connection may have died since its last use (a restart, a failover):
    # a ping at checkout replaces it quietly. Not for SQLite (no server), nor with NullPool.
    kwargs["pool_pre_ping"] = family != "sqlite" and not options.pgbouncer
    return EngineSpec(parsed, kwargs, sqlite_file)


def _postgres_connect_args(driver: str, options: SQLOptions) -> dict[str, Any]:
    settings: dict[str, str] = {"lock_timeout": str(math.ceil(options.lock_timeout * 1000))}
    if options.statement_timeout is not None:
        settings["statement_timeout"] = str(math.ceil(options.statement_timeout * 1000))
    if driver == "asyncpg":
        args: dict[str, Any] = {"timeout": options.connect_timeout}
        if options.statement_timeout is not None:  # client-side too: a hung server
            args["command_timeout"] = options.statement_timeout + options.connect_timeout
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
    # libpq takes whole seconds, and treats 1 as 2.
    args = {"connect_timeout": max(2, math.ceil(options.connect_timeout))}
    if options.pgbouncer:
        args["prepare_threshold"] = None  # psycopg: never prepare server-side
    else:
        args["options"] = " ".join(f"-c {name}={value}" for name, value in settings.items())
    return args


def _unique_statement_name() -> str:
    return f"__sessionkit_{uuid.uuid4().hex}__"


def _mysql_connect_args(driver: str, options: SQLOptions) -> dict[str, Any]:
    lock_wait = max(1, math.ceil(options.lock_timeout))  # InnoDB takes whole seconds
    init = f"SET SESSION innodb_lock_wait_timeout={lock_wait}"
    if options.statement_timeout is not None:
        # An executable comment: MariaDB runs it, MySQL (which has no such variable) not.
        init += f" /*M!, max_statement_time={options.statement_timeout} */"
    args: dict[str, Any] = {"connect_timeout": options.connect_timeout, "init_command": init}
    if driver in ("pymysql", "asyncmy") and options.statement_timeout is not None:
        # Client-side read bounds (they also cover the handshake, which connect_timeout
        # does not): a server that stops answering still becomes an error.
        bound = options.statement_timeout + options.connect_timeout
        args["read_timeout"] = bound
        if driver == "pymysql":
            args["write_timeout"] = bound
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
