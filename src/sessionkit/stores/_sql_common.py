"""What the sync and async SQL stores share: the table, the statements, the driver choice
and the error mapping. Nothing here does I/O, so it exists once.

Times are stored as integer microseconds since the Unix epoch (``BIGINT``). An integer
has no time zone to lose: SQLite drops offsets, MySQL/MariaDB ``DATETIME`` has none and
``TIMESTAMP`` converts through the session time zone (and ends in 2038), and PostgreSQL
mixes naive and aware values. Every "now" comes from the store's clock, never from the
database's ``NOW()``, so expiry means the same on every database and in every time zone.
"""

from __future__ import annotations

import asyncio
import functools
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as pg_types
from sqlalchemy.dialects import sqlite as sqlite_types
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ..entry import Entry, to_seconds
from ..errors import ConfigurationError, StoreUnavailable
from ..keys import MAX_KEY_LENGTH

__all__ = [
    "DEFAULT_TABLE_NAME",
    "EngineSpec",
    "SQLOptions",
    "Statements",
    "engine_spec",
    "metadata",
    "session_table",
]

#: The table a store uses unless given ``table_name``.
DEFAULT_TABLE_NAME = "sessionkit_sessions"

_MICROS = 1_000_000
_WRITTEN_COLUMNS = ("value", "version", "created_at", "updated_at", "expires_at")

# Exceptions that mean "could not talk to the database" when a driver raises them raw
# (asyncpg's connect raises OSError, an asyncio timeout is not an OSError before 3.11).
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, asyncio.TimeoutError)

_MAPPED_ERRORS: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError, *_CONNECTION_ERRORS)

# SQLSTATE / MySQL error codes that mean "a concurrent transaction got in the way: retry".
_PG_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_MYSQL_RETRYABLE = {1213}  # ER_LOCK_DEADLOCK
# Errors PyMySQL files under OperationalError that mean "the table is not what we expect":
# unknown column, no default for a NOT NULL column, incorrect value, data too long.
_MYSQL_SCHEMA_ERRORS = {1054, 1364, 1366, 1406}
# duplicate_prepared_statement, invalid_sql_statement_name ("... does not exist")
_PG_PREPARED_STATEMENT_CLASH = {"42P05", "26000"}
_MYSQL_DUPLICATE_KEY = 1062
_MYSQL_TABLE_EXISTS = 1050
_MYSQL_DUPLICATE_INDEX = 1061


def to_micros(seconds: float) -> int:
    """Epoch seconds (the clock's unit) to the integer microseconds stored in the table."""
    return round(seconds * _MICROS)


def from_micros(micros: int | None) -> float | None:
    return None if micros is None else micros / _MICROS


# -- the table ----------------------------------------------------------------------------


def _key_type() -> sa.types.TypeEngine[str]:
    # Keys compare byte by byte everywhere: case-sensitive, and ordered so that a prefix
    # scan is a plain range on the primary key. PostgreSQL's default collation is
    # linguistic, so the column says "C"; on MySQL/MariaDB an ASCII binary collation.
    return (
        sa.String(MAX_KEY_LENGTH)
        .with_variant(pg_types.VARCHAR(MAX_KEY_LENGTH, collation="C"), "postgresql")
        .with_variant(
            mysql_types.VARCHAR(MAX_KEY_LENGTH, charset="ascii", collation="ascii_bin"),
            "mysql",
            "mariadb",
        )
    )


def _value_type() -> sa.types.TypeEngine[bytes]:
    # The codec's UTF-8 JSON bytes. MySQL's BLOB stops at 64 KiB, under the 1 MiB default.
    return sa.LargeBinary().with_variant(mysql_types.LONGBLOB(), "mysql", "mariadb")


def session_table(name: str = DEFAULT_TABLE_NAME, meta: sa.MetaData | None = None) -> sa.Table:
    """The sessions table definition, named ``name``, in ``meta`` (a new MetaData if None).

    ``tenant`` and ``namespace`` are reserved for the layers above the store (which may
    fill them to list or purge one tenant's sessions); the store leaves them NULL.
    ``created_at``, ``updated_at`` and ``expires_at`` are microseconds since the Unix epoch.
    """
    table = sa.Table(
        name,
        meta if meta is not None else sa.MetaData(),
        sa.Column("key", _key_type(), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("namespace", sa.String(128), nullable=True),
        sa.Column("value", _value_type(), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
    )
    sa.Index(f"ix_{name}_expires_at", table.c.expires_at)
    sa.Index(f"ix_{name}_tenant_namespace", table.c.tenant, table.c.namespace)
    return table


#: Holds the default ``sessionkit_sessions`` table: give it to Alembic's ``target_metadata``.
metadata = sa.MetaData()
session_table(DEFAULT_TABLE_NAME, metadata)


# -- options and engines ------------------------------------------------------------------


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


_Engine = TypeVar("_Engine", sa.Engine, AsyncEngine)


def make_engine(url: str, options: SQLOptions, factory: Callable[..., _Engine]) -> _Engine:
    """Create the engine for a store URL with ``create_engine`` or ``create_async_engine``
    (the factory also says which mode: one call site serves the sync and async stores)."""
    spec = engine_spec(url, options, asynchronous=factory is create_async_engine)
    engine = factory(spec.url, **spec.kwargs)
    if spec.sqlite_file:
        configure_sqlite(engine)
    return engine


# The driver each mode uses when the URL names none, or names one of the other mode.
_SYNC_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg", "mysql": "pymysql"}
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "psycopg", "mysql": "asyncmy"}
_ASYNC_ONLY = {"aiosqlite", "asyncpg", "psycopg_async", "aiomysql", "asyncmy"}
_SYNC_ONLY = {"pysqlite", "psycopg2", "pg8000", "pymysql", "mysqldb", "mysqlconnector"}


def engine_spec(url: str, options: SQLOptions, *, asynchronous: bool) -> EngineSpec:
    """Turn a sessionkit SQL URL into an engine URL and keyword arguments.

    The driver named in the URL is used when it fits the mode; otherwise (or when none is
    named) the mode's default is, so one URL opens both the sync and the async store:
    ``postgresql+asyncpg://`` gives asyncpg to the async store and psycopg to the sync one.
    """
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except sa_exc.ArgumentError as error:
        raise ConfigurationError(f"not a SQL store URL: {url!r} ({error})") from None
    backend, _, driver = parsed.drivername.partition("+")
    family = "mysql" if backend == "mariadb" else backend
    if family not in _SYNC_DRIVERS:
        raise ConfigurationError(f"no SQL store for {backend!r} URLs")
    wrong_mode = _SYNC_ONLY if asynchronous else _ASYNC_ONLY
    if not driver or driver in wrong_mode:
        driver = (_ASYNC_DRIVERS if asynchronous else _SYNC_DRIVERS)[family]
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
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


def configure_sqlite(engine: sa.Engine | AsyncEngine) -> None:
    """WAL (readers never wait for the writer) on every new connection of our engine."""

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; fsync per checkpoint
        cursor.close()

    sa.event.listen(sync_engine_of(engine), "connect", on_connect)


# -- statements -----------------------------------------------------------------------------


def _live(table: sa.Table, now: int | sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """Rows that never expire or expire after ``now`` (a value, a parameter or a column)."""
    return sa.or_(table.c.expires_at.is_(None), table.c.expires_at > now)


def _expired(table: sa.Table, now: int) -> sa.ColumnElement[bool]:
    return table.c.expires_at <= now  # NULL (never) is not <= anything


def _prefix_range(table: sa.Table, prefix: str) -> sa.ColumnElement[bool]:
    # Keys are visible ASCII ('!'..'~') compared bytewise, so "starts with prefix" is
    # exactly prefix <= key < prefix + DEL: no LIKE, no wildcards to escape, and the
    # primary key index does the work.
    if not prefix:
        return sa.true()
    return sa.and_(table.c.key >= prefix, table.c.key < prefix + "\x7f")


@attrs.frozen
class Row:
    """One row as read for a read-modify-write."""

    data: bytes
    version: int
    expires_at: int | None

    def is_live(self, now: int) -> bool:
        return self.expires_at is None or self.expires_at > now


# A constant written into the SQL text, not bound: see Statements.upsert.
_ONE = sa.literal_column("1", sa.BigInteger)


class Statements:
    """Every statement the stores run, built for one table on one dialect."""

    def __init__(self, table: sa.Table, dialect_name: str) -> None:
        self.table = table
        self.dialect = "mysql" if dialect_name == "mariadb" else dialect_name
        # SQLite has no row locks and silently drops FOR UPDATE: its write transactions
        # start with BEGIN IMMEDIATE instead, which takes the database's write lock.
        self.begin_immediate = self.dialect == "sqlite"
        self.insert_if_absent_in_one_statement = self.dialect in ("sqlite", "postgresql")

    # reads

    @functools.cached_property
    def get(self) -> sa.Select[Any]:
        """The live row of ``:key`` at ``:now``; built once (the hot read path)."""
        t = self.table
        return sa.select(t.c.value, t.c.version, t.c.expires_at).where(*self._live_key())

    def _live_key(self) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
        t = self.table
        now = sa.bindparam("now", type_=t.c.expires_at.type)
        return t.c.key == sa.bindparam("key", type_=t.c.key.type), _live(t, now)

    def lock_row(self, key: str) -> sa.Select[Any]:
        """The row, live or not, locked for the rest of the transaction (where possible)."""
        t = self.table
        query = sa.select(t.c.value, t.c.version, t.c.expires_at).where(t.c.key == key)
        return query if self.begin_immediate else query.with_for_update()

    def get_many(self, keys: Sequence[str], now: int) -> sa.Select[Any]:
        t = self.table
        return sa.select(t.c.key, t.c.value).where(t.c.key.in_(keys), _live(t, now))

    @functools.cached_property
    def exists(self) -> sa.Select[Any]:
        """Whether ``:key`` is live at ``:now``; built once."""
        return sa.select(self.table.c.expires_at).where(*self._live_key())

    def keys_page(self, prefix: str, after: str | None, now: int, limit: int) -> sa.Select[Any]:
        t = self.table
        query = sa.select(t.c.key).where(_prefix_range(t, prefix), _live(t, now))
        if after is not None:
            query = query.where(t.c.key > after)
        return query.order_by(t.c.key).limit(limit)

    def all_keys_page(self, prefix: str, after: str | None, limit: int) -> sa.Select[Any]:
        t = self.table
        query = sa.select(t.c.key).where(_prefix_range(t, prefix))
        if after is not None:
            query = query.where(t.c.key > after)
        return query.order_by(t.c.key).limit(limit)

    def count(self, prefix: str, now: int) -> sa.Select[Any]:
        t = self.table
        query = sa.select(sa.func.count()).select_from(t)
        return query.where(_prefix_range(t, prefix), _live(t, now))

    def expired_keys(self, now: int, limit: int) -> sa.Select[Any]:
        """A batch of expired keys, found through the expires_at index."""
        t = self.table
        return sa.select(t.c.key).where(_expired(t, now)).limit(limit)

    # writes

    def _row(self, key: str, data: bytes, now: int, expires_at: int | None) -> dict[str, Any]:
        return {
            "key": key,
            "value": data,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "expires_at": expires_at,
        }

    def upsert_parameters(
        self, rows: Iterable[tuple[str, bytes]], now: int, expires_at: int | None
    ) -> list[dict[str, Any]]:
        """The parameters of :attr:`upsert`, one dict per row."""
        return [
            {"key": key, "value": data, "now": now, "expires_at": expires_at}
            for key, data in rows
        ]

    @functools.cached_property
    def upsert(self) -> sa.Insert:
        """Write a whole value: version + 1 over a live row, else 1.

        Built once, with bound parameters (``upsert_parameters``): SQLAlchemy caches its
        compiled form, where a multi-row ``VALUES`` list would be compiled on every call.
        Several rows run as one executemany of this statement.
        """
        t = self.table
        now = sa.bindparam("now", type_=t.c.updated_at.type)
        values = {
            "key": sa.bindparam("key", type_=t.c.key.type),
            "value": sa.bindparam("value", type_=t.c.value.type),
            "version": _ONE,
            "created_at": now,
            "updated_at": now,
            "expires_at": sa.bindparam("expires_at", type_=t.c.expires_at.type),
        }
        if self.dialect == "mysql":
            mysql_statement = mysql_insert(t).values(values)
            incoming = mysql_statement.inserted
            version, created = self._kept_if_live(incoming)
            # MySQL applies the assignments left to right, each seeing the ones before:
            # version and created_at read the old expires_at, so they come first.
            return mysql_statement.on_duplicate_key_update(
                [
                    ("version", version),
                    ("created_at", created),
                    ("value", incoming.value),
                    ("updated_at", incoming.updated_at),
                    ("expires_at", incoming.expires_at),
                ]
            )
        statement = self._insert(values)
        incoming = statement.excluded
        version, created = self._kept_if_live(incoming)
        return statement.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "value": incoming.value,
                "version": version,
                "created_at": created,
                "updated_at": incoming.updated_at,
                "expires_at": incoming.expires_at,
            },
        )

    def _kept_if_live(self, incoming: Any) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
        """The upsert's version and created_at: continued over a live row, else fresh.

        "Live" is judged against the incoming row's own updated_at (it is now), so every
        parameter sits in VALUES: drivers that batch an executemany by rewriting VALUES
        (PyMySQL, asyncmy) then work unchanged.
        """
        t = self.table
        live = _live(t, incoming.updated_at)
        version = sa.case((live, t.c.version + _ONE), else_=_ONE)
        return version, sa.case((live, t.c.created_at), else_=incoming.created_at)

    def _insert(self, values: Any) -> pg_types.Insert | sqlite_types.Insert:
        # The two dialects spell ON CONFLICT the same way.
        if self.dialect == "postgresql":
            return pg_insert(self.table).values(values)
        return sqlite_insert(self.table).values(values)

    def create(self, key: str, data: bytes, now: int, expires_at: int | None) -> sa.Insert:
        """PostgreSQL/SQLite: insert, or replace an expired row; returns a row if written."""
        assert self.insert_if_absent_in_one_statement
        statement = self._insert(self._row(key, data, now, expires_at))
        new = statement.excluded
        # RETURNING, not rowcount: drivers disagree on the rowcount of an upsert.
        return statement.on_conflict_do_update(
            index_elements=[self.table.c.key],
            set_={name: new[name] for name in _WRITTEN_COLUMNS},
            where=_expired(self.table, now),
        ).returning(self.table.c.version)

    def insert(self, key: str, data: bytes, now: int, expires_at: int | None) -> sa.Insert:
        return sa.insert(self.table).values(self._row(key, data, now, expires_at))

    def delete_expired_row(self, key: str, now: int) -> sa.Delete:
        t = self.table
        return sa.delete(t).where(t.c.key == key, _expired(t, now))

    def replace_version(
        self,
        key: str,
        data: bytes,
        version: int,
        now: int,
        expires_at: int | None,
        *,
        restart: bool,
    ) -> sa.Update:
        """Compare-and-set on ``version``: rowcount 0 means someone else wrote first.

        ``restart`` replaces an expired row as a new entry (version 1, new created_at).
        """
        t = self.table
        values: dict[str, Any] = {
            "value": data,
            "updated_at": now,
            "expires_at": expires_at,
            "version": 1 if restart else t.c.version + 1,
        }
        if restart:
            values["created_at"] = now
        return sa.update(t).where(t.c.key == key, t.c.version == version).values(values)

    def touch(self, key: str, now: int, expires_at: int | None) -> sa.Update:
        t = self.table
        return (
            sa.update(t).where(t.c.key == key, _live(t, now)).values(expires_at=expires_at)
        )

    def delete_live(self, key: str, now: int) -> sa.Delete:
        t = self.table
        return sa.delete(t).where(t.c.key == key, _live(t, now))

    def delete_keys(self, keys: Sequence[str], now: int | None = None) -> sa.Delete:
        """Delete ``keys``; with ``now``, only the live ones among them."""
        t = self.table
        statement = sa.delete(t).where(t.c.key.in_(keys))
        return statement if now is None else statement.where(_live(t, now))

    def delete_expired_keys(self, keys: Sequence[str], now: int) -> sa.Delete:
        t = self.table
        return sa.delete(t).where(t.c.key.in_(keys), _expired(t, now))

    # schema

    def schema_statements(self, dialect: sa.Dialect) -> list[sa.schema.ExecutableDDLElement]:
        """CREATE TABLE and CREATE INDEX, each skipped when it already exists.

        MySQL (not MariaDB) has no CREATE INDEX IF NOT EXISTS: its "duplicate index" error
        is recognised by :func:`is_already_exists` instead.
        """
        is_mariadb = bool(getattr(dialect, "is_mariadb", False))
        index_if_not_exists = self.dialect != "mysql" or is_mariadb
        return [
            sa.schema.CreateTable(self.table, if_not_exists=True),
            *(
                sa.schema.CreateIndex(index, if_not_exists=index_if_not_exists)
                for index in sorted(self.table.indexes, key=lambda index: str(index.name))
            ),
        ]


def entry_from(value: dict[str, Any], version: int, expires_at: int | None) -> Entry:
    return Entry(value, int(version), from_micros(expires_at))


def new_expiry(
    current: Row | None, now: int, ttl_seconds: float | None, default: float | None
) -> int | None:
    """Expiry after update/merge: a given TTL restarts it; else an existing entry keeps its
    own and a new one gets the default."""
    if ttl_seconds is not None:
        return now + to_micros(ttl_seconds)
    if current is not None:
        return current.expires_at
    return None if default is None else now + to_micros(default)


def expiry_from_now(now: int, seconds: float | None) -> int | None:
    return None if seconds is None else now + to_micros(seconds)


# -- errors ---------------------------------------------------------------------------------


def _driver_codes(error: BaseException) -> set[Any]:
    """The SQLSTATE and, on MySQL, the error number of a driver error (PyMySQL has both)."""
    original = getattr(error, "orig", error)
    codes = {getattr(original, name, None) for name in ("sqlstate", "pgcode")}
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        codes.add(args[0])
    codes.discard(None)
    return codes


def _message(error: BaseException) -> str:
    return str(getattr(error, "orig", error)).lower()


def is_retryable(error: BaseException) -> bool:
    """A deadlock or serialization failure: the transaction may simply be run again."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if _driver_codes(error) & (_PG_RETRYABLE | _MYSQL_RETRYABLE):
        return True
    # asyncpg names its exception classes, not always a sqlstate attribute.
    name = type(getattr(error, "orig", error)).__name__
    return name in ("DeadlockDetectedError", "SerializationError")


def is_duplicate_key(error: BaseException) -> bool:
    return isinstance(error, sa_exc.IntegrityError) and (
        bool(_driver_codes(error) & {"23505", _MYSQL_DUPLICATE_KEY})
        or "unique" in _message(error)
        or "duplicate" in _message(error)
    )


def is_already_exists(error: BaseException) -> bool:
    """A concurrent or earlier CREATE of the same table or index."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    codes = _driver_codes(error)
    if codes & {_MYSQL_TABLE_EXISTS, _MYSQL_DUPLICATE_INDEX, "42P07", "42710"}:
        return True
    # Two PostgreSQL sessions creating one table race on a catalog's unique index
    # (pg_type, pg_class): the other one made it.
    message = _message(error)
    return ("23505" in codes and '"pg_' in message) or "already exists" in message


def _is_missing_table(error: BaseException) -> bool:
    message = _message(error)
    return bool(_driver_codes(error) & {"42P01", 1146}) or "no such table" in message or (
        "relation" in message and "does not exist" in message
    )


def translate(error: BaseException, table_name: str) -> Exception | None:
    """The sessionkit error for a database or connection error, or None to re-raise it."""
    if isinstance(error, sa_exc.DBAPIError):
        if _driver_codes(error) & _PG_PREPARED_STATEMENT_CLASH:
            return ConfigurationError(
                "the server lost or mixed up prepared statements: a pooler in transaction "
                "mode (PgBouncer, Supavisor) sits in front of PostgreSQL; open the store "
                f"with pgbouncer=True ({_first_line(error.orig or error)})"
            )
        if _is_missing_table(error):
            return ConfigurationError(
                f"table {table_name!r} does not exist: call create_schema(), run "
                f"'sessionkit migrate URL', or apply your Alembic migration ({error.orig})"
            )
        schema_error_types = (
            sa_exc.IntegrityError,
            sa_exc.DataError,
            sa_exc.ProgrammingError,
            sa_exc.NotSupportedError,
        )
        if isinstance(error, schema_error_types) or _driver_codes(error) & _MYSQL_SCHEMA_ERRORS:
            return ConfigurationError(
                f"table {table_name!r} does not have the schema sessionkit expects "
                f"(compare it with sessionkit.stores.sql.metadata): {error.orig}"
            )
        # OperationalError, InterfaceError, InternalError, DatabaseError: the connection
        # or the server failed (refused, dropped, timed out, locked past the bound).
        return StoreUnavailable(f"the database failed: {_first_line(error.orig or error)}")
    if isinstance(error, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return StoreUnavailable(f"the database is unreachable: {error}")
    if isinstance(error, _CONNECTION_ERRORS):
        return StoreUnavailable(f"the database is unreachable: {error!r}")
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class AppFunctionError(Exception):
    """Carries an exception raised by the caller's update function past the error mapping,
    so that it reaches the caller unchanged even if it looks like a database error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


@contextmanager
def mapped_errors(table_name: str) -> Iterator[None]:
    """Raise sessionkit's typed errors for database and connection failures."""
    try:
        yield
    except AppFunctionError as carrier:
        raise carrier.error from None
    except _MAPPED_ERRORS as error:
        mapped = translate(error, table_name)
        if mapped is None:
            raise
        raise mapped from error


def run_app_function(compute: Any, *args: Any) -> Any:
    try:
        return compute(*args)
    except Exception as error:
        raise AppFunctionError(error) from error


def chunk_rows(rows: Mapping[str, bytes], size: int) -> list[list[tuple[str, bytes]]]:
    items = list(rows.items())
    return [items[start : start + size] for start in range(0, len(items), size)]
