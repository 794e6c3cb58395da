"""The SQL fault matrix: database x driver x sync/async x fault x bare/resilient().

Each case puts a `FaultProxy` between a store (``timeout=1``) and the real server, warms a
pooled connection up (or, in the ``connect`` phase, opens nothing yet), switches the fault
on, and asserts that the operation raises `StoreUnavailable` (bare) or is answered by the
journal (``resilient()``) within the documented bound plus a small slack. Then the fault
lifts and the store answers correctly again: a connection cut mid-reply was discarded,
never handed out again with the rest of an old reply in it.

One case is `tests.faults._async.sql_fault_case.run_case` (and its generated sync twin).
The cases of one flavour run at once (threads, or tasks), so the matrix takes seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sessionkit import StoreUnavailable
from sessionkit.resilience import RetryPolicy
from sessionkit.stores.sql import AsyncSQLStore, SQLStore
from tests.backends.sql import (
    MARIADB_SERVER,
    MARIADB_URL,
    POSTGRES_SERVER,
    POSTGRES_URL,
    remember_table,
    table_name_for,
)
from tests.faultproxy import Fault, FaultProxy
from tests.faults._async import sql_fault_case as async_case
from tests.faults._async.sql_fault_case import SLACK, resilient_bound
from tests.faults._sync import sql_fault_case as sync_case
from tests.servers import require_server


def test_the_bound_of_the_default_policy_is_the_documented_one() -> None:
    # docs/resilience.md: 3 x 5 s + (1 + 0.5) + (2 + 0.5) = 19 s with the store defaults.
    assert resilient_bound(RetryPolicy(), SQLStore.__init__.__kwdefaults__["timeout"]) == 19.0


_PG = "postgresql://postgres@127.0.0.1:{port}/test"
_ASYNCPG = "postgresql+asyncpg://postgres@127.0.0.1:{port}/test"
_MARIADB = "mariadb://root@127.0.0.1:{port}/test"
FLAVOURS = {
    # name: (URL template, server, asynchronous); the URL's default driver per mode.
    "postgresql-psycopg-sync": (_PG, POSTGRES_SERVER, False),
    "postgresql-psycopg-async": (_PG, POSTGRES_SERVER, True),
    "postgresql-asyncpg-async": (_ASYNCPG, POSTGRES_SERVER, True),
    "mariadb-pymysql-sync": (_MARIADB, MARIADB_SERVER, False),
    "mariadb-asyncmy-async": (_MARIADB, MARIADB_SERVER, True),
}
FAULTS = [Fault.REFUSE, Fault.BLACKHOLE, Fault.DROP_MID_REPLY, Fault.SLOW]
# "pooled": the fault hits a connection already in the pool; "connect": the first one.
CASES = [
    (fault, phase, wrapped)
    for fault in FAULTS
    for phase in ("pooled", "connect")
    for wrapped in (False, True)
]


def _new_table(server: tuple[str, str, int]) -> str:
    name = table_name_for(uuid.uuid4().hex[:12])
    remember_table(MARIADB_URL if server is MARIADB_SERVER else POSTGRES_URL, name)
    return name


def _prepare(flavour: str) -> tuple[str, tuple[str, str, int], bool, str, Callable[[], None]]:
    url, server, asynchronous = FLAVOURS[flavour]
    require_server(*server)
    table = _new_table(server)
    direct = SQLStore(url.format(port=server[2]), table_name=table)
    direct.create_schema()

    def drop() -> None:
        direct.drop_schema()
        direct.close()

    return url, server, asynchronous, table, drop


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_every_fault_is_store_unavailable_within_the_bound(flavour: str, tmp_path: Path) -> None:
    url, server, asynchronous, table, drop = _prepare(flavour)
    try:
        if asynchronous:

            async def everything() -> list[str | None]:
                return await asyncio.gather(
                    *(async_case.run_case(url, server, table, tmp_path, case) for case in CASES)
                )

            results = asyncio.run(everything())
        else:
            results = [None] * len(CASES)

            def run(index: int) -> None:
                results[index] = sync_case.run_case(url, server, table, tmp_path, CASES[index])

            threads = [threading.Thread(target=run, args=(i,)) for i in range(len(CASES))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
    finally:
        drop()
    failures = [result for result in results if result]
    assert not failures, "\n".join(failures)


# -- the pool: a wait for a free connection is bounded by the deadline ---------------------

POOL_TIMEOUT = 0.5
POOLED = {
    "sqlite-sync": ("sqlite", None, False),
    "postgresql-psycopg-sync": (_PG.format(port=5432), POSTGRES_SERVER, False),
    "mariadb-pymysql-sync": (_MARIADB.format(port=3306), MARIADB_SERVER, False),
    "postgresql-asyncpg-async": (_ASYNCPG.format(port=5432), POSTGRES_SERVER, True),
    "mariadb-asyncmy-async": (_MARIADB.format(port=3306), MARIADB_SERVER, True),
}


@pytest.mark.parametrize("flavour", sorted(POOLED))
async def test_an_exhausted_pool_is_store_unavailable_within_the_deadline(
    flavour: str, tmp_path: Path
) -> None:
    url, server, asynchronous = POOLED[flavour]
    if server is None:
        url, table = f"sqlite:///{tmp_path}/s.db", "sessions"
    else:
        require_server(*server)
        table = _new_table(server)
    options = {"table_name": table, "timeout": POOL_TIMEOUT, "pool_size": 1, "max_overflow": 0}
    store: Any = (AsyncSQLStore if asynchronous else SQLStore)(url, **options)

    async def call(result: Any) -> Any:
        return await result if asynchronous else result

    try:
        await call(store.set("k", {"n": 1}))
        held = await call(store.engine.connect())  # the pool's only connection
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="pool"):
                await call(store.get("k"))
            elapsed = time.monotonic() - started
        finally:
            await call(held.close())
        assert POOL_TIMEOUT * 0.9 <= elapsed <= POOL_TIMEOUT + SLACK, elapsed
        assert await call(store.get("k")) == {"n": 1}  # a free connection again
    finally:
        await call(store.drop_schema())
        await call(store.close())


# -- SQLite: no network, but a statement can still outlast the deadline -----------------


def _slow_disk(engine: Any) -> None:
    """Every SQLite connection of ``engine`` crawls (a progress handler that sleeps), as on
    a saturated disk: a count over a few thousand rows takes seconds."""

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        raw = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        raw = getattr(raw, "_connection", raw)  # aiosqlite's sqlite3 connection
        raw.set_progress_handler(lambda: time.sleep(0.002) or 0, 100)

    sa.event.listen(engine, "connect", on_connect)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sqlite3", "aiosqlite"])
async def test_a_sqlite_statement_past_the_deadline_is_interrupted(
    asynchronous: bool, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    with SQLStore(url, table_name="sessions") as filler:
        filler.set_many({f"k{i}": {"i": i} for i in range(5000)})
    store: Any = (AsyncSQLStore if asynchronous else SQLStore)(
        url, table_name="sessions", timeout=0.5
    )
    _slow_disk(store.engine.sync_engine if asynchronous else store.engine)

    async def call(result: Any) -> Any:
        return await result if asynchronous else result

    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="deadline"):
            await call(store.count())
        assert time.monotonic() - started <= 0.5 + SLACK
    finally:
        await call(store.close())
    with SQLStore(url, table_name="sessions") as check:
        assert check.count() == 5000  # the file is fine


# -- a server restart between two calls: the next call does not fail ------------------------


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
async def test_connections_cut_while_idle_do_not_fail_the_next_calls(flavour: str) -> None:
    # What a database restart (or a failover) does to a warm pool: every pooled
    # connection dies while nobody uses it. The next read and the next write must still
    # answer, on fresh connections, without an error reaching the caller.
    url, server, asynchronous, table, drop = _prepare(flavour)
    proxy = FaultProxy(server[1:])  # type: ignore[arg-type]
    store: Any = (AsyncSQLStore if asynchronous else SQLStore)(
        url.format(port=proxy.port), table_name=table, auto_create_schema=False, pool_size=2
    )

    async def call(result: Any) -> Any:
        return await result if asynchronous else result

    async def cut_every_connection() -> None:
        proxy.set(Fault.REFUSE)  # resets every open connection
        # A relay thread still selecting on a socket holds it open until its next poll
        # (20 ms); a restarted server has long closed its side by the next call.
        await asyncio.sleep(0.1)
        proxy.set(Fault.FORWARD)

    try:
        # Two connections in the pool (the reads run at once when asynchronous).
        await call(store.set("k", {"n": 1}))
        await call(store.set("j", {"n": 1}))
        await cut_every_connection()
        assert await call(store.get("k")) == {"n": 1}
        await cut_every_connection()
        await call(store.set("k", {"n": 2}))
        await cut_every_connection()
        assert await call(store.merge("k", {"m": 1})) == {"n": 2, "m": 1}
        await cut_every_connection()
        assert await call(store.update("j", lambda v: {**v, "n": v["n"] + 1})) == {"n": 2}
        assert await call(store.get_many(["k", "j"])) == {"k": {"n": 2, "m": 1}, "j": {"n": 2}}
    finally:
        await call(store.close())
        proxy.close()
        drop()
