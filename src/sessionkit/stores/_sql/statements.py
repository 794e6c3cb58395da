"""Every statement the SQL stores run, built for one table on one dialect (no I/O)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_types
from sqlalchemy.dialects import sqlite as sqlite_types
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

__all__ = ["Row", "Statements", "chunk_rows"]

_WRITTEN_COLUMNS = ("value", "version", "created_at", "updated_at", "expires_at")


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


def is_live_at(expires_at: int | None, now: int) -> bool:
    """Whether a row that expires at ``expires_at`` (None: never) is live at ``now``."""
    return expires_at is None or expires_at > now


@attrs.frozen
class Row:
    """One row as read for a read-modify-write."""

    data: bytes
    version: int
    expires_at: int | None

    def is_live(self, now: int) -> bool:
        return is_live_at(self.expires_at, now)


# A constant written into the SQL text, not bound: see Statements.upsert.
_ONE = sa.literal_column("1", sa.BigInteger)


class Statements:
    """Every statement the stores run, built for one table on one dialect."""

    def __init__(
        self,
        table: sa.Table,
        dialect_name: str,
        *,
        lock_rows: bool = True,
        tombstones: sa.Table | None = None,
    ) -> None:
        self.table = table
        #: The tombstones table beside ``table`` (see schema.tombstone_table).
        self.tombstones = tombstones
        self.dialect = "mysql" if dialect_name == "mariadb" else dialect_name
        # update/merge have two defences: the row lock taken by `lock_row` and the version
        # compare-and-set of `replace_version`. ``lock_rows=False`` (tests only) drops the
        # first, so that the second is proven to hold on its own.
        self.lock_rows = lock_rows
        # SQLite has no row locks and silently drops FOR UPDATE: its write transactions
        # start with BEGIN IMMEDIATE instead, which takes the database's write lock.
        self.begin_immediate = self.dialect == "sqlite" and lock_rows
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
        query = sa.select(t.c.value, t.c.version, t.c.expires_at, t.c.updated_at)
        return self._locked(query.where(t.c.key == key))

    def _locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        if self.begin_immediate or not self.lock_rows:
            return query
        return query.with_for_update()

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

    def _row(
        self, key: str, data: bytes, now: int, expires_at: int | None, stamp: int | None = None
    ) -> dict[str, Any]:
        return {
            "key": key,
            "value": data,
            "version": 1,
            "created_at": now,
            "updated_at": now if stamp is None else stamp,
            "expires_at": expires_at,
        }

    def upsert_parameters(
        self, rows: Iterable[tuple[str, bytes]], now: int, expires_at: int | None
    ) -> list[dict[str, Any]]:
        """The parameters of `upsert`, one dict per row."""
        return [
            {"key": key, "value": data, "now": now, "expires_at": expires_at} for key, data in rows
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
        return self._insert_into(self.table, values)

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

    def insert(
        self, key: str, data: bytes, now: int, expires_at: int | None, stamp: int | None = None
    ) -> sa.Insert:
        """A new row; its write stamp (``updated_at``) is ``stamp``, else ``now``."""
        return sa.insert(self.table).values(self._row(key, data, now, expires_at, stamp))

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
        stamp: int | None = None,
    ) -> sa.Update:
        """Compare-and-set on ``version``: rowcount 0 means someone else wrote first.

        ``restart`` replaces an expired row as a new entry (version 1, new created_at).
        The write stamp (``updated_at``) is ``stamp``, else ``now``.
        """
        t = self.table
        values: dict[str, Any] = {
            "value": data,
            "updated_at": now if stamp is None else stamp,
            "expires_at": expires_at,
            "version": 1 if restart else t.c.version + 1,
        }
        if restart:
            values["created_at"] = now
        return sa.update(t).where(t.c.key == key, t.c.version == version).values(values)

    def touch(self, key: str, now: int, expires_at: int | None) -> sa.Update:
        t = self.table
        return sa.update(t).where(t.c.key == key, _live(t, now)).values(expires_at=expires_at)

    def delete_row(self, key: str) -> sa.Delete:
        t = self.table
        return sa.delete(t).where(t.c.key == key)

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

    # tombstones (see schema.tombstone_table): every one of these needs self.tombstones

    def _tombstones(self) -> sa.Table:
        assert self.tombstones is not None
        return self.tombstones

    @functools.cached_property
    def bury(self) -> sa.Insert:
        """Remember a delete: ``:key``'s tombstone becomes ``:stamp`` until ``:expires_at``."""
        t = self._tombstones()
        values = {
            "key": sa.bindparam("key", type_=t.c.key.type),
            "stamp": sa.bindparam("stamp", type_=t.c.stamp.type),
            "expires_at": sa.bindparam("expires_at", type_=t.c.expires_at.type),
        }
        if self.dialect == "mysql":
            mysql_statement = mysql_insert(t).values(values)
            incoming = mysql_statement.inserted
            return mysql_statement.on_duplicate_key_update(
                [("stamp", incoming.stamp), ("expires_at", incoming.expires_at)]
            )
        statement = self._insert_into(t, values)
        incoming = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"stamp": incoming.stamp, "expires_at": incoming.expires_at},
        )

    @functools.cached_property
    def placeholder(self) -> sa.Insert:
        """A tombstone row for ``:key`` if it has none: stamp 0, long expired (so it holds
        nothing), there only to be locked by `lock_tombstone`."""
        t = self._tombstones()
        values = {"key": sa.bindparam("key", type_=t.c.key.type), "stamp": 0, "expires_at": 0}
        if self.dialect == "mysql":
            mysql_statement = mysql_insert(t).values(values)
            # A no-op assignment: ON DUPLICATE KEY, not INSERT IGNORE (which hides errors).
            return mysql_statement.on_duplicate_key_update([("key", t.c.key)])
        return self._insert_into(t, values).on_conflict_do_nothing(index_elements=[t.c.key])

    def lock_tombstone(self, key: str) -> sa.Select[Any]:
        """``key``'s tombstone row, locked for the rest of the transaction (where possible)."""
        t = self._tombstones()
        return self._locked(sa.select(t.c.stamp, t.c.expires_at).where(t.c.key == key))

    def drop_tombstone(self, key: str) -> sa.Delete:
        t = self._tombstones()
        return sa.delete(t).where(t.c.key == key)

    def expired_tombstone_keys(self, now: int, limit: int) -> sa.Select[Any]:
        t = self._tombstones()
        return sa.select(t.c.key).where(t.c.expires_at <= now).limit(limit)

    def delete_expired_tombstones(self, keys: Sequence[str], now: int) -> sa.Delete:
        t = self._tombstones()
        return sa.delete(t).where(t.c.key.in_(keys), t.c.expires_at <= now)

    def _insert_into(self, table: sa.Table, values: Any) -> pg_types.Insert | sqlite_types.Insert:
        if self.dialect == "postgresql":
            return pg_insert(table).values(values)
        return sqlite_insert(table).values(values)

    # schema

    def tables(self) -> list[sa.Table]:
        """The store's tables: the sessions table, then its tombstones table."""
        return [self.table] if self.tombstones is None else [self.table, self.tombstones]

    def table_exists(self, table: sa.Table | None = None) -> sa.TextClause | None:
        """On MySQL/MariaDB, a query with a row when ``table`` (default: the sessions table)
        exists (None elsewhere)."""
        if self.dialect != "mysql":
            return None
        return sa.text(
            "SELECT 1 FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name = :name"
        ).bindparams(name=(table if table is not None else self.table).name)

    def schema_statements(
        self, table: sa.Table | None = None
    ) -> list[sa.schema.ExecutableDDLElement]:
        """CREATE TABLE (always first) and CREATE INDEX of ``table`` (default: the sessions
        table), each skipped when it already exists.

        On MySQL and MariaDB a plain CREATE INDEX: MySQL has no CREATE INDEX IF NOT EXISTS,
        and MariaDB's answers an existing index with a warning (which asyncmy logs); the
        "duplicate index" error is recognised by `is_already_exists` instead.
        """
        table = table if table is not None else self.table
        index_if_not_exists = self.dialect != "mysql"
        return [
            sa.schema.CreateTable(table, if_not_exists=True),
            *(
                sa.schema.CreateIndex(index, if_not_exists=index_if_not_exists)
                for index in sorted(table.indexes, key=lambda index: str(index.name))
            ),
        ]


def chunk_rows(rows: Mapping[str, bytes], size: int) -> list[list[tuple[str, bytes]]]:
    items = list(rows.items())
    return [items[start : start + size] for start in range(0, len(items), size)]
