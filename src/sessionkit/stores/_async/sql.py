"""The SQL store on SQLAlchemy Core: SQLite, PostgreSQL, MariaDB/MySQL.

The table, statements, driver choice and error mapping live in the ``_sql`` package,
once; this module is only the I/O around them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import exc as sa_exc

from ..._async.base import AsyncStoreBase
from ..._types import AsyncAttempt
from ..._update import apply_update, merge_values, starting_value
from ...clock import Clock, system_clock
from ...codec import JSONCodec, check_items, check_value, default_codec
from ...entry import TTL, Entry, UpdateFunction, remaining_ttl, to_seconds
from ...errors import ConfigurationError, ConflictError
from ...keys import validate_key, validate_keys, validate_prefix
from ...stamped import DEFAULT_TOMBSTONE_TTL, CheckedWrite, ReplayOutcome, StampedWrite
from .._sql.deadline import AsyncDeadlineScope, current_deadline
from .._sql.engine import (
    DEFAULT_MAX_OVERFLOW,
    DEFAULT_POOL_SIZE,
    DEFAULT_TIMEOUT,
    SQLOptions,
    instrument_engine,
    make_engine,
    split_url_options,
)
from .._sql.errors import (
    is_already_exists,
    is_duplicate_key,
    is_retryable,
    run_app_function,
)
from .._sql.schema import DEFAULT_TABLE_NAME, session_table, tombstone_table
from .._sql.statements import Row, Statements, chunk_rows, is_live_at
from .._sql.timestamps import entry_from, expiry_from_now, from_micros, new_expiry, to_micros

if TYPE_CHECKING:  # at run time imported on first use: the asyncio layer needs greenlet
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["AsyncSQLStore"]

# compute(current value or None) -> (value to return, bytes to store)
_R = TypeVar("_R")
_Compute = Callable[[dict[str, Any] | None], tuple[dict[str, Any], bytes]]


def _is_engine(engine: object) -> bool:
    from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: PLC0415 (see TYPE_CHECKING)

    return isinstance(engine, AsyncEngine)


class AsyncSQLStore(AsyncStoreBase):
    """Sessions in one SQL table, shared by every process that opens the same database.

    ``engine`` is a URL (``sqlite:///sessions.db``, ``postgresql://``,
    ``postgresql+asyncpg://``, ``mysql://``, ``mariadb://``) or an existing
    `AsyncEngine` to share an app's pool (the store then
    leaves it open on `close`, and its connect arguments are the app's). The table
    is created on first use unless ``auto_create_schema=False`` (see `create_schema`).

    ``update`` and ``merge`` lock the row (``SELECT ... FOR UPDATE``; on SQLite the write
    lock, ``BEGIN IMMEDIATE``), write with a version compare-and-set, and run again after
    a deadlock or a lost race to create the key, at most ``max_attempts`` times before
    `ConflictError`.

    ``timeout`` (seconds, default 5; also ``?timeout=`` in the URL) is the one deadline of
    every operation: the wait for a pooled connection, opening one, the statements and the
    reading of their replies. Past it the connection is cut and discarded and the operation
    raises `StoreUnavailable`. ``connect_timeout``, ``statement_timeout`` (server-side),
    ``lock_timeout`` (a row lock wait, or SQLite's busy timeout) and ``pool_timeout`` are
    finer bounds within it (default: the deadline). ``pool_size`` (10) and
    ``max_overflow`` (20) size the connection pool (URL options too). ``pgbouncer=True``
    makes the engine safe behind PgBouncer in transaction mode (no prepared statements, no
    pool of our own).

    Every write stamps its row (``updated_at``, from the store's clock; ``touch`` is not a
    write), and ``delete`` leaves a tombstone in ``<table_name>_tombstones`` for
    ``tombstone_ttl`` seconds (default one day; also ``?tombstone_ttl=`` in the URL; 0: no
    tombstones), so that `apply_if_newer` never lets a journal replay undo a newer write.
    """

    def __init__(
        self,
        engine: str | AsyncEngine,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        clock: Clock = system_clock,
        codec: JSONCodec = default_codec,
        default_ttl: TTL | None = None,
        auto_create_schema: bool = True,
        pgbouncer: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        statement_timeout: float | None = None,
        lock_timeout: float | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
        pool_timeout: float | None = None,
        max_attempts: int = 10,
        batch_size: int = 1000,
        tombstone_ttl: TTL = DEFAULT_TOMBSTONE_TTL,
        _lock_rows: bool = True,
    ) -> None:
        settings: dict[str, Any] = {
            "timeout": timeout,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
            "tombstone_ttl": tombstone_ttl,
        }
        # Options left at their defaults give way to the URL's (?timeout=2).
        defaults: dict[str, Any] = {"timeout": DEFAULT_TIMEOUT, "pool_size": DEFAULT_POOL_SIZE}
        defaults["max_overflow"] = DEFAULT_MAX_OVERFLOW
        defaults["tombstone_ttl"] = DEFAULT_TOMBSTONE_TTL
        given = {name: value for name, value in settings.items() if value != defaults.get(name)}
        if isinstance(engine, str):
            engine, given = split_url_options(engine, given)
        settings.update(given)
        self._options = SQLOptions(
            table_name=table_name,
            auto_create_schema=auto_create_schema,
            pgbouncer=pgbouncer,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            lock_timeout=lock_timeout,
            max_attempts=max_attempts,
            batch_size=batch_size,
            **settings,
        )
        self._timeout = self._options.deadline()
        self._clock = clock
        self._codec = codec
        self._default_ttl = None if default_ttl is None else to_seconds(default_ttl)
        buried = self._options.tombstone_ttl
        self._tombstone_ttl = 0.0 if buried == 0 else to_seconds(buried)
        if isinstance(engine, str):
            factory = "sqlalchemy.ext.asyncio:create_async_engine"
            self._engine: AsyncEngine = make_engine(engine, self._options, factory)
            self._owns_engine = True
        elif _is_engine(engine):
            self._engine = engine
            self._owns_engine = False
            instrument_engine(engine, own_ping=False)
        else:
            raise ConfigurationError(
                f"{type(self).__name__} takes a URL or an AsyncEngine, not {type(engine).__name__}"
            )
        self.table = session_table(table_name)
        #: Where deletes are remembered (`tombstone_table`), in the same MetaData.
        self.tombstones = tombstone_table(table_name, self.table.metadata)
        # _lock_rows=False is for tests: update/merge then rely on the version check alone.
        self._sql = Statements(
            self.table, self._engine.dialect.name, lock_rows=_lock_rows, tombstones=self.tombstones
        )
        self._schema_ready = not auto_create_schema

    @classmethod
    def from_url(cls, url: str, **options: Any) -> AsyncSQLStore:
        """Open ``url``; ``options`` are the constructor's keyword arguments."""
        return cls(url, **options)

    @property
    def default_ttl(self) -> float | None:
        """Seconds a write with ``ttl=None`` lives (None: never expires)."""
        return self._default_ttl

    @property
    def tombstone_ttl(self) -> float:
        """Seconds a delete is remembered for a journal replay (0: not at all)."""
        return self._tombstone_ttl

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine the store runs on."""
        return self._engine

    @property
    def timeout(self) -> float:
        """The per-operation deadline, in seconds."""
        return self._timeout

    # -- connections ---------------------------------------------------------------------

    def _now(self) -> int:
        return to_micros(self._clock.now())

    def _operation(self) -> AsyncDeadlineScope:
        """The operation's deadline (an operation already in one keeps it), and database
        errors mapped to sessionkit's."""
        return AsyncDeadlineScope(self._timeout, self._options.table_name)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection, discarded rather than returned if the deadline cut it."""
        async with self._engine.connect() as conn:
            try:
                yield conn
            finally:
                deadline = current_deadline()
                if deadline is not None and deadline.expired and not conn.invalidated:
                    await conn.invalidate()

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, database errors mapped to sessionkit's."""
        self._check_open()
        async with self._operation():
            await self._ensure_schema()
            async with self._connect() as conn:
                yield conn

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A transaction, committed if the block ends without an exception; errors mapped."""
        self._check_open()
        async with self._operation():
            await self._ensure_schema()
            async with self._transaction() as conn:
                yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction whose database errors are raised as they are (to retry some)."""
        async with self._connect() as conn, conn.begin():
            if self._sql.begin_immediate:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    async def _ensure_schema(self) -> None:
        if not self._schema_ready:
            await self.create_schema()

    async def create_schema(self) -> None:
        """Create the tables (sessions, tombstones) and their indexes if they do not exist.
        Safe to call any time."""
        self._check_open()
        async with self._operation(), self._connect() as conn:
            for table in self._sql.tables():
                statements = self._sql.schema_statements(table)
                # MySQL answers CREATE TABLE IF NOT EXISTS on an existing table with a warning,
                # which asyncmy logs at WARNING (stderr in an app with no logging set up):
                # look first, so opening an existing table says nothing.
                exists = self._sql.table_exists(table)
                if exists is not None and (await conn.execute(exists)).first() is not None:
                    statements = statements[1:]  # the CREATE TABLE; the indexes stay
                for statement in statements:
                    try:
                        await conn.execute(statement)
                        await conn.commit()
                    except sa_exc.DBAPIError as error:
                        await conn.rollback()
                        if not is_already_exists(error):
                            raise
        self._schema_ready = True

    async def drop_schema(self) -> None:
        """Drop the tables and everything in them (for tests and teardown scripts)."""
        self._check_open()
        async with self._operation(), self._connect() as conn:
            for table in self._sql.tables():
                quoted = self._engine.dialect.identifier_preparer.quote(table.name)
                await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted}")
                await conn.commit()
        self._schema_ready = not self._options.auto_create_schema

    # -- reads -----------------------------------------------------------------------------

    async def get(self, key: str) -> dict[str, Any] | None:
        entry = await self.get_entry(key)
        return None if entry is None else entry.value

    async def get_entry(self, key: str) -> Entry | None:
        validate_key(key)
        async with self._reading() as conn:
            row = (await conn.execute(self._sql.get, {"key": key, "now": self._now()})).first()
        if row is None:
            return None
        return entry_from(self._codec.decode(row.value, key=key), row.version, row.expires_at)

    async def exists(self, key: str) -> bool:
        validate_key(key)
        async with self._reading() as conn:
            row = (await conn.execute(self._sql.exists, {"key": key, "now": self._now()})).first()
        return row is not None

    async def ttl(self, key: str) -> float | None:
        validate_key(key)
        async with self._reading() as conn:
            now = self._clock.now()
            parameters = {"key": key, "now": to_micros(now)}
            row = (await conn.execute(self._sql.exists, parameters)).first()
        if row is None:
            return None
        return remaining_ttl(from_micros(row.expires_at), now)

    async def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        self._check_open()
        wanted = list(dict.fromkeys(validate_keys(keys)))
        if not wanted:
            return {}
        async with self._reading() as conn:
            rows = (await conn.execute(self._sql.get_many(wanted, self._now()))).all()
        found = {row.key: self._codec.decode(row.value, key=row.key) for row in rows}
        return {key: found[key] for key in wanted if key in found}

    async def scan(self, prefix: str = "", *, batch_size: int = 500) -> AsyncIterator[str]:
        validate_prefix(prefix)
        self._check_open()
        after: str | None = None
        while True:
            # One short read per batch: no connection is held while the caller works.
            async with self._reading() as conn:
                page = self._sql.keys_page(prefix, after, self._now(), batch_size)
                keys = list((await conn.execute(page)).scalars())
            for key in keys:
                yield key
            if len(keys) < batch_size:
                return
            after = keys[-1]

    async def count(self, prefix: str = "") -> int:
        validate_prefix(prefix)
        async with self._reading() as conn:
            total = (await conn.execute(self._sql.count(prefix, self._now()))).scalar_one()
        return int(total)

    # -- writes ----------------------------------------------------------------------------

    async def set(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> None:
        await self.set_many({validate_key(key): value}, ttl)

    async def set_many(
        self, items: Mapping[str, Mapping[str, Any]], ttl: TTL | None = None
    ) -> None:
        self._check_open()
        seconds = to_seconds(ttl) if ttl is not None else self._default_ttl
        items = check_items(items)
        encoded = {validate_key(key): self._codec.encode(value) for key, value in items.items()}
        if not encoded:
            return
        async with self._writing() as conn:
            now = self._now()
            expires_at = expiry_from_now(now, seconds)
            # One cached statement, executed for batch_size rows at a time (executemany),
            # all in one transaction: every value is written or none is.
            for rows in chunk_rows(encoded, self._options.batch_size):
                parameters = self._sql.upsert_parameters(rows, now, expires_at)
                await conn.execute(self._sql.upsert, parameters)

    async def create(self, key: str, value: Mapping[str, Any], ttl: TTL | None = None) -> bool:
        validate_key(key)
        seconds = to_seconds(ttl) if ttl is not None else self._default_ttl
        data = self._codec.encode(value)
        if self._sql.insert_if_absent_in_one_statement:
            async with self._writing() as conn:
                now = self._now()
                statement = self._sql.create(key, data, now, expiry_from_now(now, seconds))
                return (await conn.execute(statement)).first() is not None
        # MySQL reports no difference between "inserted" and "left alone" for an upsert:
        # clear an expired row, then insert; a live row makes the insert a duplicate.
        self._check_open()
        async with self._operation():
            await self._ensure_schema()
            try:
                async with self._transaction() as conn:
                    now = self._now()
                    await conn.execute(self._sql.delete_expired_row(key, now))
                    await conn.execute(
                        self._sql.insert(key, data, now, expiry_from_now(now, seconds))
                    )
            except sa_exc.IntegrityError as error:
                if is_duplicate_key(error):
                    return False
                raise
        return True

    async def update(
        self,
        key: str,
        fn: UpdateFunction,
        ttl: TTL | None = None,
        *,
        default: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        validate_key(key)
        seconds = None if ttl is None else to_seconds(ttl)  # a bad TTL fails before fn runs

        def compute(current: dict[str, Any] | None) -> tuple[dict[str, Any], bytes]:
            return apply_update(self._codec, key, fn, starting_value(key, current, default))

        return await self._read_modify_write(key, compute, seconds)

    async def merge(
        self, key: str, patch: Mapping[str, Any], ttl: TTL | None = None
    ) -> dict[str, Any]:
        validate_key(key)
        checked = check_value(patch)
        seconds = None if ttl is None else to_seconds(ttl)

        def compute(current: dict[str, Any] | None) -> tuple[dict[str, Any], bytes]:
            data = self._codec.encode(merge_values(current, checked))
            return self._codec.decode(data, key=key), data

        return await self._read_modify_write(key, compute, seconds)

    async def _read_modify_write(
        self, key: str, compute: _Compute, ttl_seconds: float | None
    ) -> dict[str, Any]:
        # None from an attempt: the row changed under us (nothing written); try again.
        return await self._in_retried_transaction(
            key, lambda conn: self._try_read_modify_write(conn, key, compute, ttl_seconds)
        )

    async def _in_retried_transaction(
        self, key: str, attempt: AsyncAttempt[AsyncConnection, _R | None]
    ) -> _R:
        """``attempt`` in a transaction, again after a deadlock, a lost race to create
        the row or a ``None`` (it wrote nothing), at most ``max_attempts`` times."""
        attempts = self._options.max_attempts
        self._check_open()
        async with self._operation():
            await self._ensure_schema()
            for _ in range(attempts):
                try:
                    async with self._transaction() as conn:
                        result = await attempt(conn)
                except sa_exc.DBAPIError as error:
                    if not (is_retryable(error) or is_duplicate_key(error)):
                        raise
                    continue  # a deadlock, or another writer created the key first
                if result is not None:
                    return result
        raise ConflictError(key, attempts)

    async def _try_read_modify_write(
        self,
        conn: AsyncConnection,
        key: str,
        compute: _Compute,
        ttl_seconds: float | None,
    ) -> dict[str, Any] | None:
        """One attempt in an open transaction; None if a concurrent write got in first."""
        found = (await conn.execute(self._sql.lock_row(key))).first()
        now = self._now()
        row = None if found is None else Row(found.value, found.version, found.expires_at)
        live = row if row is not None and row.is_live(now) else None
        current = None if live is None else self._codec.decode(live.data, key=key)
        value, data = run_app_function(compute, current)
        expires_at = new_expiry(live, now, ttl_seconds, self._default_ttl)
        if row is None:
            await conn.execute(self._sql.insert(key, data, now, expires_at))
            return dict(value)
        statement = self._sql.replace_version(
            key, data, row.version, now, expires_at, restart=live is None
        )
        if (await conn.execute(statement)).rowcount != 1:
            return None
        return dict(value)

    async def delete(self, key: str) -> bool:
        validate_key(key)
        async with self._writing() as conn:
            now = self._now()
            if self._tombstone_ttl:
                # Also for an absent key: another instance's journal may still hold a write
                # of it. Tombstone first, then the row: the lock order of apply_if_newer.
                await conn.execute(self._sql.bury, self._tombstone(key, now, now))
            return (await conn.execute(self._sql.delete_live(key, now))).rowcount == 1

    def _tombstone(self, key: str, stamp: int, now: int) -> dict[str, Any]:
        """The parameters of `Statements.bury`."""
        expires_at = now + to_micros(self._tombstone_ttl)
        return {"key": key, "stamp": stamp, "expires_at": expires_at}

    async def touch(self, key: str, ttl: TTL | None = None) -> bool:
        validate_key(key)
        seconds = to_seconds(ttl) if ttl is not None else self._default_ttl
        async with self._writing() as conn:
            now = self._now()
            statement = self._sql.touch(key, now, expiry_from_now(now, seconds))
            return (await conn.execute(statement)).rowcount == 1

    async def purge(self, prefix: str = "") -> int:
        validate_prefix(prefix)
        purged = 0
        after: str | None = None
        while True:
            async with self._writing() as conn:
                page = self._sql.all_keys_page(prefix, after, self._options.batch_size)
                keys = list((await conn.execute(page)).scalars())
                if keys:
                    now = self._now()
                    purged += (await conn.execute(self._sql.delete_keys(keys, now))).rowcount
                    await conn.execute(self._sql.delete_keys(keys))  # the expired rest
            if len(keys) < self._options.batch_size:
                return purged
            after = keys[-1]

    async def sweep(self) -> int:
        """Delete expired sessions, and tombstones past their ``tombstone_ttl``; returns the
        number of sessions."""
        swept = 0
        while True:
            # One short transaction per batch, so sweeping never holds locks for long.
            async with self._writing() as conn:
                now = self._now()
                batch = self._sql.expired_keys(now, self._options.batch_size)
                keys = list((await conn.execute(batch)).scalars())
                if keys:
                    statement = self._sql.delete_expired_keys(keys, now)
                    swept += (await conn.execute(statement)).rowcount
            if len(keys) < self._options.batch_size:
                break
        while True:
            async with self._writing() as conn:
                now = self._now()
                batch = self._sql.expired_tombstone_keys(now, self._options.batch_size)
                keys = list((await conn.execute(batch)).scalars())
                if keys:
                    await conn.execute(self._sql.delete_expired_tombstones(keys, now))
            if len(keys) < self._options.batch_size:
                return swept

    # -- journal replay ----------------------------------------------------------------------

    async def apply_if_newer(self, write: StampedWrite) -> ReplayOutcome:
        """A journaled write, applied only if newer than what the key holds (see
        `sessionkit.stamped`): the live row's stamp (``updated_at``), else its tombstone's.

        One transaction: the key's tombstone row (a placeholder is made if there is none,
        so that two applies of one key always have a row to queue on), then its session
        row, are locked, compared and written; a deadlock or a lost race to create the row
        runs it again, at most ``max_attempts`` times before `ConflictError`.
        """
        checked = CheckedWrite.of(write, self._codec)
        key, ttl, data, patch = checked.key, checked.ttl, checked.data, checked.patch
        return await self._in_retried_transaction(
            key,
            lambda conn: self._try_apply(conn, write, key=key, ttl=ttl, data=data, patch=patch),
        )

    async def _try_apply(
        self,
        conn: AsyncConnection,
        write: StampedWrite,
        *,
        key: str,
        ttl: float | None,
        data: bytes,
        patch: dict[str, Any],
    ) -> ReplayOutcome | None:
        """One attempt in an open transaction; None if it must run again."""
        await conn.execute(self._sql.placeholder, {"key": key})
        tombstone = (await conn.execute(self._sql.lock_tombstone(key))).first()
        if tombstone is None:
            return None  # a sweep took the placeholder between the two statements
        found = (await conn.execute(self._sql.lock_row(key))).first()
        now = self._now()
        live = found if found is not None and is_live_at(found.expires_at, now) else None
        if write.op == "create" and live is not None:
            same = self._codec.decode(live.value, key=key) == write.value
            return ReplayOutcome.APPLIED if same else ReplayOutcome.LOST
        if live is not None:
            held: int | None = int(live.updated_at)
        elif tombstone.expires_at > now:
            held = int(tombstone.stamp)
        else:
            held = None
        if held is not None and held >= write.stamp:
            return ReplayOutcome.SUPERSEDED
        buried = False
        expires_at = expiry_from_now(now, ttl)
        if write.op == "delete":
            if found is not None:
                await conn.execute(self._sql.delete_row(key))
            if self._tombstone_ttl:
                await conn.execute(self._sql.bury, self._tombstone(key, write.stamp, now))
                buried = True
        elif write.op == "touch":
            if live is not None:
                await conn.execute(self._sql.touch(key, now, expires_at))
        else:
            if write.op == "merge":
                current = None if live is None else self._codec.decode(live.value, key=key)
                data = self._codec.encode(merge_values(current, patch))
                if write.keep_expiry and live is not None:
                    expires_at = live.expires_at
            if found is None:
                await conn.execute(self._sql.insert(key, data, now, expires_at, write.stamp))
            else:
                statement = self._sql.replace_version(
                    key,
                    data,
                    found.version,
                    now,
                    expires_at,
                    restart=live is None,
                    stamp=write.stamp,
                )
                if (await conn.execute(statement)).rowcount != 1:
                    return None
        if not buried and tombstone.expires_at <= now:
            # The placeholder (or a tombstone past its time) holds nothing: not kept.
            await conn.execute(self._sql.drop_tombstone(key))
        return ReplayOutcome.APPLIED

    async def close(self) -> None:
        if not self._closed and self._owns_engine:
            await self._engine.dispose()
        await super().close()

    def __repr__(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        return f"AsyncSQLStore({url!r}, table_name={self._options.table_name!r})"
