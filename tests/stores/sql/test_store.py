"""The SQL store beyond the shared contract: schema, times, drivers, sweep through the
index, multi-process updates, PgBouncer, and connection faults as StoreUnavailable."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from sessionkit import (
    ConfigurationError,
    CorruptValue,
    FakeClock,
    StoreUnavailable,
    open_async_store,
    open_store,
)
from sessionkit.cli import main
from sessionkit.stores._sql.engine import SQLOptions, engine_spec
from sessionkit.stores._sql.statements import Statements
from sessionkit.stores.sql import (
    AsyncSQLStore,
    SQLStore,
    metadata,
    session_table,
    tombstone_table,
    tombstone_table_name,
)
from tests.backends.sql import (
    ASYNCPG_URL,
)
from tests.servers import require_server
from tests.stores.sql.databases import RAW_URLS, SERVERS, new_table, store_url

# -- drivers and options (no server needed) ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "sync_driver", "async_driver"),
    [
        ("sqlite:///s.db", "sqlite+pysqlite", "sqlite+aiosqlite"),
        ("postgresql://h/db", "postgresql+psycopg", "postgresql+psycopg"),
        ("postgres://h/db", "postgresql+psycopg", "postgresql+psycopg"),
        ("postgresql+asyncpg://h/db", "postgresql+psycopg", "postgresql+asyncpg"),
        ("mysql://h/db", "mysql+pymysql", "mysql+asyncmy"),
        ("mariadb://h/db", "mariadb+pymysql", "mariadb+asyncmy"),
        ("mysql+aiomysql://h/db", "mysql+pymysql", "mysql+aiomysql"),
    ],
)
def test_the_url_picks_a_driver_for_each_mode(
    url: str, sync_driver: str, async_driver: str
) -> None:
    options = SQLOptions()
    assert engine_spec(url, options, asynchronous=False).url.drivername == sync_driver
    assert engine_spec(url, options, asynchronous=True).url.drivername == async_driver


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "oracle://h/db"])
def test_urls_the_store_cannot_serve_are_configuration_errors(url: str) -> None:
    # Tried: an in-memory SQLite database (it would vanish per connection) and a
    # database family the store has no statements for.
    with pytest.raises(ConfigurationError):
        SQLStore(url)


@pytest.mark.parametrize(
    "options",
    [
        {"table_name": "bad name; drop table x"},
        {"table_name": "x" * 41},
        {"connect_timeout": 0},
        {"lock_timeout": -1},
        {"statement_timeout": float("nan")},
        {"max_attempts": 0},
        {"timeout": 0},
        {"timeout": float("inf")},
        {"pool_timeout": -1},
        {"pool_size": 0},
        {"max_overflow": -1},
        {"pool_size": 2.5},
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        open_store(f"sqlite:///{tmp_path}/s.db", **options)


def test_the_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    # docs/backends/sql.md, "Deadline, pools and errors".
    with SQLStore(f"sqlite:///{tmp_path}/s.db") as store:
        assert store.timeout == 5.0
        pool: Any = store.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (10, 20, 5.0)
    spec = engine_spec("postgresql://h/db", SQLOptions(), asynchronous=False)
    assert spec.kwargs["connect_args"]["options"] == (
        "-c lock_timeout=5000 -c statement_timeout=5000"
    )
    spec = engine_spec("mariadb://h/db", SQLOptions(timeout=2), asynchronous=False)
    assert spec.kwargs["connect_args"]["read_timeout"] == 2
    assert "max_statement_time=2 " in spec.kwargs["connect_args"]["init_command"]


def test_store_options_in_the_url_are_taken_out_of_it(tmp_path: Path) -> None:
    url = "postgresql://u@h/db?application_name=app&timeout=2&pool_size=3&max_overflow=1"
    store = SQLStore(url + "&pool_timeout=0.5")
    assert store.timeout == 2.0
    pool: Any = store.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 1, 0.5)
    # The driver's own query options stay in the engine's URL; sessionkit's are gone.
    assert dict(store.engine.url.query) == {"application_name": "app"}
    store.close()
    with SQLStore("postgresql://u:p%3Fw%40rd@h/db?timeout=2") as store:
        assert store.engine.url.password == "p?w@rd"  # an encoded password survives
    # An explicit option that agrees with the URL is fine; a step bound never exceeds
    # the deadline.
    with SQLStore(f"sqlite:///{tmp_path}/s.db?timeout=1", timeout=1, pool_timeout=30) as store:
        assert (store.timeout, store.engine.pool._timeout) == (1.0, 1.0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "options", "message"),
    [
        ("?timeout=soon", {}, "timeout='soon' is not a number"),
        ("?pool_size=1.5", {}, "pool_size='1.5' is not a number"),
        ("?timeout=2", {"timeout": 3}, "timeout is given twice"),
        ("?timeout=-1", {}, "timeout must be a positive number"),
        ("?timeout=1&timeout=2", {}, "timeout is given more than once"),
    ],
)
def test_bad_url_options_are_configuration_errors(
    query: str, options: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SQLStore(f"sqlite:///{tmp_path}/s.db{query}", **options)


def test_an_engine_of_the_other_mode_is_a_configuration_error(tmp_path: Path) -> None:
    # Tried: an async engine given to the sync store, and a sync engine to the async one.
    async_engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/a.db")
    sync_engine = sa.create_engine(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(ConfigurationError, match="AsyncEngine"):
        SQLStore(async_engine)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Engine"):
        AsyncSQLStore(sync_engine)  # type: ignore[arg-type]
    sync_engine.dispose()
    asyncio.run(async_engine.dispose())


def test_unknown_options_are_refused_by_the_registry(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="table_nmae"):
        open_store(f"sqlite:///{tmp_path}/s.db", table_nmae="typo")


def test_metadata_holds_the_default_table_with_its_indexes() -> None:
    table = metadata.tables["sessionkit_sessions"]
    assert [column.name for column in table.columns] == [
        "key",
        "tenant",
        "namespace",
        "value",
        "version",
        "created_at",
        "updated_at",
        "expires_at",
    ]
    assert {tuple(c.name for c in index.columns) for index in table.indexes} == {
        ("expires_at",),
        ("tenant", "namespace"),
    }
    tombstones = metadata.tables["sessionkit_sessions_tombstones"]
    assert [column.name for column in tombstones.columns] == ["key", "stamp", "expires_at"]
    assert [tuple(c.name for c in index.columns) for index in tombstones.indexes] == [
        ("expires_at",)
    ]


# -- schema ---------------------------------------------------------------------------------


def test_create_schema_is_idempotent_and_builds_both_indexes(
    database: str, tmp_path: Path, raw: sa.Engine
) -> None:
    name = new_table(database)
    store = SQLStore(store_url(database, tmp_path), table_name=name, auto_create_schema=False)
    try:
        store.create_schema()
        store.create_schema()
        indexes = sa.inspect(raw).get_indexes(name)
        assert {tuple(index["column_names"]) for index in indexes} == {
            ("expires_at",),
            ("tenant", "namespace"),
        }
    finally:
        store.drop_schema()
        store.close()


async def test_async_create_schema_is_idempotent(database: str, tmp_path: Path) -> None:
    name = new_table(database)
    store = AsyncSQLStore(store_url(database, tmp_path), table_name=name, auto_create_schema=False)
    try:
        await store.create_schema()
        await store.create_schema()
        await store.set("k", {"v": 1})
        assert await store.get("k") == {"v": 1}
    finally:
        await store.drop_schema()
        await store.close()


def test_a_missing_table_is_a_configuration_error_naming_the_fix(
    database: str, tmp_path: Path
) -> None:
    # Tried: reading from a table nobody created, with automatic creation off.
    store = SQLStore(
        store_url(database, tmp_path), table_name=new_table(database), auto_create_schema=False
    )
    try:
        with pytest.raises(ConfigurationError, match="create_schema"):
            store.get("k")
    finally:
        store.close()


def test_a_table_with_a_different_schema_is_a_configuration_error(
    database: str, tmp_path: Path, raw: sa.Engine
) -> None:
    # Tried: a table of the right name whose extra NOT NULL column the store cannot fill.
    name = new_table(database)
    table = session_table(name)
    table.append_column(sa.Column("owner", sa.String(20), nullable=False))
    table.create(raw)
    store = SQLStore(store_url(database, tmp_path), table_name=name)
    try:
        with pytest.raises(ConfigurationError, match="schema"):
            store.set("k", {})
    finally:
        store.drop_schema()
        store.close()


def test_a_value_that_is_not_json_is_corrupt_and_other_keys_still_work(
    database: str, tmp_path: Path, raw: sa.Engine
) -> None:
    name = new_table(database)
    store = SQLStore(store_url(database, tmp_path), table_name=name)
    try:
        store.set("good", {"ok": True})
        store.set("bad", {"ok": True})
        table = session_table(name)
        with raw.begin() as conn:  # damage one row behind the store's back
            conn.execute(table.update().where(table.c.key == "bad").values(value=b"\xff{nope"))
        with pytest.raises(CorruptValue):
            store.get("bad")
        assert store.get("good") == {"ok": True}
        with raw.connect() as conn:  # the stored bytes are left as they were
            assert conn.execute(sa.select(table.c.value).where(table.c.key == "bad")).scalar() == (
                b"\xff{nope"
            )
    finally:
        store.drop_schema()
        store.close()


def test_an_engine_the_app_owns_is_shared_and_left_open(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/app.db")
    with SQLStore(engine, table_name="sessions") as store:
        store.set("k", {"v": 1})
    with engine.connect() as conn:  # still usable after the store closed
        assert conn.exec_driver_sql("SELECT count(*) FROM sessions").scalar() == 1
    engine.dispose()


# -- times ----------------------------------------------------------------------------------


def zone_engine(database: str, tmp_path: Path, asynchronous: bool = False) -> Any:
    """An engine whose database session runs in a far-from-UTC time zone."""
    if database == "postgresql":
        url = RAW_URLS[database]
        return sa.create_engine(url, connect_args={"options": "-c timezone=Pacific/Kiritimati"})
    if database == "mariadb":
        url = RAW_URLS[database]
        return sa.create_engine(url, connect_args={"init_command": "SET time_zone = '-09:30'"})
    return sa.create_engine(store_url(database, tmp_path))  # SQLite has no time zone at all


def test_times_are_utc_epoch_microseconds_whatever_the_session_time_zone(
    database: str, tmp_path: Path, raw: sa.Engine
) -> None:
    # The seeds lost hours to naive vs aware UTC. Written from a session at UTC+14 (or
    # -09:30), read from a UTC session: the same instants, to the microsecond.
    name = new_table(database)
    clock = FakeClock(1_700_000_000.123456)
    engine = zone_engine(database, tmp_path)
    zoned = SQLStore(engine, table_name=name, clock=clock)
    utc = SQLStore(store_url(database, tmp_path), table_name=name, clock=clock)
    try:
        zoned.set("k", {"v": 1}, ttl=60)
        table = session_table(name)
        with raw.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.key == "k")).one()
        assert row.created_at == row.updated_at == 1_700_000_000_123_456
        assert row.expires_at == 1_700_000_060_123_456
        entry = utc.get_entry("k")
        assert entry is not None
        assert entry.expires_at == pytest.approx(1_700_000_060.123456, abs=1e-6)
        assert utc.ttl("k") == pytest.approx(60.0, abs=1e-6)
        clock.advance(60)  # exactly at the expiry instant: gone for both sessions
        assert zoned.get("k") is None
        assert utc.get("k") is None
    finally:
        utc.drop_schema()
        utc.close()
        zoned.close()
        engine.dispose()


# -- sweep ----------------------------------------------------------------------------------

SWEEP_ROWS = 100_000
SWEEP_EXPIRED = 1_000


def fill_for_sweep(store: SQLStore, clock: FakeClock) -> None:
    """100,000 rows: 1,000 that expire in 10 s, the rest in an hour or never.

    Inserted behind the store's back in one executemany (set_many is tested elsewhere;
    here only sweep is under test), then the clock moves past the first 1,000.
    """
    now = round(clock.now() * 1_000_000)
    soon, later = now + 10_000_000, now + 3_600_000_000
    live = SWEEP_ROWS - SWEEP_EXPIRED
    rows = [(f"old:{i:05d}", soon) for i in range(SWEEP_EXPIRED)]
    rows += [(f"live:{i:06d}", later) for i in range(live // 2)]
    rows += [(f"forever:{i:06d}", None) for i in range(live - live // 2)]
    base = {"value": b"{}", "version": 1, "created_at": now, "updated_at": now}
    with store.engine.begin() as conn:
        conn.execute(
            store.table.insert(), [{**base, "key": key, "expires_at": at} for key, at in rows]
        )
    clock.advance(11)


def test_sweep_deletes_exactly_the_expired_rows_of_100_000(database: str, tmp_path: Path) -> None:
    clock = FakeClock()
    store = SQLStore(store_url(database, tmp_path), table_name=new_table(database), clock=clock)
    try:
        store.create_schema()
        fill_for_sweep(store, clock)
        if database == "postgresql":
            assert_sweep_uses_the_expires_at_index(store, clock)
        assert store.sweep() == SWEEP_EXPIRED
        assert store.count() == SWEEP_ROWS - SWEEP_EXPIRED
        assert store.count("old:") == 0
        assert store.get_many([f"old:{i:05d}" for i in range(SWEEP_EXPIRED)]) == {}
        assert store.get("live:000000") == {}
        assert store.sweep() == 0
    finally:
        store.drop_schema()
        store.close()


def assert_sweep_uses_the_expires_at_index(store: SQLStore, clock: FakeClock) -> None:
    """EXPLAIN the statement sweep runs to find a batch: PostgreSQL must use the index."""
    name = store.table.name
    with store.engine.connect() as conn:
        conn.exec_driver_sql(f"ANALYZE {name}")  # statistics, as autovacuum would gather
        query = Statements(store.table, "postgresql").expired_keys(
            round(clock.now() * 1_000_000), 1000
        )
        sql = str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))
        plan = json.dumps(conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar())
    assert f"ix_{name}_expires_at" in plan, plan
    assert "Seq Scan" not in plan, plan


# -- 4 processes x 4 threads ----------------------------------------------------------------

PROCESSES = 4
THREADS = 4
INCREMENTS = 250


def increment(value: dict[str, Any]) -> dict[str, Any]:
    return {**value, "n": value["n"] + 1}


def hammer(url: str, table_name: str) -> int:
    """One process: THREADS threads, each doing INCREMENTS updates of one counter."""
    errors: list[BaseException] = []
    with SQLStore(url, table_name=table_name) as store:
        start = threading.Barrier(THREADS)

        def writer() -> None:
            try:
                start.wait()
                for _ in range(INCREMENTS):
                    store.update("counter", increment)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=writer) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return THREADS * INCREMENTS


def test_processes_and_threads_updating_one_key_lose_nothing(database: str, tmp_path: Path) -> None:
    url = store_url(database, tmp_path)
    name = new_table(database)
    store = SQLStore(url, table_name=name)
    try:
        store.set("counter", {"n": 0})
        with ProcessPoolExecutor(PROCESSES, mp_context=get_context("spawn")) as pool:
            done = list(pool.map(hammer, [url] * PROCESSES, [name] * PROCESSES, timeout=600))
        assert sum(done) == PROCESSES * THREADS * INCREMENTS
        entry = store.get_entry("counter")
        assert entry is not None
        assert entry.value == {"n": 4000}
        assert entry.version == 4001  # the set, then one write per increment
    finally:
        store.drop_schema()
        store.close()


# -- locks and timeouts ---------------------------------------------------------------------


def test_sqlite_waits_for_the_write_lock_then_reports_it_held_too_long(tmp_path: Path) -> None:
    # Tried: another connection holding SQLite's write lock for longer than the bound.
    url = f"sqlite:///{tmp_path}/s.db"
    with SQLStore(url, lock_timeout=0.2) as store:
        store.set("k", {"n": 0})
        blocker = sa.create_engine(url)
        with blocker.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            with pytest.raises(StoreUnavailable, match="locked"):
                store.update("k", increment)
            assert store.get("k") == {"n": 0}  # readers are not blocked (WAL)
            conn.rollback()
        blocker.dispose()
        assert store.update("k", increment) == {"n": 1}


def test_sqlite_waits_for_the_write_lock_no_longer_than_the_deadline(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    with SQLStore(url, timeout=0.3) as store:  # lock_timeout: the deadline
        store.set("k", {"n": 0})
        blocker = sa.create_engine(url)
        with blocker.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                store.update("k", increment)
            assert time.monotonic() - started < 0.3 + 0.5
            conn.rollback()
        blocker.dispose()
        assert store.update("k", increment) == {"n": 1}


@pytest.mark.parametrize("database_name", ["postgresql", "mariadb"])
def test_a_row_lock_held_too_long_is_store_unavailable(database_name: str) -> None:
    # Tried: another transaction holding the row lock past the store's lock_timeout.
    server = SERVERS[database_name]
    assert server is not None
    require_server(*server)
    name = new_table(database_name)
    url = store_url(database_name, Path())
    with SQLStore(url, table_name=name, lock_timeout=1) as store:
        store.set("k", {"n": 0})
        table = session_table(name)
        blocker = sa.create_engine(RAW_URLS[database_name])
        try:
            with blocker.begin() as conn:
                conn.execute(sa.select(table).where(table.c.key == "k").with_for_update())
                with pytest.raises(StoreUnavailable):
                    store.update("k", increment)
            assert store.update("k", increment) == {"n": 1}
        finally:
            blocker.dispose()
            store.drop_schema()


# -- connection faults: tests/faults/test_sql_faults.py (the fault matrix) ------------------


# -- PgBouncer ------------------------------------------------------------------------------


def threads_updating(store: SQLStore, keys: int, rounds: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def writer(key: str) -> None:
        try:
            for _ in range(rounds):
                store.update(key, increment, default={"n": 0})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"k{i}",)) for i in range(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_through_pgbouncer_without_the_option_prepared_statements_clash(bouncer_port: int) -> None:
    # The failure the option prevents: psycopg prepares a statement after 5 runs, on
    # whatever server connection PgBouncer lent it; the next client gets that connection
    # and prepares "_pg3_0" again.
    name = new_table("postgresql")
    url = f"postgresql://postgres@127.0.0.1:{bouncer_port}/test"
    with SQLStore(url, table_name=name, statement_timeout=None) as store:
        try:
            errors = threads_updating(store, keys=4, rounds=30)
            assert errors
            assert all(isinstance(error, ConfigurationError) for error in errors)
            assert "pgbouncer=True" in str(errors[0])
        finally:
            store.drop_schema()


def test_through_pgbouncer_with_the_option_psycopg_loses_nothing(bouncer_port: int) -> None:
    name = new_table("postgresql")
    url = f"postgresql://postgres@127.0.0.1:{bouncer_port}/test"
    with SQLStore(url, table_name=name, pgbouncer=True) as store:
        try:
            assert threads_updating(store, keys=4, rounds=30) == []
            assert store.get_many([f"k{i}" for i in range(4)]) == {
                f"k{i}": {"n": 30} for i in range(4)
            }
        finally:
            store.drop_schema()


@pytest.mark.parametrize("scheme", ["postgresql+asyncpg", "postgresql"])
async def test_through_pgbouncer_with_the_option_async_drivers_lose_nothing(
    bouncer_port: int, scheme: str
) -> None:
    name = new_table("postgresql")
    url = f"{scheme}://postgres@127.0.0.1:{bouncer_port}/test"
    async with AsyncSQLStore(url, table_name=name, pgbouncer=True) as store:
        try:

            async def writer(key: str) -> None:
                for _ in range(30):
                    await store.update(key, increment, default={"n": 0})

            await asyncio.gather(*(writer(f"k{i}") for i in range(4)))
            assert await store.get_many([f"k{i}" for i in range(4)]) == {
                f"k{i}": {"n": 30} for i in range(4)
            }
        finally:
            await store.drop_schema()


def test_the_registry_opens_sql_urls_with_store_options(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db", table_name="t", default_ttl=5)
    async_store = open_async_store(ASYNCPG_URL, table_name="t")
    assert isinstance(store, SQLStore)
    assert isinstance(async_store, AsyncSQLStore)
    assert async_store.engine.url.drivername == "postgresql+asyncpg"  # type: ignore[attr-defined]
    store.close()
    asyncio.run(async_store.close())


# -- migrations -------------------------------------------------------------------------------


def test_sessionkit_migrate_creates_the_table_and_is_safe_to_repeat(
    database: str, tmp_path: Path, raw: sa.Engine
) -> None:
    name = new_table(database)
    url = store_url(database, tmp_path)
    for _ in range(2):
        assert main(["migrate", "--url", url, "-o", f"table_name={name}"]) == 0
    assert sa.inspect(raw).has_table(name)
    with SQLStore(url, table_name=name, auto_create_schema=False) as store:
        store.set("k", {"v": 1})
        assert store.get("k") == {"v": 1}
        store.drop_schema()


def test_alembic_autogenerate_sees_no_difference_after_create_schema(
    database: str, tmp_path: Path, raw: sa.Engine
) -> None:
    # The Alembic recipe's promise: the exported table definition and what the store
    # creates are the same schema, so autogenerate writes no spurious migration.
    # Both tables: the sessions table and its tombstones table.
    name = new_table(database)
    expected = sa.MetaData()
    session_table(name, expected)
    tombstone_table(name, expected)
    ours = {name, tombstone_table_name(name)}
    with SQLStore(store_url(database, tmp_path), table_name=name) as store:
        store.create_schema()
        try:
            with raw.connect() as conn:
                only_ours = {"include_name": lambda n, kind, _: kind != "table" or n in ours}
                context = MigrationContext.configure(conn, opts=only_ours)
                assert compare_metadata(context, expected) == []
        finally:
            store.drop_schema()
