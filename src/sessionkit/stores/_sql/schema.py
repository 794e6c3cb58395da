"""The sessions table and its tombstones table: their columns, indexes and the
``metadata`` Alembic is given."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as pg_types

from ...keys import MAX_KEY_LENGTH

__all__ = [
    "DEFAULT_TABLE_NAME",
    "metadata",
    "session_table",
    "tombstone_table",
    "tombstone_table_name",
]

#: The table a store uses unless given ``table_name``.
DEFAULT_TABLE_NAME = "sessionkit_sessions"


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


#: The longest identifier every supported database takes (PostgreSQL's limit).
MAX_IDENTIFIER_LENGTH = 63


def _fit(name: str) -> str:
    """``name``, or if it is too long an identifier its start and a hash of the whole."""
    if len(name) <= MAX_IDENTIFIER_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_IDENTIFIER_LENGTH - len(digest) - 1]}_{digest}"


def tombstone_table_name(name: str = DEFAULT_TABLE_NAME) -> str:
    """The name of the tombstones table beside sessions table ``name``:
    ``<name>_tombstones``, shortened with a hash if over 63 characters."""
    return _fit(f"{name}_tombstones")


def tombstone_table(name: str = DEFAULT_TABLE_NAME, meta: sa.MetaData | None = None) -> sa.Table:
    """The tombstones of sessions table ``name`` (see `tombstone_table_name`), in ``meta``.

    A row remembers a delete of ``key``: its write stamp (``stamp``, microseconds since
    the epoch) until ``expires_at``. The store never shows these rows; a journal replay's
    `apply_if_newer` compares against them so that an older write cannot resurrect a
    deleted key.
    """
    table = sa.Table(
        tombstone_table_name(name),
        meta if meta is not None else sa.MetaData(),
        sa.Column("key", _key_type(), primary_key=True),
        sa.Column("stamp", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    sa.Index(_fit(f"ix_{table.name}_expires_at"), table.c.expires_at)
    return table


#: Holds the default ``sessionkit_sessions`` table and its tombstones table: give it to
#: Alembic's ``target_metadata``.
metadata = sa.MetaData()
session_table(DEFAULT_TABLE_NAME, metadata)
tombstone_table(DEFAULT_TABLE_NAME, metadata)
