"""The SQL store against raw SQLAlchemy Core doing the same work with the same driver:
SQLite (a file), PostgreSQL (psycopg) and MariaDB (PyMySQL), sync.

The baseline is what a careful app writes by hand over the same table, with statements
built once with bound parameters: ``get`` selects the live row by key and decodes the
JSON; ``set`` encodes and upserts the row, bumping its version, in one transaction. It
uses its own plain engine (``create_engine(url)``, the
driver's defaults); on SQLite it sets the same pragmas as the store (WAL, synchronous=
NORMAL), so that both sides pay the same for a commit. Goal: get/set <= 1.15 x raw Core.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.core import Pair, server_answers, skip
from benchmarks.payload import SESSION
from sessionkit.codec import default_codec
from sessionkit.errors import StoreUnavailable
from sessionkit.stores._sql.engine import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE
from sessionkit.stores.sql import AsyncSQLStore, SQLStore

GOAL = 1.15
#: Tasks in flight at once in the async throughput row (as in benchmarks.redis).
CONCURRENT_TASKS = 64

#: (label, store URL or None for a temporary SQLite file, (host, port) of its server).
BACKENDS: list[tuple[str, str | None, tuple[str, int] | None]] = [
    ("sqlite", None, None),
    (
        "postgresql",
        os.environ.get(
            "SESSIONKIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        ("127.0.0.1", 5432),
    ),
    (
        "mariadb",
        os.environ.get("SESSIONKIT_BENCH_MARIADB_URL", "mysql://root@127.0.0.1:3306/test"),
        ("127.0.0.1", 3306),
    ),
]

if default_codec.uses_orjson:
    import orjson

    dumps: Callable[[Any], bytes] = orjson.dumps
    loads: Callable[[Any], Any] = orjson.loads
else:  # pragma: no cover - without the fast extra

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    loads = json.loads


def _micros() -> int:
    return int(time.time() * 1_000_000)


def plain_engine(store: SQLStore) -> sa.Engine:
    """A raw engine on the store's database and driver, with the driver's defaults."""
    engine = sa.create_engine(store.engine.url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def pragmas(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def _statements(engine: Any, table_name: str) -> tuple[sa.Select[Any], sa.Insert]:
    """Hand-written Core over the store's table: the live-row query and the upsert."""
    t = sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("value", sa.LargeBinary),
        sa.Column("version", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger),
        sa.Column("updated_at", sa.BigInteger),
        sa.Column("expires_at", sa.BigInteger),
    )
    dialect = engine.dialect.name
    # Built once with bound parameters, as a careful app does: SQLAlchemy compiles each once.
    query = sa.select(t.c.value, t.c.version, t.c.expires_at).where(
        t.c.key == sa.bindparam("key"),
        sa.or_(t.c.expires_at.is_(None), t.c.expires_at > sa.bindparam("now")),
    )
    row: dict[str, Any] = {
        c: sa.bindparam(c) for c in ("key", "value", "version", "created_at", "updated_at")
    }
    row["expires_at"] = None
    if dialect in ("mysql", "mariadb"):
        statement = mysql_insert(t).values(row)
        upsert: sa.Insert = statement.on_duplicate_key_update(
            version=t.c.version + 1,
            value=statement.inserted.value,
            updated_at=statement.inserted.updated_at,
            expires_at=statement.inserted.expires_at,
        )
    else:
        conflict = (pg_insert if dialect == "postgresql" else sqlite_insert)(t).values(row)
        upsert = conflict.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={
                "version": t.c.version + 1,
                "value": conflict.excluded.value,
                "updated_at": conflict.excluded.updated_at,
                "expires_at": conflict.excluded.expires_at,
            },
        )
    return query, upsert


def _raw_side(engine: sa.Engine, table_name: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    """Hand-written Core: get and set of the row "raw" in the store's table."""
    query, upsert = _statements(engine, table_name)

    def get() -> Any:
        with engine.connect() as conn:
            found = conn.execute(query, {"key": "raw", "now": _micros()}).first()
        return None if found is None else loads(found.value)

    def set_() -> None:
        now = _micros()
        values = {"key": "raw", "value": dumps(SESSION), "version": 1}
        with engine.begin() as conn:
            conn.execute(upsert, {**values, "created_at": now, "updated_at": now})

    return get, set_


def _pairs_for(stack: ExitStack, label: str, url: str) -> list[Pair]:
    table_name = f"skbench_{uuid.uuid4().hex[:10]}"
    store = SQLStore(url, table_name=table_name)
    try:
        store.set("s", SESSION)  # creates the table
    except StoreUnavailable:
        store.close()
        raise
    stack.callback(store.close)
    stack.callback(store.drop_schema)
    engine = plain_engine(store)
    stack.callback(engine.dispose)
    raw_get, raw_set = _raw_side(engine, table_name)
    raw_set()
    driver = engine.dialect.driver
    pairs = [
        Pair(f"sql {label} get", lambda: store.get("s"), raw_get, f"raw Core ({driver})", GOAL),
        Pair(
            f"sql {label} set",
            lambda: store.set("s", SESSION),
            raw_set,
            f"raw Core ({driver})",
            GOAL,
        ),
    ]
    if engine.dialect.name != "sqlite":
        # Where the cost goes (no goal): the same store on the baseline's plain engine, which
        # has no ping on checkout and none of the store's connect settings.
        on_plain = SQLStore(engine, table_name=table_name, auto_create_schema=False)
        stack.callback(on_plain.close)
        pairs += [
            Pair(
                f"sql {label} get, part: on a plain engine",
                lambda: on_plain.get("s"),
                raw_get,
                f"raw Core ({driver})",
            ),
            Pair(
                f"sql {label} set, part: on a plain engine",
                lambda: on_plain.set("s", SESSION),
                raw_set,
                f"raw Core ({driver})",
            ),
        ]
    return pairs


def _concurrent_pair(stack: ExitStack, label: str, url: str) -> Pair:
    """Throughput under concurrency: one call is 64 tasks, each reading its own session
    and writing it back (sessions/s = 64 / the time per call), through `AsyncSQLStore`
    and through raw async Core on an engine with the same pool bounds."""
    loop = asyncio.new_event_loop()
    stack.callback(loop.close)
    table_name = f"skbench_{uuid.uuid4().hex[:10]}"
    store = AsyncSQLStore(url, table_name=table_name)
    tasks = range(CONCURRENT_TASKS)
    loop.run_until_complete(store.set_many({f"s{n}": SESSION for n in tasks}))
    stack.callback(lambda: loop.run_until_complete(store.close()))
    stack.callback(lambda: loop.run_until_complete(store.drop_schema()))
    engine = create_async_engine(
        store.engine.url, pool_size=DEFAULT_POOL_SIZE, max_overflow=DEFAULT_MAX_OVERFLOW
    )
    stack.callback(lambda: loop.run_until_complete(engine.dispose()))
    query, upsert = _statements(engine, table_name)

    async def one_request(n: int) -> None:  # what a web request does: read, then write
        value = await store.get(f"s{n}")
        await store.set(f"s{n}", value or SESSION)

    async def raw_request(n: int) -> None:
        async with engine.connect() as conn:
            found = (await conn.execute(query, {"key": f"r{n}", "now": _micros()})).first()
        value = SESSION if found is None else loads(found.value)
        now = _micros()
        row = {"key": f"r{n}", "value": dumps(value), "version": 1}
        async with engine.begin() as conn:
            await conn.execute(upsert, {**row, "created_at": now, "updated_at": now})

    async def concurrent() -> None:
        await asyncio.gather(*(one_request(n) for n in tasks))

    async def raw_concurrent() -> None:
        await asyncio.gather(*(raw_request(n) for n in tasks))

    return Pair(
        f"sql {label} async {CONCURRENT_TASKS} concurrent tasks (get + set each)",
        concurrent,
        raw_concurrent,
        f"raw async Core ({engine.dialect.driver}), {CONCURRENT_TASKS} tasks",
        GOAL,
        loop=loop,
    )


@contextmanager
def pairs() -> Iterator[list[Pair]]:
    with ExitStack() as stack:
        found: list[Pair] = []
        for label, url, server in BACKENDS:
            if server is not None and not server_answers(*server):
                skip(
                    f"benchmarks.sql ({label})",
                    f"{label} is not running on {server[0]}:{server[1]}",
                )
                continue
            if url is None:  # a fresh SQLite file
                directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            try:
                found += _pairs_for(stack, label, url or f"sqlite:///{directory / 'bench.db'}")
                if label == "postgresql" and url is not None:
                    found.append(_concurrent_pair(stack, label, url))
            except StoreUnavailable as error:  # it listens, but will not serve us
                skip(f"benchmarks.sql ({label})", str(error))
        yield found
