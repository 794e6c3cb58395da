"""The SQL store's tombstones table, on every database with a server here: invisible,
written with its delete in one transaction, reclaimed by sweep, optional, and named
within PostgreSQL's 63 characters."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sessionkit import ConfigurationError, FakeClock
from sessionkit.stamped import DEFAULT_TOMBSTONE_TTL, ReplayOutcome, StampedWrite
from sessionkit.stores.sql import AsyncSQLStore, SQLStore, tombstone_table_name
from tests.backends.sql import (
    remember_table,
    table_name_for,
)
from tests.stores.sql.databases import new_table, store_url

START = 1_700_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def open_sql(database: str, tmp_path: Path, clock: FakeClock, **options: Any) -> SQLStore:
    options.setdefault("table_name", new_table(database))
    return SQLStore(store_url(database, tmp_path), clock=clock, **options)


def tombstones(raw: sa.Engine, store: SQLStore) -> dict[str, tuple[int, int]]:
    """The tombstone rows, read behind the store's back: key -> (stamp, expires_at)."""
    table = store.tombstones
    with raw.connect() as conn:
        rows = conn.execute(sa.select(table.c.key, table.c.stamp, table.c.expires_at)).all()
    return {row.key: (int(row.stamp), int(row.expires_at)) for row in rows}


def micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def test_a_delete_leaves_an_invisible_tombstone(
    database: str, tmp_path: Path, raw: sa.Engine, clock: FakeClock
) -> None:
    # Tried: deleting a live key and a never-written one, then every way of looking.
    with open_sql(database, tmp_path, clock, tombstone_ttl=600) as store:
        try:
            store.set("k", {"v": 1})
            assert store.delete("k") is True
            assert store.delete("never") is False
            expected = (micros(START), micros(START + 600))
            assert tombstones(raw, store) == {"k": expected, "never": expected}
            assert store.get("k") is None
            assert store.exists("never") is False
            assert store.get_many(["k", "never"]) == {}
            assert list(store.scan("")) == []
            assert store.count("") == 0
            assert store.purge("") == 0
            # A later ordinary write of the key wins over its tombstone.
            store.set("k", {"v": 2})
            assert store.get("k") == {"v": 2}
            assert store.count("") == 1
        finally:
            store.drop_schema()


def test_the_tombstone_and_the_delete_are_one_transaction(
    database: str, tmp_path: Path, raw: sa.Engine, clock: FakeClock
) -> None:
    # Tried: the DELETE of the row failing after the tombstone's upsert ran; neither stays.
    with open_sql(database, tmp_path, clock) as store:
        try:
            store.set("k", {"v": 1})
            statements: list[str] = []

            def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                statements.append(statement.split(maxsplit=1)[0].upper())
                if statement.lstrip().upper().startswith("DELETE") and fail:
                    raise RuntimeError("the row's delete fails")

            fail = True
            sa.event.listen(store.engine, "before_cursor_execute", record)
            with pytest.raises(Exception, match="the row's delete fails"):
                store.delete("k")
            assert tombstones(raw, store) == {}
            assert store.get("k") == {"v": 1}
            fail = False
            statements.clear()
            assert store.delete("k") is True
            sa.event.remove(store.engine, "before_cursor_execute", record)
            begins = [s for s in statements if s == "BEGIN"]  # SQLite's BEGIN IMMEDIATE
            assert [s for s in statements if s != "BEGIN"] == ["INSERT", "DELETE"]
            assert len(begins) == (1 if database == "sqlite" else 0)
            assert set(tombstones(raw, store)) == {"k"}
        finally:
            store.drop_schema()


def test_sweep_reclaims_expired_tombstones_and_counts_only_sessions(
    database: str, tmp_path: Path, raw: sa.Engine, clock: FakeClock
) -> None:
    # batch_size=2 with 5 tombstones: the sweep goes through more than one batch.
    with open_sql(database, tmp_path, clock, tombstone_ttl=60, batch_size=2) as store:
        try:
            for i in range(5):
                store.delete(f"gone{i}")
            store.set("short", {"v": 1}, ttl=30)
            clock.advance(31)
            store.delete("late")  # buried at START+31: lives to START+91
            assert store.sweep() == 1  # the session "short"; no tombstone is due yet
            assert len(tombstones(raw, store)) == 6
            clock.advance(30)  # START+61: the first five are past their 60 s
            assert store.sweep() == 0
            assert set(tombstones(raw, store)) == {"late"}
            # Until then the tombstone held: an older journaled write stayed out.
            old = StampedWrite("set", "late", at=START + 20, value={"stale": True})
            assert store.apply_if_newer(old) is ReplayOutcome.SUPERSEDED
            clock.advance(31)
            assert store.sweep() == 0
            assert tombstones(raw, store) == {}
            # Forgotten: the same old write now lands (why max_replay_age <= tombstone_ttl).
            assert store.apply_if_newer(old) is ReplayOutcome.APPLIED
        finally:
            store.drop_schema()


def test_tombstone_ttl_0_writes_no_tombstone_rows(
    database: str, tmp_path: Path, raw: sa.Engine, clock: FakeClock
) -> None:
    # Tried: a delete, a delete of an absent key and journaled writes of every op.
    with open_sql(database, tmp_path, clock, tombstone_ttl=0) as store:
        try:
            assert store.tombstone_ttl == 0
            store.set("k", {"v": 1})
            statements: list[str] = []

            def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                statements.append(statement.split(maxsplit=1)[0].upper())

            sa.event.listen(store.engine, "before_cursor_execute", record)
            assert store.delete("k") is True
            assert store.delete("never") is False
            sa.event.remove(store.engine, "before_cursor_execute", record)
            assert [s for s in statements if s != "BEGIN"] == ["DELETE", "DELETE"]
            assert tombstones(raw, store) == {}
            for op in ("set", "merge", "touch", "delete", "create"):
                write = StampedWrite(op, f"j-{op}", at=START - 60, value={"v": op})
                assert store.apply_if_newer(write) is ReplayOutcome.APPLIED, op
            gone = StampedWrite("delete", "j-set", at=START + 60)
            assert store.apply_if_newer(gone) is ReplayOutcome.APPLIED
            assert tombstones(raw, store) == {}
            # Nothing remembers the delete: an older write of the key lands again.
            assert store.apply_if_newer(StampedWrite("set", "k", at=START - 60, value={}))
            assert store.get("k") == {}
        finally:
            store.drop_schema()


def test_tombstone_ttl_is_an_option_and_a_url_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    with SQLStore(url) as store:
        assert store.tombstone_ttl == DEFAULT_TOMBSTONE_TTL
    with SQLStore(url + "?tombstone_ttl=120") as store:
        assert store.tombstone_ttl == 120.0
    with SQLStore(url + "?tombstone_ttl=0") as store:
        assert store.tombstone_ttl == 0
    with SQLStore(url + "?tombstone_ttl=30", tombstone_ttl=30) as store:
        assert store.tombstone_ttl == 30.0
    # Tried: a negative TTL, one that is not a number, and two that disagree.
    for query, options in (("?tombstone_ttl=-1", {}), ("?tombstone_ttl=soon", {})):
        with pytest.raises(ConfigurationError, match="tombstone_ttl"):
            SQLStore(url + query, **options)
    with pytest.raises(ConfigurationError, match="tombstone_ttl is given twice"):
        SQLStore(url + "?tombstone_ttl=30", tombstone_ttl=60)


async def test_the_async_store_has_the_option_too(tmp_path: Path) -> None:
    async with AsyncSQLStore(f"sqlite+aiosqlite:///{tmp_path}/a.db?tombstone_ttl=5") as store:
        assert store.tombstone_ttl == 5.0


def test_tombstone_table_names_fit_in_63_characters() -> None:
    assert tombstone_table_name() == "sessionkit_sessions_tombstones"
    long_a, long_b = "a" * 60 + "x", "a" * 60 + "y"
    assert len(tombstone_table_name(long_a)) <= 63
    assert tombstone_table_name(long_a) != tombstone_table_name(long_b)
    assert tombstone_table_name(long_a).startswith("a" * 40)


def test_the_longest_table_name_has_tombstones_within_63_characters(
    database: str, tmp_path: Path, raw: sa.Engine, clock: FakeClock
) -> None:
    # 40 characters, the longest table_name: "<name>_tombstones" and its index name
    # ("ix_<...>_expires_at", 65 characters unshortened) would be cut by PostgreSQL.
    name = (table_name_for(uuid.uuid4().hex[:12]) + "_" * 40)[:40]
    if database != "sqlite":
        remember_table(store_url(database, Path()), name)
    with open_sql(database, tmp_path, clock, table_name=name) as store:
        try:
            store.delete("k")
            table = store.tombstones
            assert table.name == tombstone_table_name(name)
            assert len(table.name) <= 63
            assert all(len(str(index.name)) <= 63 for index in table.indexes)
            inspector = sa.inspect(raw)
            assert inspector.has_table(table.name)
            created = {index["name"] for index in inspector.get_indexes(table.name)}
            assert created == {str(index.name) for index in table.indexes}
            assert set(tombstones(raw, store)) == {"k"}
        finally:
            store.drop_schema()
        assert not sa.inspect(raw).has_table(table.name)


def test_concurrent_journaled_writes_of_one_key_keep_the_newest(
    database: str, tmp_path: Path, raw: sa.Engine, clock: FakeClock
) -> None:
    # Tried: 8 threads applying 40 sets and deletes of one absent key, stamped 1..40 s
    # after START, in a random order; the newest (a set, stamp 40) must be what stays.
    with open_sql(database, tmp_path, clock) as store:
        try:
            writes = [
                StampedWrite("delete", "k", at=START + i)
                if i % 3 == 0
                else StampedWrite("set", "k", at=START + i, value={"i": i})
                for i in range(1, 41)
            ]
            random.Random(7).shuffle(writes)
            errors: list[BaseException] = []
            outcomes: list[ReplayOutcome] = []

            def replay(part: list[StampedWrite]) -> None:
                try:
                    outcomes.extend(store.apply_if_newer(write) for write in part)
                except BaseException as error:
                    errors.append(error)

            threads = [threading.Thread(target=replay, args=(writes[i::8],)) for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert len(outcomes) == 40
            assert ReplayOutcome.APPLIED in outcomes
            entry = store.get_entry("k")
            assert entry is not None
            assert entry.value == {"i": 40}
            # The tombstone left is the newest delete's (39), or none if only placeholders.
            left = tombstones(raw, store)
            assert set(left) <= {"k"}
            if left:
                assert left["k"][0] <= micros(START + 39)
        finally:
            store.drop_schema()


def many_writes(count: int) -> list[StampedWrite]:
    return [
        StampedWrite("delete", f"k{i % 4}", at=START + i)
        if i % 5 == 0
        else StampedWrite("set", f"k{i % 4}", at=START + i, value={"i": i})
        for i in range(1, count + 1)
    ]


@pytest.mark.parametrize("scheme", ["postgresql+asyncpg", "postgresql"])
async def test_through_pgbouncer_journaled_writes_and_deletes_work(
    bouncer_port: int, scheme: str, clock: FakeClock
) -> None:
    # Tried: 4 tasks applying 400 stamped sets and deletes of 4 keys (one server connection
    # shared by every client, where leaked prepared statements would clash; a client
    # connection per call, more than PgBouncer's 200 clients over the run).
    name = new_table("postgresql")
    url = f"{scheme}://postgres@127.0.0.1:{bouncer_port}/test"
    async with AsyncSQLStore(url, table_name=name, pgbouncer=True, clock=clock) as store:
        try:
            writes = many_writes(400)
            random.Random(3).shuffle(writes)

            async def replay(part: list[StampedWrite]) -> None:
                for write in part:
                    await store.apply_if_newer(write)

            await asyncio.gather(*(replay(writes[i::4]) for i in range(4)))
            # The newest write of each key (stamps 397..400; 400 deletes k0) is what stays.
            assert await store.get_many([f"k{i}" for i in range(4)]) == {
                "k1": {"i": 397},
                "k2": {"i": 398},
                "k3": {"i": 399},
            }
            clock.advance(3600)  # the store's own delete, an hour after those writes
            assert await store.delete("k1")
            old = StampedWrite("set", "k1", at=START + 398, value={})
            assert await store.apply_if_newer(old) is ReplayOutcome.SUPERSEDED
        finally:
            await store.drop_schema()


def test_through_pgbouncer_psycopg_applies_journaled_writes(
    bouncer_port: int, clock: FakeClock
) -> None:
    # Tried: 4 threads applying 60 stamped writes of 4 keys, each followed by a delete of
    # another key (a tombstone upsert), through one shared server connection.
    name = new_table("postgresql")
    url = f"postgresql://postgres@127.0.0.1:{bouncer_port}/test"
    with SQLStore(url, table_name=name, pgbouncer=True, clock=clock) as store:
        try:
            writes = many_writes(60)
            random.Random(5).shuffle(writes)
            errors: list[BaseException] = []

            def replay(part: list[StampedWrite]) -> None:
                try:
                    for write in part:
                        store.apply_if_newer(write)
                        store.delete("other")
                except BaseException as error:
                    errors.append(error)

            threads = [threading.Thread(target=replay, args=(writes[i::4],)) for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert store.get_many([f"k{i}" for i in range(4)]) == {
                "k1": {"i": 57},
                "k2": {"i": 58},
                "k3": {"i": 59},
            }
        finally:
            store.drop_schema()


def test_an_upgrade_without_the_tombstones_table_names_it_and_migrate_adds_it(
    database: str, tmp_path: Path, raw: sa.Engine, clock: FakeClock
) -> None:
    # Tried: a sessions table from before tombstones (ours, its tombstones table dropped),
    # opened with auto_create_schema=False; then create_schema() as `sessionkit migrate` does.
    name = new_table(database)
    with open_sql(database, tmp_path, clock, table_name=name) as store:
        store.set("kept", {"v": 1})
        quoted = raw.dialect.identifier_preparer.quote(store.tombstones.name)
    with raw.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {quoted}")
    with open_sql(database, tmp_path, clock, table_name=name, auto_create_schema=False) as old:
        try:
            assert old.get("kept") == {"v": 1}  # reads and writes need no tombstones table
            old.set("new", {"v": 2})
            with pytest.raises(ConfigurationError, match=f"table '{name}_tombstones' does not"):
                old.delete("kept")
            assert old.get("kept") == {"v": 1}  # the failed delete changed nothing
            old.create_schema()
            assert old.delete("kept") is True
            assert set(tombstones(raw, old)) == {"kept"}
            assert old.get("new") == {"v": 2}
        finally:
            old.drop_schema()
