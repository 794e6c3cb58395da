"""The sessions table: its columns, indexes and the ``metadata`` Alembic is given."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as pg_types

from ...keys import MAX_KEY_LENGTH

__all__ = ["DEFAULT_TABLE_NAME", "metadata", "session_table"]

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


#: Holds the default ``sessionkit_sessions`` table: give it to Alembic's ``target_metadata``.
metadata = sa.MetaData()
session_table(DEFAULT_TABLE_NAME, metadata)
